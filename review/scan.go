package review

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/zeebo/xxh3"

	"github.com/scorepipe/scorepipe/rundir"
)

// Columns of a run the review reads besides the features.
const (
	ColumnApplicantKey = "applicant_key"
	ColumnSourceRow    = "source_row"
	DefaultLabel       = "label"
)

// runScan reads one run and counts what the review needs.
type runScan struct {
	run      *rundir.Run
	feats    []*Feature // the features of the review; nil entries are not in this run
	hists    []hists
	status   []statusColumn
	outcomes []*codeHist
	label    string // "" for none
	labels   LabelCounts
	// firstInvalid is where the first label value other than 0, 1 or
	// empty is: its source_row, else its row in the run (1-based).
	firstInvalid rowRef

	slots    []*slot // the rules' features, shared by both scans
	slotCols []int   // column of each slot in the batch
	slotStat []int   // status column of each slot's feature in the batch, -1 for none

	columns  []string
	featCol  []int
	statCol  []int
	keyCol   int
	labelCol int
	rowCol   int
	rows     int64 // rows scanned
	noKey    int64 // rows without an applicant_key
}

// LabelCounts counts the rows of each label value.
type LabelCounts struct {
	Good       int64 `json:"good"`
	Bad        int64 `json:"bad"`
	Unlabelled int64 `json:"unlabelled"` // empty, or invalid
	// Invalid counts the rows whose label is neither 0, 1 nor empty: they
	// are among the unlabelled, left out of IV and KS.
	Invalid int64 `json:"invalid"`
}

// plan lists the columns to read: every feature, every status column, and
// when asked the applicant key, the label and the source row.
func (s *runScan) plan(withKey bool) (dict []string) {
	add := func(name string) int {
		for i, c := range s.columns {
			if c == name {
				return i
			}
		}
		s.columns = append(s.columns, name)
		return len(s.columns) - 1
	}
	s.featCol = make([]int, len(s.feats))
	for i, f := range s.feats {
		s.featCol[i] = -1
		if f == nil {
			continue
		}
		s.featCol[i] = add(f.Column)
		if f.codes() {
			dict = append(dict, f.Column)
		}
	}
	s.statCol = make([]int, len(s.status))
	for i, st := range s.status {
		s.statCol[i] = add(st.Column)
		dict = append(dict, st.Column)
	}
	s.keyCol, s.labelCol, s.rowCol = -1, -1, -1
	if withKey {
		s.keyCol = add(ColumnApplicantKey)
		if f, ok := s.run.Field(ColumnSourceRow); ok && f.Type.ID() == arrow.INT64 {
			s.rowCol = add(ColumnSourceRow)
		}
	}
	if s.label != "" {
		s.labelCol = add(s.label)
		if f, ok := s.run.Field(ColumnSourceRow); ok && f.Type.ID() == arrow.INT64 {
			s.rowCol = add(ColumnSourceRow)
		}
	}
	s.slotCols = make([]int, len(s.slots))
	s.slotStat = make([]int, len(s.slots))
	for k, sl := range s.slots {
		s.slotCols[k] = add(sl.feat.Column)
		s.slotStat[k] = -1
		for j, st := range s.status {
			if st.Column == sl.feat.Status {
				s.slotStat[k] = s.statCol[j]
			}
		}
	}
	return dict
}

// scan reads the run; each batch goes through the features' counts and
// then to perRow, when not nil, with the slots' values.
func (s *runScan) scan(ctx context.Context, perRow func(b *batch) error) error {
	dict := s.plan(perRow != nil)
	s.hists = make([]hists, len(s.feats))
	for i, f := range s.feats {
		if f != nil {
			s.hists[i] = newHists(f)
		}
	}
	s.outcomes = make([]*codeHist, len(s.status))
	for i := range s.status {
		s.outcomes[i] = newCodeHist(0)
	}
	b := &batch{scan: s}
	return s.run.Scan(ctx, rundir.ScanOptions{Columns: s.columns, Dictionary: dict, Parallel: true, Prefetch: true, BatchRows: batchRows}, func(rec arrow.Record) error {
		n := int(rec.NumRows())
		b.labels = grow(b.labels, n)
		if err := s.readLabels(rec, b.labels); err != nil {
			return err
		}
		for i, f := range s.feats {
			if f != nil {
				h := s.hists[i]
				if h.codes != nil {
					h.codes.addArray(rec.Column(s.featCol[i]), b.labels)
				} else {
					h.nums.addArray(rec.Column(s.featCol[i]), b.labels)
				}
			}
		}
		b.unlabelled = grow(b.unlabelled, n)
		for i := range b.unlabelled {
			b.unlabelled[i] = unlabelled
		}
		for i := range s.status {
			s.outcomes[i].addArray(rec.Column(s.statCol[i]), b.unlabelled)
		}
		s.rows += int64(n)
		if perRow == nil {
			return nil
		}
		b.rec = rec
		b.fill()
		return perRow(b)
	})
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// readLabels turns the label column of a batch into good, bad or
// unlabelled. A value other than 0, 1 or empty is counted as invalid and
// left out of IV and KS, as an empty one is; the value itself is never
// kept (the column may be anything, an ID number included).
func (s *runScan) readLabels(rec arrow.Record, out []int8) error {
	for i := range out {
		out[i] = unlabelled
	}
	if s.labelCol < 0 {
		return nil
	}
	invalid := func(i int) {
		s.labels.Invalid++
		if s.firstInvalid.n == 0 {
			s.firstInvalid = s.rowRef(rec, i)
		}
	}
	set := func(i int, v float64) {
		switch v {
		case 0:
			out[i] = good
		case 1:
			out[i] = bad
		default:
			invalid(i)
		}
	}
	switch a := rec.Column(s.labelCol).(type) {
	case *array.Int64:
		for i, v := range a.Int64Values() {
			if a.IsValid(i) {
				set(i, float64(v))
			}
		}
	case *array.Float64:
		for i, v := range a.Float64Values() {
			if a.IsValid(i) && !math.IsNaN(v) {
				set(i, v)
			}
		}
	case *array.String:
		for i := range a.Len() {
			if a.IsNull(i) {
				continue
			}
			t := strings.TrimSpace(a.Value(i))
			if t == "" {
				continue
			}
			if v, err := strconv.ParseFloat(t, 64); err == nil {
				set(i, v)
			} else {
				invalid(i)
			}
		}
	case *array.Dictionary: // the label is also a feature of codes, read as such
		dict, ok := a.Dictionary().(*array.String)
		if !ok {
			return fmt.Errorf("review: label column %s is of type %s", s.label, a.DataType())
		}
		const empty, other = -1, -2
		kind := make([]int8, dict.Len())
		for k := range kind {
			kind[k] = empty
			if t := strings.TrimSpace(dict.Value(k)); t != "" {
				kind[k] = other
				if v, err := strconv.ParseFloat(t, 64); err == nil && (v == 0 || v == 1) {
					kind[k] = int8(v)
				}
			}
		}
		var scratch []int32
		for i, k := range dictIndices(a, &scratch) {
			if !a.IsValid(i) {
				continue
			}
			switch kind[k] {
			case 0:
				out[i] = good
			case 1:
				out[i] = bad
			case other:
				invalid(i)
			}
		}
	default: // chooseLabel lets only these types through
		return fmt.Errorf("review: label column %s is of type %s", s.label, a.DataType())
	}
	for _, l := range out {
		switch l {
		case good:
			s.labels.Good++
		case bad:
			s.labels.Bad++
		default:
			s.labels.Unlabelled++
		}
	}
	return nil
}

// rowRef names a row of a run: by its source_row when the run has one,
// else by its place in the run.
type rowRef struct {
	n      int64 // 0: none
	source bool
}

func (r rowRef) String() string {
	if r.source {
		return fmt.Sprintf("source_row %d", r.n)
	}
	return fmt.Sprintf("row %d of features.parquet", r.n)
}

// rowRef returns the reference of row i of the batch being read.
func (s *runScan) rowRef(rec arrow.Record, i int) rowRef {
	if s.rowCol >= 0 {
		if a, ok := rec.Column(s.rowCol).(*array.Int64); ok && a.IsValid(i) {
			return rowRef{n: a.Value(i), source: true}
		}
	}
	return rowRef{n: s.rows + int64(i) + 1}
}

// batch is one record batch as the join sees it: per row its key hash,
// the slots' values and which slots' products answered.
type batch struct {
	scan       *runScan
	rec        arrow.Record
	labels     []int8
	unlabelled []int8
	values     []float32 // row-major: len(slots) per row
	answered   []uint64
	keys       *array.String
	hashes     []xxh3.Uint128
	hasKey     []bool
	colVals    []float32
}

// fill computes the batch's per-row values.
func (b *batch) fill() {
	s := b.scan
	n := int(b.rec.NumRows())
	w := len(s.slots)
	b.values = grow(b.values, n*w)
	b.answered = grow(b.answered, n)
	b.colVals = grow(b.colVals, n)
	for i := range b.answered {
		b.answered[i] = 0
	}
	for k, sl := range s.slots {
		sl.values(b.rec.Column(s.slotCols[k]), b.colVals)
		for i, v := range b.colVals {
			b.values[i*w+k] = v
		}
		if s.slotStat[k] < 0 {
			for i := range b.answered {
				b.answered[i] |= 1 << uint(k)
			}
			continue
		}
		answeredRows(b.rec.Column(s.slotStat[k]), func(i int) { b.answered[i] |= 1 << uint(k) })
	}
	b.keys = b.rec.Column(s.keyCol).(*array.String)
	b.hashes = grow(b.hashes, n)
	b.hasKey = grow(b.hasKey, n)
	for i := range n {
		b.hasKey[i] = b.keys.IsValid(i) && b.keys.Value(i) != ""
		if b.hasKey[i] {
			b.hashes[i] = xxh3.HashString128(b.keys.Value(i))
		} else {
			s.noKey++
		}
	}
}

// sourceRow returns the source_row of row i, or 0.
func (b *batch) sourceRow(i int) int64 {
	if b.scan.rowCol < 0 {
		return 0
	}
	a := b.rec.Column(b.scan.rowCol).(*array.Int64)
	if a.IsNull(i) {
		return 0
	}
	return a.Value(i)
}

// answeredRows calls fn for each row whose status says the vendor
// answered: ok or no_record.
func answeredRows(a arrow.Array, fn func(i int)) {
	answered := func(s string) bool { return s == "ok" || s == "no_record" }
	switch a := a.(type) {
	case *array.Dictionary:
		dict := a.Dictionary().(*array.String)
		yes := make([]bool, dict.Len())
		for i := range yes {
			yes[i] = answered(dict.Value(i))
		}
		var scratch []int32
		for i, k := range dictIndices(a, &scratch) {
			if a.IsValid(i) && yes[k] {
				fn(i)
			}
		}
	case *array.String:
		for i := range a.Len() {
			if a.IsValid(i) && answered(a.Value(i)) {
				fn(i)
			}
		}
	}
}

// batchRows is the number of rows per batch read: the reader's buffers,
// reused from batch to batch, take about 40 bytes per row and column.
const batchRows = 8192
