package sinks

import (
	"fmt"
	"strconv"
	"time"
)

// CSVOptions configures a CSV sink or a rejects file. The zero value is
// ready to use.
type CSVOptions struct {
	// BOM starts the file with a UTF-8 byte order mark, which Excel needs to
	// read non-ASCII text in a CSV file correctly.
	BOM bool
}

// csvOptions returns the one CSVOptions of opts, or the zero value.
func csvOptions(path string, opts []CSVOptions) (CSVOptions, error) {
	switch len(opts) {
	case 0:
		return CSVOptions{}, nil
	case 1:
		return opts[0], nil
	}
	return CSVOptions{}, fmt.Errorf("csv %s: %d CSVOptions given, want at most one", path, len(opts))
}

// createCSV creates the temporary file for a CSV file published at path,
// with a BOM when asked, and writes the header; header cells are text
// (neutralised like any text cell).
func createCSV(path string, header []string, o CSVOptions) (*AtomicFile, *csvWriter, error) {
	file, err := CreateAtomic(path)
	if err != nil {
		return nil, nil, err
	}
	w := newCSVWriter(file)
	if o.BOM {
		w.w.WriteString("\ufeff")
	}
	if err := w.write(header, nil); err != nil {
		_ = file.Abort()
		return nil, nil, fmt.Errorf("write %s: %w", path, err)
	}
	return file, w, nil
}

// csvTimeLayout is RFC 3339 with milliseconds; timestamps are written in UTC.
const csvTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// CSV writes rows to a UTF-8 CSV file with a header row of column names.
// Integers are decimal, floats the shortest text that reads back exactly
// (strconv 'g'), timestamps RFC 3339 with milliseconds in UTC, and null an
// empty field. Text cells (String columns and the header) that a
// spreadsheet would read as a formula, those starting with =, +, -, @, tab
// or carriage return, are written as OWASP advises: a single quote
// before, and quoted. Numbers and times are written as they are: a
// spreadsheet reads -1.5 as a number, not a formula. A CSV is not safe for
// concurrent use.
type CSV struct {
	schema   Schema
	file     *AtomicFile
	w        *csvWriter
	rec      []string
	verbatim []bool // per column: not text, written as it is
	done     bool
}

var _ Sink = (*CSV)(nil)

// NewCSV creates the temporary file for a CSV file published at path by
// Commit, and writes the header. The directory must exist. At most one
// CSVOptions may be given.
func NewCSV(path string, schema Schema, opts ...CSVOptions) (*CSV, error) {
	if err := checkSchema(schema); err != nil {
		return nil, fmt.Errorf("csv %s: %w", path, err)
	}
	o, err := csvOptions(path, opts)
	if err != nil {
		return nil, err
	}
	c := &CSV{schema: schema, rec: make([]string, len(schema)), verbatim: make([]bool, len(schema))}
	for i, col := range schema {
		c.rec[i] = col.Name
		c.verbatim[i] = col.Type != String
	}
	if c.file, c.w, err = createCSV(path, c.rec, o); err != nil {
		return nil, err
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
		if err := c.w.write(c.rec, c.verbatim); err != nil {
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
func commitCSV(w *csvWriter, file *AtomicFile) error {
	if err := w.flush(); err != nil {
		_ = file.Abort()
		return fmt.Errorf("write %s: %w", file.Final(), err)
	}
	return file.Commit()
}
