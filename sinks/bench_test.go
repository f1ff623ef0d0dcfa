package sinks

import (
	"fmt"
	"math/rand/v2"
	"os"
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

// featureSchema is the schema of a real run (JRZQ9E2A with passthrough
// columns), marked as the pipeline marks it: 51 columns, of which five
// strings marked Distinct (four distinct, and the masked name, which keeps
// the surname only), application_id distinct but passed through unmarked,
// low-cardinality strings, flags, a timestamp, a date and 24 floats with
// few distinct values but for one.
func featureSchema() Schema {
	s := Schema{
		{Name: "applicant_key", Type: String, Distinct: true},
		{Name: "name", Type: String, Distinct: true}, // masked: not distinct, but marked so
		{Name: "id_card", Type: String, Distinct: true},
		{Name: "mobile_no", Type: String, Distinct: true},
		{Name: "application_id", Type: String},
		{Name: "apply_date", Type: Date},
		{Name: "label", Type: Int64},
		{Name: "source_file", Type: String},
		{Name: "source_row", Type: Int64},
		{Name: "jrzq9e2a_status", Type: String},
		{Name: "jrzq9e2a_code", Type: Int64},
		{Name: "jrzq9e2a_message", Type: String},
		{Name: "jrzq9e2a_transaction_id", Type: String, Distinct: true},
		{Name: "jrzq9e2a_queried_at", Type: Timestamp},
	}
	for k := range featureIntervals {
		n := "jrzq9e2a_interval_" + strconv.Itoa(k)
		s = append(s, Column{Name: n + "_code", Type: String}, Column{Name: n + "_low", Type: Float64}, Column{Name: n + "_high", Type: Float64})
	}
	for k := range 3 {
		s = append(s, Column{Name: "jrzq9e2a_flag_" + strconv.Itoa(k), Type: Int64})
	}
	for k := range 3 {
		s = append(s, Column{Name: "jrzq9e2a_score_" + strconv.Itoa(k), Type: Float64})
	}
	return append(s, Column{Name: "jrzq9e2a_ratio", Type: Float64})
}

// featureIntervals is the number of interval columns (code, low, high) in
// featureSchema.
const featureIntervals = 10

// featureRows returns n rows of featureSchema, the same for the same n:
// one row in ten is "not found", with every product column null but the
// status, code, message, transaction id and query time.
func featureRows(n int) []Row {
	rng := rand.New(rand.NewPCG(1, 2))
	digits := func(k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	// A masked name keeps its first character, the surname: 张*, 欧阳娜娜 → 欧***.
	maskedName := func() string {
		surname := string(rune(0x4E00 + min(rng.IntN(400), rng.IntN(400))))
		return surname + "**"[:1+min(rng.IntN(8), 1)]
	}
	s := featureSchema()
	day0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400
	queried := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC).UnixMilli()
	rows := make([]Row, n)
	for r := range rows {
		row := NewRow(len(s))
		c := 0
		set := func(v Value) { row[c] = v; c++ }
		set(StringValue(fmt.Sprintf("%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())))
		set(StringValue(maskedName()))
		set(StringValue(digits(6) + "********" + digits(4)))
		set(StringValue("1" + digits(2) + "****" + digits(4)))
		set(StringValue("AP2024" + fmt.Sprintf("%010d", 7000000+r*3)))
		set(Value{Valid: true, I: day0 + int64(rng.IntN(300))})
		set(IntValue(int64(min(rng.IntN(5), 1))))
		set(StringValue("applicants_2024q1.csv"))
		set(IntValue(int64(r + 2)))
		found := rng.IntN(10) != 0
		code := int64(0)
		if rng.IntN(1000) == 0 {
			code = 1001
		}
		if found {
			set(StringValue("ok"))
			set(IntValue(code))
			set(StringValue("查询成功"))
		} else {
			set(StringValue("not_found"))
			set(IntValue(code))
			set(StringValue("查无此人"))
		}
		set(StringValue(fmt.Sprintf("JRZQ%08x%016x", rng.Uint32(), rng.Uint64())))
		set(Value{Valid: true, I: queried + int64(r/5000)*1000})
		for k := range featureIntervals {
			values := 2 + k%9 // codes 1..values
			j := min(rng.IntN(values), rng.IntN(values))
			if !found {
				c += 3
				continue
			}
			set(StringValue(strconv.Itoa(j + 1)))
			step := float64(k+1) * 0.25
			if j > 0 {
				set(FloatValue(float64(j) * step))
			} else {
				c++ // open below
			}
			if j < values-1 {
				set(FloatValue(float64(j+1) * step))
			} else {
				c++ // open above
			}
		}
		for range 3 {
			if !found || rng.IntN(30) == 0 {
				c++
				continue
			}
			set(IntValue(int64(rng.IntN(2))))
		}
		for range 3 {
			if !found {
				c++
				continue
			}
			set(FloatValue(float64(300 + rng.IntN(600))))
		}
		if found {
			set(FloatValue(float64(rng.IntN(10000)) / 10000))
		}
		rows[r] = row
	}
	return rows
}

// BenchmarkParquetFeatures writes 98,304 rows of featureSchema per
// iteration (half a real run), in batches of 256 as the pipeline does, in
// row groups of 16,384 rows. The 32,768 rows it holds are written three
// times, so that the rows kept in memory stay small next to what the sink
// allocates. Besides
// rows/s it reports the CPU time of the process per row (the encoder runs
// in the background, so the wall time alone hides its cost) and the size
// of the file.
func BenchmarkParquetFeatures(b *testing.B) {
	const groupRows, rowsPerOp, batch = 16384, 6 * 16384, 256
	s := featureSchema()
	rows := featureRows(2 * groupRows)
	dir := b.TempDir()
	var size int64
	cpu0, cpuOK := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		path := filepath.Join(dir, "features-"+strconv.Itoa(i)+".parquet")
		p, err := NewParquet(path, s, ParquetOptions{RowGroupRows: groupRows})
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < rowsPerOp; n += batch {
			lo := n % len(rows)
			if err := p.Write(rows[lo : lo+batch]); err != nil {
				b.Fatal(err)
			}
		}
		if err := p.Commit(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		size = fi.Size()
		os.Remove(path)
		b.StartTimer()
	}
	b.StopTimer()
	if cpu1, ok := processCPU(); ok && cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/float64(rowsPerOp*b.N), "cpu-ns/row")
	}
	b.ReportMetric(float64(rowsPerOp*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size), "file-B")
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

// BenchmarkParquetAppend times what Parquet.Write does with the rows of
// BenchmarkParquetFeatures, without the encoding: moving the cells into
// the column buffers of a row group, and the dictionaries.
func BenchmarkParquetAppend(b *testing.B) {
	const groupRows, batch = 16384, 256
	s := featureSchema()
	rows := featureRows(2 * groupRows)
	dict := make([]bool, len(s))
	for i, c := range s {
		dict[i] = !c.Distinct
	}
	g := newParquetGroup(s, dict, nil)
	g.first = true
	g.append(rows[:groupRows])
	g.decideDictionaries(dict)
	g.reset(dict)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for lo := 0; lo < len(rows); lo += batch {
			g.append(rows[lo : lo+batch])
			if g.rows == groupRows {
				g.reset(dict)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(len(rows)*b.N), "ns/row")
}
