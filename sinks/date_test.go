package sinks

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/xuri/excelize/v2"
)

func TestDateColumn(t *testing.T) {
	schema := Schema{{Name: "apply_date", Type: Date}, {Name: "n", Type: Int64}}
	days := []time.Time{
		time.Date(2026, 10, 21, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 0, 0, time.FixedZone("CST", 8*3600)), // the day as written, not as UTC
	}
	rows := make([]Row, len(days)+1)
	for i, d := range days {
		rows[i] = NewRow(2)
		rows[i].SetDate(0, d)
		rows[i].SetInt(1, int64(i))
	}
	rows[len(days)] = NewRow(2) // a null date
	want := []string{"2026-10-21", "1969-12-31", "2024-02-29", ""}

	dir := t.TempDir()
	t.Run("parquet", func(t *testing.T) {
		path := filepath.Join(dir, "d.parquet")
		p, err := NewParquet(path, schema, ParquetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := p.Commit(); err != nil {
			t.Fatal(err)
		}
		pf := readParquet(t, path)
		if got := pf.schema.Field(0).Type.ID(); got != arrow.DATE32 {
			t.Errorf("arrow type %v, want date32", got)
		}
		for i, r := range pf.rows {
			got := ""
			if r[0].Valid {
				got = time.Unix(r[0].I*86400, 0).UTC().Format(time.DateOnly)
			}
			if got != want[i] {
				t.Errorf("row %d: %q, want %q", i, got, want[i])
			}
		}
	})
	t.Run("csv", func(t *testing.T) {
		path := filepath.Join(dir, "d.csv")
		c, err := NewCSV(path, schema)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := c.Commit(); err != nil {
			t.Fatal(err)
		}
		_, recs := readCSV(t, path)
		for i, r := range recs[1:] {
			if r[0] != want[i] {
				t.Errorf("row %d: %q, want %q", i, r[0], want[i])
			}
		}
	})
	t.Run("xlsx", func(t *testing.T) {
		path := filepath.Join(dir, "d.xlsx")
		x, err := NewExcel(path, schema, ExcelOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Write(rows); err != nil {
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
		got, err := f.GetRows("features")
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			cell := "" // excelize drops trailing empty rows and cells
			if i+1 < len(got) && len(got[i+1]) > 0 {
				cell = got[i+1][0]
			}
			if cell != w {
				t.Errorf("row %d: %q, want %q", i, cell, w)
			}
		}
	})
}
