package sinks

import (
	"bufio"
	"fmt"
	"slices"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
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

// Parquet writes rows to a Parquet file through Apache Arrow: every column is
// nullable, strings are UTF-8 with dictionary encoding unless the column is
// marked Distinct (other columns are plain: their values are mostly
// distinct), timestamps are
// milliseconds adjusted to UTC, pages are compressed with zstd, and the Arrow
// schema (with the column descriptions as field metadata "description") is
// stored in the file so that Arrow-based readers get the exact types back.
//
// Rows are buffered column by column and written as one row group every
// RowGroupRows rows, whatever the sizes of the Write calls. A Parquet is not
// safe for concurrent use.
type Parquet struct {
	schema    Schema
	file      *AtomicFile
	buf       *bufio.Writer
	fw        *pqarrow.FileWriter
	rb        *array.RecordBuilder
	cols      []parquetColumn
	groupRows int
	pending   int // rows in the builders, not yet written
	done      bool
	err       error // sticky: the file can no longer be completed

	// A full row group is encoded by the encoder goroutine while the next
	// one fills the builders, so that encoding does not hold up the rows.
	groups  chan arrow.Record // to the encoder; closed by finish or Abort
	encoded chan struct{}     // closed when the encoder is done
	encMu   sync.Mutex
	encErr  error // the encoder's first error
}

var _ Sink = (*Parquet)(nil)

// parquetColumn is the builder of one column; exactly one field is set,
// the one matching typ.
type parquetColumn struct {
	typ Type
	s   *array.StringBuilder
	i   *array.Int64Builder
	f   *array.Float64Builder
	t   *array.TimestampBuilder
	d   *array.Date32Builder
}

// NewParquet creates the temporary file for a Parquet file published at path
// by Commit. The directory must exist.
func NewParquet(path string, schema Schema, opts ParquetOptions) (*Parquet, error) {
	return newParquet(path, schema, opts, memory.DefaultAllocator)
}

func newParquet(path string, schema Schema, opts ParquetOptions, mem memory.Allocator) (*Parquet, error) {
	if err := checkSchema(schema); err != nil {
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
	asch := arrowSchema(schema, opts.Metadata)

	wopts := []parquet.WriterProperty{
		parquet.WithAllocator(mem),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(1),
		parquet.WithDictionaryDefault(true),
		parquet.WithMaxRowGroupLength(int64(groupRows)),
	}
	for _, c := range schema {
		if c.Distinct {
			wopts = append(wopts, parquet.WithDictionaryPath(parquet.ColumnPath{c.Name}, false))
		}
	}
	props := parquet.NewWriterProperties(wopts...)
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema())

	file, err := CreateAtomic(path)
	if err != nil {
		return nil, err
	}
	// The writer gets a bufio.Writer, which has no Close method: closing the
	// pqarrow writer then only writes the footer, and the file stays open
	// until Commit has flushed and synced it.
	buf := bufio.NewWriterSize(file, 1<<20)
	fw, err := pqarrow.NewFileWriter(asch, buf, props, aprops)
	if err != nil {
		_ = file.Abort()
		return nil, fmt.Errorf("parquet %s: %w", path, err)
	}
	p := &Parquet{
		schema:    schema,
		file:      file,
		buf:       buf,
		fw:        fw,
		rb:        array.NewRecordBuilder(mem, asch),
		cols:      make([]parquetColumn, len(schema)),
		groupRows: groupRows,
		groups:    make(chan arrow.Record),
		encoded:   make(chan struct{}),
	}
	go p.encode(p.groups)
	for i, c := range schema {
		p.cols[i].typ = c.Type
		switch b := p.rb.Field(i).(type) {
		case *array.StringBuilder:
			p.cols[i].s = b
		case *array.Int64Builder:
			p.cols[i].i = b
		case *array.Float64Builder:
			p.cols[i].f = b
		case *array.TimestampBuilder:
			p.cols[i].t = b
		case *array.Date32Builder:
			p.cols[i].d = b
		}
	}
	return p, nil
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
	for _, r := range rows {
		if err := checkRow(p.schema, r); err != nil {
			return fmt.Errorf("parquet %s: %w", p.file.Final(), err)
		}
		for i, v := range r {
			c := &p.cols[i]
			switch c.typ {
			case String:
				if v.Valid {
					c.s.Append(v.S)
				} else {
					c.s.AppendNull()
				}
			case Int64:
				if v.Valid {
					c.i.Append(v.I)
				} else {
					c.i.AppendNull()
				}
			case Float64:
				if v.Valid {
					c.f.Append(v.F)
				} else {
					c.f.AppendNull()
				}
			case Timestamp:
				if v.Valid {
					c.t.Append(arrow.Timestamp(v.I))
				} else {
					c.t.AppendNull()
				}
			case Date:
				if v.Valid {
					c.d.Append(arrow.Date32(v.I))
				} else {
					c.d.AppendNull()
				}
			}
		}
		p.pending++
		if p.pending == p.groupRows {
			if err := p.writeGroup(); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeGroup writes the buffered rows as one row group.
func (p *Parquet) writeGroup() error {
	if err := p.encodeErr(); err != nil {
		return err
	}
	p.pending = 0
	p.groups <- p.rb.NewRecord() // waits while the previous group is encoded
	return nil
}

// encode writes the row groups it receives, in order, until groups closes;
// after an error it only releases them.
func (p *Parquet) encode(groups <-chan arrow.Record) {
	defer close(p.encoded)
	var failed error
	for rec := range groups {
		if failed == nil {
			if err := p.fw.Write(rec); err != nil {
				failed = fmt.Errorf("parquet %s: %w", p.file.Final(), err)
				p.encMu.Lock()
				p.encErr = failed
				p.encMu.Unlock()
			}
		}
		rec.Release()
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
	p.rb.Release()
	return p.file.Commit()
}

func (p *Parquet) finish() error {
	if p.err != nil {
		return p.err
	}
	if p.pending > 0 {
		if err := p.writeGroup(); err != nil {
			return err
		}
	}
	p.stopEncoder()
	if err := p.encodeErr(); err != nil {
		return err
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
	// Closing the writer releases its buffers; what it writes goes to the
	// temporary file, which is removed next.
	_ = p.fw.Close()
	p.rb.Release()
	return p.file.Abort()
}
