// Package rundir reads a published run: its manifest.json and the rows of
// its features.parquet (or of the parts of a sharded dataset under
// features/), streamed in record batches with arrow's Parquet reader, so
// that memory does not grow with the number of rows.
package rundir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// File names of a published run.
const (
	FileFeatures = "features.parquet"
	DirFeatures  = "features" // a sharded dataset: features/part-*.parquet
	FileXLSX     = "features.xlsx"
	FileCSV      = "features.csv"
	FileRejects  = "rejects.csv"
	FileMetrics  = "metrics.prom"
	FileManifest = "manifest.json"
	FileSuccess  = "_SUCCESS"
)

// DefaultBatchRows is the number of rows per record batch of Scan.
const DefaultBatchRows = 65536

// Error is a problem with a run directory: missing, unfinished, unreadable.
type Error struct {
	Dir string
	Msg string
	Err error // the underlying error, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("run %s: %s: %v", e.Dir, e.Msg, e.Err)
	}
	return fmt.Sprintf("run %s: %s", e.Dir, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Run is an opened run directory.
type Run struct {
	Dir      string
	Manifest *Manifest // nil for a run opened with OpenData before its manifest was written
	Parts    []string  // the Parquet files, in order
	Rows     int64     // rows in all parts
	// Unchecked is why the Parquet files were read without being checked
	// against the manifest's hashes (a manifest of an earlier version),
	// for the log; "" when they were checked, or opened by OpenData.
	Unchecked string
	schema    *arrow.Schema
	mem       *reusingAllocator
}

func (r *Run) alloc() *reusingAllocator {
	if r.mem == nil {
		r.mem = &reusingAllocator{}
	}
	return r.mem
}

// Open opens a published run: dir must hold _SUCCESS, manifest.json and
// features.parquet (or features/*.parquet). The Parquet files are checked
// against the sizes and SHA-256 hashes the manifest records (see verify),
// a *DamagedError when one differs; then their footers are read and their
// schemas compared; no row is read yet.
func Open(dir string) (*Run, error) {
	if _, err := os.Stat(filepath.Join(dir, FileSuccess)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, derr := os.Stat(dir); derr != nil {
				return nil, &Error{Dir: dir, Msg: "no such directory", Err: derr}
			}
			return nil, &Error{Dir: dir, Msg: "not a published run: no " + FileSuccess + " (the run did not finish, or this is not an output directory)"}
		}
		return nil, &Error{Dir: dir, Msg: "cannot read " + FileSuccess, Err: err}
	}
	m, err := ReadManifest(filepath.Join(dir, FileManifest))
	if err != nil {
		return nil, &Error{Dir: dir, Msg: "cannot read " + FileManifest, Err: err}
	}
	parts, err := findParts(dir)
	if err != nil {
		return nil, err
	}
	unchecked, err := verify(dir, m, parts)
	if err != nil {
		return nil, err
	}
	r, err := openParts(dir, parts)
	if err != nil {
		return nil, err
	}
	r.Manifest, r.Unchecked = m, unchecked
	return r, nil
}

// OpenData opens the Parquet data of dir without asking for _SUCCESS or
// the manifest: for a run that is being published, whose data files are
// in place but whose manifest is not written yet.
func OpenData(dir string) (*Run, error) {
	parts, err := findParts(dir)
	if err != nil {
		return nil, err
	}
	return openParts(dir, parts)
}

// openParts reads the footers of parts and compares their schemas.
func openParts(dir string, parts []string) (*Run, error) {
	r := &Run{Dir: dir, Parts: parts}
	for _, p := range parts {
		s, rows, err := ReadFooter(p)
		if err != nil {
			return nil, &Error{Dir: dir, Msg: "cannot read " + rel(dir, p), Err: err}
		}
		if r.schema == nil {
			r.schema = s
		} else if !SameFields(r.schema, s) {
			return nil, &Error{Dir: dir, Msg: fmt.Sprintf("%s has other columns than %s", rel(dir, p), rel(dir, parts[0]))}
		}
		r.Rows += rows
	}
	return r, nil
}

func findParts(dir string) ([]string, error) {
	single := filepath.Join(dir, FileFeatures)
	if _, err := os.Stat(single); err == nil {
		return []string{single}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, &Error{Dir: dir, Msg: "cannot read " + FileFeatures, Err: err}
	}
	parts, err := filepath.Glob(filepath.Join(dir, DirFeatures, "*.parquet"))
	if err != nil {
		return nil, &Error{Dir: dir, Msg: "cannot list " + DirFeatures, Err: err}
	}
	if len(parts) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return nil, &Error{Dir: dir, Msg: "no such directory", Err: err}
		}
		return nil, &Error{Dir: dir, Msg: "no " + FileFeatures + " (a run with the parquet format writes it)"}
	}
	sort.Strings(parts)
	return parts, nil
}

func rel(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil {
		return r
	}
	return p
}

// ReadFooter returns the Arrow schema and the number of rows of a Parquet
// file, from its footer.
func ReadFooter(path string) (*arrow.Schema, int64, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, 0, err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return nil, 0, err
	}
	s, err := fr.Schema()
	if err != nil {
		return nil, 0, err
	}
	return s, pf.NumRows(), nil
}

// SameFields reports whether two schemas have the same fields, by name and
// type, in the same order (metadata aside).
func SameFields(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.NumFields() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || !arrow.TypeEqual(fa.Type, fb.Type) {
			return false
		}
	}
	return true
}

// Schema returns the Arrow schema of the run's rows.
func (r *Run) Schema() *arrow.Schema { return r.schema }

// Field returns the named column's field.
func (r *Run) Field(name string) (arrow.Field, bool) {
	idx := r.schema.FieldIndices(name)
	if len(idx) == 0 {
		return arrow.Field{}, false
	}
	return r.schema.Field(idx[0]), true
}

// ScanOptions choose what Scan reads.
type ScanOptions struct {
	// Columns are read, in this order; every one must exist.
	Columns []string
	// Dictionary lists string columns among Columns to read as
	// dictionary arrays (arrow.DICTIONARY of int32 indices over utf8):
	// cheaper for columns of few distinct values.
	Dictionary []string
	// BatchRows is the number of rows per batch; 0 means DefaultBatchRows.
	BatchRows int
	// Parallel decodes the columns of a batch concurrently.
	Parallel bool
	// Prefetch reads the next batch while fn works on this one.
	Prefetch bool
}

// Scan calls fn with each record batch of the run, part after part, in
// row order. The batch's columns are those of opts.Columns, in that order;
// the record is released after fn returns and its buffers are reused, so
// fn must not keep it (or must Retain it), nor a string it holds: the
// strings of arrow's arrays share their buffers (strings.Clone what you
// keep). Scan stops at the first error, of fn or of reading, and when
// ctx ends.
func (r *Run) Scan(ctx context.Context, opts ScanOptions, fn func(arrow.Record) error) error {
	for _, name := range opts.Columns {
		if _, ok := r.Field(name); !ok {
			return &Error{Dir: r.Dir, Msg: "no column " + name}
		}
	}
	if len(opts.Columns) == 0 {
		return &Error{Dir: r.Dir, Msg: "scan of no column"}
	}
	batch := opts.BatchRows
	if batch <= 0 {
		batch = DefaultBatchRows
	}
	all := func(ctx context.Context, fn func(arrow.Record) error) error {
		for _, p := range r.Parts {
			if err := r.scanPart(ctx, p, opts, int64(batch), fn); err != nil {
				return err
			}
		}
		return nil
	}
	if !opts.Prefetch {
		return all(ctx, fn)
	}
	// A reader goroutine hands each batch over and goes on to the next.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan arrow.Record, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- all(ctx, func(rec arrow.Record) error {
			rec.Retain()
			select {
			case batches <- rec:
				return nil
			case <-ctx.Done():
				rec.Release()
				return ctx.Err()
			}
		})
	}()
	var fnErr error
	for rec := range batches {
		if fnErr == nil {
			if fnErr = fn(rec); fnErr != nil {
				cancel()
			}
		}
		rec.Release()
	}
	if err := <-readErr; fnErr == nil {
		return err
	}
	return fnErr
}

func (r *Run) scanPart(ctx context.Context, path string, opts ScanOptions, batch int64, fn func(arrow.Record) error) error {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return &Error{Dir: r.Dir, Msg: "cannot read " + rel(r.Dir, path), Err: err}
	}
	defer pf.Close()
	props := pqarrow.ArrowReadProperties{BatchSize: batch, Parallel: opts.Parallel}
	sch := pf.MetaData().Schema
	leaves := make([]int, len(opts.Columns))
	for i, name := range opts.Columns {
		leaves[i] = sch.ColumnIndexByName(name)
		if leaves[i] < 0 {
			return &Error{Dir: r.Dir, Msg: fmt.Sprintf("%s has no column %s", rel(r.Dir, path), name)}
		}
		if slices.Contains(opts.Dictionary, name) {
			props.SetReadDict(leaves[i], true)
		}
	}
	fr, err := pqarrow.NewFileReader(pf, props, r.alloc())
	if err != nil {
		return &Error{Dir: r.Dir, Msg: "cannot read " + rel(r.Dir, path), Err: err}
	}
	// One reader per row group: a column read as a dictionary gets a new
	// dictionary with every column chunk, and pqarrow cannot put two in
	// one batch.
	for rg := range pf.NumRowGroups() {
		if err := r.scanRowGroup(ctx, fr, path, rg, batch, leaves, opts.Columns, fn); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// scanRowGroup calls fn with each batch of one row group; an error of fn
// is returned as it is.
func (r *Run) scanRowGroup(ctx context.Context, fr *pqarrow.FileReader, path string, rg int, batch int64, leaves []int, columns []string, fn func(arrow.Record) error) error {
	// A batch of at most the row group's rows: the reader reserves room
	// for a whole batch in every column.
	fr.Props.BatchSize = batch
	if n := fr.ParquetReader().MetaData().RowGroup(rg).NumRows(); n > 0 {
		fr.Props.BatchSize = min(batch, n)
	}
	rr, err := fr.GetRecordReader(ctx, leaves, []int{rg})
	if err != nil {
		return &Error{Dir: r.Dir, Msg: "cannot read " + rel(r.Dir, path), Err: err}
	}
	defer rr.Release()
	// Put the columns in the order asked.
	got := rr.Schema()
	order := make([]int, len(columns))
	fields := make([]arrow.Field, len(columns))
	for i, name := range columns {
		idx := got.FieldIndices(name)
		if len(idx) == 0 {
			return &Error{Dir: r.Dir, Msg: "reader lost column " + name}
		}
		order[i] = idx[0]
		fields[i] = got.Field(idx[0])
	}
	outSchema := arrow.NewSchema(fields, nil)
	cols := make([]arrow.Array, len(order))
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := rr.Record()
		for i, k := range order {
			cols[i] = rec.Column(k)
		}
		out := array.NewRecord(outSchema, cols, rec.NumRows())
		err := fn(out)
		out.Release()
		if err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return &Error{Dir: r.Dir, Msg: "cannot read " + rel(r.Dir, path), Err: err}
	}
	return nil
}
