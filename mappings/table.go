package mappings

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
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

// Entry is one row of a table.
type Entry struct {
	Code     string
	Interval Interval // interval tables
	Value    int64    // enum tables
	Source   string   // where the row comes from: seed, sample, vendor…
	Note     string
	Line     int
}

// Table maps vendor codes to ranges or integers.
type Table struct {
	Name    string
	File    string
	Kind    TableKind
	Entries []Entry // in file order
	byCode  map[string]int
}

// Interval returns the range a code stands for.
func (t *Table) Interval(code string) (Interval, bool) {
	i, ok := t.byCode[code]
	if !ok || t.Kind != IntervalTable {
		return Interval{}, false
	}
	return t.Entries[i].Interval, true
}

// Value returns the integer a code stands for.
func (t *Table) Value(code string) (int64, bool) {
	i, ok := t.byCode[code]
	if !ok || t.Kind != EnumTable {
		return 0, false
	}
	return t.Entries[i].Value, true
}

// parseTable reads a table file: CSV with a header row, lines starting with
// '#' are comments.
func parseTable(file, name string, data []byte) (*Table, error) {
	fail := func(line int, format string, args ...any) error {
		return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if !validName(name) {
		return nil, fail(0, "table name %q: use lower-case letters, digits and _", name)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fail(0, "no header row")
	}
	if err != nil {
		return nil, fail(csvLine(err), "%v", err)
	}
	line, _ := r.FieldPos(0)
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	t := &Table{Name: name, File: file, byCode: map[string]int{}}
	switch _, hasRange := col["range"]; {
	case hasRange:
		t.Kind = IntervalTable
	case hasKey(col, "value"):
		t.Kind = EnumTable
	default:
		return nil, fail(line, "header must name columns code and range (interval table) or code and value (enum table), got %q", strings.Join(header, ","))
	}
	if !hasKey(col, "code") {
		return nil, fail(line, "header has no code column")
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
			return nil, fail(csvLine(err), "%v", err)
		}
		line, _ := r.FieldPos(0)
		e := Entry{Code: field(rec, "code"), Source: field(rec, "source"), Note: field(rec, "note"), Line: line}
		if e.Code == "" {
			return nil, fail(line, "empty code")
		}
		if prev, dup := t.byCode[e.Code]; dup {
			return nil, fail(line, "code %q is already listed on line %d", e.Code, t.Entries[prev].Line)
		}
		switch t.Kind {
		case IntervalTable:
			iv, ok, err := ParseInterval(field(rec, "range"))
			if err != nil {
				return nil, fail(line, "code %q: %v (inverted or malformed)", e.Code, err)
			}
			if !ok {
				return nil, fail(line, "code %q: empty range", e.Code)
			}
			for _, other := range t.Entries {
				if iv.Overlaps(other.Interval) {
					return nil, fail(line, "code %q: range %s overlaps %s of code %q on line %d", e.Code, iv, other.Interval, other.Code, other.Line)
				}
			}
			e.Interval = iv
		case EnumTable:
			v, err := strconv.ParseInt(field(rec, "value"), 10, 64)
			if err != nil {
				return nil, fail(line, "code %q: value %q is not an integer", e.Code, field(rec, "value"))
			}
			e.Value = v
		}
		t.byCode[e.Code] = len(t.Entries)
		t.Entries = append(t.Entries, e)
	}
	if len(t.Entries) == 0 {
		return nil, fail(0, "table has no rows")
	}
	return t, nil
}

func hasKey(m map[string]int, k string) bool {
	_, ok := m[k]
	return ok
}

func csvLine(err error) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Line
	}
	return 0
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
