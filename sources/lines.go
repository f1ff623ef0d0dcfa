package sources

import (
	"bytes"
	"io"
)

// maxLine is the longest line the CSV reader keeps, and the most text one
// record may hold; a longer line is cut there and its row rejected.
const maxLine = 1 << 20

// line is a line of text without its line break.
type line struct {
	text []byte
	num  int  // 1-based
	long bool // the line was longer than maxLine and text holds its start
}

// lineReader splits text into lines at LF, CRLF and a lone CR (the line
// break of Excel's "CSV (Macintosh)"), in any mixture.
//
// The text of a line it returns stays valid until the next call. A reader
// of records can give back the lines it read past the one that was at
// fault (unread): they are returned again, in order, before any other.
type lineReader struct {
	src  io.Reader
	buf  []byte
	r, w int   // buf[r:w] is read from src and not yet returned
	err  error // what src returned last, once buf[r:w] is spent
	num  int   // number of the last line taken from buf
	skip bool  // the last line was long: its rest is still to be skipped

	// Where the next LF and CR are, so that a file with one kind of line
	// break is not searched for the other at every line: xAt is the index
	// in buf of the next x at or after r, or -1 when none is in
	// buf[xTo:w] and none before xTo (xTo is where to search on from).
	lfAt, lfTo int
	crAt, crTo int

	again []line // lines given back, to return first: the next is the last
}

func newLineReader(src io.Reader, size int) *lineReader {
	return &lineReader{src: src, buf: make([]byte, size), lfAt: -1, crAt: -1}
}

// next returns the next line, or io.EOF after the last one, or the error
// reading failed with.
func (l *lineReader) next() (line, error) {
	if n := len(l.again); n > 0 {
		ln := l.again[n-1]
		l.again = l.again[:n-1]
		return ln, nil
	}
	for {
		if l.skip {
			if !l.skipRest() {
				continue
			}
		}
		end := l.find('\n', &l.lfAt, &l.lfTo)
		if cr := l.find('\r', &l.crAt, &l.crTo); cr >= 0 && (end < 0 || cr < end) {
			end = cr
		}
		if end >= 0 {
			brk := 1
			if l.buf[end] == '\r' {
				if end+1 == l.w && l.err == nil {
					l.fill() // is it CR LF?
					continue
				}
				if end+1 < l.w && l.buf[end+1] == '\n' {
					brk = 2
				}
			}
			if end-l.r > maxLine {
				return l.cut(), nil
			}
			text := l.buf[l.r:end]
			l.r = end + brk
			l.num++
			return line{text: text, num: l.num}, nil
		}
		if l.w-l.r > maxLine {
			return l.cut(), nil
		}
		if l.err != nil {
			if l.r < l.w {
				text := l.buf[l.r:l.w]
				l.r = l.w
				l.num++
				return line{text: text, num: l.num}, nil
			}
			return line{}, l.err
		}
		l.fill()
	}
}

// cut returns the first maxLine bytes of a longer line, and skips the
// rest of it at the next call.
func (l *lineReader) cut() line {
	text := l.buf[l.r : l.r+maxLine]
	l.r += maxLine
	l.num++
	l.skip = true
	return line{text: text, num: l.num, long: true}
}

// skipRest drops the rest of a long line with its line break; it reports
// false when it needs more of the file to find it.
func (l *lineReader) skipRest() bool {
	end := l.find('\n', &l.lfAt, &l.lfTo)
	if cr := l.find('\r', &l.crAt, &l.crTo); cr >= 0 && (end < 0 || cr < end) {
		end = cr
	}
	switch {
	case end < 0 && l.err == nil:
		l.r = l.w
		l.fill()
		return false
	case end < 0:
		l.r = l.w
	case l.buf[end] == '\r' && end+1 == l.w && l.err == nil:
		l.r = end
		l.fill()
		return false
	case l.buf[end] == '\r' && end+1 < l.w && l.buf[end+1] == '\n':
		l.r = end + 2
	default:
		l.r = end + 1
	}
	l.skip = false
	return true
}

// find returns the index in buf of the next c at or after r, or -1.
func (l *lineReader) find(c byte, at, to *int) int {
	if *at >= l.r {
		return *at
	}
	from := max(l.r, *to)
	if i := bytes.IndexByte(l.buf[from:l.w], c); i >= 0 {
		*at = from + i
		return *at
	}
	*at, *to = -1, l.w
	return -1
}

// fill reads more of src into buf, moving the unread part to the front
// and growing buf when it is full.
func (l *lineReader) fill() {
	if l.r > 0 {
		n := copy(l.buf, l.buf[l.r:l.w])
		shift := func(at, to *int) {
			if *at >= l.r {
				*at -= l.r
			} else {
				*at = -1
			}
			*to = max(0, *to-l.r)
		}
		shift(&l.lfAt, &l.lfTo)
		shift(&l.crAt, &l.crTo)
		l.r, l.w = 0, n
	}
	if l.w == len(l.buf) {
		grown := make([]byte, 2*len(l.buf))
		copy(grown, l.buf[:l.w])
		l.buf = grown
	}
	for range 100 {
		n, err := l.src.Read(l.buf[l.w:])
		l.w += n
		if err != nil {
			l.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	l.err = io.ErrNoProgress
}

// unread gives back lines read past a record at fault, to be returned
// again, in order, before any other. Their text must not live in buf.
func (l *lineReader) unread(lines []line) {
	for i := len(lines) - 1; i >= 0; i-- {
		l.again = append(l.again, lines[i])
	}
}
