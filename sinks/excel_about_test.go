package sinks

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestExcelAbout writes the about sheet after the data and the dictionary:
// an item and its value a row, the data sheet still the one that opens.
func TestExcelAbout(t *testing.T) {
	about := [][2]string{{"synthetic", "YES. SYNTHETIC DATA"}, {"run_id", "0190c3a0-0000-7000-8000-000000000001"}, {"empty", ""}}
	cases := []struct {
		name       string
		opts       ExcelOptions
		wantSheets []string
	}{
		{"about", ExcelOptions{About: about}, []string{"features", AboutSheet}},
		{"dictionary and about", ExcelOptions{About: about, Dictionary: []DictionaryEntry{{Column: "name"}}}, []string{"features", DictionarySheet, AboutSheet}},
		{"split data and about", ExcelOptions{About: about, SheetRows: 2}, []string{"features", "features_2", AboutSheet}},
		{"empty about", ExcelOptions{About: [][2]string{}}, []string{"features", AboutSheet}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.xlsx")
			x, err := NewExcel(path, testSchema, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := x.Write(testRows(3)); err != nil {
				t.Fatal(err)
			}
			if err := x.Commit(); err != nil {
				t.Fatal(err)
			}
			f, err := excelize.OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := f.GetSheetList(); !slices.Equal(got, c.wantSheets) {
				t.Errorf("sheets %q, want %q", got, c.wantSheets)
			}
			if got := f.GetSheetName(f.GetActiveSheetIndex()); got != "features" {
				t.Errorf("active sheet %q, want features", got)
			}
			rows, err := f.GetRows(AboutSheet)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(c.opts.About)+1 || !slices.Equal(rows[0], []string{"item", "value"}) {
				t.Fatalf("about sheet %q, want a header and %d rows", rows, len(c.opts.About))
			}
			for i, item := range c.opts.About {
				got := append(rows[i+1], "", "")[:2]
				if got[0] != item[0] || got[1] != item[1] {
					t.Errorf("about row %d = %q, want %q", i+1, got, item)
				}
			}
		})
	}
	t.Run("a data sheet named about", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := NewExcel(filepath.Join(dir, "f.xlsx"), testSchema, ExcelOptions{Sheet: "About", About: about}); err == nil {
			t.Error("NewExcel = nil error, want one")
		}
	})
}
