package rundir_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/scorepipe/scorepipe/rundir"
	"github.com/scorepipe/scorepipe/sinks"
)

var schema = sinks.Schema{
	{Name: "source_row", Type: sinks.Int64},
	{Name: "applicant_key", Type: sinks.String},
	{Name: "grade", Type: sinks.String},
	{Name: "score", Type: sinks.Float64},
}

func writeParquet(t *testing.T, path string, s sinks.Schema, first, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := sinks.NewParquet(path, s, sinks.ParquetOptions{RowGroupRows: 7})
	if err != nil {
		t.Fatal(err)
	}
	var rows []sinks.Row
	for i := first; i < first+n; i++ {
		r := sinks.NewRow(len(s))
		r.SetInt(0, int64(i))
		if len(s) > 1 {
			r.SetString(1, "k"+string(rune('a'+i%26)))
			if i%5 != 0 {
				r.SetString(2, []string{"A", "B", "C"}[i%3])
			}
			r.SetFloat(3, float64(i)/2)
		}
		rows = append(rows, r)
	}
	if err := p.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
}

func publish(t *testing.T, dir string) {
	t.Helper()
	m := `{"tool": "scorepipe", "rows": {"read": 30, "valid": 25, "rejected": 5, "written": 25},
"products": {"JRZQ9E2A": {"ok": 20, "billed": 18, "latency_ms": {"p50": 1.5}, "sub_products": {}}},
"vendor": {"fake": true}, "mappings": [{"name": "x", "sha256": "y"}], "cost": 12.5}`
	if err := os.WriteFile(filepath.Join(dir, rundir.FileManifest), []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.FileSuccess), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScan(t *testing.T) {
	for _, tt := range []struct {
		name  string
		write func(t *testing.T, dir string)
	}{
		{"one file", func(t *testing.T, dir string) { writeParquet(t, filepath.Join(dir, "features.parquet"), schema, 0, 25) }},
		{"sharded parts", func(t *testing.T, dir string) {
			writeParquet(t, filepath.Join(dir, "features", "part-00000-of-00002.parquet"), schema, 0, 12)
			writeParquet(t, filepath.Join(dir, "features", "part-00001-of-00002.parquet"), schema, 12, 13)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.write(t, dir)
			publish(t, dir)
			r, err := rundir.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rows != 25 || r.Manifest.Rows.Rejected != 5 {
				t.Errorf("rows %d, manifest %+v", r.Rows, r.Manifest.Rows)
			}
			var rows []int64
			var grades []string
			err = r.Scan(context.Background(), rundir.ScanOptions{Columns: []string{"grade", "source_row"}, Dictionary: []string{"grade"}, BatchRows: 4, Parallel: true},
				func(rec arrow.Record) error {
					if rec.Schema().Field(0).Name != "grade" || rec.Schema().Field(1).Name != "source_row" {
						t.Fatalf("columns %v, want grade, source_row", rec.Schema())
					}
					d := rec.Column(0).(*array.Dictionary)
					dict := d.Dictionary().(*array.String)
					for i := range d.Len() {
						if d.IsNull(i) {
							grades = append(grades, "")
						} else {
							grades = append(grades, strings.Clone(dict.Value(d.GetValueIndex(i))))
						}
					}
					rows = append(rows, rec.Column(1).(*array.Int64).Int64Values()...)
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 25 {
				want := []string{"A", "B", "C"}[i%3]
				if i%5 == 0 {
					want = ""
				}
				if rows[i] != int64(i) || grades[i] != want {
					t.Fatalf("row %d: %d %q, want %d %q", i, rows[i], grades[i], i, want)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"no directory", func(t *testing.T, dir string) { os.Remove(dir) }, "no such directory"},
		{"not finished", func(t *testing.T, dir string) { writeParquet(t, filepath.Join(dir, "features.parquet"), schema, 0, 3) }, "no _SUCCESS"},
		{"no parquet", func(t *testing.T, dir string) { publish(t, dir) }, "no features.parquet"},
		{"bad manifest", func(t *testing.T, dir string) {
			writeParquet(t, filepath.Join(dir, "features.parquet"), schema, 0, 3)
			publish(t, dir)
			os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("{"), 0o644)
		}, "cannot read manifest.json"},
		{"not parquet", func(t *testing.T, dir string) {
			publish(t, dir)
			os.WriteFile(filepath.Join(dir, "features.parquet"), []byte("PAR1 not really"), 0o644)
		}, "cannot read features.parquet"},
		{"parts that differ", func(t *testing.T, dir string) {
			publish(t, dir)
			writeParquet(t, filepath.Join(dir, "features", "part-0.parquet"), schema, 0, 3)
			writeParquet(t, filepath.Join(dir, "features", "part-1.parquet"), schema[:1], 0, 3)
		}, "has other columns than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			os.Mkdir(dir, 0o755)
			tt.setup(t, dir)
			_, err := rundir.Open(dir)
			var re *rundir.Error
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("error %v, want a rundir.Error naming %s and saying %q", err, dir, tt.want)
			}
		})
	}
	t.Run("scan of a missing column", func(t *testing.T) {
		dir := t.TempDir()
		writeParquet(t, filepath.Join(dir, "features.parquet"), schema, 0, 3)
		r, err := rundir.OpenData(dir)
		if err != nil {
			t.Fatal(err)
		}
		err = r.Scan(context.Background(), rundir.ScanOptions{Columns: []string{"nope"}}, func(arrow.Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "no column nope") {
			t.Errorf("error %v, want no column nope", err)
		}
	})
}

func TestFacts(t *testing.T) {
	dir := t.TempDir()
	publish(t, dir)
	m, err := rundir.ReadManifest(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range m.Facts() {
		paths = append(paths, f.Path)
	}
	want := []string{"cost", "tool", "products.JRZQ9E2A.billed", "products.JRZQ9E2A.ok", "products.JRZQ9E2A.latency_ms.p50",
		"rows.read", "rows.rejected", "rows.valid", "rows.written", "vendor.fake"}
	if !slices.Equal(paths, want) {
		t.Errorf("facts = %v, want %v", paths, want)
	}
	if v, ok := m.Number("products.JRZQ9E2A.billed"); !ok || v != 18 {
		t.Errorf("billed = %v %v, want 18", v, ok)
	}
	if f := m.Facts()[0]; f.Value != json.Number("12.5") {
		t.Errorf("cost = %#v, want the number 12.5", f.Value)
	}
}
