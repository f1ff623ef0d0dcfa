// Package sources reads applicant files (CSV in UTF-8 or GBK, XLSX) and
// yields their rows with file and row number, identity columns found by name
// through aliases.
package sources

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Record is one data row of an applicant file.
type Record struct {
	File   string
	Row    int      // line of a CSV file, row of a sheet; the header is row 1
	Fields []string // aligned with the reader's Header; never shorter
	// Numeric says, for an XLSX row, which fields were number cells (nil
	// for CSV): an ID number held as a number has lost digits.
	Numeric []bool
}

// IsNumeric reports whether field i was a non-empty number cell.
func (r *Record) IsNumeric(i int) bool {
	return i < len(r.Numeric) && r.Numeric[i] && i < len(r.Fields) && r.Fields[i] != ""
}

// Reader yields the data rows of one applicant file.
//
// Header returns the column names, identity columns under their canonical
// names (see Canonical). Read returns the next row, and io.EOF after the last
// one. A row that cannot be used (a quote that never closes, text the
// file's encoding cannot hold, the wrong number of fields) comes back as a
// *RowError carrying the row's file and number, and the column at fault
// when there is one; its fields hold valid UTF-8 only, and reading can go
// on. Any other error ends the file. Rows whose fields are all blank are skipped
// and counted by Blank. EstimatedRows tells, before reading, about how many
// data rows the file holds, or 0 when it cannot tell cheaply. Close releases
// the file.
type Reader interface {
	Header() []string
	Read() (Record, error)
	Blank() int
	EstimatedRows() int
	Close() error
}

// RowError is a problem with one row; the rest of the file is still read.
type RowError struct {
	File   string
	Row    int
	Column string // canonical column name, or "" for the row as a whole
	Reason string
}

func (e *RowError) Error() string {
	return fmt.Sprintf("%s row %d: %s", e.File, e.Row, e.Reason)
}

// FileError is a problem with a file as a whole: it cannot be opened, its
// encoding is unknown, its header is unusable.
type FileError struct {
	File string
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Options says how to read applicant files. The zero value detects
// everything and applies the default caps.
type Options struct {
	Format    string              // "csv" or "xlsx"; "" chooses by extension
	Encoding  string              // CSV: "utf-8", "gbk", "gb18030"; "" detects
	Delimiter string              // CSV: ",", "\t", ";"; "" detects
	Sheet     string              // XLSX: sheet name; "" is the first sheet
	Aliases   map[string][]string // more header names per canonical column

	// XLSXMaxBytes caps what a workbook unpacks to, all its parts together;
	// 0 is DefaultXLSXMaxBytes.
	XLSXMaxBytes int64
	// XLSXMaxCells caps the cells of the sheet read, and the shared
	// strings of the workbook; 0 is DefaultXLSXMaxCells.
	XLSXMaxCells int64
}

// Open opens an applicant file.
func Open(path string, opts Options) (Reader, error) {
	format := strings.ToLower(opts.Format)
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".xlsx", ".xlsm":
			format = "xlsx"
		case ".csv", ".tsv", ".txt":
			format = "csv"
		default:
			return nil, &FileError{path, fmt.Errorf("cannot tell the format from the extension %q: set input.format to csv or xlsx", filepath.Ext(path))}
		}
	}
	switch format {
	case "csv":
		return openCSV(path, opts)
	case "xlsx":
		return openXLSX(path, opts)
	}
	return nil, &FileError{path, fmt.Errorf("unknown format %q (csv or xlsx)", opts.Format)}
}

// DefaultAliases lists the header names each canonical identity column is
// found by. Comparison ignores case, spaces, line breaks and full-width forms.
var DefaultAliases = map[string][]string{
	"name":                     {"name", "姓名", "客户姓名", "名字"},
	"id_card":                  {"id_card", "身份证号", "身份证", "身份证号码", "证件号码", "idcard", "id_no"},
	"mobile_no":                {"mobile_no", "手机号", "mobile", "手机号码", "手机", "phone"},
	"auth_authorize_file_code": {"auth_authorize_file_code", "授权书编号"},
	"authorization_url":        {"authorization_url", "授权书链接", "授权书地址", "授权书url"},
	"auth_date":                {"auth_date", "授权日期", "授权期限"},
}

// Canonical resolves a header row: identity columns get their canonical
// names, others keep their text (trimmed, line breaks removed). A header
// cell holding what looks like an ID number or a mobile number (a file
// without a header row) is an error that does not repeat the cell; so are
// two columns resolving to the same name or to names that differ only in
// case, and no ID number column.
func Canonical(header []string, extra map[string][]string) ([]string, error) {
	if err := headerLooksLikeData(header); err != nil {
		return nil, err
	}
	lookup := map[string]string{}
	for canon, names := range DefaultAliases {
		for _, n := range names {
			lookup[headerKey(n)] = canon
		}
	}
	for canon, names := range extra {
		lookup[headerKey(canon)] = canon
		for _, n := range names {
			lookup[headerKey(n)] = canon
		}
	}
	out := make([]string, len(header))
	seen := map[string]int{}
	folded := map[string]int{} // lower-case name → column
	for i, h := range header {
		name := cleanHeader(h)
		if canon, ok := lookup[headerKey(h)]; ok {
			name = canon
		}
		if name == "" {
			name = fmt.Sprintf("column_%d", i+1)
		}
		if j, dup := seen[name]; dup {
			return nil, fmt.Errorf("columns %d (%q) and %d (%q) are both %s", j+1, cleanHeader(header[j]), i+1, cleanHeader(h), name)
		}
		if j, dup := folded[strings.ToLower(name)]; dup {
			return nil, fmt.Errorf("columns %d (%q) and %d (%q) differ only in case: rename one (DuckDB, Spark and Excel take them for one column)", j+1, out[j], i+1, name)
		}
		seen[name] = i
		folded[strings.ToLower(name)] = i
		out[i] = name
	}
	if _, ok := seen["id_card"]; !ok {
		return nil, errors.New("no ID number column (looked for " + strings.Join(DefaultAliases["id_card"], ", ") + "; set input.columns.id_card)")
	}
	return out, nil
}

func cleanHeader(h string) string {
	return strings.Join(strings.Fields(strings.TrimPrefix(h, "\ufeff")), " ")
}

func headerKey(h string) string {
	h = strings.ToLower(foldWidth(cleanHeader(h)))
	return strings.NewReplacer(" ", "", "_", "", "-", "").Replace(h)
}

// allBlank reports whether every field is empty or white space.
func allBlank(fields []string) bool {
	for _, f := range fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}
