package review

import (
	"math"
	"slices"
	"strconv"

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
		for i := range out {
			if a.IsNull(i) {
				out[i] = missingValue
			} else {
				out[i] = s.remap[a.GetValueIndex(i)]
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
// its applicant_key and the few values the rules read: memory grows with
// the applicants (about 40 bytes plus 4 per slot each), never with the
// columns.
type keyTable struct {
	width   int
	index   map[xxh3.Uint128]int32
	values  []float32 // width per applicant
	answers []uint64  // per applicant: bit k set when slot k's product answered
	seen    []bool    // found in the reviewed run
	dups    int64     // rows whose key an earlier row had
}

func newKeyTable(width int, rows int64) *keyTable {
	return &keyTable{width: width, index: make(map[xxh3.Uint128]int32, min(rows, 1<<22))}
}

// add keeps the first row of every key.
func (t *keyTable) add(h xxh3.Uint128, vals []float32, ans uint64) {
	if _, dup := t.index[h]; dup {
		t.dups++
		return
	}
	t.index[h] = int32(len(t.answers))
	t.values = append(t.values, vals...)
	t.answers = append(t.answers, ans)
	t.seen = append(t.seen, false)
}

func (t *keyTable) len() int { return len(t.answers) }

func (t *keyTable) row(i int32) ([]float32, uint64) {
	return t.values[int(i)*t.width : int(i+1)*t.width], t.answers[i]
}
