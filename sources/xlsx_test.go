package sources

import (
	"errors"
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
