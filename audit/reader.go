package audit

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// maxLine is the longest line a Reader takes; a longer one is damaged.
// The log never writes one (see maxField).
const maxLine = 1 << 20

// Reader reads the lines of an audit log one at a time, in constant
// memory whatever the log's size.
type Reader struct {
	br    *bufio.Reader
	line  []byte
	lines int64 // lines read, damaged ones included
	long  int64 // lines longer than maxLine, skipped
}

// NewReader returns a Reader of the log's lines in r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next line that is not empty, without its newline; the
// bytes are valid until the next call. It returns io.EOF at the end. A
// line longer than maxLine is skipped and counted (Long).
func (r *Reader) Next() ([]byte, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if line == nil { // too long, skipped
			continue
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r.lines++
		return line, nil
	}
}

// readLine returns the next line, newline included when there is one, or
// nil for a line too long (skipped).
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	long := false
	for {
		part, err := r.br.ReadSlice('\n')
		if !long {
			if len(r.line)+len(part) > maxLine {
				long, r.line = true, r.line[:0]
			} else if len(r.line) > 0 || errors.Is(err, bufio.ErrBufferFull) {
				r.line = append(r.line, part...)
			}
		}
		switch {
		case err == nil:
			if long {
				r.lines++
				r.long++
				return nil, nil
			}
			if len(r.line) > 0 {
				return r.line, nil
			}
			return part, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if long {
				r.lines++
				r.long++
				return nil, nil
			}
			if len(r.line) > 0 {
				return r.line, nil
			}
			if len(part) > 0 {
				return part, nil
			}
			return nil, io.EOF
		default:
			return nil, err
		}
	}
}

// Lines returns how many lines Next has read or skipped as too long.
func (r *Reader) Lines() int64 { return r.lines }

// Long returns how many lines were skipped as longer than any line the
// log writes.
func (r *Reader) Long() int64 { return r.long }
