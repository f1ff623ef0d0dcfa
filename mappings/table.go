package mappings

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TableKind says what a table maps codes to.
type TableKind int

// Table kinds, chosen by the header of the file: "code,range,…" for an
// interval table, "code,value,…" for an enum table.
const (
	IntervalTable TableKind = iota + 1 // code → numeric range
	EnumTable                          // code (often Chinese text) → integer
)

func (k TableKind) String() string {
	switch k {
	case IntervalTable:
		return "interval"
	case EnumTable:
		return "enum"
	}
	return fmt.Sprintf("TableKind(%d)", int(k))
}

// Source says where a table entry comes from.
type Source string

// Sources of table entries.
const (
	// SourceSeed: stated in the vendor's documentation (the seed documents).
	SourceSeed Source = "seed"
	// SourceSample: a placeholder until the vendor's official table is
	// loaded. Values mapped through it are counted in the manifest, a run
	// using one says so, and mappings.require_official refuses it.
	SourceSample Source = "sample"
	// SourceUser: from a file in the user's mappings directory.
	SourceUser Source = "user"
)

// Entry is one row of a table.
type Entry struct {
	Code     string
	Text     string   // the range (interval tables) or value (enum tables) exactly as written
	Interval Interval // interval tables
	Value    int64    // enum tables
	Source   Source
	Note     string
	Line     int
}

// Table maps vendor codes to ranges or integers.
type Table struct {
	Name    string
	File    string // how errors name the file
	User    bool   // the file is the user's, not an embedded one
	Kind    TableKind
	Entries []Entry // in file order
	byCode  map[string]int
}

// Entry returns the entry of a code.
func (t *Table) Entry(code string) (*Entry, bool) {
	i, ok := t.byCode[code]
	if !ok {
		return nil, false
	}
	return &t.Entries[i], true
}

// Interval returns the range a code stands for.
func (t *Table) Interval(code string) (Interval, bool) {
	e, ok := t.Entry(code)
	if !ok || t.Kind != IntervalTable {
		return Interval{}, false
	}
	return e.Interval, true
}

// Value returns the integer a code stands for.
func (t *Table) Value(code string) (int64, bool) {
	e, ok := t.Entry(code)
	if !ok || t.Kind != EnumTable {
		return 0, false
	}
	return e.Value, true
}

// Count returns how many entries have the given source.
func (t *Table) Count(s Source) int {
	n := 0
	for i := range t.Entries {
		if t.Entries[i].Source == s {
			n++
		}
	}
	return n
}

// tableColumns are the columns a table file may have.
var tableColumns = []string{"code", "range", "value", "source", "note"}

// maxFieldLen bounds a field of a table file: a code, a range, a note.
const maxFieldLen = 1024

// parseTable reads a table file: CSV with a header row naming the columns
// code and range (or value), optionally source and note; lines starting
// with '#' are comments. Every row of an embedded table states its source
// (seed or sample); in a user's file (user is set) an empty or missing
// source means user. Errors name the file, line and column and say what is
// wrong, without quoting the file.
func parseTable(file, name string, data []byte, user bool) (*Table, error) {
	fail := func(line int, field, format string, args ...any) error {
		return &Error{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if !validName(name) {
		return nil, fail(0, "", "the file name must be a table name: lower-case letters, digits and _, ending in .csv")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, fail(invalidUTF8Line(data), "", "not valid UTF-8 (save the file as UTF-8)")
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fail(0, "", "no header row")
	}
	if err != nil {
		return nil, csvError(file, err)
	}
	line, _ := r.FieldPos(0)
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if !slices.Contains(tableColumns, h) {
			return nil, fail(line, "", "header column %d is not one of %s", i+1, strings.Join(tableColumns, ", "))
		}
		if prev, dup := col[h]; dup {
			return nil, fail(line, "", "header columns %d and %d have the same name", prev+1, i+1)
		}
		col[h] = i
	}
	t := &Table{Name: name, File: file, User: user, byCode: map[string]int{}}
	switch {
	case hasKey(col, "range") && hasKey(col, "value"):
		return nil, fail(line, "", "the header names both range and value: an interval table has range, an enum table value")
	case hasKey(col, "range"):
		t.Kind = IntervalTable
	case hasKey(col, "value"):
		t.Kind = EnumTable
	default:
		return nil, fail(line, "", "the header must name the columns code and range (an interval table) or code and value (an enum table)")
	}
	if !hasKey(col, "code") {
		return nil, fail(line, "", "the header has no code column")
	}
	field := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(file, err)
		}
		line, _ := r.FieldPos(0)
		for i, f := range rec {
			if len(f) > maxFieldLen {
				return nil, fail(line, "", "column %d is longer than %d bytes", i+1, maxFieldLen)
			}
		}
		e := Entry{Code: field(rec, "code"), Note: field(rec, "note"), Line: line}
		if e.Code == "" {
			return nil, fail(line, "code", "empty")
		}
		if prev, dup := t.byCode[e.Code]; dup {
			return nil, fail(line, "code", "the same code is already listed on line %d", t.Entries[prev].Line)
		}
		switch s := Source(strings.ToLower(field(rec, "source"))); {
		case s == SourceSeed || s == SourceSample || s == SourceUser && user:
			e.Source = s
		case s == "" && user:
			e.Source = SourceUser
		case user:
			return nil, fail(line, "source", "must be user, seed, sample or empty (empty means user)")
		default:
			return nil, fail(line, "source", "must be seed or sample in a table shipped with scorepipe")
		}
		switch t.Kind {
		case IntervalTable:
			e.Text = field(rec, "range")
			iv, ok, err := ParseInterval(e.Text)
			if err != nil {
				return nil, fail(line, "range", "not an interval, or an empty or inverted one: write it as (0,9), [1000,5000), [100,+∞), 100+ or 42")
			}
			if !ok {
				return nil, fail(line, "range", "empty")
			}
			e.Interval = iv
		case EnumTable:
			e.Text = field(rec, "value")
			v, err := strconv.ParseInt(e.Text, 10, 64)
			if err != nil {
				return nil, fail(line, "value", "not an integer")
			}
			e.Value = v
		}
		t.byCode[e.Code] = len(t.Entries)
		t.Entries = append(t.Entries, e)
	}
	if len(t.Entries) == 0 {
		return nil, fail(0, "", "the table has no rows")
	}
	if t.Kind == IntervalTable {
		if err := t.checkOverlaps(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// checkOverlaps refuses two codes whose ranges share a value. Sorted by
// their low ends (a closed end first), ranges that do not overlap each
// follow the one before, so only neighbours need comparing: n log n, where
// comparing every pair took a 200,000-code table most of a minute.
func (t *Table) checkOverlaps() error {
	order := make([]int, len(t.Entries))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		x, y := t.Entries[a].Interval, t.Entries[b].Interval
		switch {
		case x.Low < y.Low:
			return -1
		case x.Low > y.Low:
			return 1
		case x.LowOpen != y.LowOpen:
			if x.LowOpen {
				return 1
			}
			return -1
		}
		return a - b
	})
	for k := 1; k < len(order); k++ {
		a, b := &t.Entries[order[k-1]], &t.Entries[order[k]]
		if a.Interval.Overlaps(b.Interval) {
			if a.Line > b.Line {
				a, b = b, a
			}
			return &Error{File: t.File, Line: b.Line, Field: "range", Msg: fmt.Sprintf("overlaps the range on line %d", a.Line)}
		}
	}
	return nil
}

// csvError describes a CSV syntax error by line and column, in words that
// quote nothing of the file.
func csvError(file string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &Error{File: file, Line: pe.Line, Msg: fmt.Sprintf("column %d: %v", pe.Column, pe.Err)}
	}
	return &Error{File: file, Msg: "cannot be read as CSV"}
}

// invalidUTF8Line returns the line of the first byte that is not valid UTF-8.
func invalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[size:]
	}
	return 0
}

func hasKey(m map[string]int, k string) bool {
	_, ok := m[k]
	return ok
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
