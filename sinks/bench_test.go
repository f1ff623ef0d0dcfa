package sinks

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// benchSchema has 40 columns of mixed types, like a feature set: interval
// codes, their bounds, flags and query times.
func benchSchema() Schema {
	s := make(Schema, 40)
	for i := range s {
		s[i] = Column{Name: "col_" + strconv.Itoa(i), Type: Type(i % 4)}
	}
	return s
}

// benchRows returns n rows of s with about one null in eight cells.
func benchRows(s Schema, n int) []Row {
	rows := make([]Row, n)
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for r := range rows {
		row := NewRow(len(s))
		for c, col := range s {
			if (r+c)%8 == 0 {
				continue
			}
			switch col.Type {
			case String:
				row.SetString(c, strconv.Itoa((r*c)%37))
			case Int64:
				row.SetInt(c, int64(r*c))
			case Float64:
				row.SetFloat(c, float64(r)/float64(c+1))
			case Timestamp:
				row.SetTime(c, base.Add(time.Duration(r)*time.Second))
			}
		}
		rows[r] = row
	}
	return rows
}

func benchSink(b *testing.B, open func(path string, s Schema) (Sink, error)) {
	s := benchSchema()
	rows := benchRows(s, 10000)
	dir := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink, err := open(filepath.Join(dir, "out-"+strconv.Itoa(i)), s)
		if err != nil {
			b.Fatal(err)
		}
		for lo := 0; lo < len(rows); lo += 256 {
			if err := sink.Write(rows[lo:min(lo+256, len(rows))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := sink.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkParquet(b *testing.B) {
	benchSink(b, func(p string, s Schema) (Sink, error) { return NewParquet(p, s, ParquetOptions{}) })
}

func BenchmarkExcel(b *testing.B) {
	benchSink(b, func(p string, s Schema) (Sink, error) { return NewExcel(p, s, ExcelOptions{}) })
}

func BenchmarkCSV(b *testing.B) {
	benchSink(b, func(p string, s Schema) (Sink, error) { return NewCSV(p, s) })
}

// excelizeShape is the shape of excelize's own BenchmarkStreamWriter: rows
// of ten integer cells.
const excelizeShapeCols = 10

// BenchmarkExcelizeStreamWriter is excelize's BenchmarkStreamWriter, timed
// per cell and carried to the end: the rows go through SetRow as there,
// then the workbook is written out, which its benchmark leaves out and a
// real file needs.
func BenchmarkExcelizeStreamWriter(b *testing.B) {
	const rows = 10000
	row := make([]any, excelizeShapeCols)
	for c := range row {
		row[c] = c
	}
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		f := excelize.NewFile()
		sw, err := f.NewStreamWriter("Sheet1")
		if err != nil {
			b.Fatal(err)
		}
		for r := 1; r <= rows; r++ {
			cell, _ := excelize.CoordinatesToCellName(1, r)
			if err := sw.SetRow(cell, row); err != nil {
				b.Fatal(err)
			}
		}
		if err := sw.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := f.SaveAs(filepath.Join(dir, "x-"+strconv.Itoa(i)+".xlsx")); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportMetric(float64(rows*excelizeShapeCols*b.N)/b.Elapsed().Seconds(), "cells/s")
}

// BenchmarkExcelExcelizeShape is the Excel sink on the same shape: ten
// integer columns, 10,000 rows, header, frozen pane, spill and replay.
func BenchmarkExcelExcelizeShape(b *testing.B) {
	const rows = 10000
	s := make(Schema, excelizeShapeCols)
	for c := range s {
		s[c] = Column{Name: "c" + strconv.Itoa(c), Type: Int64}
	}
	batch := make([]Row, rows)
	for r := range batch {
		batch[r] = NewRow(len(s))
		for c := range s {
			batch[r].SetInt(c, int64(c))
		}
	}
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		x, err := NewExcel(filepath.Join(dir, "s-"+strconv.Itoa(i)+".xlsx"), s, ExcelOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := x.Write(batch); err != nil {
			b.Fatal(err)
		}
		if err := x.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*excelizeShapeCols*b.N)/b.Elapsed().Seconds(), "cells/s")
}
