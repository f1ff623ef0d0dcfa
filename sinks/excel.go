package sinks

import (
	"bufio"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/width"
)

// Excel limits.
const (
	// MaxSheetRows is the number of data rows a sheet holds under its header
	// row: a sheet has at most 1,048,576 rows.
	MaxSheetRows = excelize.TotalRows - 1
	// MaxCellChars is the length, in UTF-16 code units, of the longest text
	// a cell holds; longer strings are cut.
	MaxCellChars = excelize.TotalCellChars
	// maxColumns is the number of columns a sheet holds.
	maxColumns = excelize.MaxColumns
)

// DictionarySheet is the name of the data dictionary sheet.
const DictionarySheet = "dictionary"

// AboutSheet is the name of the sheet that says where the data comes from.
const AboutSheet = "about"

// ExcelOptions configures an Excel sink. The zero value is ready to use.
type ExcelOptions struct {
	// Sheet names the first data sheet; more data sheets are named
	// Sheet_2, Sheet_3, … Empty means "features".
	Sheet string
	// MaxRows caps the data rows written to the workbook; rows past it are
	// only counted (see Truncated). 0 means no cap.
	MaxRows int
	// SheetRows is the number of data rows per sheet, at most (and by
	// default) MaxSheetRows.
	SheetRows int
	// Dictionary, when not nil, is written to a last sheet named
	// DictionarySheet, one row per entry.
	Dictionary []DictionaryEntry
	// About, when not nil, is written to a sheet named AboutSheet after
	// the dictionary, one item and its value a row: where the data comes
	// from.
	About [][2]string
}

// DictionaryEntry is one row of the data dictionary sheet.
type DictionaryEntry struct {
	Column        string
	Type          string
	Product       string
	Source        string
	Unit          string
	DescriptionZH string
	DescriptionEN string
	CodeSource    string // where the column's codes come from: table and sources of its entries
	Codes         string // each code with its range or value as written and its source
	Assumed       string // what the vendor's documents do not state about the field
}

// dictionaryHeader names the columns of the dictionary sheet, in the order
// of DictionaryEntry's fields.
var dictionaryHeader = []string{"column", "type", "product", "source", "unit", "description_zh", "description_en",
	"code_source", "codes", "assumed"}

// dictionaryWidths are the column widths of the dictionary sheet.
var dictionaryWidths = []float64{28, 10, 12, 24, 10, 40, 60, 28, 60, 40}

// aboutWidths are the column widths of the about sheet.
var aboutWidths = []float64{18, 100}

// timestampFormat is the number format of timestamp cells, shown in UTC.
const timestampFormat = "yyyy-mm-dd hh:mm:ss"

// Column width bounds, in characters.
const (
	minColWidth = 8
	maxColWidth = 60
)

// Excel writes rows to an .xlsx workbook: one or more data sheets with a
// bold, frozen header row, and optionally the data dictionary.
//
// Write spills the rows to a temporary file in a compact binary encoding;
// Commit builds the workbook from it with excelize's stream writer. This way
// each sheet's declared dimension (<dimension ref>, which the stream writer
// emits before any row) is exact, so readers that trust it see every row.
// The temporary spill file lives next to the output and is removed by Commit
// and Abort. excelize assembles the compressed workbook in memory before it
// is written out. An Excel is not safe for concurrent use.
type Excel struct {
	schema    Schema
	opts      ExcelOptions
	file      *AtomicFile
	spill     *spillFile
	widths    []int // widest text seen per column, in display cells
	long      Row   // copy of a row whose strings had to be cut
	rows      int   // rows in the spill file
	truncated int   // rows past MaxRows
	done      bool
	err       error // sticky: the spill file is unusable
}

var _ Sink = (*Excel)(nil)

// NewExcel creates the temporary files for a workbook published at path by
// Commit. The directory must exist.
func NewExcel(path string, schema Schema, opts ExcelOptions) (*Excel, error) {
	if err := checkSchema(schema); err != nil {
		return nil, fmt.Errorf("excel %s: %w", path, err)
	}
	if len(schema) > maxColumns {
		return nil, fmt.Errorf("excel %s: schema has %d columns, a sheet holds %d", path, len(schema), maxColumns)
	}
	if opts.Sheet == "" {
		opts.Sheet = "features"
	}
	if err := checkSheetName(opts.Sheet); err != nil {
		return nil, fmt.Errorf("excel %s: ExcelOptions.Sheet: %w", path, err)
	}
	if opts.Dictionary != nil && strings.EqualFold(opts.Sheet, DictionarySheet) {
		return nil, fmt.Errorf("excel %s: ExcelOptions.Sheet %q is the dictionary sheet's name", path, opts.Sheet)
	}
	if opts.About != nil && strings.EqualFold(opts.Sheet, AboutSheet) {
		return nil, fmt.Errorf("excel %s: ExcelOptions.Sheet %q is the about sheet's name", path, opts.Sheet)
	}
	if opts.MaxRows < 0 {
		return nil, fmt.Errorf("excel %s: ExcelOptions.MaxRows is %d, want 0 (no cap) or more", path, opts.MaxRows)
	}
	switch {
	case opts.SheetRows == 0:
		opts.SheetRows = MaxSheetRows
	case opts.SheetRows < 0 || opts.SheetRows > MaxSheetRows:
		return nil, fmt.Errorf("excel %s: ExcelOptions.SheetRows is %d, want 1 to %d", path, opts.SheetRows, MaxSheetRows)
	}
	file, err := CreateAtomic(path)
	if err != nil {
		return nil, err
	}
	sp, err := createSpill(path)
	if err != nil {
		_ = file.Abort()
		return nil, err
	}
	e := &Excel{schema: schema, opts: opts, file: file, spill: sp, widths: make([]int, len(schema))}
	for i, c := range schema {
		e.widths[i] = DisplayWidth(c.Name) + 1 // bold header
	}
	return e, nil
}

// checkSheetName applies Excel's rules for sheet names.
func checkSheetName(name string) error {
	switch {
	case name == "":
		return errors.New("sheet name is empty")
	case utf8.RuneCountInString(name) > excelize.MaxSheetNameLength:
		return fmt.Errorf("sheet name %q is longer than %d characters", name, excelize.MaxSheetNameLength)
	case strings.ContainsAny(name, `:\/?*[]`):
		return fmt.Errorf("sheet name %q contains one of : \\ / ? * [ ]", name)
	case strings.HasPrefix(name, "'") || strings.HasSuffix(name, "'"):
		return fmt.Errorf("sheet name %q starts or ends with an apostrophe", name)
	}
	return nil
}

// Truncated returns the number of rows not written because of MaxRows.
func (e *Excel) Truncated() int { return e.truncated }

// Rows returns the number of data rows the workbook holds.
func (e *Excel) Rows() int { return e.rows }

// Write stores rows until Commit. Rows past MaxRows are counted, not stored.
// Strings longer than MaxCellChars are cut. A row whose length differs from
// the schema's is an error; the rows before it are kept.
func (e *Excel) Write(rows []Row) error {
	if e.done {
		return fmt.Errorf("excel %s: %w", e.file.Final(), ErrClosed)
	}
	if e.err != nil {
		return e.err
	}
	for _, r := range rows {
		if err := checkRow(e.schema, r); err != nil {
			return fmt.Errorf("excel %s: %w", e.file.Final(), err)
		}
		if e.opts.MaxRows > 0 && e.rows >= e.opts.MaxRows {
			e.truncated++
			continue
		}
		out := r
		for i, v := range r {
			if !v.Valid || e.schema[i].Type != String {
				continue
			}
			if len(v.S) > MaxCellChars {
				if cut := cutCell(v.S); len(cut) < len(v.S) {
					if &out[0] == &r[0] {
						e.long = append(e.long[:0], r...)
						out = e.long
					}
					out[i].S = cut
				}
			}
			if e.widths[i] < maxColWidth {
				e.widths[i] = max(e.widths[i], textWidth(v.S))
			}
		}
		if err := e.spill.write(e.schema, out); err != nil {
			e.err = fmt.Errorf("excel %s: spill rows: %w", e.file.Final(), err)
			return e.err
		}
		e.rows++
	}
	return nil
}

// cutCell cuts s to at most MaxCellChars UTF-16 code units, on a character
// boundary.
func cutCell(s string) string {
	n := 0
	for i, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2 // a surrogate pair
		}
		if n+w > MaxCellChars {
			return s[:i]
		}
		n += w
	}
	return s
}

// textWidth is displayWidth, short-cut for text wider than any column.
func textWidth(s string) int {
	if len(s) > 4*maxColWidth {
		return maxColWidth
	}
	return DisplayWidth(s)
}

// DisplayWidth is how many character cells s takes in a spreadsheet
// column or a terminal: East Asian wide and full-width characters take two.
func DisplayWidth(s string) int {
	w := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			w += 2
		default:
			w++
		}
	}
	return w
}

// sheetNames returns the data sheet names for the stored rows.
func (e *Excel) sheetNames() []string {
	n := max(1, (e.rows+e.opts.SheetRows-1)/e.opts.SheetRows)
	names := make([]string, n)
	names[0] = e.opts.Sheet
	for i := 1; i < n; i++ {
		names[i] = e.opts.Sheet + "_" + strconv.Itoa(i+1)
	}
	return names
}

// Commit builds the workbook and publishes it. The spill file is removed
// whatever the outcome; on failure so is the temporary workbook.
func (e *Excel) Commit() error {
	if e.done {
		return fmt.Errorf("excel %s: %w", e.file.Final(), ErrClosed)
	}
	e.done = true
	err := e.build()
	if rerr := e.spill.remove(); err == nil && rerr != nil {
		err = fmt.Errorf("excel %s: remove spill file: %w", e.file.Final(), rerr)
	}
	if err != nil {
		_ = e.file.Abort()
		return err
	}
	return e.file.Commit()
}

// Abort removes the temporary files. It is safe to call after Commit or
// twice.
func (e *Excel) Abort() error {
	if e.done {
		return nil
	}
	e.done = true
	_ = e.spill.remove()
	return e.file.Abort()
}

// build writes the workbook into the temporary file.
func (e *Excel) build() (err error) {
	if e.err != nil {
		return e.err
	}
	name := e.file.Final()
	wrap := func(err error) error { return fmt.Errorf("excel %s: %w", name, err) }
	if err := e.spill.rewind(); err != nil {
		return wrap(fmt.Errorf("spill rows: %w", err))
	}

	// excelize's temporary files go beside the workbook, where the run
	// that finds them left by a killed run removes them.
	f := excelize.NewFile(excelize.Options{TmpDir: filepath.Dir(name)})
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = wrap(cerr)
		}
	}()
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return wrap(err)
	}
	tsFormat := timestampFormat
	tsStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &tsFormat})
	if err != nil {
		return wrap(err)
	}
	dateFormat := "yyyy-mm-dd"
	dateStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &dateFormat})
	if err != nil {
		return wrap(err)
	}

	// Create every sheet first, so that the first data sheet, which takes
	// the place of the default sheet, stays the active one.
	names := e.sheetNames()
	for _, n := range names {
		if err := checkSheetName(n); err != nil {
			return wrap(fmt.Errorf("ExcelOptions.Sheet is too long for %d sheets: %w", len(names), err))
		}
		if e.opts.Dictionary != nil && strings.EqualFold(n, DictionarySheet) {
			return wrap(fmt.Errorf("data sheet %q would take the dictionary sheet's name", n))
		}
		if e.opts.About != nil && strings.EqualFold(n, AboutSheet) {
			return wrap(fmt.Errorf("data sheet %q would take the about sheet's name", n))
		}
	}
	if err := f.SetSheetName(f.GetSheetName(0), names[0]); err != nil {
		return wrap(err)
	}
	for _, n := range names[1:] {
		if _, err := f.NewSheet(n); err != nil {
			return wrap(err)
		}
	}
	if e.opts.Dictionary != nil {
		if _, err := f.NewSheet(DictionarySheet); err != nil {
			return wrap(err)
		}
	}
	if e.opts.About != nil {
		if _, err := f.NewSheet(AboutSheet); err != nil {
			return wrap(err)
		}
	}
	f.SetActiveSheet(0)

	widths := make([]float64, len(e.schema))
	for i, c := range e.schema {
		w := e.widths[i]
		switch c.Type {
		case Int64:
			w = max(w, 10)
		case Float64:
			w = max(w, 12)
		case Timestamp:
			w = max(w, len("2006-01-02 15:04:05"))
		case Date:
			w = max(w, len("2006-01-02"))
		}
		widths[i] = float64(min(max(w+2, minColWidth), maxColWidth))
	}
	header := make([]any, len(e.schema))
	for i, c := range e.schema {
		header[i] = c.Name
	}

	row := NewRow(len(e.schema))
	vals := make([]any, len(e.schema))
	next := func() ([]any, error) {
		if err := e.spill.read(e.schema, row); err != nil {
			return nil, fmt.Errorf("read spilled rows: %w", err)
		}
		for i, v := range row {
			switch {
			case !v.Valid:
				vals[i] = nil
			case e.schema[i].Type == String:
				vals[i] = v.S
			case e.schema[i].Type == Int64:
				vals[i] = v.I
			case e.schema[i].Type == Float64:
				vals[i] = v.F
			case e.schema[i].Type == Date:
				vals[i] = excelize.Cell{StyleID: dateStyle, Value: time.Unix(v.I*86400, 0).UTC()}
			default:
				vals[i] = excelize.Cell{StyleID: tsStyle, Value: time.UnixMilli(v.I).UTC()}
			}
		}
		return vals, nil
	}
	left := e.rows
	for _, n := range names {
		k := min(left, e.opts.SheetRows)
		left -= k
		if err := writeSheet(f, n, header, widths, bold, k, next); err != nil {
			return wrap(err)
		}
	}

	if e.opts.Dictionary != nil {
		header := make([]any, len(dictionaryHeader))
		for i, h := range dictionaryHeader {
			header[i] = h
		}
		vals := make([]any, len(dictionaryHeader))
		i := 0
		next := func() ([]any, error) {
			d := &e.opts.Dictionary[i]
			i++
			for j, s := range []string{d.Column, d.Type, d.Product, d.Source, d.Unit, d.DescriptionZH, d.DescriptionEN,
				d.CodeSource, d.Codes, d.Assumed} {
				if s == "" {
					vals[j] = nil
				} else {
					vals[j] = cutCell(s)
				}
			}
			return vals, nil
		}
		if err := writeSheet(f, DictionarySheet, header, dictionaryWidths, bold, len(e.opts.Dictionary), next); err != nil {
			return wrap(err)
		}
	}

	if e.opts.About != nil {
		vals := make([]any, 2)
		i := 0
		next := func() ([]any, error) {
			for j, s := range e.opts.About[i] {
				vals[j] = cutCell(s)
			}
			i++
			return vals, nil
		}
		if err := writeSheet(f, AboutSheet, []any{"item", "value"}, aboutWidths, bold, len(e.opts.About), next); err != nil {
			return wrap(err)
		}
	}

	w := bufio.NewWriterSize(e.file, 1<<20)
	if err := f.Write(w); err != nil {
		return wrap(err)
	}
	if err := w.Flush(); err != nil {
		return wrap(err)
	}
	return nil
}

// writeSheet streams a bold, frozen header row and n rows from next into
// sheet, whose dimension is declared first: the stream writer emits it
// before any row.
func writeSheet(f *excelize.File, sheet string, header []any, widths []float64, bold, n int, next func() ([]any, error)) error {
	last, err := excelize.ColumnNumberToName(len(header))
	if err != nil {
		return err
	}
	if err := f.SetSheetDimension(sheet, "A1:"+last+strconv.Itoa(n+1)); err != nil {
		return fmt.Errorf("sheet %s: %w", sheet, err)
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return fmt.Errorf("sheet %s: %w", sheet, err)
	}
	if err := sw.SetPanes(&excelize.Panes{
		Freeze:      true,
		YSplit:      1,
		TopLeftCell: "A2",
		ActivePane:  "bottomLeft",
		Selection:   []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
	}); err != nil {
		return fmt.Errorf("sheet %s: %w", sheet, err)
	}
	// One <col> element per run of equal widths.
	for lo := 0; lo < len(widths); {
		hi := lo
		for hi+1 < len(widths) && widths[hi+1] == widths[lo] {
			hi++
		}
		if err := sw.SetColWidth(lo+1, hi+1, widths[lo]); err != nil {
			return fmt.Errorf("sheet %s: %w", sheet, err)
		}
		lo = hi + 1
	}
	if err := sw.SetRow("A1", header, excelize.RowOpts{StyleID: bold}); err != nil {
		return fmt.Errorf("sheet %s: %w", sheet, err)
	}
	for r := 2; r <= n+1; r++ {
		vals, err := next()
		if err != nil {
			return fmt.Errorf("sheet %s: %w", sheet, err)
		}
		if err := sw.SetRow("A"+strconv.Itoa(r), vals); err != nil {
			return fmt.Errorf("sheet %s row %d: %w", sheet, r, err)
		}
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("sheet %s: %w", sheet, err)
	}
	return nil
}
