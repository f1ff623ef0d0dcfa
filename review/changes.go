package review

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/zeebo/xxh3"

	"github.com/scorepipe/scorepipe/mappings"
)

// Change is one applicant found in both runs under one rule, with the
// column that fired and its old and new values ("" when missing).
type Change struct {
	ApplicantKey string
	SourceRow    int64 // the row of the applicant in the reviewed run's input, 0 when unknown
	Rule         string
	Column       string
	Old, New     string
}

// missingValue is how a slot holds a missing value.
var missingValue = float32(math.NaN())

func isMissing(v float32) bool { return v != v }

// slot is a feature that the rules read: its value is kept for every
// applicant of the baseline, as a float32: the number itself, the rank of
// an interval code in its table (from 1), or the id of a text code.
type slot struct {
	feat   *Feature
	rank   map[string]float32 // interval code → rank, for a feature with an interval table
	labels []string           // rank-1 → label, for a feature with an interval table
	text   *interner          // codes without a table
	remap  []float32          // dictionary index → value, for the current batch
	idx    []int32
}

func newSlot(f *Feature) *slot {
	s := &slot{feat: f}
	if t := f.field.Lookup(); t != nil && t.Kind == mappings.IntervalTable {
		s.rank = map[string]float32{}
		for i, e := range sortedEntries(t) {
			s.rank[e.Code] = float32(i + 1)
			s.labels = append(s.labels, e.Code+" "+e.Interval.String())
		}
	} else if f.codes() {
		s.text = newInterner(f.Type)
	}
	return s
}

// narrow reports whether the slot's values are whole numbers from 0 to
// maxNarrow: interval ranks, code ids, flags, enums whose table says so.
func (s *slot) narrow() bool {
	switch {
	case s.rank != nil, s.text != nil, s.feat.Type == mappings.Flag:
		return true
	case s.feat.Type == mappings.Enum:
		t := s.feat.field.Lookup()
		if t == nil {
			return false
		}
		for _, e := range t.Entries {
			if e.Value < 0 || e.Value > maxNarrow {
				return false
			}
		}
		return true
	}
	return false
}

// codeValue returns a code's value in the slot.
func (s *slot) codeValue(code string) float32 {
	if s.rank != nil {
		if r, ok := s.rank[code]; ok {
			return r
		}
		return missingValue // not in the table: its rank is unknown
	}
	return s.text.id(code)
}

// values fills out with the slot's value of every row of a batch.
func (s *slot) values(a arrow.Array, out []float32) {
	switch a := a.(type) {
	case *array.Dictionary:
		dict := a.Dictionary().(*array.String)
		s.remap = slices.Grow(s.remap[:0], dict.Len())[:dict.Len()]
		for i := range dict.Len() {
			s.remap[i] = s.codeValue(dict.Value(i))
		}
		for i, k := range dictIndices(a, &s.idx) {
			if a.IsNull(i) {
				out[i] = missingValue
			} else {
				out[i] = s.remap[k]
			}
		}
	case *array.String:
		for i := range out {
			if a.IsNull(i) {
				out[i] = missingValue
			} else {
				out[i] = s.codeValue(a.Value(i))
			}
		}
	case *array.Int64:
		for i, v := range a.Int64Values() {
			if a.IsNull(i) {
				out[i] = missingValue
			} else {
				out[i] = float32(v)
			}
		}
	case *array.Float64:
		for i, v := range a.Float64Values() {
			if a.IsNull(i) {
				out[i] = missingValue
			} else {
				out[i] = float32(v)
			}
		}
	}
}

// order returns the value used to compare v with another value.
func (s *slot) order(v float32) float64 {
	if s.text != nil && !isMissing(v) && v >= 1 { // an id; missing_as values are below 1
		return float64(s.text.rankOf(int32(v)))
	}
	return float64(v)
}

// display writes a value for people: an interval code with its range, a
// code, an enum value with its label, a number.
func (s *slot) display(v float32) string {
	switch {
	case isMissing(v):
		return ""
	case s.rank != nil && v >= 1 && int(v) <= len(s.labels):
		return s.labels[int(v)-1]
	case s.text != nil && v >= 1:
		return s.text.code(int32(v))
	}
	f := float64(v)
	if s.feat.Type == mappings.Enum {
		if t := s.feat.field.Lookup(); t != nil {
			for _, e := range t.Entries {
				if float64(e.Value) == f {
					return formatNumber(f) + " " + e.Code
				}
			}
		}
	}
	return strconv.FormatFloat(f, 'g', -1, 32)
}

// interner numbers the codes of a feature without a table, from 1, and
// ranks them: intervals by their ranges, other text in string order.
type interner struct {
	typ   mappings.FieldType
	ids   map[string]int32
	codes []string  // by id-1
	ranks []float32 // by id-1
}

// maxInterned is the number of distinct codes a slot tells apart; others
// count as missing.
const maxInterned = 4096

func newInterner(t mappings.FieldType) *interner { return &interner{typ: t, ids: map[string]int32{}} }

func (in *interner) id(code string) float32 {
	if id, ok := in.ids[code]; ok {
		return float32(id)
	}
	if len(in.codes) >= maxInterned {
		return missingValue
	}
	code = strings.Clone(code) // Arrow's strings share its buffers, which are reused
	in.codes = append(in.codes, code)
	id := int32(len(in.codes))
	in.ids[code] = id
	sorted := slices.Clone(in.codes)
	sortCodes(in.typ, sorted)
	in.ranks = slices.Grow(in.ranks[:0], len(sorted))[:len(sorted)]
	for r, c := range sorted {
		in.ranks[in.ids[c]-1] = float32(r + 1)
	}
	return float32(id)
}

func (in *interner) rankOf(id int32) float32 { return in.ranks[id-1] }
func (in *interner) code(id int32) string    { return in.codes[id-1] }

// activeRule is a rule resolved against the runs' features.
type activeRule struct {
	Rule
	slots   []int      // the rule's columns that the runs have, as slot indices
	values  [][]string // became: the rule's values, per slot resolved to codes or numbers
	numbers [][]float64
	absent  []string // the rule's columns that the runs lack
}

// matches reports whether v is one of the rule's values for slot k.
func (r *activeRule) matches(s *slot, k int, v float32) bool {
	if isMissing(v) {
		return false
	}
	if s.text != nil && v >= 1 {
		return slices.Contains(r.values[k], s.text.code(int32(v)))
	}
	if s.rank != nil {
		for _, code := range r.values[k] {
			if rk, ok := s.rank[code]; ok && rk == v {
				return true
			}
		}
		return false
	}
	for _, n := range r.numbers[k] {
		if float32(n) == v {
			return true
		}
	}
	return false
}

// fires returns the first of the rule's columns that got worse, or -1.
// oldAns and newAns say, per slot, whether the vendor answered (so that a
// missing value means "none" rather than "unknown").
func (r *activeRule) fires(slots []*slot, old, cur []float32, oldAns, newAns uint64) int {
	for k, si := range r.slots {
		s := slots[si]
		o, n := old[si], cur[si]
		oa, na := oldAns>>uint(si)&1 == 1, newAns>>uint(si)&1 == 1
		if r.MissingAs != nil {
			if isMissing(o) && oa {
				o = float32(*r.MissingAs)
			}
			if isMissing(n) && na {
				n = float32(*r.MissingAs)
			}
		}
		if isMissing(n) {
			continue
		}
		switch r.When {
		case WhenBecame:
			if !r.matches(s, k, n) {
				continue
			}
			if isMissing(o) && oa || !isMissing(o) && !r.matches(s, k, o) {
				return si
			}
		case WhenUp:
			if !isMissing(o) && s.order(n)-s.order(o) >= r.By {
				return si
			}
		case WhenDown:
			if !isMissing(o) && s.order(o)-s.order(n) >= r.By {
				return si
			}
		}
	}
	return -1
}

// keyTable holds, for every applicant of the baseline, a 128-bit hash of
// its applicant_key and the few values the rules read: codes, flags and
// enums in 2 bytes, numbers in 4, whether each product answered in one
// bit, about 30 bytes more for the key and its place, and nothing for the
// other columns. The hashes are found through an open-addressing table of
// int32 row numbers, 1.25 per applicant (a Go map would round its room up
// to a power of two and keep the key twice).
type keyTable struct {
	layout  tableLayout
	table   []int32 // 0: free; else 1 + the applicant's row
	keys    []xxh3.Uint128
	narrow  []uint16  // layout.narrow per applicant: 0 missing, else value+1
	wide    []float32 // layout.wide per applicant
	answers []uint16  // per applicant: bit g set when the products of group g answered
	seen    []bool    // found in the reviewed run
	dups    int64     // rows whose key an earlier row had
	scratch []float32
}

// tableLayout says where each slot's value is kept.
type tableLayout struct {
	place  []int // per slot: index in narrow (≥ 0) or -1-index in wide
	group  []int // per slot: its answer group (one per status column)
	narrow int
	wide   int
}

// maxAnswerGroups is the number of status columns the rules' columns may
// come from.
const maxAnswerGroups = 16

// newLayout places the slots: codes, flags and enums (whole values from 0
// to maxNarrow) in 2 bytes, numbers in 4.
func newLayout(slots []*slot) (tableLayout, error) {
	var l tableLayout
	groups := map[string]int{}
	for _, s := range slots {
		if s.narrow() {
			l.place = append(l.place, l.narrow)
			l.narrow++
		} else {
			l.place = append(l.place, -1-l.wide)
			l.wide++
		}
		g, ok := groups[s.feat.Status]
		if !ok {
			g = len(groups)
			groups[s.feat.Status] = g
		}
		l.group = append(l.group, g)
	}
	if len(groups) > maxAnswerGroups {
		return l, fmt.Errorf("the rules read columns of %d products and sub-products, at most %d", len(groups), maxAnswerGroups)
	}
	return l, nil
}

// maxNarrow is the largest value kept in 2 bytes; a larger (or negative,
// or fractional) value of a code, flag or enum counts as missing.
const maxNarrow = 65533

func newKeyTable(l tableLayout, rows int64) *keyTable {
	rows = max(rows, 16)
	return &keyTable{layout: l, table: make([]int32, rows+rows/4),
		keys: make([]xxh3.Uint128, 0, rows), narrow: make([]uint16, 0, rows*int64(l.narrow)),
		wide: make([]float32, 0, rows*int64(l.wide)), answers: make([]uint16, 0, rows), seen: make([]bool, 0, rows),
		scratch: make([]float32, len(l.place))}
}

// home returns h's first place in the table.
func (t *keyTable) home(h xxh3.Uint128) int {
	hi, _ := bits.Mul64(h.Lo, uint64(len(t.table)))
	return int(hi)
}

// find returns the row of h.
func (t *keyTable) find(h xxh3.Uint128) (int32, bool) {
	for i := t.home(h); ; i++ {
		if i == len(t.table) {
			i = 0
		}
		r := t.table[i]
		if r == 0 {
			return 0, false
		}
		if t.keys[r-1] == h {
			return r - 1, true
		}
	}
}

// add keeps the first row of every key.
func (t *keyTable) add(h xxh3.Uint128, vals []float32, ans uint64) {
	if len(t.keys)+1 > len(t.table)*9/10 {
		t.grow()
	}
	i := t.home(h)
	for ; ; i++ {
		if i == len(t.table) {
			i = 0
		}
		r := t.table[i]
		if r == 0 {
			break
		}
		if t.keys[r-1] == h {
			t.dups++
			return
		}
	}
	t.keys = append(t.keys, h)
	t.table[i] = int32(len(t.keys))
	var groups uint16
	for k, v := range vals {
		if p := t.layout.place[k]; p >= 0 {
			n := uint16(0)
			if !isMissing(v) && v >= 0 && v <= maxNarrow && v == float32(math.Trunc(float64(v))) {
				n = uint16(v) + 1
			}
			t.narrow = append(t.narrow, n)
		} else {
			t.wide = append(t.wide, v)
		}
		if ans>>uint(k)&1 == 1 {
			groups |= 1 << uint(t.layout.group[k])
		}
	}
	t.answers = append(t.answers, groups)
	t.seen = append(t.seen, false)
}

// grow doubles the table, for more rows than announced.
func (t *keyTable) grow() {
	t.table = make([]int32, 2*len(t.table))
	for r, h := range t.keys {
		i := t.home(h)
		for t.table[i] != 0 {
			if i++; i == len(t.table) {
				i = 0
			}
		}
		t.table[i] = int32(r + 1)
	}
}

func (t *keyTable) len() int { return len(t.keys) }

// row returns an applicant's slot values (valid until the next call) and
// which slots' products answered.
func (t *keyTable) row(i int32) ([]float32, uint64) {
	l := &t.layout
	narrow := t.narrow[int(i)*l.narrow : int(i+1)*l.narrow]
	wide := t.wide[int(i)*l.wide : int(i+1)*l.wide]
	var ans uint64
	for k, p := range l.place {
		if p >= 0 {
			if n := narrow[p]; n == 0 {
				t.scratch[k] = missingValue
			} else {
				t.scratch[k] = float32(n - 1)
			}
		} else {
			t.scratch[k] = wide[-1-p]
		}
		if t.answers[i]>>uint(l.group[k])&1 == 1 {
			ans |= 1 << uint(k)
		}
	}
	return t.scratch, ans
}
