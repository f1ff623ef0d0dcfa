package sinks

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/metadata"
)

// maxDictionaryBytes is the size past which a column chunk's dictionary is
// given up for its values, the limit at which the Parquet writer itself
// falls back to plain encoding.
const maxDictionaryBytes = int(parquet.DefaultDictionaryPageSizeLimit)

// parquetGroup holds the rows of one row group, column by column, until it
// is written. Its buffers are kept for a later row group.
type parquetGroup struct {
	rows  int
	cols  []groupColumn
	first bool // the file's first row group, which tries a dictionary for every column not marked Distinct
}

// groupColumn holds one column of a row group: a definition level per row
// (1 for a value, 0 for null) and either the values or, while the chunk is
// dictionary-encoded, the index of each row's value in the dictionary of
// the chunk's distinct values, which is what the Parquet writer needs.
type groupColumn struct {
	typ   Type
	def   []int16
	nulls int

	// The values, without nulls, when the chunk is not dictionary-encoded.
	ints   []int64   // Int64 and Timestamp
	dates  []int32   // Date
	floats []float64 // Float64
	ends   []int     // String: where each value ends in text
	text   []byte

	// Dictionary encoding: nums (numbers as their bits) or strs holds the
	// distinct values; idx has a slot per row, 0 for nulls, and valid marks
	// the slots that hold a value.
	dictOn bool
	nums   dictionary[uint64]
	strs   dictionary[string]
	idx    []int32
	valid  []byte
}

// scratch holds the buffers a column chunk needs while it is written, for
// the next chunk to reuse.
type scratch struct {
	bytes  []parquet.ByteArray
	ints   []int64
	dates  []int32
	floats []float64
	ends   []int32
	text   []byte
}

// newParquetGroup returns an empty row group of schema s whose columns are
// dictionary-encoded where dict says. If like is not nil, the buffers are
// made as large as its, so that they need not grow.
func newParquetGroup(s Schema, dict []bool, like *parquetGroup) *parquetGroup {
	g := &parquetGroup{cols: make([]groupColumn, len(s))}
	for i, t := range s {
		c := &g.cols[i]
		c.typ = t.Type
		c.text = []byte{} // never nil: a nil ByteArray is no value to the statistics
		if like != nil {
			l := &like.cols[i]
			c.def = make([]int16, 0, cap(l.def))
			c.ints = make([]int64, 0, cap(l.ints))
			c.dates = make([]int32, 0, cap(l.dates))
			c.floats = make([]float64, 0, cap(l.floats))
			c.ends = make([]int, 0, cap(l.ends))
			c.text = make([]byte, 0, cap(l.text))
			c.idx = make([]int32, 0, cap(l.idx))
			c.valid = make([]byte, 0, cap(l.valid))
		}
	}
	g.reset(dict)
	return g
}

// reset empties the group, keeping its buffers, for columns
// dictionary-encoded where dict says.
func (g *parquetGroup) reset(dict []bool) {
	g.rows = 0
	for i := range g.cols {
		c := &g.cols[i]
		c.def, c.nulls = c.def[:0], 0
		c.ints, c.dates, c.floats = c.ints[:0], c.dates[:0], c.floats[:0]
		c.ends, c.text = c.ends[:0], c.text[:0]
		c.dictOn = dict[i]
		c.nums.reset()
		c.strs.reset()
		c.idx, c.valid = c.idx[:0], c.valid[:0]
	}
}

// appendRows is the number of rows append takes column by column at a
// time: few enough that their cells stay in the processor's cache until
// the last column.
const appendRows = 16

// append adds rows, each with a cell per column.
func (g *parquetGroup) append(rows []Row) {
	for len(rows) > 0 {
		part := rows[:min(len(rows), appendRows)]
		rows = rows[len(part):]
		for i := range g.cols {
			c := &g.cols[i]
			if !c.dictOn {
				c.appendValues(part, i)
				continue
			}
			c.appendIndices(part, i)
			if g.first && c.distinct() >= giveUpValues && 20*c.distinct() > 19*(len(c.def)-c.nulls) {
				c.dropDictionary()
			}
		}
		g.rows += len(part)
	}
}

// appendValues adds the cells of column i of rows as values.
func (c *groupColumn) appendValues(rows []Row, i int) {
	switch c.typ {
	case String:
		for _, r := range rows {
			v := &r[i]
			if !v.Valid {
				c.def = append(c.def, 0)
				c.nulls++
				continue
			}
			c.def = append(c.def, 1)
			c.text = append(c.text, v.S...)
			c.ends = append(c.ends, len(c.text))
		}
	case Int64, Timestamp:
		for _, r := range rows {
			v := &r[i]
			if !v.Valid {
				c.def = append(c.def, 0)
				c.nulls++
				continue
			}
			c.def = append(c.def, 1)
			c.ints = append(c.ints, v.I)
		}
	case Date:
		for _, r := range rows {
			v := &r[i]
			if !v.Valid {
				c.def = append(c.def, 0)
				c.nulls++
				continue
			}
			c.def = append(c.def, 1)
			c.dates = append(c.dates, int32(v.I))
		}
	case Float64:
		for _, r := range rows {
			v := &r[i]
			if !v.Valid {
				c.def = append(c.def, 0)
				c.nulls++
				continue
			}
			c.def = append(c.def, 1)
			c.floats = append(c.floats, v.F)
		}
	}
}

// appendIndices adds the cells of column i of rows as dictionary indices.
// Should the dictionary grow past maxDictionaryBytes, the chunk goes on
// with values.
func (c *groupColumn) appendIndices(rows []Row, i int) {
	n := len(c.def)
	m := n + len(rows)
	def, idx := slices.Grow(c.def, len(rows))[:m], slices.Grow(c.idx, len(rows))[:m]
	for len(c.valid)*8 < m {
		c.valid = append(c.valid, 0)
	}
	valid := c.valid
	nulls := 0
	for k := range rows {
		v := &rows[k][i]
		p := n + k
		if !v.Valid {
			def[p], idx[p] = 0, 0
			nulls++
			continue
		}
		var j int32
		var full bool
		switch c.typ {
		case String:
			j, full = c.strs.put(v.S, maphash.String(dictSeed, v.S), len(v.S)+4)
		case Float64:
			b := math.Float64bits(v.F)
			j, full = c.nums.put(b, mix(b), 8)
		case Date:
			b := uint64(int64(int32(v.I)))
			j, full = c.nums.put(b, mix(b), 4)
		default:
			j, full = c.nums.put(uint64(v.I), mix(uint64(v.I)), 8)
		}
		def[p], idx[p] = 1, j
		valid[p>>3] |= 1 << (p & 7)
		if full {
			c.def, c.idx, c.nulls = def[:p+1], idx[:p+1], c.nulls+nulls
			c.dropDictionary()
			c.appendValues(rows[k+1:], i)
			return
		}
	}
	c.def, c.idx, c.nulls = def, idx, c.nulls+nulls
}

// dropDictionary turns the chunk's dictionary indices into values.
func (c *groupColumn) dropDictionary() {
	if !c.dictOn {
		return
	}
	c.dictOn = false
	for k, d := range c.def {
		if d == 0 {
			continue
		}
		j := c.idx[k]
		switch c.typ {
		case String:
			c.text = append(c.text, c.strs.values[j]...)
			c.ends = append(c.ends, len(c.text))
		case Int64, Timestamp:
			c.ints = append(c.ints, int64(c.nums.values[j]))
		case Date:
			c.dates = append(c.dates, int32(int64(c.nums.values[j])))
		case Float64:
			c.floats = append(c.floats, math.Float64frombits(c.nums.values[j]))
		}
	}
	c.nums.reset()
	c.strs.reset()
	c.idx, c.valid = c.idx[:0], c.valid[:0]
}

// giveUpValues is the number of distinct values past which the first row
// group gives up the dictionary of a column whose values are almost all
// distinct (more than 95%) before the group is complete: an id column is
// then hashed for so many rows only.
const giveUpValues = 2048

// decideDictionaries keeps dictionary encoding for the columns of the
// first row group whose values repeat, each at least twice on average,
// and records in dict which columns are dictionary-encoded.
func (g *parquetGroup) decideDictionaries(dict []bool) {
	g.first = false
	for i := range g.cols {
		c := &g.cols[i]
		if c.dictOn && 2*c.distinct() > len(c.def)-c.nulls {
			c.dropDictionary()
		}
		dict[i] = c.dictOn
	}
}

// distinct returns the number of values in the chunk's dictionary.
func (c *groupColumn) distinct() int {
	if c.typ == String {
		return len(c.strs.values)
	}
	return len(c.nums.values)
}

// dictionaryEncoder is what a dictionary-encoding column writer's encoder
// offers to be given a dictionary rather than hash every value.
type dictionaryEncoder interface {
	PutDictionary(arrow.Array) error
	NumEntries() int
}

// writeTo writes the chunk to cw.
func (c *groupColumn) writeTo(cw file.ColumnChunkWriter, s *scratch) error {
	if c.dictOn {
		ok, err := c.writeIndices(cw, s)
		if ok || err != nil {
			return err
		}
		// The writer counts the distinct values otherwise (it takes all
		// NaNs for one): it writes what it holds as a dictionary page
		// and the values follow plainly, as it does when a dictionary
		// grows too large.
		cw.FallbackToPlain()
		c.dropDictionary()
	}
	return c.writeValues(cw, s)
}

// dictionaryStatistics adds to stats those of a dictionary-encoded chunk:
// the statistics of its n distinct values, which s holds, are those of the
// chunk; the counts of values and nulls are set apart.
func (c *groupColumn) dictionaryStatistics(stats metadata.TypedStatistics, s *scratch, n int) error {
	nulls := int64(c.nulls)
	switch st := stats.(type) {
	case *metadata.ByteArrayStatistics:
		st.Update(s.bytes, nulls)
	case *metadata.Int64Statistics:
		st.Update(s.ints, nulls)
	case *metadata.Int32Statistics:
		st.Update(s.dates, nulls)
	case *metadata.Float64Statistics:
		st.Update(s.floats, nulls)
	default:
		return fmt.Errorf("unexpected statistics %T", stats)
	}
	stats.IncNumValues(int64(len(c.def) - c.nulls - n))
	return nil
}

// writeIndices gives cw the chunk's dictionary and indices. It reports
// false, having written nothing, if cw does not encode with this
// dictionary.
func (c *groupColumn) writeIndices(cw file.ColumnChunkWriter, s *scratch) (bool, error) {
	enc, ok := cw.CurrentEncoder().(dictionaryEncoder)
	if !ok {
		return false, nil
	}
	dict := c.dictionaryArray(s)
	defer dict.Release()
	if err := enc.PutDictionary(dict); err != nil {
		return false, err
	}
	if enc.NumEntries() != dict.Len() {
		return false, nil
	}
	if stats := cw.PageStatistics(); stats != nil {
		if err := c.dictionaryStatistics(stats, s, dict.Len()); err != nil {
			return false, err
		}
	}
	idx := array.NewData(arrow.PrimitiveTypes.Int32, len(c.idx),
		[]*memory.Buffer{memory.NewBufferBytes(c.valid), memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(c.idx))},
		nil, c.nulls, 0)
	defer idx.Release()
	indices := array.MakeFromData(idx)
	defer indices.Release()
	return true, cw.WriteDictIndices(indices, c.def, nil)
}

// dictionaryArray returns the chunk's dictionary as an Arrow array over
// the buffers of s, which also hold its values for the statistics.
func (c *groupColumn) dictionaryArray(s *scratch) arrow.Array {
	n := c.dictionaryValues(s)
	var data arrow.ArrayData
	switch c.typ {
	case String:
		data = array.NewData(arrow.BinaryTypes.String, n,
			[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(s.ends)), memory.NewBufferBytes(s.text)},
			nil, 0, 0)
	case Int64, Timestamp:
		data = array.NewData(arrow.PrimitiveTypes.Int64, n,
			[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(s.ints))}, nil, 0, 0)
	case Date:
		data = array.NewData(arrow.PrimitiveTypes.Int32, n,
			[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(s.dates))}, nil, 0, 0)
	case Float64:
		data = array.NewData(arrow.PrimitiveTypes.Float64, n,
			[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(s.floats))}, nil, 0, 0)
	}
	defer data.Release()
	return array.MakeFromData(data)
}

// dictionaryValues puts the chunk's dictionary in the buffers of s for
// its type (strings as offsets and text, and as byte arrays) and returns
// the number of values.
func (c *groupColumn) dictionaryValues(s *scratch) int {
	switch c.typ {
	case String:
		s.ends, s.text, s.bytes = append(s.ends[:0], 0), s.text[:0], s.bytes[:0]
		for _, v := range c.strs.values {
			s.text = append(s.text, v...)
			s.ends = append(s.ends, int32(len(s.text)))
		}
		if s.text == nil {
			s.text = []byte{}
		}
		for k := range c.strs.values {
			s.bytes = append(s.bytes, s.text[s.ends[k]:s.ends[k+1]:s.ends[k+1]])
		}
		return len(c.strs.values)
	case Int64, Timestamp:
		s.ints = s.ints[:0]
		for _, v := range c.nums.values {
			s.ints = append(s.ints, int64(v))
		}
	case Date:
		s.dates = s.dates[:0]
		for _, v := range c.nums.values {
			s.dates = append(s.dates, int32(int64(v)))
		}
	case Float64:
		s.floats = s.floats[:0]
		for _, v := range c.nums.values {
			s.floats = append(s.floats, math.Float64frombits(v))
		}
	}
	return len(c.nums.values)
}

// reserver is what an encoder offers to make room for the bytes to come
// at once, rather than grow as they come.
type reserver interface{ ReserveForWrite(n int) }

// byteArrays returns the chunk's strings as byte arrays over its text, in
// s.bytes.
func (c *groupColumn) byteArrays(s *scratch) []parquet.ByteArray {
	b := s.bytes[:0]
	start := 0
	for _, end := range c.ends {
		b = append(b, c.text[start:end:end])
		start = end
	}
	s.bytes = b
	return b
}

// writeValues writes the chunk's values to cw.
func (c *groupColumn) writeValues(cw file.ColumnChunkWriter, s *scratch) error {
	if r, ok := cw.CurrentEncoder().(reserver); ok && cw.CurrentEncoder().Encoding() == parquet.Encodings.Plain {
		r.ReserveForWrite(len(c.text) + 4*len(c.ends) + 8*len(c.ints) + 4*len(c.dates) + 8*len(c.floats))
	}
	var err error
	switch w := cw.(type) {
	case *file.ByteArrayColumnChunkWriter:
		_, err = w.WriteBatch(c.byteArrays(s), c.def, nil)
	case *file.Int64ColumnChunkWriter:
		_, err = w.WriteBatch(c.ints, c.def, nil)
	case *file.Int32ColumnChunkWriter:
		_, err = w.WriteBatch(c.dates, c.def, nil)
	case *file.Float64ColumnChunkWriter:
		_, err = w.WriteBatch(c.floats, c.def, nil)
	default:
		err = errors.New("unexpected column writer")
	}
	return err
}

// dictSeed seeds the hashes of the strings in dictionaries.
var dictSeed = maphash.MakeSeed()

// mix is the hash of a number in a dictionary.
func mix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	return k ^ k>>33
}

// dictionary numbers the distinct values of a column chunk in the order
// they first appear, and finds them again through a hash table.
type dictionary[K comparable] struct {
	values []K
	hashes []uint64 // of values, to rehash them
	// slots holds for each slot of the table 1 + the number of its value,
	// or 0 if the slot is empty; its length is a power of two, at least
	// twice that of values.
	slots []int32
	bytes int // size of the values in a dictionary page
}

// put returns the number of k, whose hash is h, adding k if it is new;
// size is the bytes k takes in a dictionary page. full reports that the
// dictionary has grown past maxDictionaryBytes.
func (d *dictionary[K]) put(k K, h uint64, size int) (j int32, full bool) {
	if d.slots == nil {
		d.slots = make([]int32, 16)
	}
	mask := uint64(len(d.slots) - 1)
	s := h & mask
	for ; d.slots[s] != 0; s = (s + 1) & mask {
		if j := d.slots[s] - 1; d.values[j] == k {
			return j, false
		}
	}
	j = int32(len(d.values))
	d.values = append(d.values, k)
	d.hashes = append(d.hashes, h)
	d.slots[s] = j + 1
	if 2*len(d.values) > len(d.slots) {
		d.rehash(2 * len(d.slots))
	}
	d.bytes += size
	return j, d.bytes > maxDictionaryBytes
}

// rehash makes the table n slots long.
func (d *dictionary[K]) rehash(n int) {
	if cap(d.slots) >= n {
		d.slots = d.slots[:n]
		clear(d.slots)
	} else {
		d.slots = make([]int32, n)
	}
	mask := uint64(n - 1)
	for j, h := range d.hashes {
		s := h & mask
		for d.slots[s] != 0 {
			s = (s + 1) & mask
		}
		d.slots[s] = int32(j) + 1
	}
}

// reset empties the dictionary, keeping its memory.
func (d *dictionary[K]) reset() {
	clear(d.values)
	d.values, d.hashes = d.values[:0], d.hashes[:0]
	clear(d.slots)
	d.bytes = 0
}
