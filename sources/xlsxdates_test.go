package sources

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestFormatKind tells date, date-time, time and other formats apart
// through the format parser.
func TestFormatKind(t *testing.T) {
	tests := []struct {
		code string
		want dateKind
	}{
		{"yyyy-mm-dd", dateOnly},
		{"yyyy/m/d", dateOnly},
		{`yyyy"年"m"月"d"日"`, dateOnly},
		{`[DBNum1][$-804]yyyy"年"m"月"d"日"`, dateOnly},
		{"[$-F800]dddd, mmmm dd, yyyy", dateOnly},
		{"mmm-yy", dateOnly},
		{"d-mmm", dateOnly},
		{"e/m/d", dateOnly},
		{"[Red]yyyy-mm-dd;@", dateOnly},
		{"m/d/yyyy h:mm AM/PM", dateTime},
		{"yyyy-mm-dd hh:mm:ss", dateTime},
		{"h:mm", timeOnly},
		{"hh:mm:ss", timeOnly},
		{`上午/下午h"时"mm"分"`, timeOnly},
		{"mm:ss", timeOnly},
		{"[h]:mm:ss", notDate},
		{"General", notDate},
		{"0.00", notDate},
		{"#,##0", notDate},
		{"0.00E+00", notDate},
		{"@", notDate},
		{`"Date: "0`, notDate},
		{"", notDate},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := formatKind(tt.code); got != tt.want {
				t.Errorf("formatKind(%q) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

// TestXLSXDateCells reads number cells under every kind of number format:
// those showing a date, a date and time or a time of day come back as ISO
// 8601 whatever the format's order and locale; numbers, durations, text
// and serials Excel cannot show as dates come back as Excel shows them.
func TestXLSXDateCells(t *testing.T) {
	custom := func(s string) *string { return &s }
	tests := []struct {
		name     string
		style    *excelize.Style // nil: the default style
		value    any
		date1904 bool
		want     string
	}{
		{"built-in 14 (mm-dd-yy)", &excelize.Style{NumFmt: 14}, 46027, false, "2026-01-05"},
		{"built-in 14, a fraction of a day", &excelize.Style{NumFmt: 14}, 46027.75, false, "2026-01-05"},
		{"built-in 15 (d-mmm-yy)", &excelize.Style{NumFmt: 15}, 46027, false, "2026-01-05"},
		{"built-in 17 (mmm-yy)", &excelize.Style{NumFmt: 17}, 46027, false, "2026-01-05"},
		{"built-in 22 (m/d/yy h:mm)", &excelize.Style{NumFmt: 22}, 46027.5625, false, "2026-01-05T13:30:00"},
		{"built-in 20 (h:mm)", &excelize.Style{NumFmt: 20}, 0.5625, false, "13:30:00"},
		{"built-in 31 (yyyy年m月d日)", &excelize.Style{NumFmt: 31}, 46027, false, "2026-01-05"},
		{"custom yyyy-mm-dd", &excelize.Style{CustomNumFmt: custom("yyyy-mm-dd")}, 46027, false, "2026-01-05"},
		{"custom d/m/yyyy", &excelize.Style{CustomNumFmt: custom("d/m/yyyy")}, 46027, false, "2026-01-05"},
		{"custom m/d/yyyy h:mm", &excelize.Style{CustomNumFmt: custom("m/d/yyyy h:mm")}, 46027.5625, false, "2026-01-05T13:30:00"},
		{"custom Chinese", &excelize.Style{CustomNumFmt: custom(`yyyy"年"m"月"d"日"`)}, 46027, false, "2026-01-05"},
		{"1904 date system", &excelize.Style{NumFmt: 14}, 44565, true, "2026-01-05"},
		{"before 1900-03-01", &excelize.Style{NumFmt: 14}, 1, false, "1900-01-01"},
		{"a negative serial", &excelize.Style{NumFmt: 14}, -5, false, "-5"},
		{"past 9999-12-31", &excelize.Style{NumFmt: 14}, 3000000, false, "3000000"},
		{"duration [h]:mm:ss", &excelize.Style{NumFmt: 46}, 1.5, false, "36:00:00"},
		{"plain number", nil, 46027, false, "46027"},
		{"number format 0.00", &excelize.Style{NumFmt: 2}, 46027, false, "46027.00"},
		{"text in a date-styled cell", &excelize.Style{NumFmt: 14}, "2026/1/5", false, "2026/1/5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := excelize.NewFile()
			defer f.Close()
			if tt.date1904 {
				yes := true
				if err := f.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &yes}); err != nil {
					t.Fatal(err)
				}
			}
			for i, h := range []string{"姓名", "身份证号", "apply_date", "label"} {
				cell, _ := excelize.CoordinatesToCellName(i+1, 1)
				if err := f.SetCellValue("Sheet1", cell, h); err != nil {
					t.Fatal(err)
				}
			}
			for i, v := range []any{"张三", "110101199003071234", tt.value, 7} {
				cell, _ := excelize.CoordinatesToCellName(i+1, 2)
				if err := f.SetCellValue("Sheet1", cell, v); err != nil {
					t.Fatal(err)
				}
			}
			if tt.style != nil {
				id, err := f.NewStyle(tt.style)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.SetCellStyle("Sheet1", "C2", "C2", id); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "dates.xlsx")
			if err := f.SaveAs(path); err != nil {
				t.Fatal(err)
			}
			rd, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			rec, err := rd.Read()
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.Fields[2]; got != tt.want {
				t.Errorf("apply_date = %q, want %q", got, tt.want)
			}
			if got := rec.Fields[3]; got != "7" {
				t.Errorf("label = %q, want 7 (a number cell beside it unchanged)", got)
			}
		})
	}
}

// TestXLSXControlCharacters rejects a row of a workbook with a control
// character in a cell (as Excel writes them, _x001B_, or as XML character
// references), naming the column, and refuses a header with one.
func TestXLSXControlCharacters(t *testing.T) {
	base := writeWorkbook(t, map[string][][]any{"Sheet1": {{"姓名", "身份证号", "note"}, {"张三", "110101199003071234", "x"}}}, []string{"Sheet1"})
	for name, c := range map[string]string{"NUL": "_x0000_", "ESC": "_x001B_", "DEL": "&#x7f;", "C1": "&#x9b;", "C1 escaped": "_x0085_"} {
		t.Run("cell "+name, func(t *testing.T) {
			path := rezip(t, base, map[string][]byte{"xl/worksheets/sheet1.xml": sheetXML([][]string{
				{"姓名", "身份证号", "note"},
				{"张三", "110101199003071234", "a" + c + "b"},
				{"李四", "110101199003071234", "ok"},
			}, 0)})
			rd, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			rec, err := rd.Read()
			var re *RowError
			if !errors.As(err, &re) || re.Column != "note" || !strings.Contains(re.Reason, "control character") {
				t.Errorf("Read() = %q, %v; want a *RowError naming a control character in note", rec.Fields, err)
			}
			if rec, err := rd.Read(); err != nil || rec.Fields[2] != "ok" {
				t.Errorf("row 3: Read() = %q, %v", rec.Fields, err)
			}
		})
		t.Run("header "+name, func(t *testing.T) {
			path := rezip(t, base, map[string][]byte{"xl/worksheets/sheet1.xml": sheetXML([][]string{
				{"姓名", "身份证号", "la" + c + "bel"},
				{"张三", "110101199003071234", "1"},
			}, 0)})
			rd, err := Open(path, Options{})
			if err == nil {
				rd.Close()
				t.Fatal("Open() accepts the header")
			}
			if !strings.Contains(err.Error(), "column C: a control character") {
				t.Errorf("Open() = %v, want column C named", err)
			}
		})
	}
}
