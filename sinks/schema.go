// Package sinks writes the rows of a run, over one typed schema, to Parquet,
// Excel and CSV files, plus the rejects file and the manifest, each published
// atomically.
package sinks

import (
	"fmt"
	"math"
	"time"
)

// Type is the type of an output column.
type Type uint8

// Column types. Every column is nullable.
const (
	String    Type = iota // UTF-8 text
	Int64                 // 64-bit integer
	Float64               // 64-bit float
	Timestamp             // instant, stored as Unix milliseconds, written in UTC
	Date                  // calendar day, stored as days since 1970-01-01
)

func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Int64:
		return "int64"
	case Float64:
		return "float64"
	case Timestamp:
		return "timestamp"
	case Date:
		return "date"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Column describes one output column.
type Column struct {
	Name        string
	Type        Type
	Description string // shown in the data dictionary; may be empty
	// Distinct says most values differ from row to row (keys, ids): a
	// dictionary would not pay, and Parquet writes the values plainly
	// without trying one. Parquet dictionary-encodes the other columns,
	// of any type, unless most values of their first row group differ.
	Distinct bool
}

// Schema is the ordered list of output columns; every row of a run has it.
type Schema []Column

// Index returns the position of the named column, or -1.
func (s Schema) Index(name string) int {
	for i, c := range s {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Value is one cell. Which field holds the value follows from the column's
// Type: S for String, I for Int64, Timestamp (Unix ms) and Date (days since
// 1970-01-01), F for Float64.
// The zero Value is null.
type Value struct {
	Valid bool
	S     string
	I     int64
	F     float64
}

// StringValue, IntValue, FloatValue and DateValue make cells; see the Set
// methods of Row.
func StringValue(s string) Value { return Value{Valid: true, S: s} }

// IntValue makes an Int64 cell.
func IntValue(v int64) Value { return Value{Valid: true, I: v} }

// FloatValue makes a Float64 cell; NaN and infinities are null.
func FloatValue(v float64) Value {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Value{}
	}
	return Value{Valid: true, F: v}
}

// DateValue makes a Date cell of the calendar day of t (its year, month and
// day, whatever its location).
func DateValue(t time.Time) Value {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return Value{Valid: true, I: day.Unix() / 86400}
}

// Row is one output row, aligned with the Schema.
type Row []Value

// NewRow returns a row of n null cells.
func NewRow(n int) Row { return make(Row, n) }

// SetNull makes cell i null.
func (r Row) SetNull(i int) { r[i] = Value{} }

// SetString sets cell i to s.
func (r Row) SetString(i int, s string) { r[i] = Value{Valid: true, S: s} }

// SetInt sets cell i to v.
func (r Row) SetInt(i int, v int64) { r[i] = Value{Valid: true, I: v} }

// SetFloat sets cell i to v; NaN and infinities are stored as null.
func (r Row) SetFloat(i int, v float64) { r[i] = FloatValue(v) }

// SetTime sets cell i to t, kept to the millisecond.
func (r Row) SetTime(i int, t time.Time) { r[i] = Value{Valid: true, I: t.UnixMilli()} }

// SetDate sets cell i to the calendar day of t (its year, month and day,
// whatever its location).
func (r Row) SetDate(i int, t time.Time) { r[i] = DateValue(t) }

// Reset makes every cell null, so that a row can be reused.
func (r Row) Reset() { clear(r) }

// Sink receives the rows of one run, in order, and publishes a file.
//
// Write may be called any number of times; the rows are not retained after
// it returns, so the caller may reuse them. Commit finishes the file, syncs
// it and renames it to its final name; until then nothing exists under that
// name. Abort discards the temporary file; it is safe to call after Commit
// or more than once, so callers defer it.
type Sink interface {
	Write(rows []Row) error
	Commit() error
	Abort() error
}
