// Package inputs is the input side of a run: its applicant files and
// their headers, the fixed leading columns of every output row, and the
// input columns that pass through to the outputs, typed.
package inputs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/sinks"
	"github.com/scorepipe/scorepipe/sources"
	"github.com/scorepipe/scorepipe/transform"
)

// The fixed leading columns of every output row, by position (see
// Leading); NumLeading is how many there are.
const (
	ColSourceFile = iota
	ColSourceRow
	ColApplicantKey
	ColName
	ColIDCard
	ColMobile
	NumLeading
)

// Column is one of the columns every output row starts with.
type Column struct {
	Name          string
	Type          sinks.Type
	DescriptionZH string
	DescriptionEN string
	Distinct      bool // most values differ (see sinks.Column)
}

// Leading returns the columns every output row starts with, in order (see
// the Col* constants); masked says whether they hold the identity masked.
func Leading(masked bool) []Column {
	zh, en := "", ""
	if masked {
		zh, en = "(脱敏)", " (masked)"
	}
	return []Column{
		{"source_file", sinks.String, "输入文件", "Input file", false},
		{"source_row", sinks.Int64, "输入行号(表头为第1行)", "Row in the input file (the header is row 1)", true},
		{"applicant_key", sinks.String, "申请人标识(HMAC-SHA256), 用于关联", "Applicant key (HMAC-SHA256 of the identity), for joins", true},
		{"name", sinks.String, "姓名" + zh, "Name" + en, !masked}, // a masked name keeps the surname only: few values
		{"id_card", sinks.String, "身份证号" + zh, "ID number" + en, true},
		{"mobile_no", sinks.String, "手机号" + zh, "Mobile number" + en, true},
	}
}

// File is an applicant file of a run: its header, where its identity
// columns are, and where its fields go in the output row.
type File struct {
	Path     string
	Rows     int // about how many data rows it holds, or 0 if unknown
	Header   []string
	Identity map[string]int // canonical identity column → field index
	Columns  []int          // field index → schema column, or -1 (see Schema)
	Counts   *manifest.InputCounts
}

// Value is a passed-through input value, typed, bound for a column.
type Value struct {
	Col int
	V   sinks.Value
}

// identityColumns are the canonical input columns that are not passed
// through to the outputs: identity and authorization.
var identityColumns = []string{transform.ParamName, transform.ParamIDCard, transform.ParamMobile,
	transform.ParamAuthCode, transform.ParamAuthURL, transform.ParamAuthDate}

// Open expands the input globs and reads every header, so that the schema
// (which passes through every other input column) is known before the
// first row.
func Open(in config.InputConfig) ([]File, error) {
	if len(in.Files) == 0 {
		return nil, &config.ConfigError{Field: "input.files", Msg: "no input file (set input.files or use --input)"}
	}
	var paths []string
	for _, pattern := range in.Files {
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return nil, &config.ConfigError{Field: "input.files", Msg: fmt.Sprintf("bad pattern %q: %v", pattern, err)}
		}
		if len(matches) == 0 {
			if _, err := os.Stat(pattern); err != nil {
				return nil, &sources.FileError{File: pattern, Err: errors.New("no such file")}
			}
			matches = []string{pattern}
		}
		sort.Strings(matches)
		paths = append(paths, matches...)
	}
	var files []File
	for _, p := range paths {
		rd, err := sources.Open(p, ReaderOptions(in))
		if err != nil {
			return nil, err
		}
		header, rows := rd.Header(), rd.EstimatedRows()
		rd.Close()
		f := File{Path: p, Rows: rows, Header: header, Identity: map[string]int{}, Counts: &manifest.InputCounts{File: p}}
		if st, err := os.Stat(p); err == nil {
			f.Counts.Size = st.Size()
		}
		for i, h := range header {
			if IsIdentity(h) {
				f.Identity[h] = i
			}
		}
		files = append(files, f)
	}
	return files, nil
}

// ReaderOptions are the options the applicant files of in are read with.
func ReaderOptions(in config.InputConfig) sources.Options {
	return sources.Options{Format: in.Format, Encoding: in.Encoding, Delimiter: in.Delimiter, Sheet: in.Sheet, Aliases: in.Columns,
		XLSXMaxBytes: in.XLSX.MaxBytes, XLSXMaxCells: in.XLSX.MaxCells}
}

// IsIdentity reports whether name is an identity or authorization column,
// which does not pass through.
func IsIdentity(name string) bool {
	for _, c := range identityColumns {
		if c == name {
			return true
		}
	}
	return false
}

// Schema returns the fixed leading columns and the columns passed through
// from the files, in order of first appearance, as passthrough (the
// columns and their types; every column as text when empty) says, and
// maps each file's fields to them (File.Columns). It refuses a column of
// passthrough that is an identity column or that no file has.
func Schema(files []File, masked bool, passthrough map[string]string) (sinks.Schema, error) {
	var schema sinks.Schema
	for _, c := range Leading(masked) {
		schema = append(schema, sinks.Column{Name: c.Name, Type: c.Type, Description: c.DescriptionZH, Distinct: c.Distinct})
	}
	chosen := passthrough
	for i := range files {
		f := &files[i]
		f.Columns = make([]int, len(f.Header))
		for j, h := range f.Header {
			f.Columns[j] = -1
			typ, listed := chosen[h]
			if IsIdentity(h) || len(chosen) > 0 && !listed {
				continue
			}
			k := schema.Index(h)
			if k < 0 {
				k = len(schema)
				schema = append(schema, sinks.Column{Name: h, Type: passthroughType(typ), Description: "输入列 " + h})
			}
			f.Columns[j] = k
		}
	}
	for col := range passthrough {
		switch {
		case IsIdentity(col):
			return nil, &config.ConfigError{Field: "input.passthrough." + col, Msg: "identity and authorization columns do not pass through (output.pii: keep writes name, id_card, mobile_no raw)"}
		case schema.Index(col) < 0:
			paths := make([]string, len(files))
			for i, f := range files {
				paths[i] = f.Path
			}
			return nil, &config.ConfigError{Field: "input.passthrough." + col, Msg: fmt.Sprintf(
				"no input file has this column (%s); list only columns of the input files, or set input.passthrough to {} to pass every column through as text",
				strings.Join(paths, ", "))}
		}
	}
	return schema, nil
}

func passthroughType(t string) sinks.Type {
	switch t {
	case transform.TypeInt:
		return sinks.Int64
	case transform.TypeFloat:
		return sinks.Float64
	case transform.TypeDate:
		return sinks.Date
	}
	return sinks.String
}

// Values reads the passed-through fields of a row of the file, typed as
// the columns of schema, appending them to out; a value that does not read
// as its column's type is a problem of the row.
func (f *File) Values(rec sources.Record, schema sinks.Schema, out []Value) ([]Value, []transform.Problem) {
	var problems []transform.Problem
	for j, col := range f.Columns {
		if col < 0 || j >= len(rec.Fields) {
			continue
		}
		s := rec.Fields[j]
		if strings.TrimSpace(s) == "" {
			continue
		}
		var (
			v   sinks.Value
			err error
		)
		switch schema[col].Type {
		case sinks.Int64:
			var n int64
			n, err = transform.ParseInt(s)
			v = sinks.IntValue(n)
		case sinks.Float64:
			var x float64
			x, err = transform.ParseFloat(s)
			v = sinks.FloatValue(x)
		case sinks.Date:
			var d time.Time
			d, err = transform.ParseDate(s)
			v = sinks.DateValue(d)
		default:
			v = sinks.StringValue(s)
		}
		if err != nil {
			problems = append(problems, transform.Problem{Column: f.Header[j], Reason: err.Error()})
			continue
		}
		out = append(out, Value{Col: col, V: v})
	}
	return out, problems
}

// CheckColumns refuses an input column passed through under the name of
// another output column of schema (applicant_key, source_row, a product's
// column, from base on), or under a name that differs only in case from
// one, or from a column of another input file: DuckDB, Spark and Excel take
// such names for one.
func CheckColumns(files []File, schema sinks.Schema, base int) error {
	outputs := map[string]string{} // lower-case name → output column not from the inputs
	for i, c := range schema {
		if i < NumLeading || i >= base {
			outputs[strings.ToLower(c.Name)] = c.Name
		}
	}
	inputs := map[string]string{} // lower-case name → input column passed through
	for _, f := range files {
		for j, h := range f.Header {
			if f.Columns[j] < 0 {
				continue // not passed through
			}
			low := strings.ToLower(h)
			if out, ok := outputs[low]; ok {
				return &sources.FileError{File: f.Path, Err: fmt.Errorf("input column %q has the name of the output column %q: rename it, or leave it out with input.passthrough", h, out)}
			}
			if other, ok := inputs[low]; ok && other != h {
				return &sources.FileError{File: f.Path, Err: fmt.Errorf("input column %q and the column %q of another input file differ only in case: rename one", h, other)}
			}
			inputs[low] = h
		}
	}
	seen := map[string]bool{}
	for _, c := range schema {
		if seen[c.Name] {
			return fmt.Errorf("output column %s appears twice", c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}
