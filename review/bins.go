package review

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/scorepipe/scorepipe/mappings"
)

// MissingBin is the label of the bin of null values; it is always the
// first bin.
const MissingBin = "missing"

// OtherBin is the label of the bin of a text feature's values past the
// first maxTextCodes distinct ones.
const OtherBin = "(other)"

// binned is a feature's counts over its bins in one or two runs.
type binned struct {
	labels []string
	cur    []counter
	base   []counter // nil without a baseline
}

// hists are a feature's counts in one run: one of them is set.
type hists struct {
	codes *codeHist
	nums  *numHist
}

func newHists(f *Feature) hists {
	if f.codes() {
		limit := 0
		if f.Type == mappings.Text {
			limit = maxTextCodes
		}
		return hists{codes: newCodeHist(limit)}
	}
	return hists{nums: newNumHist()}
}

func (h hists) missing() counter {
	if h.codes != nil {
		return h.codes.missing
	}
	return h.nums.missing
}

// binFeature puts the counts of cur (and base, when not nil) into the
// feature's bins: codes by the vendor's table (or one bin per code seen),
// flags and enums one bin per value, numbers by the deciles of base (or of
// cur without a baseline). Missing is the first bin.
func binFeature(f *Feature, cur hists, base *hists) binned {
	b := binned{labels: []string{MissingBin}, cur: []counter{cur.missing()}}
	if base != nil {
		b.base = []counter{base.missing()}
	}
	addBin := func(label string, c, bc counter) {
		b.labels = append(b.labels, label)
		b.cur = append(b.cur, c)
		if base != nil {
			b.base = append(b.base, bc)
		}
	}
	switch {
	case f.codes():
		codes := codeOrder(f, cur.codes, baseCodes(base))
		for _, code := range codes {
			var bc counter
			if base != nil {
				bc = base.codes.count(code.code)
			}
			addBin(code.label, cur.codes.count(code.code), bc)
		}
		if cur.codes.other.n > 0 || base != nil && base.codes.other.n > 0 {
			var bc counter
			if base != nil {
				bc = base.codes.other
			}
			addBin(OtherBin, cur.codes.other, bc)
		}
	case f.categorical():
		curVals := valueMap(cur.nums)
		var baseVals map[float64]counter
		if base != nil {
			baseVals = valueMap(base.nums)
		}
		for _, v := range valueOrder(f, curVals, baseVals) {
			addBin(v.label, curVals[v.v], baseVals[v.v])
		}
	default:
		ref := cur.nums.sorted()
		var baseSorted []valueCount
		if base != nil {
			baseSorted = base.nums.sorted()
			ref = baseSorted
		}
		cuts := deciles(ref)
		curBins := make([]counter, len(cuts)+1)
		for _, vc := range cur.nums.sorted() {
			curBins[binOf(cuts, vc.v)].merge(vc.c)
		}
		baseBins := make([]counter, len(cuts)+1)
		for _, vc := range baseSorted {
			baseBins[binOf(cuts, vc.v)].merge(vc.c)
		}
		for i := range curBins {
			lo, hi := math.Inf(-1), math.Inf(1)
			if i > 0 {
				lo = cuts[i-1]
			}
			if i < len(cuts) {
				hi = cuts[i]
			}
			addBin(rangeLabel(lo, hi), curBins[i], baseBins[i])
		}
	}
	return b
}

func baseCodes(base *hists) *codeHist {
	if base == nil {
		return nil
	}
	return base.codes
}

// rangeLabel writes the bin (lo, hi].
func rangeLabel(lo, hi float64) string {
	r := "]"
	if math.IsInf(hi, 1) {
		r = ")"
	}
	return "(" + formatNumber(lo) + "," + formatNumber(hi) + r
}

func formatNumber(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+∞"
	case math.IsInf(v, -1):
		return "-∞"
	}
	if s := strconv.FormatFloat(v, 'f', -1, 64); len(s) <= 16 {
		return s
	}
	return strconv.FormatFloat(v, 'g', 10, 64)
}

// labelledCode is a code and the label of its bin.
type labelledCode struct{ code, label string }

// codeOrder returns the bins of a code feature: an interval table's codes
// in the order of their ranges, then codes seen that the table lacks;
// without a table, the codes seen in either run, intervals in the order of
// their ranges, other text in string order.
func codeOrder(f *Feature, cur, base *codeHist) []labelledCode {
	seen := map[string]bool{}
	var out []labelledCode
	if t := f.field.Lookup(); t != nil && t.Kind == mappings.IntervalTable {
		for _, e := range sortedEntries(t) {
			out = append(out, labelledCode{e.Code, e.Code + " " + e.Interval.String()})
			seen[e.Code] = true
		}
	}
	var extra []string
	for _, h := range []*codeHist{cur, base} {
		if h == nil {
			continue
		}
		for _, c := range h.codes {
			if !seen[c] {
				seen[c] = true
				extra = append(extra, c)
			}
		}
	}
	sortCodes(f.Type, extra)
	inTable := f.field.Lookup() != nil
	for _, c := range extra {
		label := c
		if inTable {
			label = c + " (not in table)"
		}
		out = append(out, labelledCode{c, label})
	}
	return out
}

// sortedEntries returns an interval table's entries in the order of their
// ranges.
func sortedEntries(t *mappings.Table) []mappings.Entry {
	es := slices.Clone(t.Entries)
	slices.SortStableFunc(es, func(a, b mappings.Entry) int { return compareIntervals(a.Interval, b.Interval) })
	return es
}

func compareIntervals(a, b mappings.Interval) int {
	if c := cmp.Compare(a.Low, b.Low); c != 0 {
		return c
	}
	if a.LowOpen != b.LowOpen { // [x before (x
		if a.LowOpen {
			return 1
		}
		return -1
	}
	return cmp.Compare(a.High, b.High)
}

// sortCodes orders codes without a table: intervals written out by their
// ranges, before anything that does not read as an interval, in string
// order.
func sortCodes(t mappings.FieldType, codes []string) {
	if t != mappings.IntervalText && t != mappings.IntervalCode {
		slices.Sort(codes)
		return
	}
	slices.SortStableFunc(codes, func(a, b string) int {
		ia, oka, _ := mappings.ParseInterval(a)
		ib, okb, _ := mappings.ParseInterval(b)
		switch {
		case oka && okb:
			if c := compareIntervals(ia, ib); c != 0 {
				return c
			}
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a, b)
	})
}

func valueMap(h *numHist) map[float64]counter {
	out := map[float64]counter{}
	for _, vc := range h.sorted() {
		out[vc.v] = vc.c
	}
	return out
}

// labelledValue is a value of a flag or enum column and its bin's label.
type labelledValue struct {
	v     float64
	label string
}

// valueOrder returns the bins of a flag or enum feature: an enum table's
// values (labelled with their codes) and the values seen, ascending; a
// flag's 0 and 1 and any other value seen.
func valueOrder(f *Feature, cur, base map[float64]counter) []labelledValue {
	labels := map[float64]string{}
	if t := f.field.Lookup(); t != nil && t.Kind == mappings.EnumTable {
		for _, e := range t.Entries {
			v := float64(e.Value)
			if l, ok := labels[v]; ok {
				labels[v] = l + "/" + e.Code
			} else {
				labels[v] = formatNumber(v) + " " + e.Code
			}
		}
	}
	if f.Type == mappings.Flag {
		labels[0], labels[1] = "0", "1"
	}
	notInTable := f.field.Lookup() != nil
	for _, m := range []map[float64]counter{cur, base} {
		for v := range m {
			if _, ok := labels[v]; !ok {
				labels[v] = formatNumber(v)
				if notInTable {
					labels[v] += " (not in table)"
				}
			}
		}
	}
	out := make([]labelledValue, 0, len(labels))
	for v, l := range labels {
		out = append(out, labelledValue{v, l})
	}
	slices.SortFunc(out, func(a, b labelledValue) int { return cmp.Compare(a.v, b.v) })
	return out
}
