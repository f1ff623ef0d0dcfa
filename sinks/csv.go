package sinks

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"time"
)

// CSVOptions configures a CSV sink. The zero value is ready to use.
type CSVOptions struct {
	// BOM starts the file with a UTF-8 byte order mark, which Excel needs to
	// read non-ASCII text in a CSV file correctly.
	BOM bool
}

// csvTimeLayout is RFC 3339 with milliseconds; timestamps are written in UTC.
const csvTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// CSV writes rows to a UTF-8 CSV file with a header row of column names.
// Integers are decimal, floats the shortest text that reads back exactly
// (strconv 'g'), timestamps RFC 3339 with milliseconds in UTC, and null an
// empty field. A CSV is not safe for concurrent use.
type CSV struct {
	schema Schema
	file   *AtomicFile
	w      *csv.Writer
	rec    []string
	done   bool
}

var _ Sink = (*CSV)(nil)

// NewCSV creates the temporary file for a CSV file published at path by
// Commit, and writes the header. The directory must exist. At most one
// CSVOptions may be given.
func NewCSV(path string, schema Schema, opts ...CSVOptions) (*CSV, error) {
	if err := checkSchema(schema); err != nil {
		return nil, fmt.Errorf("csv %s: %w", path, err)
	}
	if len(opts) > 1 {
		return nil, fmt.Errorf("csv %s: %d CSVOptions given, want at most one", path, len(opts))
	}
	var o CSVOptions
	if len(opts) == 1 {
		o = opts[0]
	}
	file, err := CreateAtomic(path)
	if err != nil {
		return nil, err
	}
	c := &CSV{schema: schema, file: file, w: csv.NewWriter(file), rec: make([]string, len(schema))}
	if o.BOM {
		if _, err := file.WriteString("\ufeff"); err != nil {
			_ = file.Abort()
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	for i, col := range schema {
		c.rec[i] = col.Name
	}
	if err := c.w.Write(c.rec); err != nil {
		_ = file.Abort()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return c, nil
}

// Write appends rows. A row whose length differs from the schema's is an
// error; the rows before it are kept.
func (c *CSV) Write(rows []Row) error {
	if c.done {
		return fmt.Errorf("csv %s: %w", c.file.Final(), ErrClosed)
	}
	for _, r := range rows {
		if err := checkRow(c.schema, r); err != nil {
			return fmt.Errorf("csv %s: %w", c.file.Final(), err)
		}
		for i, v := range r {
			c.rec[i] = formatCSV(c.schema[i].Type, v)
		}
		if err := c.w.Write(c.rec); err != nil {
			return fmt.Errorf("write %s: %w", c.file.Final(), err)
		}
	}
	return nil
}

func formatCSV(t Type, v Value) string {
	if !v.Valid {
		return ""
	}
	switch t {
	case Int64:
		return strconv.FormatInt(v.I, 10)
	case Float64:
		return strconv.FormatFloat(v.F, 'g', -1, 64)
	case Timestamp:
		return time.UnixMilli(v.I).UTC().Format(csvTimeLayout)
	case Date:
		return time.Unix(v.I*86400, 0).UTC().Format(time.DateOnly)
	}
	return v.S
}

// Commit flushes the rows and publishes the file. On failure the temporary
// file is removed.
func (c *CSV) Commit() error {
	if c.done {
		return fmt.Errorf("csv %s: %w", c.file.Final(), ErrClosed)
	}
	c.done = true
	return commitCSV(c.w, c.file)
}

// Abort removes the temporary file. It is safe to call after Commit or
// twice.
func (c *CSV) Abort() error {
	if c.done {
		return nil
	}
	c.done = true
	return c.file.Abort()
}

// commitCSV flushes w, which writes to file, and commits file.
func commitCSV(w *csv.Writer, file *AtomicFile) error {
	w.Flush()
	if err := w.Error(); err != nil {
		_ = file.Abort()
		return fmt.Errorf("write %s: %w", file.Final(), err)
	}
	return file.Commit()
}
