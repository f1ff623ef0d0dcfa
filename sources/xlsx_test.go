package sources

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// writeWorkbook writes sheets of cells; a cell is a string unless the
// test gives a number.
func writeWorkbook(t *testing.T, sheets map[string][][]any, order []string) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, name := range order {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for r, row := range sheets[name] {
			for c, v := range row {
				cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if err := f.SetCellValue(name, cell, v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	path := filepath.Join(t.TempDir(), "book.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestXLSX(t *testing.T) {
	path := writeWorkbook(t, map[string][][]any{
		"notes": {{"this sheet has no ID column"}},
		"list": {
			{"姓名", "身份证号", "手机号", "label"},
			{"张三", "11010119900307123X", "13800138000", "1"},
			{"李四", float64(110101199003071234), 13800138001, "0"}, // numbers, as Excel keeps them
			{}, // a blank row
			{"王五", "110105198801014567", "13800138002", "1", "stray"}, // a value past the header
		},
	}, []string{"notes", "list"})

	t.Run("first sheet by default", func(t *testing.T) {
		_, err := Open(path, Options{})
		var fe *FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "no ID number column") {
			t.Errorf("Open = %v, want a FileError for the first sheet's missing ID column", err)
		}
	})
	t.Run("wrong sheet name", func(t *testing.T) {
		_, err := Open(path, Options{Sheet: "Sheet9"})
		var fe *FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), `no sheet "Sheet9" (sheets: notes, list)`) {
			t.Errorf("Open = %v, want a FileError naming the sheets", err)
		}
	})
	t.Run("chosen sheet", func(t *testing.T) {
		rd, err := Open(path, Options{Sheet: "list"})
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		if got, want := strings.Join(rd.Header(), ","), "name,id_card,mobile_no,label"; got != want {
			t.Errorf("header %q, want %q", got, want)
		}
		type row struct {
			row     int
			id      string
			numeric bool
			rowErr  bool
		}
		var got []row
		for {
			rec, err := rd.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			var re *RowError
			if err != nil && !errors.As(err, &re) {
				t.Fatal(err)
			}
			got = append(got, row{rec.Row, rec.Fields[1], rec.IsNumeric(1), re != nil})
		}
		want := []row{
			{2, "11010119900307123X", false, false},
			{3, "110101199003071000", true, false}, // 15 significant digits kept
			{5, "110105198801014567", false, true},
		}
		if len(got) != len(want) {
			t.Fatalf("rows %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
			}
		}
		if rd.Blank() != 1 {
			t.Errorf("Blank() = %d, want 1", rd.Blank())
		}
	})
	t.Run("not a workbook", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.xlsx")
		if err := writeFile(bad, "not a zip"); err != nil {
			t.Fatal(err)
		}
		_, err := Open(bad, Options{})
		var fe *FileError
		if !errors.As(err, &fe) || fe.File != bad {
			t.Errorf("Open = %v, want a FileError naming %s", err, bad)
		}
	})
}

func writeFile(path, data string) error { return os.WriteFile(path, []byte(data), 0o644) }

// rezip copies the workbook at path to a new file, replacing or adding the
// parts given, each compressed with Deflate.
func rezip(t *testing.T, path string, parts map[string][]byte) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := filepath.Join(t.TempDir(), "changed.xlsx")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	write := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	done := map[string]bool{}
	for _, zf := range zr.File {
		data, ok := parts[zf.Name]
		if !ok {
			rc, err := zf.Open()
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(rc); err != nil {
				t.Fatal(err)
			}
			rc.Close()
		}
		write(zf.Name, data)
		done[zf.Name] = true
	}
	for name, data := range parts {
		if !done[name] {
			write(name, data)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sheetXML is a worksheet of rows of inline strings, and pad bytes of
// white space inside its sheetData (as much as a file may hold).
func sheetXML(rows [][]string, pad int) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	for r, row := range rows {
		fmt.Fprintf(&b, `<row r="%d">`, r+1)
		for c, v := range row {
			col, _ := excelize.ColumnNumberToName(c + 1)
			fmt.Fprintf(&b, `<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>`, col, r+1, v)
		}
		b.WriteString(`</row>`)
	}
	b.WriteString(strings.Repeat(" ", pad))
	b.WriteString(`</sheetData></worksheet>`)
	return []byte(b.String())
}

func TestXLSXCaps(t *testing.T) {
	base := writeWorkbook(t, map[string][][]any{"Sheet1": {{"id_card", "name"}, {"11010119900307123X", "张三"}}}, []string{"Sheet1"})
	rows := [][]string{{"id_card", "name"}}
	for i := range 50 {
		rows = append(rows, []string{"11010119900307123X", fmt.Sprintf("张%d", i)})
	}
	var sst strings.Builder
	sst.WriteString(`<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
	for i := 0; sst.Len() <= excelizeMemoryXML+1000; i++ {
		fmt.Fprintf(&sst, `<si><t>%x</t></si>`, uint32(i)*2654435761)
	}
	sst.WriteString(`</sst>`)
	tests := []struct {
		name    string
		parts   map[string][]byte
		opts    Options
		message string
	}{
		{"a zip bomb in the sheet", map[string][]byte{"xl/worksheets/sheet1.xml": sheetXML(rows, 64<<20)}, Options{},
			"more than 100 times its size in the file"},
		{"a zip bomb in another part", map[string][]byte{"docProps/custom.xml": make([]byte, 8<<20)}, Options{},
			"docProps/custom.xml unpacks to 8 MiB, more than 100 times"},
		{"past max_bytes", map[string][]byte{"xl/worksheets/sheet1.xml": sheetXML(rows, 0)}, Options{XLSXMaxBytes: 4 << 10},
			"unpacks to more than 4 KiB (input.xlsx.max_bytes)"},
		{"a large part other than a sheet", map[string][]byte{"xl/media/image1.png": randomBytes(33 << 20)}, Options{},
			"xl/media/image1.png unpacks to 33 MiB, more than the 32 MiB"},
		{"past max_cells", map[string][]byte{"xl/worksheets/sheet1.xml": sheetXML(rows, 0)}, Options{XLSXMaxCells: 99},
			"the sheet has more than 99 cells (input.xlsx.max_cells)"},
		{"shared strings past max_cells", map[string][]byte{"xl/sharedStrings.xml": []byte(sst.String())}, Options{XLSXMaxCells: 100_000},
			"shares more than 100000 strings (input.xlsx.max_cells)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := rezip(t, base, tt.parts)
			rd, err := Open(path, tt.opts)
			if err == nil {
				rd.Close()
				t.Fatal("Open() = nil error, want a cap")
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != path || !errors.Is(err, errTooLarge) {
				t.Fatalf("Open() = %T %v, want a *FileError for %s past a cap", err, err, path)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Open() = %q, want it to contain %q", err, tt.message)
			}
		})
	}
	t.Run("within the caps", func(t *testing.T) {
		path := rezip(t, base, map[string][]byte{"xl/worksheets/sheet1.xml": sheetXML(rows, 100<<10)})
		rd, err := Open(path, Options{XLSXMaxCells: 102})
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		defer rd.Close()
		n := 0
		for {
			_, err := rd.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("Read() = %v", err)
			}
			n++
		}
		if n != len(rows)-1 {
			t.Errorf("read %d rows, want %d", n, len(rows)-1)
		}
	})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// TestXLSXFaults refuses workbooks whose header row cannot name the
// columns, and rejects alone a row with damaged text.
func TestXLSXFaults(t *testing.T) {
	id := "11010119900307123X"
	files := []struct {
		name    string
		rows    [][]string
		message string
	}{
		{"no header row", [][]string{{"张三", id, "13800138000"}, {"李四", id, "13900139000"}}, "column 2 holds what looks like an ID number"},
		{"case only", [][]string{{"id_card", "Label", "label"}, {id, "1", "0"}}, `columns 2 ("Label") and 3 ("label") differ only in case`},
		{"damaged header", [][]string{{"id_card", "na\uFFFDme"}, {id, "x"}}, "header row, column B: the replacement character"},
		{"a cell past XFD", nil, "less than or equal to 16384"},
	}
	for _, tt := range files {
		t.Run(tt.name, func(t *testing.T) {
			base := writeWorkbook(t, map[string][][]any{"Sheet1": {{"id_card"}}}, []string{"Sheet1"})
			sheet := sheetXML(tt.rows, 0)
			if tt.rows == nil {
				sheet = []byte(`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
					`<row r="1"><c r="A1" t="inlineStr"><is><t>id_card</t></is></c><c r="ZZZZZZZZ1" t="inlineStr"><is><t>x</t></is></c></row>` +
					`</sheetData></worksheet>`)
			}
			path := rezip(t, base, map[string][]byte{"xl/worksheets/sheet1.xml": sheet})
			rd, err := Open(path, Options{})
			if err == nil {
				rd.Close()
				t.Fatalf("Open() = header %q, want an error", rd.Header())
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != path || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Open() = %v, want a *FileError for %s containing %q", err, path, tt.message)
			}
			// The message names the file, whose random temporary name may hold
			// any digits: only what follows it counts.
			if rest := strings.ReplaceAll(err.Error(), path, ""); strings.Contains(rest, id) || strings.Contains(rest, "138") {
				t.Errorf("Open() = %q: it repeats a value of the file", err)
			}
		})
	}
	t.Run("a damaged cell", func(t *testing.T) {
		base := writeWorkbook(t, map[string][][]any{"Sheet1": {{"id_card"}}}, []string{"Sheet1"})
		path := rezip(t, base, map[string][]byte{"xl/worksheets/sheet1.xml": sheetXML([][]string{
			{"id_card", "name"}, {id, "张三"}, {id, "李\uFFFD"}, {id, "王五"}}, 0)})
		rd, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		var got []string
		for {
			rec, err := rd.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			var re *RowError
			switch {
			case errors.As(err, &re):
				got = append(got, fmt.Sprintf("%d %s: %s", re.Row, re.Column, re.Reason))
			case err != nil:
				t.Fatal(err)
			default:
				got = append(got, fmt.Sprintf("%d %s", rec.Row, rec.Fields[1]))
			}
		}
		want := []string{"2 张三", "3 name: " + reasonDamaged, "4 王五"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("rows %q, want %q", got, want)
		}
	})
}
