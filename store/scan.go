package store

import (
	"errors"
	"io"
)

// What the log holds at a place, as scanLog finds it.
type spanKind int

const (
	spanRecord  spanKind = iota // a whole format 2 record (reply or header)
	spanLegacy                  // what parses as a format 1 record (it has no checksum of its own)
	spanFree                    // zeros: room set aside and not used, or a pruned reply
	spanDamaged                 // bytes that are none of these
)

// A span is one stretch of the log.
type span struct {
	kind spanKind
	off  int64
	n    int64
	rec  []byte // the record, for spanRecord and spanLegacy; valid during the call only
}

// scanChunk is how much of the log a scan reads at a time.
const scanChunk = 1 << 20

// logScanner reads the log from one place to another in chunks.
type logScanner struct {
	f      io.ReaderAt
	to     int64
	buf    []byte
	bufOff int64 // the log offset of buf[0]
}

// load makes buf hold the log from off on, at least n bytes of it (less
// where the scan ends), and returns them.
func (sc *logScanner) load(off int64, n int) ([]byte, error) {
	n = int(min(int64(n), sc.to-off))
	if off >= sc.bufOff && off+int64(n) <= sc.bufOff+int64(len(sc.buf)) {
		return sc.buf[off-sc.bufOff:], nil
	}
	want := max(n, scanChunk)
	want = int(min(int64(want), sc.to-off))
	if cap(sc.buf) < want {
		sc.buf = make([]byte, want)
	}
	sc.buf = sc.buf[:want]
	got, err := sc.f.ReadAt(sc.buf, off)
	if got < want && err == nil {
		err = io.ErrUnexpectedEOF
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	sc.bufOff = off
	if got < n {
		sc.buf = sc.buf[:got]
		return nil, err
	}
	sc.buf = sc.buf[:got]
	return sc.buf, nil
}

// scanLog calls fn for every span of the log f from from to to, in order.
// A damaged stretch ends where the next whole format 2 record starts; a
// format 1 record is taken on its shape alone, since it keeps no checksum
// (the index keeps it). It stops at fn's first error.
func scanLog(f io.ReaderAt, from, to int64, fn func(span) error) error {
	sc := &logScanner{f: f, to: to}
	for off := from; off < to; {
		b, err := sc.load(off, 64<<10)
		if err != nil {
			return err
		}
		var sp span
		switch b[0] {
		case 0:
			sp, err = sc.zeros(off)
		case recordMagic[0]:
			sp, err = sc.framed(off)
		case legacyFormat:
			sp, err = sc.legacy(off)
		default:
			sp, err = sc.damaged(off)
		}
		if err != nil {
			return err
		}
		if err := fn(sp); err != nil {
			return err
		}
		off += sp.n
	}
	return nil
}

// zeros returns the run of zeros at off.
func (sc *logScanner) zeros(off int64) (span, error) {
	start := off
	for off < sc.to {
		b, err := sc.load(off, scanChunk)
		if err != nil {
			return span{}, err
		}
		i := 0
		for i < len(b) && b[i] == 0 {
			i++
		}
		off += int64(i)
		if i < len(b) {
			break
		}
	}
	return span{kind: spanFree, off: start, n: off - start}, nil
}

// framed returns the format 2 record at off, or the damage there.
func (sc *logScanner) framed(off int64) (span, error) {
	if n, ok, err := sc.framedAt(off); err != nil || ok {
		return span{kind: spanRecord, off: off, n: int64(n), rec: sc.buf[off-sc.bufOff:][:n]}, err
	}
	return sc.damaged(off)
}

// framedAt reports whether a whole format 2 record starts at off, and its
// length.
func (sc *logScanner) framedAt(off int64) (int, bool, error) {
	b, err := sc.load(off, recordFrame)
	if err != nil || len(b) < recordFrame || [4]byte(b[:4]) != recordMagic {
		return 0, false, err
	}
	body := int64(b[5])<<24 | int64(b[6])<<16 | int64(b[7])<<8 | int64(b[8])
	if body > maxRecordBody || off+int64(recordFrame)+body > sc.to {
		return 0, false, nil
	}
	if b, err = sc.load(off, recordFrame+int(body)); err != nil {
		return 0, false, err
	}
	n, ok := framedLength(b)
	return n, ok, nil
}

// legacy returns the format 1 record at off, or the damage there.
func (sc *logScanner) legacy(off int64) (span, error) {
	for want := 64 << 10; ; want *= 4 {
		b, err := sc.load(off, want)
		if err != nil {
			return span{}, err
		}
		if n, ok := legacyLength(b); ok {
			return span{kind: spanLegacy, off: off, n: int64(n), rec: b[:n]}, nil
		}
		if int64(len(b)) >= sc.to-off || want >= maxRecordBody {
			return sc.damaged(off)
		}
	}
}

// damaged returns the damaged stretch at off: up to the next whole format 2
// record, or to the end, less the zeros that end it.
func (sc *logScanner) damaged(off int64) (span, error) {
	end := sc.to
	for at := off + 1; at < sc.to; {
		b, err := sc.load(at, scanChunk)
		if err != nil {
			return span{}, err
		}
		i := nextMagic(b, 0)
		if i < 0 {
			at += int64(max(1, len(b)-len(recordMagic)+1)) // a magic may straddle the chunks
			continue
		}
		if _, ok, err := sc.framedAt(at + int64(i)); err != nil {
			return span{}, err
		} else if ok {
			end = at + int64(i)
			break
		}
		at += int64(i) + 1
	}
	if end == sc.to { // damage then only zeros: a write cut short at the end
		trail, err := sc.trailingZeros(off, end)
		if err != nil {
			return span{}, err
		}
		end -= trail
	}
	return span{kind: spanDamaged, off: off, n: max(1, end-off)}, nil
}

// trailingZeros returns how many zero bytes end the log between from and to.
func (sc *logScanner) trailingZeros(from, to int64) (int64, error) {
	var n int64
	for to-n > from {
		chunk := min(int64(scanChunk), to-n-from)
		b, err := sc.load(to-n-chunk, int(chunk))
		if err != nil {
			return 0, err
		}
		b = b[:chunk]
		i := len(b)
		for i > 0 && b[i-1] == 0 {
			i--
		}
		n += int64(len(b) - i)
		if i > 0 {
			break
		}
	}
	return n, nil
}
