package sinks

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// parquetFile is what a reader finds in a Parquet file.
type parquetFile struct {
	schema *arrow.Schema
	groups []int64 // rows per row group
	meta   map[string]string
	rows   []Row
}

func readParquet(t *testing.T, path string) parquetFile {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer rdr.Close()
	var pf parquetFile
	for i := 0; i < rdr.NumRowGroups(); i++ {
		pf.groups = append(pf.groups, rdr.MetaData().RowGroup(i).NumRows())
	}
	pf.meta = map[string]string{}
	kv := rdr.MetaData().KeyValueMetadata()
	for i, k := range kv.Keys() {
		pf.meta[k] = kv.Values()[i]
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	defer tbl.Release()
	pf.schema = tbl.Schema()
	pf.rows = make([]Row, tbl.NumRows())
	for i := range pf.rows {
		pf.rows[i] = NewRow(int(tbl.NumCols()))
	}
	for c := 0; c < int(tbl.NumCols()); c++ {
		r := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for j := 0; j < chunk.Len(); j, r = j+1, r+1 {
				if chunk.IsNull(j) {
					continue
				}
				switch a := chunk.(type) {
				case *array.String:
					pf.rows[r].SetString(c, a.Value(j))
				case *array.Int64:
					pf.rows[r].SetInt(c, a.Value(j))
				case *array.Float64:
					pf.rows[r].SetFloat(c, a.Value(j))
				case *array.Timestamp:
					pf.rows[r][c] = Value{Valid: true, I: int64(a.Value(j))}
				case *array.Date32:
					pf.rows[r][c] = Value{Valid: true, I: int64(a.Value(j))}
				default:
					t.Fatalf("column %d: unexpected array %T", c, chunk)
				}
			}
		}
	}
	return pf
}

func TestParquet(t *testing.T) {
	wantTypes := []arrow.DataType{
		arrow.BinaryTypes.String,
		arrow.PrimitiveTypes.Int64,
		arrow.PrimitiveTypes.Float64,
		&arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"},
	}
	tests := []struct {
		name       string
		opts       ParquetOptions
		rows       int
		batches    []int // sizes of the Write calls; the rest goes in one more
		wantGroups []int64
	}{
		{"row groups of 3", ParquetOptions{RowGroupRows: 3}, 10, []int{1, 2, 7}, []int64{3, 3, 3, 1}},
		{"exact multiple", ParquetOptions{RowGroupRows: 5}, 10, []int{10}, []int64{5, 5}},
		{"one write per row", ParquetOptions{RowGroupRows: 4}, 6, []int{1, 1, 1, 1, 1, 1}, []int64{4, 2}},
		{"default row groups", ParquetOptions{}, 100, []int{30, 70}, []int64{100}},
		{"zero rows", ParquetOptions{}, 0, nil, nil},
		{"metadata", ParquetOptions{Metadata: map[string]string{"run_id": "r1", "config": "c"}}, 2, nil, []int64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			path := filepath.Join(t.TempDir(), "features.parquet")
			p, err := newParquet(path, testSchema, tt.opts, mem)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Abort()
			rows := testRows(tt.rows)
			for _, b := range batches(rows, tt.batches...) {
				if err := p.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Commit(); err != nil {
				t.Fatal(err)
			}
			mem.AssertSize(t, 0)

			got := readParquet(t, path)
			for i, f := range got.schema.Fields() {
				if f.Name != testSchema[i].Name || !arrow.TypeEqual(f.Type, wantTypes[i]) || !f.Nullable {
					t.Errorf("field %d = %s %s nullable=%v, want %s %s nullable", i, f.Name, f.Type, f.Nullable, testSchema[i].Name, wantTypes[i])
				}
				desc, _ := f.Metadata.GetValue("description")
				if desc != testSchema[i].Description {
					t.Errorf("field %s description = %q, want %q", f.Name, desc, testSchema[i].Description)
				}
			}
			if len(got.schema.Fields()) != len(testSchema) {
				t.Errorf("%d fields, want %d", len(got.schema.Fields()), len(testSchema))
			}
			if !reflect.DeepEqual(got.groups, tt.wantGroups) {
				t.Errorf("row groups = %v, want %v", got.groups, tt.wantGroups)
			}
			if len(got.rows) != len(rows) {
				t.Fatalf("read %d rows, want %d", len(got.rows), len(rows))
			}
			for i := range rows {
				if !reflect.DeepEqual(got.rows[i], rows[i]) {
					t.Errorf("row %d = %+v, want %+v", i, got.rows[i], rows[i])
				}
			}
			for k, v := range tt.opts.Metadata {
				if got.meta[k] != v {
					t.Errorf("metadata %q = %q, want %q", k, got.meta[k], v)
				}
			}
		})
	}
}

func TestParquetNullsApartFromZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.parquet")
	p, err := NewParquet(path, testSchema, ParquetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	zero := NewRow(len(testSchema))
	zero.SetString(0, "")
	zero.SetInt(1, 0)
	zero.SetFloat(2, 0)
	zero.SetTime(3, testBase)
	null := NewRow(len(testSchema))
	if err := p.Write([]Row{zero, null}); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	got := readParquet(t, path)
	for i, want := range []Row{zero, null} {
		if !reflect.DeepEqual(got.rows[i], want) {
			t.Errorf("row %d = %+v, want %+v", i, got.rows[i], want)
		}
	}
}

func TestParquetOptionsInvalid(t *testing.T) {
	tests := []struct {
		name string
		opts ParquetOptions
	}{
		{"negative row group", ParquetOptions{RowGroupRows: -1}},
		{"reserved metadata", ParquetOptions{Metadata: map[string]string{"ARROW:schema": "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := NewParquet(filepath.Join(dir, "f.parquet"), testSchema, tt.opts); err == nil {
				t.Error("NewParquet = nil error, want one")
			}
			if got := dirNames(t, dir); len(got) != 0 {
				t.Errorf("dir holds %q, want nothing", got)
			}
		})
	}
}

func TestParquetAbortReleases(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	dir := t.TempDir()
	p, err := newParquet(filepath.Join(dir, "f.parquet"), testSchema, ParquetOptions{RowGroupRows: 4}, mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(testRows(10)); err != nil {
		t.Fatal(err)
	}
	if err := p.Abort(); err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("after Abort: dir holds %q, want nothing", got)
	}
}

func TestParquetDeterministic(t *testing.T) {
	dir := t.TempDir()
	var files [2][]byte
	for i := range files {
		path := filepath.Join(dir, "f"+strconv.Itoa(i)+".parquet")
		p, err := NewParquet(path, testSchema, ParquetOptions{RowGroupRows: 4, Metadata: map[string]string{"b": "2", "a": "1", "c": "3"}})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Abort()
		if err := p.Write(testRows(10)); err != nil {
			t.Fatal(err)
		}
		if err := p.Commit(); err != nil {
			t.Fatal(err)
		}
		if files[i], err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Error("two runs over the same rows wrote different files")
	}
}
