package collect

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/shards"
	"github.com/scorepipe/scorepipe/sinks"
)

// batchRows is the number of rows read from each part at a time.
const batchRows = 4096

// writeWorkbook writes every row of the parts into one workbook at path,
// in input order (input file, then row), as a whole run would, and lists
// it among the manifest's outputs.
func (c *collector) writeWorkbook(m *Manifest, path string) error {
	schema, err := sinkSchema(c.parts[0].schema)
	if err != nil {
		return err
	}
	dict := c.opts.Dictionary
	if dict == nil {
		dict = dictionaryOf(schema)
	}
	x, err := sinks.NewExcel(path, schema, sinks.ExcelOptions{Dictionary: dict, MaxRows: c.opts.XLSXMaxRows})
	if err != nil {
		return err
	}
	defer x.Abort()
	order := map[string]int{}
	for i, in := range m.Inputs {
		order[in.File] = i
	}
	merge := &merger{order: order}
	for _, p := range c.parts {
		r, err := openPartRows(filepath.Join(c.dir, p.shard.File(shards.DirFeatures, ".parquet")), schema)
		if err != nil {
			return err
		}
		defer r.close()
		if err := merge.add(r); err != nil {
			return err
		}
	}
	batch := make([]sinks.Row, 0, 1024)
	rows := 0
	for {
		row, err := merge.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		batch = append(batch, row)
		rows++
		if len(batch) == cap(batch) {
			if err := x.Write(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := x.Write(batch); err != nil {
		return err
	}
	if rows != m.Rows.Written {
		return fmt.Errorf("the parts hold %d rows, their manifests wrote %d", rows, m.Rows.Written)
	}
	if err := x.Commit(); err != nil {
		return err
	}
	if x.Truncated() > 0 {
		c.log.Warn("features.xlsx holds the first rows only (--xlsx-max-rows); the Parquet parts have them all", "xlsx_rows", rows-x.Truncated(), "rows", rows)
	}
	m.Outputs = append(m.Outputs, manifest.OutputFile{Name: FileXLSX, Rows: rows - x.Truncated()})
	return nil
}

// sinkSchema maps the Arrow schema of the Parquet parts back to the
// run's column types.
func sinkSchema(s *arrow.Schema) (sinks.Schema, error) {
	out := make(sinks.Schema, s.NumFields())
	for i, f := range s.Fields() {
		var t sinks.Type
		switch f.Type.ID() {
		case arrow.STRING:
			t = sinks.String
		case arrow.INT64:
			t = sinks.Int64
		case arrow.FLOAT64:
			t = sinks.Float64
		case arrow.TIMESTAMP:
			t = sinks.Timestamp
		case arrow.DATE32:
			t = sinks.Date
		default:
			return nil, fmt.Errorf("column %s has type %s, which runs do not write", f.Name, f.Type)
		}
		out[i] = sinks.Column{Name: f.Name, Type: t}
		if d, ok := f.Metadata.GetValue("description"); ok {
			out[i].Description = d
		}
	}
	return out, nil
}

// dictionaryOf describes each column by what the Parquet parts hold.
func dictionaryOf(s sinks.Schema) []sinks.DictionaryEntry {
	out := make([]sinks.DictionaryEntry, len(s))
	for i, c := range s {
		out[i] = sinks.DictionaryEntry{Column: c.Name, Type: c.Type.String(), DescriptionZH: c.Description}
	}
	return out
}

// partRows reads the rows of one Parquet part, a batch at a time.
type partRows struct {
	pf     *file.Reader
	rr     pqarrow.RecordReader
	schema sinks.Schema
	rec    arrow.Record
	i      int // next row of rec
	file   int // source_file column
	row    int // source_row column
}

func openPartRows(path string, schema sinks.Schema) (*partRows, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: batchRows}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	p := &partRows{pf: pf, rr: rr, schema: schema, file: schema.Index("source_file"), row: schema.Index("source_row")}
	if p.file < 0 || p.row < 0 {
		p.close()
		return nil, fmt.Errorf("%s has no source_file and source_row columns", path)
	}
	return p, nil
}

// advance moves to the next row; it returns io.EOF after the last.
func (p *partRows) advance() error {
	for p.rec == nil || p.i >= int(p.rec.NumRows()) {
		if !p.rr.Next() {
			if err := p.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			return io.EOF
		}
		p.rec, p.i = p.rr.Record(), 0
	}
	return nil
}

// key returns where the current row was in the inputs.
func (p *partRows) key(order map[string]int) (int, int64) {
	f := p.rec.Column(p.file).(*array.String).Value(p.i)
	return order[f], p.rec.Column(p.row).(*array.Int64).Value(p.i)
}

// take returns the current row as a sinks.Row and moves past it.
func (p *partRows) take() (sinks.Row, error) {
	row := sinks.NewRow(len(p.schema))
	for c, col := range p.schema {
		a := p.rec.Column(c)
		if a.IsNull(p.i) {
			continue
		}
		switch col.Type {
		case sinks.String:
			row.SetString(c, strings.Clone(a.(*array.String).Value(p.i))) // the record's memory goes with the next batch
		case sinks.Int64:
			row.SetInt(c, a.(*array.Int64).Value(p.i))
		case sinks.Float64:
			row.SetFloat(c, a.(*array.Float64).Value(p.i))
		case sinks.Timestamp:
			row[c] = sinks.Value{Valid: true, I: int64(a.(*array.Timestamp).Value(p.i))}
		case sinks.Date:
			row[c] = sinks.Value{Valid: true, I: int64(a.(*array.Date32).Value(p.i))}
		}
	}
	p.i++
	return row, nil
}

func (p *partRows) close() {
	if p.rr != nil {
		p.rr.Release()
	}
	p.pf.Close()
}

// merger merges the parts' rows, each part in input order, into one
// stream in input order.
type merger struct {
	order map[string]int
	heads heads
}

type head struct {
	part *partRows
	file int
	row  int64
}

type heads []head

func (h heads) Len() int { return len(h) }
func (h heads) Less(i, j int) bool {
	if h[i].file != h[j].file {
		return h[i].file < h[j].file
	}
	return h[i].row < h[j].row
}
func (h heads) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heads) Push(x any)   { *h = append(*h, x.(head)) }
func (h *heads) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (m *merger) add(p *partRows) error {
	err := p.advance()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return err
	}
	f, r := p.key(m.order)
	heap.Push(&m.heads, head{part: p, file: f, row: r})
	return nil
}

// next returns the next row in input order, or io.EOF.
func (m *merger) next() (sinks.Row, error) {
	if m.heads.Len() == 0 {
		return nil, io.EOF
	}
	h := heap.Pop(&m.heads).(head)
	row, err := h.part.take()
	if err != nil {
		return nil, err
	}
	if err := m.add(h.part); err != nil {
		return nil, err
	}
	return row, nil
}
