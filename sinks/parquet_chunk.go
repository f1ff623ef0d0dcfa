package sinks

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/arrow/go/v17/parquet/schema"
)

// parquetWriter writes a Parquet file as arrow's file.Writer does, but
// encodes the pages of the dictionary-encoded column chunks itself: the
// definition levels and dictionary indices of a whole page are run-length
// encoded in one pass, the dictionary page comes from the dictionary the
// row group already has, and the page buffers serve every chunk. The page
// headers, the compression and the metadata are arrow's (file.PageWriter
// and the metadata builders). Every other chunk (a column written plainly,
// a dictionary given up in the middle of a row group, NaNs in a
// dictionary) goes through arrow's column writer over the same page
// writer. Measured end to end (docs/PERFORMANCE.md), arrow's column
// writers cost 3 to 10 % more time on the dictionary chunks, and under
// 5 % on the plain ones, which they therefore encode.
type parquetWriter struct {
	out    *tellWriter
	props  *parquet.WriterProperties
	meta   *metadata.FileMetaDataBuilder
	pager  file.PageWriter
	groups int16

	// Reused from chunk to chunk.
	levels, indices rleEncoder
	page            []byte
	compressed      bytes.Buffer
}

// tellWriter counts the bytes written through it, for the offsets in the
// metadata.
type tellWriter struct {
	w io.Writer
	n int64
}

func (t *tellWriter) Write(b []byte) (int, error) {
	n, err := t.w.Write(b)
	t.n += int64(n)
	return n, err
}

func (t *tellWriter) Tell() int64 { return t.n }

var parquetMagic = []byte("PAR1")

// newParquetWriter starts a Parquet file of schema s on w.
func newParquetWriter(w io.Writer, s *schema.Schema, props *parquet.WriterProperties, kv metadata.KeyValueMetadata) (*parquetWriter, error) {
	pw := &parquetWriter{
		out:   &tellWriter{w: w},
		props: props,
		meta:  metadata.NewFileMetadataBuilder(schema.NewSchema(s.Root()), props, kv),
	}
	if _, err := pw.out.Write(parquetMagic); err != nil {
		return nil, err
	}
	return pw, nil
}

// Close writes the footer.
func (w *parquetWriter) Close() error {
	md, err := w.meta.Snapshot()
	if err != nil {
		return err
	}
	n, err := md.WriteTo(w.out, nil)
	if err != nil {
		return err
	}
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:4], uint32(n))
	copy(tail[4:], parquetMagic)
	_, err = w.out.Write(tail[:])
	return err
}

// writeGroup writes g as the next row group.
func (w *parquetWriter) writeGroup(g *parquetGroup, s *scratch) error {
	rg := w.meta.AppendRowGroup()
	var written int64
	for i := range g.cols {
		cm := rg.NextColumnChunk()
		path := cm.Descr().Path()
		codec, level := w.props.CompressionFor(path), w.props.CompressionLevelFor(path)
		if w.pager == nil {
			pager, err := file.NewPageWriter(w.out, codec, level, cm, w.groups, int16(i), w.props.Allocator(), false, nil, nil)
			if err != nil {
				return err
			}
			w.pager = pager
		} else if err := w.pager.Reset(w.out, codec, level, cm, w.groups, int16(i), nil, nil); err != nil {
			return err
		}
		n, err := w.writeChunk(&g.cols[i], cm, s)
		if err != nil {
			return fmt.Errorf("column %s: %w", cm.Descr().Name(), err)
		}
		written += n
	}
	rg.SetNumRows(g.rows)
	if err := rg.Finish(written, w.groups); err != nil {
		return err
	}
	w.groups++
	return nil
}

// writeChunk writes column chunk c and returns the bytes of its pages.
func (w *parquetWriter) writeChunk(c *groupColumn, cm *metadata.ColumnChunkMetaDataBuilder, s *scratch) (int64, error) {
	descr := cm.Descr()
	hasDict := w.props.DictionaryEnabledFor(descr.Path())
	if !hasDict || !c.dictOn || c.typ == Float64 && hasNaN(c.nums.values) {
		// Arrow's column writer encodes such a chunk, and decides what
		// a dictionary chunk becomes.
		cw := file.NewColumnChunkWriter(cm, w.pager, w.props)
		if err := c.writeTo(cw, s); err != nil {
			return 0, err
		}
		if err := cw.Close(); err != nil {
			return 0, err
		}
		return cw.TotalBytesWritten(), nil
	}
	var page, chunk metadata.TypedStatistics
	if w.props.StatisticsEnabledFor(descr.Path()) && descr.SortOrder() != schema.SortUNKNOWN {
		page = metadata.NewStatistics(descr, w.props.Allocator())
		chunk = metadata.NewStatistics(descr, w.props.Allocator())
	}
	written, err := w.writeDictionaryChunk(c, descr, page, chunk, s)
	if err != nil {
		return written, err
	}
	if chunk != nil {
		enc, err := chunk.Encode()
		if err != nil {
			return written, err
		}
		enc.ApplyStatSizeLimits(int(w.props.MaxStatsSizeFor(descr.Path())))
		enc.Signed = descr.SortOrder() == schema.SortSIGNED
		if len(c.def) > 0 && enc.IsSet() {
			cm.SetStats(enc)
		}
	}
	return written, w.pager.Close(true, false)
}

// hasNaN reports whether a dictionary of float64 bits holds a NaN: arrow's
// dictionary takes all NaNs for one, and writes it with its own bits.
func hasNaN(values []uint64) bool {
	for _, v := range values {
		if f := math.Float64frombits(v); f != f {
			return true
		}
	}
	return false
}

// writeDictionaryChunk writes the dictionary page of c, then its indices
// in data pages, as arrow's column writer does with the same dictionary.
func (w *parquetWriter) writeDictionaryChunk(c *groupColumn, descr *schema.Column, page, chunk metadata.TypedStatistics, s *scratch) (int64, error) {
	n := c.dictionaryValues(s)
	dict := w.page[:0]
	switch c.typ {
	case String:
		for _, v := range c.strs.values {
			dict = binary.LittleEndian.AppendUint32(dict, uint32(len(v)))
			dict = append(dict, v...)
		}
	case Date:
		for _, v := range s.dates {
			dict = binary.LittleEndian.AppendUint32(dict, uint32(v))
		}
	default:
		for _, v := range c.nums.values {
			dict = binary.LittleEndian.AppendUint64(dict, v)
		}
	}
	w.page = dict
	dictBuf := memory.NewBufferBytes(dict)
	written, err := w.pager.WriteDictionaryPage(file.NewDictionaryPage(dictBuf, int32(n), w.props.DictionaryPageEncoding()))
	if err != nil {
		return written, err
	}
	if page != nil { // they all go with the first page
		if err := c.dictionaryStatistics(page, s, n); err != nil {
			return written, err
		}
	}
	// The width of the indices, as arrow's dictionary encoder has it.
	width := min(n, 1)
	if n > 1 {
		width = bitsLen(n - 1)
	}
	enc := w.props.DictionaryIndexEncoding()
	for lo := 0; lo < len(c.def); {
		// Batches of writeBatchRows rows, a page whenever the indices
		// could take DataPageSize bytes, as the column writer does.
		w.levels.reset(1)
		w.indices.reset(width)
		hi, values := lo, 0
		for hi < len(c.def) {
			end := min(hi+writeBatchRows, len(c.def))
			w.levels.putLevels(c.def[hi:end])
			values += w.indices.putIndices(c.def[hi:end], c.idx[hi:end])
			hi = end
			if 1+int64(maxRLEBufferSize(width, values)+minRLEBufferSize(width)) >= w.props.DataPageSize() {
				break
			}
		}
		data := w.startPage()
		data = append(data, byte(width))
		data = append(data, w.indices.flush()...)
		n, err := w.writeDataPage(data, hi-lo, enc, descr, page, chunk)
		written += n
		if err != nil {
			return written, err
		}
		lo = hi
	}
	return written, nil
}

// startPage returns the page buffer holding the definition levels
// encoded so far, as a data page (v1) begins: their length, then them.
func (w *parquetWriter) startPage() []byte {
	levels := w.levels.flush()
	data := binary.LittleEndian.AppendUint32(w.page[:0], uint32(len(levels)))
	return append(data, levels...)
}

// writeDataPage compresses data, a data page of rows rows, and writes it
// with the statistics of page, which then go to chunk.
func (w *parquetWriter) writeDataPage(data []byte, rows int, enc parquet.Encoding, descr *schema.Column, page, chunk metadata.TypedStatistics) (int64, error) {
	var stats metadata.EncodedStatistics
	if page != nil {
		var err error
		if stats, err = page.Encode(); err != nil {
			return 0, err
		}
		chunk.Merge(page)
		page.Reset()
	}
	stats.ApplyStatSizeLimits(int(w.props.MaxStatsSizeFor(descr.Path())))
	stats.Signed = descr.SortOrder() == schema.SortSIGNED
	w.page = data[:0] // kept for the next page
	compressed := data
	if w.pager.HasCompressor() {
		w.compressed.Reset()
		compressed = w.pager.Compress(&w.compressed, data)
	}
	dp := file.NewDataPageV1WithStats(memory.NewBufferBytes(compressed), int32(rows), enc,
		parquet.Encodings.RLE, parquet.Encodings.RLE, int32(len(data)), stats)
	n, err := w.pager.WriteDataPage(dp)
	dp.Release()
	return n, err
}

// maxRLEBufferSize and minRLEBufferSize are the bounds arrow's dictionary
// encoder estimates the size of its indices with
// (utils.MaxRLEBufferSize, utils.MinRLEBufferSize).
func maxRLEBufferSize(width, values int) int {
	runs := (values + 7) / 8
	literal := runs + runs*width
	repeated := runs * (1 + (width+7)/8)
	return max(literal, repeated)
}

// maxValuesPerLiteralRun is the most values a literal run holds: 63
// groups of 8.
const maxValuesPerLiteralRun = (1 << 6) * 8

func minRLEBufferSize(width int) int {
	literal := 1 + (maxValuesPerLiteralRun*width+7)/8
	repeated := binary.MaxVarintLen32 + (width+7)/8
	return max(literal, repeated)
}

func bitsLen(n int) int {
	k := 0
	for ; n > 0; n >>= 1 {
		k++
	}
	return k
}

// rleEncoder is arrow's RLE/bit-packing hybrid encoder (utils.RleEncoder,
// itself Impala's), step for step so that it writes the same bytes, over
// a byte slice and without a call per value for long runs.
type rleEncoder struct {
	width     int
	out       []byte
	buf       [8]uint64
	n         int // values buffered
	cur       uint64
	rep       int32
	lit       int32
	indicator int // where the current literal run's indicator byte is, or -1
}

// reset starts a new encoding of values of width bits, keeping the memory.
func (r *rleEncoder) reset(width int) {
	*r = rleEncoder{width: width, out: r.out[:0], indicator: -1}
}

// putLevels adds definition levels.
func (r *rleEncoder) putLevels(levels []int16) {
	for _, l := range levels {
		if v := uint64(l); v == r.cur && r.rep >= 8 {
			r.rep++ // a run goes on
		} else {
			r.put(v)
		}
	}
}

// putIndices adds the indices of the rows with a value (a definition
// level of 1) and returns their number.
func (r *rleEncoder) putIndices(def []int16, idx []int32) int {
	n := 0
	idx = idx[:len(def)]
	for k, d := range def {
		if d == 0 {
			continue
		}
		n++
		if v := uint64(idx[k]); v == r.cur && r.rep >= 8 {
			r.rep++
		} else {
			r.put(v)
		}
	}
	return n
}

func (r *rleEncoder) put(v uint64) {
	if r.cur == v {
		r.rep++
		if r.rep > 8 {
			return
		}
	} else {
		if r.rep >= 8 {
			r.flushRepeated()
		}
		r.rep = 1
		r.cur = v
	}
	r.buf[r.n] = v
	r.n++
	if r.n == 8 {
		r.flushBuffered(false)
	}
}

func (r *rleEncoder) flushBuffered(done bool) {
	if r.rep >= 8 {
		r.n = 0
		if r.lit != 0 {
			r.flushLiteral(true)
		}
		return
	}
	r.lit += int32(r.n)
	if r.lit/8+1 >= 1<<6 {
		r.flushLiteral(true)
	} else {
		r.flushLiteral(done)
	}
	r.rep = 0
}

func (r *rleEncoder) flushLiteral(updateIndicator bool) {
	if r.indicator == -1 {
		r.indicator = len(r.out)
		r.out = append(r.out, 0)
	}
	// n is 0 or 8: 8 values of width bits take width bytes.
	if r.n == 8 {
		var acc uint64
		var bits uint
		for _, v := range r.buf {
			acc |= v << bits
			bits += uint(r.width)
			for bits >= 8 {
				r.out = append(r.out, byte(acc))
				acc >>= 8
				bits -= 8
			}
		}
	}
	r.n = 0
	if updateIndicator {
		r.out[r.indicator] = byte(r.lit/8<<1 | 1)
		r.indicator = -1
		r.lit = 0
	}
}

func (r *rleEncoder) flushRepeated() {
	r.out = binary.AppendUvarint(r.out, uint64(r.rep<<1))
	v := r.cur
	for range (r.width + 7) / 8 {
		r.out = append(r.out, byte(v))
		v >>= 8
	}
	r.rep = 0
	r.n = 0
}

// flush ends the encoding and returns the bytes.
func (r *rleEncoder) flush() []byte {
	if r.lit > 0 || r.rep > 0 || r.n > 0 {
		allRep := r.lit == 0 && (r.rep == int32(r.n) || r.n == 0)
		if r.rep > 0 && allRep {
			r.flushRepeated()
		} else {
			for r.n != 0 && r.n < 8 {
				r.buf[r.n] = 0
				r.n++
			}
			r.lit += int32(r.n)
			r.flushLiteral(true)
			r.rep = 0
		}
	}
	return r.out
}
