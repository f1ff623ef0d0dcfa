package sinks

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
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
