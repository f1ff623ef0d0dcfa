package sinks

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// testSchema has one column of each type.
var testSchema = Schema{
	{Name: "name", Type: String, Description: "applicant name"},
	{Name: "score", Type: Int64, Description: "model score"},
	{Name: "low", Type: Float64},
	{Name: "queried_at", Type: Timestamp, Description: "time of the vendor query"},
}

var testBase = time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)

// testRows returns n rows of testSchema with nulls and zeros in every column.
func testRows(n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		r := NewRow(len(testSchema))
		if i%5 != 4 {
			r.SetString(0, "n"+strconv.Itoa(i))
		}
		if i%3 != 2 {
			r.SetInt(1, int64(i*10)) // row 0 holds 0, row 2 holds null
		}
		if i%4 != 3 {
			r.SetFloat(2, float64(i)*0.5)
		}
		if i%6 != 5 {
			r.SetTime(3, testBase.Add(time.Duration(i)*1001*time.Millisecond))
		}
		rows[i] = r
	}
	return rows
}

// batches splits rows into consecutive batches of the given sizes.
func batches(rows []Row, sizes ...int) [][]Row {
	var out [][]Row
	for _, n := range sizes {
		out = append(out, rows[:n])
		rows = rows[n:]
	}
	if len(rows) > 0 {
		out = append(out, rows)
	}
	return out
}

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// sinkKinds builds each Sink over testSchema, for the tests all sinks share.
var sinkKinds = []struct {
	name string
	file string
	open func(path string) (Sink, error)
}{
	{"parquet", "features.parquet", func(p string) (Sink, error) { return NewParquet(p, testSchema, ParquetOptions{}) }},
	{"excel", "features.xlsx", func(p string) (Sink, error) { return NewExcel(p, testSchema, ExcelOptions{}) }},
	{"csv", "features.csv", func(p string) (Sink, error) { return NewCSV(p, testSchema) }},
}

func TestSinkAtomic(t *testing.T) {
	for _, k := range sinkKinds {
		t.Run(k.name+"/commit", func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, k.file)
			s, err := k.open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Abort()
			if err := s.Write(testRows(5)); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("before Commit: Stat(%s) = %v, want not exist", k.file, err)
			}
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			if got, want := dirNames(t, dir), []string{k.file}; !slices.Equal(got, want) {
				t.Errorf("after Commit: dir holds %q, want %q", got, want)
			}
			if err := s.Abort(); err != nil {
				t.Errorf("Abort after Commit = %v, want nil", err)
			}
			if got, want := dirNames(t, dir), []string{k.file}; !slices.Equal(got, want) {
				t.Errorf("after Abort: dir holds %q, want %q", got, want)
			}
			if err := s.Commit(); err == nil {
				t.Error("second Commit = nil, want an error")
			}
			if err := s.Write(testRows(1)); err == nil {
				t.Error("Write after Commit = nil, want an error")
			}
		})
		t.Run(k.name+"/abort", func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, k.file)
			s, err := k.open(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Write(testRows(5)); err != nil {
				t.Fatal(err)
			}
			if got := dirNames(t, dir); slices.Contains(got, k.file) {
				t.Fatalf("before Commit: dir holds %q", got)
			}
			if err := s.Abort(); err != nil {
				t.Fatal(err)
			}
			if err := s.Abort(); err != nil {
				t.Errorf("second Abort = %v, want nil", err)
			}
			if got := dirNames(t, dir); len(got) != 0 {
				t.Errorf("after Abort: dir holds %q, want nothing", got)
			}
			if err := s.Commit(); err == nil {
				t.Error("Commit after Abort = nil, want an error")
			}
		})
		t.Run(k.name+"/short row", func(t *testing.T) {
			dir := t.TempDir()
			s, err := k.open(filepath.Join(dir, k.file))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Abort()
			if err := s.Write([]Row{NewRow(len(testSchema) - 1)}); err == nil {
				t.Error("Write(short row) = nil, want an error")
			}
		})
	}
}

func TestSinkBadSchema(t *testing.T) {
	tests := []struct {
		name   string
		schema Schema
	}{
		{"empty", Schema{}},
		{"unnamed", Schema{{Name: "", Type: String}}},
		{"repeated", Schema{{Name: "a", Type: String}, {Name: "a", Type: Int64}}},
		{"unknown type", Schema{{Name: "a", Type: Type(9)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := NewParquet(filepath.Join(dir, "f.parquet"), tt.schema, ParquetOptions{}); err == nil {
				t.Error("NewParquet = nil error, want one")
			}
			if _, err := NewExcel(filepath.Join(dir, "f.xlsx"), tt.schema, ExcelOptions{}); err == nil {
				t.Error("NewExcel = nil error, want one")
			}
			if _, err := NewCSV(filepath.Join(dir, "f.csv"), tt.schema); err == nil {
				t.Error("NewCSV = nil error, want one")
			}
			if got := dirNames(t, dir); len(got) != 0 {
				t.Errorf("dir holds %q, want nothing", got)
			}
		})
	}
}
