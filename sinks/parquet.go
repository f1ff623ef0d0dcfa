package sinks

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/flight"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/apache/arrow/go/v17/parquet/schema"
)

// DefaultRowGroupRows is the number of rows per Parquet row group when
// ParquetOptions.RowGroupRows is zero.
const DefaultRowGroupRows = 65536

// ParquetOptions configures a Parquet sink. The zero value is ready to use.
type ParquetOptions struct {
	// RowGroupRows is the number of rows in each row group (the last one may
	// hold fewer); 0 means DefaultRowGroupRows. It bounds the memory the sink
	// holds: a row group is built in memory while the previous one is
	// encoded, so two at most.
	RowGroupRows int
	// Metadata is written as the file's key-value metadata, in key order.
	Metadata map[string]string
}

// Parquet writes rows to a Parquet file through arrow's parquet/file
// package: its column writers encode every column chunk, given the sink's
// column buffers and, for a dictionary-encoded column, the dictionary the
// row group already has and the indices into it. Every column is nullable,
// strings are UTF-8, timestamps are milliseconds adjusted to UTC, pages are compressed
// with zstd at its fastest level, and the Arrow schema (with the column
// descriptions as field metadata "description") is stored in the file, as
// pqarrow stores it, so that Arrow-based readers get the exact types back.
//
// A column is dictionary-encoded unless it is marked Distinct or most of
// its values in the first row group differ (a dictionary would not pay);
// a dictionary that grows past the writer's limit in a later row group
// falls back to plain encoding there.
//
// Rows are buffered column by column and written as one row group every
// RowGroupRows rows, whatever the sizes of the Write calls. A Parquet is not
// safe for concurrent use.
type Parquet struct {
	schema    Schema
	file      *AtomicFile
	buf       *bufio.Writer
	mem       memory.Allocator
	pqschema  *schema.Schema
	meta      metadata.KeyValueMetadata
	fw        *file.Writer  // created with the first row group
	dict      []bool        // columns dictionary-encoded, decided by the first row group
	cur       *parquetGroup // the rows not yet written; nil once finished
	made      int           // row groups allocated, two at most
	groupRows int
	done      bool
	err       error // sticky: the file can no longer be completed

	// A full row group is encoded by the encoder goroutine while the next
	// one fills, so that encoding does not hold up the rows; the encoder
	// hands back each group it has written for reuse.
	groups  chan *parquetGroup // to the encoder; closed by finish or Abort
	free    chan *parquetGroup // from the encoder
	encoded chan struct{}      // closed when the encoder is done
	encMu   sync.Mutex
	encErr  error // the encoder's first error
}

var _ Sink = (*Parquet)(nil)

// NewParquet creates the temporary file for a Parquet file published at path
// by Commit. The directory must exist.
func NewParquet(path string, schema Schema, opts ParquetOptions) (*Parquet, error) {
	return newParquet(path, schema, opts, memory.DefaultAllocator)
}

func newParquet(path string, s Schema, opts ParquetOptions, mem memory.Allocator) (*Parquet, error) {
	if err := checkSchema(s); err != nil {
		return nil, fmt.Errorf("parquet %s: %w", path, err)
	}
	groupRows := opts.RowGroupRows
	switch {
	case groupRows == 0:
		groupRows = DefaultRowGroupRows
	case groupRows < 0:
		return nil, fmt.Errorf("parquet %s: RowGroupRows is %d, want 0 (default) or more", path, groupRows)
	}
	if _, ok := opts.Metadata["ARROW:schema"]; ok {
		return nil, fmt.Errorf("parquet %s: metadata key %q is reserved", path, "ARROW:schema")
	}
	asch := arrowSchema(s, opts.Metadata)
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema())
	pqschema, err := pqarrow.ToParquet(asch, parquet.NewWriterProperties(parquet.WithAllocator(mem)), aprops)
	if err != nil {
		return nil, fmt.Errorf("parquet %s: %w", path, err)
	}
	// The key-value metadata pqarrow writes: the schema's, then the Arrow
	// schema.
	var meta metadata.KeyValueMetadata
	md := asch.Metadata()
	for i, k := range md.Keys() {
		meta.Append(k, md.Values()[i])
	}
	meta.Append("ARROW:schema", base64.StdEncoding.EncodeToString(flight.SerializeSchema(asch, mem)))

	out, err := CreateAtomic(path)
	if err != nil {
		return nil, err
	}
	p := &Parquet{
		schema: s,
		file:   out,
		// The writer gets a bufio.Writer, which has no Close method:
		// closing the Parquet writer then only writes the footer, and the
		// file stays open until Commit has flushed and synced it.
		buf:       bufio.NewWriterSize(out, 1<<20),
		mem:       mem,
		pqschema:  pqschema,
		meta:      meta,
		dict:      make([]bool, len(s)),
		groupRows: groupRows,
		groups:    make(chan *parquetGroup),
		free:      make(chan *parquetGroup, 2),
		encoded:   make(chan struct{}),
	}
	for i, c := range s {
		p.dict[i] = !c.Distinct
	}
	p.cur = newParquetGroup(s, p.dict, nil)
	p.cur.first = true
	p.made = 1
	go p.encode(p.groups)
	return p, nil
}

// writeBatchRows is the number of rows the Parquet writer encodes at a
// time, 16 times its default: it checks the page size after each batch,
// and a batch of a row group of 16,384 rows is the whole column chunk,
// with its dictionary indices in one buffer. Pages hold up to
// dataPageSize bytes of values (checked after each batch). Both are
// variables for the tests of pages split within a chunk.
var (
	writeBatchRows = 16384
	dataPageSize   = int64(parquet.DefaultDataPageSize)
)

// newWriter starts the Parquet file, with dictionary encoding for the
// columns p.dict says.
func (p *Parquet) newWriter() (*file.Writer, error) {
	wopts := []parquet.WriterProperty{
		parquet.WithAllocator(p.mem),
		// zstd's fastest level takes a fifth less CPU per row than its
		// default, for a file as large within 1% (BenchmarkParquetFeatures).
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(1),
		parquet.WithDictionaryDefault(false),
		parquet.WithMaxRowGroupLength(int64(p.groupRows)),
		parquet.WithBatchSize(int64(writeBatchRows)),
		parquet.WithDataPageSize(dataPageSize),
	}
	for i, c := range p.schema {
		if p.dict[i] {
			wopts = append(wopts, parquet.WithDictionaryPath(parquet.ColumnPath{c.Name}, true))
		}
	}
	props := parquet.NewWriterProperties(wopts...)
	return file.NewParquetWriter(p.buf, p.pqschema.Root(), file.WithWriterProps(props), file.WithWriteMetadata(p.meta)), nil
}

// writeGroup writes g as the next row group of fw, each column chunk
// through arrow's column writer (the row group closes each one as the next
// starts, and the last).
func writeGroup(fw *file.Writer, g *parquetGroup, s *scratch) error {
	rg := fw.AppendRowGroup()
	for i := range g.cols {
		cw, err := rg.NextColumn()
		if err != nil {
			return err
		}
		if err := g.cols[i].writeTo(cw, s); err != nil {
			return fmt.Errorf("column %s: %w", cw.Descr().Name(), err)
		}
	}
	return rg.Close()
}

// arrowSchema maps a Schema to Arrow: all fields nullable, descriptions as
// field metadata, md as schema metadata in key order.
func arrowSchema(s Schema, md map[string]string) *arrow.Schema {
	fields := make([]arrow.Field, len(s))
	for i, c := range s {
		fields[i] = arrow.Field{Name: c.Name, Type: arrowType(c.Type), Nullable: true}
		if c.Description != "" {
			fields[i].Metadata = arrow.NewMetadata([]string{"description"}, []string{c.Description})
		}
	}
	if len(md) == 0 {
		return arrow.NewSchema(fields, nil)
	}
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = md[k]
	}
	meta := arrow.NewMetadata(keys, vals)
	return arrow.NewSchema(fields, &meta)
}

func arrowType(t Type) arrow.DataType {
	switch t {
	case Int64:
		return arrow.PrimitiveTypes.Int64
	case Float64:
		return arrow.PrimitiveTypes.Float64
	case Timestamp:
		return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	case Date:
		return arrow.FixedWidthTypes.Date32
	}
	return arrow.BinaryTypes.String
}

// Write appends rows, writing a row group each time RowGroupRows rows have
// accumulated. A row whose length differs from the schema's is an error;
// the rows before it are kept.
func (p *Parquet) Write(rows []Row) error {
	if p.done {
		return fmt.Errorf("parquet %s: %w", p.file.Final(), ErrClosed)
	}
	if p.err != nil {
		return p.err
	}
	for len(rows) > 0 {
		part := rows[:min(len(rows), p.groupRows-p.cur.rows)]
		rows = rows[len(part):]
		for i, r := range part {
			if err := checkRow(p.schema, r); err != nil {
				p.cur.append(part[:i])
				return fmt.Errorf("parquet %s: %w", p.file.Final(), err)
			}
		}
		p.cur.append(part)
		if p.cur.rows == p.groupRows {
			if err := p.writeGroup(true); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeGroup hands the buffered rows to the encoder as one row group, and
// if more may follow, takes a group to fill next. The first row group
// decides which columns stay dictionary-encoded.
func (p *Parquet) writeGroup(more bool) error {
	if err := p.encodeErr(); err != nil {
		return err
	}
	if p.cur.first {
		p.cur.decideDictionaries(p.dict)
	}
	var next *parquetGroup
	if more && p.made < 2 {
		next = newParquetGroup(p.schema, p.dict, p.cur)
		p.made++
	}
	p.groups <- p.cur // waits while the previous group is encoded
	if more && next == nil {
		next = <-p.free
	}
	p.cur = next
	return nil
}

// encode writes the row groups it receives, in order, until groups closes;
// after an error it only hands them back.
func (p *Parquet) encode(groups <-chan *parquetGroup) {
	defer close(p.encoded)
	var failed error
	var sc scratch
	for g := range groups {
		if failed == nil {
			var err error
			if p.fw == nil {
				p.fw, err = p.newWriter()
			}
			if err == nil {
				err = writeGroup(p.fw, g, &sc)
			}
			if err != nil {
				failed = fmt.Errorf("parquet %s: %w", p.file.Final(), err)
				p.encMu.Lock()
				p.encErr = failed
				p.encMu.Unlock()
			}
		}
		g.reset(p.dict)
		p.free <- g
	}
}

// encodeErr returns the encoder's error, which also becomes sticky. Only
// the goroutine that writes rows calls it.
func (p *Parquet) encodeErr() error {
	p.encMu.Lock()
	err := p.encErr
	p.encMu.Unlock()
	if err != nil && p.err == nil {
		p.err = err
	}
	return err
}

// stopEncoder lets the encoder finish the groups it has and waits for it.
func (p *Parquet) stopEncoder() {
	if p.groups != nil {
		close(p.groups)
		p.groups = nil
		<-p.encoded
	}
}

// Commit writes the remaining rows and the footer, then publishes the file.
// A file without rows holds the schema and no row group. On failure the
// temporary file is removed.
func (p *Parquet) Commit() error {
	if p.done {
		return fmt.Errorf("parquet %s: %w", p.file.Final(), ErrClosed)
	}
	if err := p.finish(); err != nil {
		_ = p.Abort()
		return err
	}
	p.done = true
	return p.file.Commit()
}

func (p *Parquet) finish() error {
	if p.err != nil {
		return p.err
	}
	if p.cur.rows > 0 {
		if err := p.writeGroup(false); err != nil {
			return err
		}
	}
	p.stopEncoder()
	if err := p.encodeErr(); err != nil {
		return err
	}
	if p.fw == nil {
		fw, err := p.newWriter()
		if err != nil {
			p.err = fmt.Errorf("parquet %s: %w", p.file.Final(), err)
			return p.err
		}
		p.fw = fw
	}
	if err := p.fw.Close(); err != nil {
		p.err = fmt.Errorf("parquet %s: %w", p.file.Final(), err)
		return p.err
	}
	if err := p.buf.Flush(); err != nil {
		p.err = fmt.Errorf("write %s: %w", p.file.Final(), err)
		return p.err
	}
	return nil
}

// Abort discards the file. It is safe to call after Commit or twice.
func (p *Parquet) Abort() error {
	if p.done {
		return nil
	}
	p.done = true
	p.stopEncoder()
	return p.file.Abort()
}
