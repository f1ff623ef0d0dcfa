package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Prune removes the lines written before before and returns how many it
// removed. A damaged line goes with the line after it: it was written
// before that one, so it is removed when that one is, and kept otherwise
// (damaged lines at the end are kept).
//
// The log is rewritten safely: the lines kept go to a temporary file
// beside it (mode 0600), which is synced and renamed over the log, and the
// directory synced; a crash at any point leaves the old log or the new
// one, whole. Appends wait meanwhile; lines appended during the prune are
// kept. When no line is old enough, nothing is written. It reads the whole
// log (some 0.3 s a million lines) and, when it removes lines, writes the
// ones kept once.
func (l *Log) Prune(before time.Time) (int, error) {
	if _, err := l.writeOut(); err != nil {
		return 0, err
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	if err := l.refuse(); err != nil {
		l.mu.Unlock()
		return 0, err
	}
	l.mu.Unlock()
	removed, tmp, err := pruneFile(l.path, before)
	if err != nil || tmp == "" {
		return 0, err
	}
	f, _, err := openAppend(tmp)
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	if err := rename(tmp, l.path); err != nil {
		f.Close()
		os.Remove(tmp)
		return 0, &WriteError{Path: l.path, Op: "replace it with its pruned copy", Err: err}
	}
	if err := syncDir(filepath.Dir(l.path)); err != nil {
		// The rename is done but may not survive a crash; the log is
		// whole either way.
		l.f.Close()
		l.f = f
		return removed, &WriteError{Path: l.path, Op: "sync its directory after pruning", Err: err}
	}
	l.f.Close()
	l.f = f
	return removed, nil
}

// File operations of Prune; tests make them fail.
var (
	createTemp = os.CreateTemp
	rename     = os.Rename
)

// pruneFile reads the log at path and, when some lines are older than
// before, writes the others to a synced temporary file beside it, whose
// name it returns ("" when nothing is to be removed).
func pruneFile(path string, before time.Time) (int, string, error) {
	in, err := os.Open(path)
	if err != nil {
		return 0, "", &WriteError{Path: path, Op: "open for pruning", Err: err}
	}
	defer in.Close()
	rd := &offsetReader{br: bufio.NewReaderSize(in, 64<<10)}

	var (
		out     *os.File
		w       *bufio.Writer
		removed int
		// The damaged lines since the last readable one, not yet kept
		// or removed: from held to the current line.
		held      int64 = -1
		heldLines int
		heldBuf   []byte
	)
	fail := func(op string, err error) (int, string, error) {
		if out != nil {
			out.Close()
			os.Remove(out.Name())
		}
		return 0, "", &WriteError{Path: path, Op: op, Err: err}
	}
	for {
		start := rd.off
		line, err := rd.line()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail("read for pruning", err)
		}
		text := trimLine(line)
		if len(text) == 0 {
			continue
		}
		t, ok := lineTime(text)
		if !ok {
			if held < 0 {
				held = start
			}
			heldLines++
			if out != nil {
				heldBuf = append(heldBuf, line...)
			}
			continue
		}
		old := t.Before(before)
		switch {
		case old && out == nil:
			// The first line to go: copy what comes before it (and
			// before the damaged lines that go with it).
			upTo := start
			if held >= 0 {
				upTo = held
			}
			out, err = createTemp(filepath.Dir(path), "."+filepath.Base(path)+".prune-*")
			if err != nil {
				return fail("create a temporary file for pruning", err)
			}
			if err := out.Chmod(0o600); err != nil {
				return fail("make the temporary file private", err)
			}
			w = bufio.NewWriterSize(out, 256<<10)
			if _, err := io.Copy(w, io.NewSectionReader(in, 0, upTo)); err != nil {
				return fail("copy to the pruned copy", err)
			}
			removed += 1 + heldLines
		case old:
			removed += 1 + heldLines
		case out != nil:
			if _, err := w.Write(heldBuf); err != nil {
				return fail("write the pruned copy", err)
			}
			if _, err := w.Write(line); err != nil {
				return fail("write the pruned copy", err)
			}
		}
		held, heldLines, heldBuf = -1, 0, heldBuf[:0]
	}
	if out == nil {
		return 0, "", nil
	}
	if _, err := w.Write(heldBuf); err != nil {
		return fail("write the pruned copy", err)
	}
	if err := w.Flush(); err != nil {
		return fail("write the pruned copy", err)
	}
	if err := out.Sync(); err != nil {
		return fail("sync the pruned copy", err)
	}
	if err := out.Close(); err != nil {
		return fail("close the pruned copy", err)
	}
	return removed, out.Name(), nil
}

// offsetReader reads lines and knows where each starts.
type offsetReader struct {
	br   *bufio.Reader
	off  int64
	long []byte
}

// line returns the next line, its newline included (a last line without
// one gets one), however long.
func (r *offsetReader) line() ([]byte, error) {
	r.long = r.long[:0]
	for {
		part, err := r.br.ReadSlice('\n')
		r.off += int64(len(part))
		switch {
		case err == nil:
			if len(r.long) > 0 {
				return append(r.long, part...), nil
			}
			return part, nil
		case errors.Is(err, bufio.ErrBufferFull):
			r.long = append(r.long, part...)
		case errors.Is(err, io.EOF):
			if len(r.long)+len(part) == 0 {
				return nil, io.EOF
			}
			return append(append(r.long, part...), '\n'), nil
		default:
			return nil, fmt.Errorf("read: %w", err)
		}
	}
}

// trimLine returns a line without its line end and surrounding spaces.
func trimLine(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// PruneFile removes the lines of the audit log at path written before
// before, as Log.Prune, and returns how many it removed: for commands that
// prune without writing (scorepipe store prune). No log at path is no
// line to remove. It fails at once with an *InUseError while a run has the
// log open.
func PruneFile(path string, before time.Time) (int, error) {
	l, err := Open(path, Options{MustExist: true})
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := l.Prune(before)
	if cerr := l.Close(); err == nil && cerr != nil {
		return n, cerr
	}
	return n, err
}
