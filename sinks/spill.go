package sinks

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// A spill file holds rows on disk between Write and Commit, one after the
// other, each value as a tag byte followed by its payload:
//
//	tagNull                       nothing
//	tagString  uvarint length     the bytes
//	tagInt     varint             the value
//	tagFloat   8 bytes            IEEE 754 bits, little endian
//	tagTime    varint             Unix milliseconds
//
// Rows carry no length: the schema gives the number of values.
const (
	tagNull byte = iota
	tagString
	tagInt
	tagFloat
	tagTime
)

// maxSpillString bounds a decoded string length, so that a damaged file
// cannot make the reader allocate without limit.
const maxSpillString = 1 << 30

type spillFile struct {
	f   *os.File
	w   *bufio.Writer
	r   *bufio.Reader
	enc []byte // reused encoding buffer
	dec []byte // reused decoding buffer
}

// createSpill creates a hidden spill file next to final.
func createSpill(final string) (*spillFile, error) {
	dir, base := filepath.Split(final)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".spill-*")
	if err != nil {
		return nil, fmt.Errorf("create spill file for %s: %w", final, err)
	}
	return &spillFile{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// write appends one row, already checked against s.
func (sp *spillFile) write(s Schema, r Row) error {
	b := sp.enc[:0]
	for i, v := range r {
		if !v.Valid {
			b = append(b, tagNull)
			continue
		}
		switch s[i].Type {
		case String:
			b = append(b, tagString)
			b = binary.AppendUvarint(b, uint64(len(v.S)))
			b = append(b, v.S...)
		case Int64:
			b = append(b, tagInt)
			b = binary.AppendVarint(b, v.I)
		case Float64:
			b = append(b, tagFloat)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.F))
		case Timestamp, Date:
			b = append(b, tagTime)
			b = binary.AppendVarint(b, v.I)
		}
	}
	sp.enc = b
	_, err := sp.w.Write(b)
	return err
}

// rewind flushes what was written and prepares reading from the start.
func (sp *spillFile) rewind() error {
	if err := sp.w.Flush(); err != nil {
		return err
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sp.r = bufio.NewReaderSize(sp.f, 256<<10)
	return nil
}

var errSpillCorrupt = errors.New("spill file is damaged")

// read decodes the next row into r, which has one cell per column of s.
func (sp *spillFile) read(s Schema, r Row) error {
	for i := range r {
		tag, err := sp.r.ReadByte()
		if err != nil {
			return unexpectedEOF(err)
		}
		if tag == tagNull {
			r[i] = Value{}
			continue
		}
		if tag != tagOf(s[i].Type) {
			return errSpillCorrupt
		}
		switch tag {
		case tagString:
			n, err := binary.ReadUvarint(sp.r)
			if err != nil {
				return unexpectedEOF(err)
			}
			if n > maxSpillString {
				return errSpillCorrupt
			}
			if uint64(cap(sp.dec)) < n {
				sp.dec = make([]byte, n)
			}
			b := sp.dec[:n]
			if _, err := io.ReadFull(sp.r, b); err != nil {
				return unexpectedEOF(err)
			}
			r[i] = Value{Valid: true, S: string(b)}
		case tagInt, tagTime:
			v, err := binary.ReadVarint(sp.r)
			if err != nil {
				return unexpectedEOF(err)
			}
			r[i] = Value{Valid: true, I: v}
		case tagFloat:
			var b [8]byte
			if _, err := io.ReadFull(sp.r, b[:]); err != nil {
				return unexpectedEOF(err)
			}
			r[i] = Value{Valid: true, F: math.Float64frombits(binary.LittleEndian.Uint64(b[:]))}
		}
	}
	return nil
}

func tagOf(t Type) byte {
	switch t {
	case String:
		return tagString
	case Int64:
		return tagInt
	case Float64:
		return tagFloat
	case Timestamp, Date:
		return tagTime
	}
	return tagNull
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// remove closes and deletes the spill file; it may be called more than once.
func (sp *spillFile) remove() error {
	if sp == nil || sp.f == nil {
		return nil
	}
	name := sp.f.Name()
	_ = sp.f.Close()
	sp.f = nil
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
