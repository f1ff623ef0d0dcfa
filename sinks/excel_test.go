package sinks

import (
	"archive/zip"
	"encoding/xml"
	"io"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"
)

// sheetXML returns the XML of every sheet of an xlsx file by sheet name,
// read from the zip the way any reader finds it: workbook, then relations.
func sheetXML(t *testing.T, file string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	parts := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		parts[f.Name] = string(b)
	}
	var wb struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
			RID  string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	var rels struct {
		Rels []struct {
			ID     string `xml:"Id,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := xml.Unmarshal([]byte(parts["xl/workbook.xml"]), &wb); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal([]byte(parts["xl/_rels/workbook.xml.rels"]), &rels); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range wb.Sheets {
		for _, r := range rels.Rels {
			if r.ID != s.RID {
				continue
			}
			target := strings.TrimPrefix(r.Target, "/")
			if !strings.HasPrefix(target, "xl/") {
				target = path.Join("xl", target)
			}
			out[s.Name] = parts[target]
		}
	}
	return out
}

var (
	dimensionRe = regexp.MustCompile(`<dimension ref="([^"]*)"(?:/>|></dimension>)`)
	rowRe       = regexp.MustCompile(`<row r="(\d+)"`)
	lastRowRe   = regexp.MustCompile(`\d+$`)
)

// excelText is how Excel shows v of type t.
func excelText(t Type, v Value) string {
	if !v.Valid {
		return ""
	}
	switch t {
	case Int64:
		return strconv.FormatInt(v.I, 10)
	case Float64:
		return strconv.FormatFloat(v.F, 'f', -1, 64)
	case Timestamp:
		return time.UnixMilli(v.I).UTC().Format("2006-01-02 15:04:05")
	case Date:
		return time.Unix(v.I*86400, 0).UTC().Format("2006-01-02")
	}
	return v.S
}

// pad extends row to n cells: excelize drops trailing empty cells.
func pad(row []string, n int) []string {
	for len(row) < n {
		row = append(row, "")
	}
	return row
}

func TestExcel(t *testing.T) {
	header := []string{"name", "score", "low", "queried_at"}
	dict := []DictionaryEntry{
		{Column: "name", Type: "string", Product: "", Source: "input", DescriptionZH: "姓名", DescriptionEN: "applicant name"},
		{Column: "score", Type: "int64", Product: "JRZQ9E2A", Source: "xyp_model_score_high", Unit: "points"},
		{Column: "x_low", Type: "float64", Product: "JRZQ9E2A", Source: "x", CodeSource: "t: seed 1, sample 1",
			Codes: "1 = (0,9) → [1,8] (seed); 2 = [9,+∞) (sample)", Assumed: "the table"},
	}
	tests := []struct {
		name          string
		opts          ExcelOptions
		rows          int
		batches       []int
		wantSheets    []string
		wantDims      []string
		wantTruncated int
	}{
		{"one sheet", ExcelOptions{}, 10, []int{1, 2, 7}, []string{"features"}, []string{"A1:D11"}, 0},
		{"split", ExcelOptions{SheetRows: 4}, 10, []int{3, 3}, []string{"features", "features_2", "features_3"}, []string{"A1:D5", "A1:D5", "A1:D3"}, 0},
		{"split exact", ExcelOptions{SheetRows: 5}, 10, nil, []string{"features", "features_2"}, []string{"A1:D6", "A1:D6"}, 0},
		{"zero rows", ExcelOptions{}, 0, nil, []string{"features"}, []string{"A1:D1"}, 0},
		{"max rows", ExcelOptions{MaxRows: 5}, 8, []int{4, 4}, []string{"features"}, []string{"A1:D6"}, 3},
		{"max rows and split", ExcelOptions{MaxRows: 5, SheetRows: 3}, 8, nil, []string{"features", "features_2"}, []string{"A1:D4", "A1:D3"}, 3},
		{"sheet name", ExcelOptions{Sheet: "数据", SheetRows: 6}, 7, nil, []string{"数据", "数据_2"}, []string{"A1:D7", "A1:D2"}, 0},
		{"dictionary", ExcelOptions{Dictionary: dict}, 3, nil, []string{"features", "dictionary"}, []string{"A1:D4", "A1:J4"}, 0},
		{"empty dictionary", ExcelOptions{Dictionary: []DictionaryEntry{}}, 1, nil, []string{"features", "dictionary"}, []string{"A1:D2", "A1:J1"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "features.xlsx")
			e, err := NewExcel(file, testSchema, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Abort()
			rows := testRows(tt.rows)
			for _, b := range batches(rows, tt.batches...) {
				if err := e.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
			if got := e.Truncated(); got != tt.wantTruncated {
				t.Errorf("Truncated() = %d, want %d", got, tt.wantTruncated)
			}
			if got, want := e.Rows(), tt.rows-tt.wantTruncated; got != want {
				t.Errorf("Rows() = %d, want %d", got, want)
			}
			rows = rows[:tt.rows-tt.wantTruncated]

			// The declared dimension, as a reader that trusts it sees it,
			// and the rows actually there.
			xmls := sheetXML(t, file)
			for i, s := range tt.wantSheets {
				m := dimensionRe.FindStringSubmatch(xmls[s])
				if m == nil || m[1] != tt.wantDims[i] {
					t.Errorf("sheet %s: dimension %v, want %s", s, m, tt.wantDims[i])
				}
				rowNums := rowRe.FindAllStringSubmatch(xmls[s], -1)
				wantLast, _ := strconv.Atoi(lastRowRe.FindString(tt.wantDims[i]))
				if len(rowNums) != wantLast || rowNums[len(rowNums)-1][1] != strconv.Itoa(wantLast) {
					t.Errorf("sheet %s: %d rows, the last numbered %s; want %d", s, len(rowNums), rowNums[len(rowNums)-1][1], wantLast)
				}
			}

			f, err := excelize.OpenFile(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := f.GetSheetList(); !slices.Equal(got, tt.wantSheets) {
				t.Errorf("sheets = %q, want %q", got, tt.wantSheets)
			}
			if got := f.GetActiveSheetIndex(); got != 0 {
				t.Errorf("active sheet = %d, want 0", got)
			}
			var data [][]string
			for _, s := range tt.wantSheets {
				if s == DictionarySheet {
					continue
				}
				got, err := f.GetRows(s)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 || !slices.Equal(got[0], header) {
					t.Errorf("sheet %s header = %q, want %q", s, got[:min(1, len(got))], header)
					continue
				}
				data = append(data, got[1:]...)
				panes, err := f.GetPanes(s)
				if err != nil {
					t.Fatal(err)
				}
				if !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
					t.Errorf("sheet %s panes = %+v, want the header row frozen", s, panes)
				}
			}
			if len(data) != len(rows) {
				t.Fatalf("read %d rows, want %d", len(data), len(rows))
			}
			for i, r := range rows {
				want := make([]string, len(r))
				for j, v := range r {
					want[j] = excelText(testSchema[j].Type, v)
				}
				if got := pad(data[i], len(want)); !slices.Equal(got, want) {
					t.Errorf("row %d = %q, want %q", i, got, want)
				}
			}

			if tt.opts.Dictionary != nil {
				got, err := f.GetRows(DictionarySheet)
				if err != nil {
					t.Fatal(err)
				}
				want := [][]string{dictionaryHeader}
				for _, d := range tt.opts.Dictionary {
					want = append(want, []string{d.Column, d.Type, d.Product, d.Source, d.Unit, d.DescriptionZH, d.DescriptionEN,
						d.CodeSource, d.Codes, d.Assumed})
				}
				for i := range got {
					got[i] = pad(got[i], len(dictionaryHeader))
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("dictionary = %q, want %q", got, want)
				}
			}
		})
	}
}

// TestExcelDimension checks the literal element a dimension-trusting reader
// (such as openpyxl in read-only mode) relies on.
func TestExcelDimension(t *testing.T) {
	schema := testSchema[:3]
	file := filepath.Join(t.TempDir(), "f.xlsx")
	e, err := NewExcel(file, schema, ExcelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Abort()
	for _, r := range testRows(10) {
		if err := e.Write([]Row{r[:3]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Commit(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	rc, err := zr.Open("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	// encoding/xml writes the empty element as a start and an end tag.
	want := []string{`<dimension ref="A1:C11"/>`, `<dimension ref="A1:C11"></dimension>`}
	if !strings.Contains(string(b), want[0]) && !strings.Contains(string(b), want[1]) {
		t.Errorf("sheet1.xml lacks %s; it starts %.300s", want[0], b)
	}
	if got, want := strings.Count(string(b), "<row "), 11; got != want {
		t.Errorf("sheet1.xml has %d rows, want %d", got, want)
	}
}

func TestExcelLongStrings(t *testing.T) {
	schema := Schema{{Name: "text", Type: String}}
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"ascii", strings.Repeat("a", 40000), strings.Repeat("a", MaxCellChars)},
		{"cjk", strings.Repeat("中", 40000), strings.Repeat("中", MaxCellChars)},
		{"surrogate pairs", strings.Repeat("😀", 20000), strings.Repeat("😀", MaxCellChars/2)},
		{"at the limit", strings.Repeat("é", MaxCellChars), strings.Repeat("é", MaxCellChars)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "f.xlsx")
			e, err := NewExcel(file, schema, ExcelOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Abort()
			r := NewRow(1)
			r.SetString(0, tt.in)
			if err := e.Write([]Row{r}); err != nil {
				t.Fatal(err)
			}
			if r[0].S != tt.in {
				t.Error("Write changed the caller's row")
			}
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
			f, err := excelize.OpenFile(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := f.GetCellValue("features", "A2")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("cell has %d UTF-16 units, want %d", len(utf16.Encode([]rune(got))), len(utf16.Encode([]rune(tt.want))))
			}
		})
	}
}

func TestExcelOptionsInvalid(t *testing.T) {
	tests := []struct {
		name string
		opts ExcelOptions
	}{
		{"negative max rows", ExcelOptions{MaxRows: -1}},
		{"too many sheet rows", ExcelOptions{SheetRows: MaxSheetRows + 1}},
		{"negative sheet rows", ExcelOptions{SheetRows: -1}},
		{"bad sheet name", ExcelOptions{Sheet: "a/b"}},
		{"long sheet name", ExcelOptions{Sheet: strings.Repeat("x", 32)}},
		{"dictionary name", ExcelOptions{Sheet: "Dictionary", Dictionary: []DictionaryEntry{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := NewExcel(filepath.Join(dir, "f.xlsx"), testSchema, tt.opts); err == nil {
				t.Error("NewExcel = nil error, want one")
			}
			if got := dirNames(t, dir); len(got) != 0 {
				t.Errorf("dir holds %q, want nothing", got)
			}
		})
	}
}

func TestSpillRoundTrip(t *testing.T) {
	schema := Schema{{Name: "s", Type: String}, {Name: "i", Type: Int64}, {Name: "f", Type: Float64}, {Name: "t", Type: Timestamp}}
	row := func(s string, i int64, f float64, ts int64) Row {
		return Row{{Valid: true, S: s}, {Valid: true, I: i}, {Valid: true, F: f}, {Valid: true, I: ts}}
	}
	rows := []Row{
		row("", 0, 0, 0),
		NewRow(4),
		row("中文 \x00 ☃", -1<<63, -1.5e-300, -62135596800000),
		row(strings.Repeat("x", 100000), 1<<63-1, 1e308, 253402300799999),
		{{}, {Valid: true, I: 7}, {}, {Valid: true, I: 1}},
	}
	sp, err := createSpill(filepath.Join(t.TempDir(), "x.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.remove()
	for _, r := range rows {
		if err := sp.write(schema, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := sp.rewind(); err != nil {
		t.Fatal(err)
	}
	got := NewRow(4)
	for i, want := range rows {
		if err := sp.read(schema, got); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("row %d = %+v, want %+v", i, got, want)
		}
	}
	if err := sp.read(schema, got); err != io.ErrUnexpectedEOF {
		t.Errorf("read past the end = %v, want %v", err, io.ErrUnexpectedEOF)
	}
}

func TestSpillDamaged(t *testing.T) {
	schema := Schema{{Name: "s", Type: String}}
	sp, err := createSpill(filepath.Join(t.TempDir(), "x.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.remove()
	// A float tag where the schema has a string.
	if _, err := sp.w.Write([]byte{tagFloat, 1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
		t.Fatal(err)
	}
	if err := sp.rewind(); err != nil {
		t.Fatal(err)
	}
	if err := sp.read(schema, NewRow(1)); err != errSpillCorrupt {
		t.Errorf("read = %v, want %v", err, errSpillCorrupt)
	}
}
