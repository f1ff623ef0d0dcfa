package sinks

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/metadata"
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
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
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
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
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

// writePqarrow writes rows as the Parquet sink did through pqarrow's
// FileWriter and Arrow builders, with dictionary encoding for the columns
// dict says: the reference for the bytes the sink writes.
func writePqarrow(t *testing.T, path string, s Schema, rows []Row, groupRows int, dict []bool) {
	t.Helper()
	mem := memory.DefaultAllocator
	asch := arrowSchema(s, nil)
	wopts := []parquet.WriterProperty{
		parquet.WithAllocator(mem),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(1),
		parquet.WithDictionaryDefault(false),
		parquet.WithMaxRowGroupLength(int64(groupRows)),
		parquet.WithBatchSize(int64(writeBatchRows)),
		parquet.WithDataPageSize(dataPageSize),
	}
	for i, c := range s {
		if dict[i] {
			wopts = append(wopts, parquet.WithDictionaryPath(parquet.ColumnPath{c.Name}, true))
		}
	}
	var out bytes.Buffer
	fw, err := pqarrow.NewFileWriter(asch, &out, parquet.NewWriterProperties(wopts...),
		pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	rb := array.NewRecordBuilder(mem, asch)
	defer rb.Release()
	for lo := 0; lo < len(rows); lo += groupRows {
		for _, r := range rows[lo:min(lo+groupRows, len(rows))] {
			for i, v := range r {
				if !v.Valid {
					rb.Field(i).AppendNull()
					continue
				}
				switch b := rb.Field(i).(type) {
				case *array.StringBuilder:
					b.Append(v.S)
				case *array.Int64Builder:
					b.Append(v.I)
				case *array.Float64Builder:
					b.Append(v.F)
				case *array.TimestampBuilder:
					b.Append(arrow.Timestamp(v.I))
				case *array.Date32Builder:
					b.Append(arrow.Date32(v.I))
				}
			}
		}
		rec := rb.NewRecord()
		if err := fw.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sameParquet reports how file got differs from file want in what a
// reader sees: the Parquet and Arrow schemas, the key-value metadata, the
// row groups, and for each column chunk its number of values, encodings
// and statistics. How the pages are laid out, their bytes and their
// offsets are not compared: readers do not depend on them.
func sameParquet(t *testing.T, got, want []byte) {
	t.Helper()
	var md [2]*metadata.FileMetaData
	for i, b := range [][]byte{got, want} {
		rdr, err := file.NewParquetReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		md[i] = rdr.MetaData()
	}
	if !md[0].Schema.Equals(md[1].Schema) {
		t.Error("schemas differ")
	}
	if !reflect.DeepEqual(md[0].KeyValueMetadata(), md[1].KeyValueMetadata()) {
		t.Errorf("metadata = %v, want %v", md[0].KeyValueMetadata(), md[1].KeyValueMetadata())
	}
	if len(md[0].RowGroups) != len(md[1].RowGroups) {
		t.Fatalf("%d row groups, want %d", len(md[0].RowGroups), len(md[1].RowGroups))
	}
	type chunkInfo struct {
		Rows, NumValues int64
		Dictionary      bool
		Encodings       []parquet.Encoding
		Stats           metadata.EncodedStatistics
	}
	for g := range md[0].RowGroups {
		for c := range md[0].Schema.NumColumns() {
			var info [2]chunkInfo
			for i := range md {
				chunk, err := md[i].RowGroup(g).ColumnChunk(c)
				if err != nil {
					t.Fatal(err)
				}
				info[i] = chunkInfo{Rows: md[i].RowGroup(g).NumRows(), NumValues: chunk.NumValues(), Dictionary: chunk.HasDictionaryPage()}
				info[i].Encodings = slices.Clone(chunk.Encodings())
				slices.Sort(info[i].Encodings)
				stats, err := chunk.Statistics()
				if err != nil {
					t.Fatal(err)
				}
				if stats != nil {
					if info[i].Stats, err = stats.Encode(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !reflect.DeepEqual(info[0], info[1]) {
				t.Errorf("row group %d column %d = %+v, want %+v", g, c, info[0], info[1])
			}
		}
	}
}

// TestParquetSameAsPqarrow checks that the sink writes what pqarrow writes
// for the same rows and encodings: the same schemas, metadata, row groups,
// encodings and statistics, and the rows read back are those written.
func TestParquetSameAsPqarrow(t *testing.T) {
	testSameAsPqarrow(t, []sameAsPqarrowTest{
		{"test rows", testSchema, testRows(1000), 300},
		{"features", featureSchema(), featureRows(6000), 4096},
		{"repeated values", repeatedSchema, repeatedRows(3000), 1000},
		{"dictionary overflows", Schema{{Name: "s", Type: String}}, overflowRows(30000), 15000},
		{"all null", repeatedSchema, nullRows(len(repeatedSchema), 1000), 300},
	})
}

// TestParquetSameAsPqarrowRuns writes columns whose values come in runs of
// random lengths, nulls among them, over dictionaries of 1 to 300 values:
// the definition levels and dictionary indices the sink hands arrow's
// column writers (runs shorter and longer than 8, literal runs longer than
// 504 values, bit widths 0 to 9) must read back as the values written,
// with the encodings and statistics pqarrow writes.
func TestParquetSameAsPqarrowRuns(t *testing.T) {
	var tests []sameAsPqarrowTest
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 11))
		cards := []int{1, 2, 3, 17, 255, 300}
		schema := make(Schema, len(cards))
		for i := range schema {
			schema[i] = Column{Name: fmt.Sprint("c", i), Type: Int64}
		}
		rows := nullRows(len(schema), 5000+rng.IntN(3000))
		for c, card := range cards {
			for i := 0; i < len(rows); {
				var run int
				switch rng.IntN(4) {
				case 0:
					run = 1 + rng.IntN(7)
				case 1:
					run = 8 + rng.IntN(40)
				case 2:
					run = 500 + rng.IntN(600)
				default:
					run = 1
				}
				v, null := int64(rng.IntN(card)), rng.IntN(5) == 0
				for ; run > 0 && i < len(rows); run, i = run-1, i+1 {
					if !null {
						rows[i].SetInt(c, v)
					}
					if rng.IntN(3) == 0 { // within a run, some cells differ: literal runs
						v = int64(rng.IntN(card))
					}
				}
			}
		}
		tests = append(tests, sameAsPqarrowTest{fmt.Sprint("seed ", seed), schema, rows, 1000 + rng.IntN(4000)})
	}
	testSameAsPqarrow(t, tests)
}

// nullRows returns n rows of cols cells, all null.
func nullRows(cols, n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		rows[i] = NewRow(cols)
	}
	return rows
}

// TestParquetSameAsPqarrowPages writes column chunks of several pages,
// with small batches and pages, plainly and dictionary-encoded. (A
// dictionary-encoded chunk has the statistics of its dictionary on its
// first page and none on the others, where pqarrow has those of each
// page's values; the chunk's statistics are the same.)
func TestParquetSameAsPqarrowPages(t *testing.T) {
	defer func(rows int, size int64) { writeBatchRows, dataPageSize = rows, size }(writeBatchRows, dataPageSize)
	writeBatchRows, dataPageSize = 100, 1000
	distinct := featureSchema()
	for i := range distinct {
		distinct[i].Distinct = true
	}
	testSameAsPqarrow(t, []sameAsPqarrowTest{
		{"test rows", testSchema, testRows(1000), 300},
		{"features, plain", distinct, featureRows(6000), 4096},
		{"features", featureSchema(), featureRows(6000), 4096},
		{"features, one row group", featureSchema(), featureRows(6000), 6000},
	})
}

type sameAsPqarrowTest struct {
	name      string
	schema    Schema
	rows      []Row
	groupRows int
}

func testSameAsPqarrow(t *testing.T, tests []sameAsPqarrowTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "sink.parquet")
			p, err := NewParquet(path, tt.schema, ParquetOptions{RowGroupRows: tt.groupRows})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Abort()
			for _, b := range batches(tt.rows, 256, 1, 700) {
				if err := p.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Commit(); err != nil {
				t.Fatal(err)
			}
			ref := filepath.Join(dir, "pqarrow.parquet")
			writePqarrow(t, ref, tt.schema, tt.rows, tt.groupRows, p.dict)
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(ref)
			if err != nil {
				t.Fatal(err)
			}
			sameParquet(t, got, want)
			back := readParquet(t, path)
			if !reflect.DeepEqual(back.rows, tt.rows) {
				t.Error("rows read back differ from those written")
			}
		})
	}
}

// repeatedSchema has a column of each type whose values repeat, and a
// Distinct one.
var repeatedSchema = Schema{
	{Name: "code", Type: String},
	{Name: "flag", Type: Int64},
	{Name: "bound", Type: Float64},
	{Name: "queried_at", Type: Timestamp},
	{Name: "day", Type: Date},
	{Name: "ratio", Type: Float64, Distinct: true},
}

// repeatedRows returns n rows of repeatedSchema with a few values per
// column, the empty string, zero and negative zero among them, and nulls.
func repeatedRows(n int) []Row {
	codes := []string{"1", "2", "", "10", "not_found"}
	bounds := []float64{0, math.Copysign(0, -1), 0.25, -3.5, 1e300}
	rows := make([]Row, n)
	for i := range rows {
		r := NewRow(len(repeatedSchema))
		if i%7 != 6 {
			r.SetString(0, codes[i%len(codes)])
			r.SetInt(1, int64(i%2))
			r.SetFloat(2, bounds[i%len(bounds)])
			r.SetTime(3, testBase.Add(time.Duration(i%3)*time.Second))
			r[4] = Value{Valid: true, I: int64(19000 + i%11)}
		}
		if i%9 != 8 {
			r.SetFloat(5, float64(i)/7)
		}
		rows[i] = r
	}
	return rows
}

// overflowRows returns n rows of one string column whose first half
// repeats a few values and whose second half has a dictionary of more than
// maxDictionaryBytes.
func overflowRows(n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		rows[i] = NewRow(1)
		if i < n/2 {
			rows[i].SetString(0, strconv.Itoa(i%10))
		} else {
			rows[i].SetString(0, fmt.Sprintf("%0100d", i))
		}
	}
	return rows
}

// TestParquetDictionaryRoundTrip checks that dictionary-encoded columns of
// every type read back bit for bit, negative zero and nulls included, and
// which columns are dictionary-encoded.
func TestParquetDictionaryRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.parquet")
	p, err := NewParquet(path, repeatedSchema, ParquetOptions{RowGroupRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	rows := repeatedRows(2500)
	for _, b := range batches(rows, 999, 2) {
		if err := p.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	got := readParquet(t, path)
	if len(got.rows) != len(rows) {
		t.Fatalf("read %d rows, want %d", len(got.rows), len(rows))
	}
	for i := range rows {
		for c, want := range rows[i] {
			g := got.rows[i][c]
			if g.Valid != want.Valid || g.S != want.S || g.I != want.I || math.Float64bits(g.F) != math.Float64bits(want.F) {
				t.Fatalf("row %d column %s = %+v, want %+v", i, repeatedSchema[c].Name, g, want)
			}
		}
	}
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	for g := 0; g < rdr.NumRowGroups(); g++ {
		for c, col := range repeatedSchema {
			chunk, err := rdr.MetaData().RowGroup(g).ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			dict := chunk.HasDictionaryPage()
			if dict == col.Distinct {
				t.Errorf("row group %d column %s: dictionary page %v, want %v", g, col.Name, dict, !col.Distinct)
			}
		}
	}
}

// TestParquetDictionaryNaN writes NaNs of two bit patterns in a column
// chunk that would be dictionary-encoded: the Parquet writer takes every
// NaN for one value, so the chunk falls back to plain encoding, and the
// values read back are those written.
func TestParquetDictionaryNaN(t *testing.T) {
	s := Schema{{Name: "f", Type: Float64}}
	values := []float64{math.Float64frombits(0x7ff8000000000001), 1.5, math.Float64frombits(0x7ff8000000000002), -2}
	rows := make([]Row, 200)
	for i := range rows {
		rows[i] = NewRow(1)
		if i%5 != 4 {
			rows[i][0] = Value{Valid: true, F: values[i%len(values)]}
		}
	}
	path := filepath.Join(t.TempDir(), "f.parquet")
	p, err := NewParquet(path, s, ParquetOptions{RowGroupRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	if err := p.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	// readParquet makes NaNs null, as FloatValue does: read the column here.
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	i := 0
	for _, chunk := range tbl.Column(0).Data().Chunks() {
		a := chunk.(*array.Float64)
		for j := 0; j < a.Len(); j, i = j+1, i+1 {
			want := rows[i][0]
			if a.IsValid(j) != want.Valid || want.Valid && math.Float64bits(a.Value(j)) != math.Float64bits(want.F) {
				t.Errorf("row %d = %v %x, want %v %x", i, a.IsValid(j), math.Float64bits(a.Value(j)), want.Valid, math.Float64bits(want.F))
			}
		}
	}
	if i != len(rows) {
		t.Errorf("read %d rows, want %d", i, len(rows))
	}
}
