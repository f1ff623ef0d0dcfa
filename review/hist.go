package review

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// counter counts rows, and among them those labelled good (0) and bad (1).
type counter struct{ n, good, bad int64 }

func (c *counter) add(label int8) {
	c.n++
	switch label {
	case 0:
		c.good++
	case 1:
		c.bad++
	}
}

func (c *counter) merge(o counter) { c.n += o.n; c.good += o.good; c.bad += o.bad }

// Label values of a row.
const (
	unlabelled int8 = -1
	good       int8 = 0
	bad        int8 = 1
)

// maxTextCodes is the number of distinct values a text feature counts one
// by one; the others are counted together in an "other" bin.
const maxTextCodes = 50

// codeHist counts the rows of a code column by code.
type codeHist struct {
	ids     map[string]int32
	codes   []string
	counts  []counter
	missing counter
	other   counter // codes past limit
	limit   int     // 0: none
	remap   []int32 // dictionary index → id, for the current batch
	scratch []int32
}

func newCodeHist(limit int) *codeHist { return &codeHist{ids: map[string]int32{}, limit: limit} }

// id returns the id of code, or -1 past the limit.
func (h *codeHist) id(code string) int32 {
	if id, ok := h.ids[code]; ok {
		return id
	}
	if h.limit > 0 && len(h.codes) >= h.limit {
		return -1
	}
	code = strings.Clone(code) // Arrow's strings share its buffers, which are reused
	id := int32(len(h.codes))
	h.ids[code] = id
	h.codes = append(h.codes, code)
	h.counts = append(h.counts, counter{})
	return id
}

// dictIndices returns the dictionary indices of a, in scratch unless they
// are int32 already (as pqarrow reads them).
func dictIndices(a *array.Dictionary, scratch *[]int32) []int32 {
	if idx, ok := a.Indices().(*array.Int32); ok {
		return idx.Int32Values()
	}
	*scratch = grow(*scratch, a.Len())
	for i := range a.Len() {
		if a.IsValid(i) {
			(*scratch)[i] = int32(a.GetValueIndex(i))
		}
	}
	return *scratch
}

// addArray counts a batch: a dictionary of strings, or strings.
func (h *codeHist) addArray(a arrow.Array, labels []int8) {
	switch a := a.(type) {
	case *array.Dictionary:
		dict := a.Dictionary().(*array.String)
		h.remap = slices.Grow(h.remap[:0], dict.Len())[:dict.Len()]
		for i := range dict.Len() {
			h.remap[i] = h.id(dict.Value(i))
		}
		idx := dictIndices(a, &h.scratch)
		noNulls := a.NullN() == 0
		for i, k := range idx {
			if !noNulls && a.IsNull(i) {
				h.missing.add(labels[i])
				continue
			}
			h.addID(h.remap[k], labels[i])
		}
	case *array.String:
		for i := range a.Len() {
			if a.IsNull(i) {
				h.missing.add(labels[i])
				continue
			}
			h.addID(h.id(a.Value(i)), labels[i])
		}
	}
}

func (h *codeHist) addID(id int32, label int8) {
	if id < 0 {
		h.other.add(label)
		return
	}
	h.counts[id].add(label)
}

// count returns the counter of a code (zero when never seen).
func (h *codeHist) count(code string) counter {
	if id, ok := h.ids[code]; ok {
		return h.counts[id]
	}
	return counter{}
}

// numHist counts the rows of a number column by distinct value. Whole
// values in [0, smallValues) are counted in an array; the others in a map.
// Once the map holds more than maxDistinct values, values are rounded to
// fewer significant digits (first 6, then fewer) so that memory stays
// bounded; the cut points of deciles are then those of the rounded values.
type numHist struct {
	small   []counter
	ids     map[float64]int32
	values  []float64
	counts  []counter
	missing counter
	digits  int // 0: exact; else values are rounded to this many significant digits
}

const (
	smallValues = 4096
	maxDistinct = 16384
)

func newNumHist() *numHist { return &numHist{ids: map[float64]int32{}} }

func (h *numHist) add(v float64, label int8) {
	if v >= 0 && v < smallValues && v == math.Trunc(v) {
		if h.small == nil {
			h.small = make([]counter, smallValues)
		}
		h.small[int(v)].add(label)
		return
	}
	if h.digits > 0 {
		v = roundSignificant(v, h.digits)
	}
	id, ok := h.ids[v]
	if !ok {
		if len(h.values) >= maxDistinct {
			h.coarsen()
			h.add(v, label)
			return
		}
		id = int32(len(h.values))
		h.ids[v] = id
		h.values = append(h.values, v)
		h.counts = append(h.counts, counter{})
	}
	h.counts[id].add(label)
}

// coarsen rounds the stored values to fewer digits until they take at
// most half the room.
func (h *numHist) coarsen() {
	if h.digits == 0 {
		h.digits = 7
	}
	for {
		h.digits--
		ids := map[float64]int32{}
		var values []float64
		var counts []counter
		for i, v := range h.values {
			r := roundSignificant(v, h.digits)
			id, ok := ids[r]
			if !ok {
				id = int32(len(values))
				ids[r] = id
				values = append(values, r)
				counts = append(counts, counter{})
			}
			counts[id].merge(h.counts[i])
		}
		h.ids, h.values, h.counts = ids, values, counts
		if len(values) <= maxDistinct/2 || h.digits == 1 {
			return
		}
	}
}

func roundSignificant(v float64, digits int) float64 {
	if v == 0 || math.IsInf(v, 0) {
		return v
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', digits, 64), 64)
	return r
}

// addArray counts a batch of an int64 or float64 column.
func (h *numHist) addArray(a arrow.Array, labels []int8) {
	switch a := a.(type) {
	case *array.Int64:
		vals := a.Int64Values()
		for i, v := range vals {
			if a.IsNull(i) {
				h.missing.add(labels[i])
				continue
			}
			h.add(float64(v), labels[i])
		}
	case *array.Float64:
		vals := a.Float64Values()
		for i, v := range vals {
			if a.IsNull(i) || math.IsNaN(v) {
				h.missing.add(labels[i])
				continue
			}
			h.add(v, labels[i])
		}
	}
}

// valueCount is a distinct value and its rows.
type valueCount struct {
	v float64
	c counter
}

// sorted returns the distinct values with their counts, ascending.
func (h *numHist) sorted() []valueCount {
	out := make([]valueCount, 0, len(h.values)+64)
	for v, c := range h.small {
		if c.n > 0 {
			out = append(out, valueCount{float64(v), c})
		}
	}
	for i, v := range h.values {
		out = append(out, valueCount{v, h.counts[i]})
	}
	slices.SortFunc(out, func(a, b valueCount) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	return out
}

// deciles returns the cut points of the deciles of the values: for k = 1
// to 9 the smallest value v with at least k/10 of the values ≤ v, without
// repeats and without the largest value (which would leave the last bin
// empty).
func deciles(values []valueCount) []float64 {
	var total int64
	for _, vc := range values {
		total += vc.c.n
	}
	if total == 0 {
		return nil
	}
	var cuts []float64
	var cum int64
	k := 1
	for _, vc := range values {
		cum += vc.c.n
		for k <= 9 && cum*10 >= int64(k)*total {
			if len(cuts) == 0 || cuts[len(cuts)-1] != vc.v {
				cuts = append(cuts, vc.v)
			}
			k++
		}
	}
	if n := len(cuts); n > 0 && cuts[n-1] == values[len(values)-1].v {
		cuts = cuts[:n-1]
	}
	return cuts
}

// binOf returns the bin of v among the bins cut at cuts: 0 for v ≤ cuts[0],
// i for cuts[i-1] < v ≤ cuts[i], len(cuts) above the last.
func binOf(cuts []float64, v float64) int {
	lo, hi := 0, len(cuts)
	for lo < hi {
		m := (lo + hi) / 2
		if v <= cuts[m] {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}
