package sources

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// xlsxReader streams the rows of one sheet; it never loads the sheet.
// Cells are read as Excel shows them (their number format applied), so an
// ID number that Excel holds as a number arrives as 1.10101199001011E+17
// or with trailing zeros, and is recognised as such downstream; but a
// number styled as a date or a time of day is read as ISO 8601
// (2026-01-05, 2026-01-05T13:30:00, 13:30:00), not as its format shows it
// (01-05-26).
type xlsxReader struct {
	file   string
	f      *excelize.File
	rows   *excelize.Rows
	header []string
	row    int
	blank  int
	kinds  *cellKinds
}

func openXLSX(path string, opts Options) (Reader, error) {
	lim := opts.xlsxLimits()
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, &FileError{path, fmt.Errorf("not a readable xlsx file: %w", err)}
	}
	err = checkWorkbook(&zr.Reader, lim)
	zr.Close()
	if err != nil {
		return nil, &FileError{path, err}
	}
	f, err := excelize.OpenFile(path, excelize.Options{UnzipSizeLimit: lim.bytes, UnzipXMLSizeLimit: min(lim.bytes, excelizeMemoryXML)})
	if err != nil {
		return nil, &FileError{path, fmt.Errorf("not a readable xlsx file: %w", err)}
	}
	rd, err := newXLSX(path, f, opts.Sheet, opts.Aliases, lim)
	if err != nil {
		f.Close()
		return nil, err
	}
	return rd, nil
}

func newXLSX(path string, f *excelize.File, sheet string, aliases map[string][]string, lim xlsxLimits) (*xlsxReader, error) {
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, &FileError{path, errors.New("the workbook has no sheet")}
	}
	if sheet == "" {
		sheet = sheets[0]
	} else if !contains(sheets, sheet) {
		return nil, &FileError{path, fmt.Errorf("no sheet %q (sheets: %s)", sheet, strings.Join(sheets, ", "))}
	}
	kinds, err := openCellKinds(path, sheet)
	if err != nil {
		return nil, &FileError{path, fmt.Errorf("sheet %q: %w", sheet, err)}
	}
	if err := checkSheetCells(&kinds.zr.Reader, kinds.part, lim); err != nil {
		kinds.Close()
		return nil, &FileError{path, fmt.Errorf("sheet %q: %w", sheet, err)}
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		kinds.Close()
		return nil, &FileError{path, fmt.Errorf("sheet %q: %w", sheet, err)}
	}
	kinds.dates = newXLSXDates(f)
	x := &xlsxReader{file: path, f: f, rows: rows, kinds: kinds}
	fail := func(err error) (*xlsxReader, error) {
		rows.Close()
		kinds.Close()
		return nil, &FileError{path, err}
	}
	if !rows.Next() {
		return fail(fmt.Errorf("sheet %q is empty: expected a header row", sheet))
	}
	x.row = 1
	header, err := rows.Columns()
	if err != nil {
		return fail(fmt.Errorf("sheet %q header row: %w", sheet, err))
	}
	for len(header) > 0 && strings.TrimSpace(header[len(header)-1]) == "" {
		header = header[:len(header)-1]
	}
	if i, reason := textFault(header, false); i >= 0 {
		col, _ := excelize.ColumnNumberToName(i + 1)
		return fail(fmt.Errorf("sheet %q header row, column %s: %s", sheet, col, reason))
	}
	names, err := Canonical(header, aliases)
	if err != nil {
		return fail(fmt.Errorf("sheet %q: %w", sheet, err))
	}
	x.header = names
	return x, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (x *xlsxReader) Header() []string { return x.header }
func (x *xlsxReader) Blank() int       { return x.blank }

// EstimatedRows is 0: the sheet's size is only known once it is read.
func (x *xlsxReader) EstimatedRows() int { return 0 }

func (x *xlsxReader) Read() (Record, error) {
	for x.rows.Next() {
		x.row++
		cells, err := x.rows.Columns()
		if err != nil {
			return Record{}, &FileError{x.file, fmt.Errorf("row %d: %w", x.row, err)}
		}
		if allBlank(cells) {
			x.blank++
			continue
		}
		rec := Record{File: x.file, Row: x.row, Fields: make([]string, len(x.header))}
		copy(rec.Fields, cells)
		numeric, dates, err := x.kinds.numbers(x.row)
		if err != nil {
			return Record{}, &FileError{x.file, fmt.Errorf("row %d: %w", x.row, err)}
		}
		for i, d := range dates {
			if i >= len(rec.Fields) || d.kind == notDate {
				continue
			}
			if iso, ok := x.kinds.dates.text(d.kind, d.raw); ok {
				rec.Fields[i] = iso
			} else if raw := strings.TrimSpace(d.raw); raw != "" {
				rec.Fields[i] = raw // no date Excel shows (it shows ####): the number as stored
			}
		}
		rec.Numeric = make([]bool, len(x.header))
		copy(rec.Numeric, numeric)
		if i, reason := textFault(cells, false); i >= 0 {
			sanitize(rec.Fields)
			name := ""
			if i < len(x.header) {
				name = x.header[i]
			}
			return rec, &RowError{File: x.file, Row: x.row, Column: name, Reason: reason}
		}
		for i := len(x.header); i < len(cells); i++ {
			if strings.TrimSpace(cells[i]) != "" {
				col, _ := excelize.ColumnNumberToName(i + 1)
				return rec, &RowError{File: x.file, Row: x.row,
					Reason: fmt.Sprintf("has a value in column %s, which has no header", col)}
			}
		}
		return rec, nil
	}
	if err := x.rows.Error(); err != nil {
		return Record{}, &FileError{x.file, err}
	}
	return Record{}, io.EOF
}

func (x *xlsxReader) Close() error {
	err := x.rows.Close()
	if kerr := x.kinds.Close(); err == nil {
		err = kerr
	}
	if cerr := x.f.Close(); err == nil {
		err = cerr
	}
	return err
}
