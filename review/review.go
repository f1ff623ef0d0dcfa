package review

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/rundir"
)

// Output file names beside the workbook.
const (
	FileWorkbook = "review.xlsx"
	FileChanges  = "changes.parquet"
)

// Options say what to review and where to write it.
type Options struct {
	Current  *rundir.Run
	Baseline *rundir.Run // nil: no PSI and no changes
	// Label names the 0/1 label column; "" means DefaultLabel when the run
	// has it (no IV and KS otherwise).
	Label    string
	Rules    *Rules // nil: DefaultRules
	Mappings *mappings.Set
	Alerts   Alerts
	// Out is the workbook's path; review.json (the workbook's name with
	// .json) and changes.parquet are written beside it.
	Out     string
	Version string
	Now     func() time.Time // nil: time.Now
}

// JSONPath returns the path of review.json for a workbook path.
func JSONPath(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out)) + ".json"
}

// ChangesPath returns the path of changes.parquet for a workbook path.
func ChangesPath(out string) string { return filepath.Join(filepath.Dir(out), FileChanges) }

// Run reviews opts.Current (against opts.Baseline, when set) and writes
// the workbook, review.json and, with a baseline, changes.parquet, each
// published whole or not at all. When alerts fired, the files are written
// and the error is an *AlertError.
func Run(ctx context.Context, opts Options) (*Report, error) {
	rep, out, err := compute(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer out.abort()
	if err := out.finishChanges(); err != nil {
		return nil, err
	}
	if err := out.writeJSON(rep); err != nil {
		return nil, err
	}
	if err := out.writeWorkbook(rep); err != nil {
		return nil, err
	}
	if err := out.commit(); err != nil {
		return nil, err
	}
	if len(rep.Alerts) > 0 {
		return rep, &AlertError{Alerts: rep.Alerts}
	}
	return rep, nil
}

// compute reads the runs and works out every figure; the changes are
// written to the temporary changes.parquet as they are found.
func compute(ctx context.Context, opts Options) (*Report, *outputs, error) {
	if opts.Current == nil || opts.Mappings == nil || opts.Out == "" {
		return nil, nil, errors.New("review: Options need Current, Mappings and Out")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	rules := opts.Rules
	if rules == nil {
		rules = DefaultRules()
	}
	if err := opts.Alerts.Validate("alerts."); err != nil {
		return nil, nil, err
	}
	if err := opts.Alerts.CheckRules("alerts.", rules); err != nil {
		return nil, nil, err
	}
	cur := opts.Current
	feats, skipped := discoverFeatures(cur.Schema(), opts.Mappings)
	if len(feats) == 0 {
		return nil, nil, &InputError{Msg: fmt.Sprintf("%s has no column of any catalog (products: %s)", cur.Dir, strings.Join(catalogNames(opts.Mappings), ", "))}
	}
	label, warning, err := chooseLabel(cur, opts.Label)
	if err != nil {
		return nil, nil, err
	}
	rep := &Report{Tool: "scorepipe review", Version: opts.Version, CreatedAt: now().UTC(), Label: label,
		Skipped: skipped, Epsilon: Epsilon, Warnings: []string{}}
	if warning != "" {
		rep.Warnings = append(rep.Warnings, warning)
	}
	curScan := &runScan{run: cur, feats: feats, status: statusColumns(cur.Schema(), opts.Mappings), label: label}

	var (
		baseScan *runScan
		active   []*activeRule
		slots    []*slot
	)
	if opts.Baseline != nil {
		if !opts.Baseline.Schema().HasField(ColumnApplicantKey) || !cur.Schema().HasField(ColumnApplicantKey) {
			return nil, nil, &InputError{Msg: fmt.Sprintf("a review against a baseline joins on %s, which %s or %s lacks", ColumnApplicantKey, cur.Dir, opts.Baseline.Dir)}
		}
		if err := CheckKeys(cur, opts.Baseline); err != nil {
			return nil, nil, err
		}
		baseFeats, _ := discoverFeatures(opts.Baseline.Schema(), opts.Mappings)
		byColumn := map[string]*Feature{}
		for _, f := range baseFeats {
			byColumn[f.Column] = f
		}
		inBase := make([]*Feature, len(feats))
		for i, f := range feats {
			if bf := byColumn[f.Column]; bf != nil && bf.codes() == f.codes() {
				inBase[i] = bf
			}
		}
		active, slots, err = resolveRules(rules, feats, inBase)
		if err != nil {
			return nil, nil, err
		}
		baseScan = &runScan{run: opts.Baseline, feats: inBase, status: statusColumns(opts.Baseline.Schema(), opts.Mappings), slots: slots}
		curScan.slots = slots
	}

	out, err := newOutputs(opts.Out, opts.Baseline != nil)
	if err != nil {
		return nil, nil, err
	}
	ok := false
	defer func() {
		if !ok {
			out.abort()
		}
	}()

	ruleCounts := make([]int64, len(active))
	var applicants *Applicants
	if baseScan != nil {
		layout, err := newLayout(slots)
		if err != nil {
			return nil, nil, &RulesError{File: rules.File, Msg: err.Error()}
		}
		table := newKeyTable(layout, opts.Baseline.Rows)
		err = baseScan.scan(ctx, func(b *batch) error {
			w := len(slots)
			for i := range int(b.rec.NumRows()) {
				if b.hasKey[i] {
					table.add(b.hashes[i], b.values[i*w:(i+1)*w], b.answered[i])
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		newKeys := newKeyTable(tableLayout{}, cur.Rows/16) // applicants not in the baseline
		var curDups int64
		err = curScan.scan(ctx, func(b *batch) error {
			w := len(slots)
			for i := range int(b.rec.NumRows()) {
				if !b.hasKey[i] {
					continue
				}
				h := b.hashes[i]
				idx, found := table.find(h)
				if !found {
					before := newKeys.dups
					newKeys.add(h, nil, 0)
					curDups += newKeys.dups - before
					continue
				}
				if table.seen[idx] {
					curDups++
					continue
				}
				table.seen[idx] = true
				old, oldAns := table.row(idx)
				vals := b.values[i*w : (i+1)*w]
				for r, ar := range active {
					si := ar.fires(slots, old, vals, oldAns, b.answered[i])
					if si < 0 {
						continue
					}
					ruleCounts[r]++
					c := Change{ApplicantKey: strings.Clone(b.keys.Value(i)), SourceRow: b.sourceRow(i), Rule: ar.Name,
						Column: slots[si].feat.Name, Old: slots[si].display(old[si]), New: slots[si].display(vals[si])}
					if err := out.addChange(c); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		both := int64(0)
		for _, s := range table.seen {
			if s {
				both++
			}
		}
		applicants = &Applicants{InBoth: both, New: int64(newKeys.len()), Gone: int64(table.len()) - both,
			Baseline: int64(table.len()), Current: both + int64(newKeys.len()),
			DuplicateRows: curDups, BaselineDuplicateRows: table.dups, RowsWithoutKey: curScan.noKey, BaselineRowsWithoutKey: baseScan.noKey}
	} else if err := curScan.scan(ctx, nil); err != nil {
		return nil, nil, err
	}

	rep.Run = runFacts(cur, curScan.rows)
	if baseScan != nil {
		f := runFacts(opts.Baseline, baseScan.rows)
		rep.Baseline = &f
		rep.Applicants = applicants
	}
	labelled := false
	if label != "" {
		lc := curScan.labels
		rep.LabelCounts = &lc
		rep.Warnings = append(rep.Warnings, labelWarnings(label, lc, curScan.firstInvalid)...)
		labelled = lc.Good+lc.Bad > 0
	}
	rep.Products = outcomes(curScan, baseScan)
	for i, f := range feats {
		var base *hists
		if baseScan != nil && baseScan.feats[i] != nil {
			base = &baseScan.hists[i]
		}
		rep.Features = append(rep.Features, featureReport(f, binFeature(f, curScan.hists[i], base), labelled))
	}
	if baseScan != nil {
		for r, ar := range active {
			rep.Rules = append(rep.Rules, RuleReport{Rule: ar.Rule, Applicants: ruleCounts[r], AbsentColumns: ar.absent})
		}
		for _, r := range rules.Rules { // rules with no column in the runs
			if !slices.ContainsFunc(active, func(a *activeRule) bool { return a.Name == r.Name }) {
				rep.Rules = append(rep.Rules, RuleReport{Rule: r, AbsentColumns: r.Columns, Inactive: true})
			}
		}
		rep.Changes = &ChangesReport{File: filepath.Base(out.changesPath), Rows: out.changes, SheetRows: out.sheetChanges()}
	}
	rep.Alerts = alerts(rep, opts.Alerts)
	ok = true
	return rep, out, nil
}

func catalogNames(set *mappings.Set) []string {
	var names []string
	for p := range set.Catalogs {
		names = append(names, p)
	}
	slices.Sort(names)
	return names
}

// chooseLabel returns the label column: the one asked for (an error when
// the run lacks it), else DefaultLabel when present, else "". A column of
// a type that cannot hold 0 and 1 gives no label and a warning.
func chooseLabel(r *rundir.Run, asked string) (label, warning string, err error) {
	name := asked
	if name == "" {
		name = DefaultLabel
	}
	f, ok := r.Field(name)
	switch {
	case !ok && asked != "":
		return "", "", &InputError{Msg: fmt.Sprintf("%s has no label column %q", r.Dir, asked)}
	case !ok:
		return "", "", nil
	}
	switch f.Type.ID() {
	case arrow.INT64, arrow.FLOAT64, arrow.STRING:
		return name, "", nil
	}
	return "", fmt.Sprintf("label column %s is of type %s, which holds no 0 (good) and 1 (bad): no IV and KS", name, f.Type), nil
}

// labelWarnings say what the label column held that the review could not
// use: values other than 0, 1 and empty, or no 0 and 1 at all. They name
// rows and counts, never a value.
func labelWarnings(label string, lc LabelCounts, first rowRef) []string {
	var out []string
	if lc.Invalid > 0 {
		out = append(out, fmt.Sprintf("label column %s: %d rows hold a value other than 0 (good), 1 (bad) or empty, the first at %s: they are left out of IV and KS",
			label, lc.Invalid, first))
	}
	if lc.Good+lc.Bad == 0 {
		out = append(out, fmt.Sprintf("label column %s holds no 0 (good) or 1 (bad): no IV and KS", label))
	}
	return out
}

// resolveRules finds each rule's columns among the features present in
// both runs and gives every feature a rule reads a slot. A rule none of
// whose columns both runs have is left out (and reported as inactive).
func resolveRules(rules *Rules, feats, inBase []*Feature) ([]*activeRule, []*slot, error) {
	var (
		active []*activeRule
		slots  []*slot
	)
	slotOf := map[string]int{}
	for _, r := range rules.Rules {
		ar := &activeRule{Rule: r}
		for _, col := range r.Columns {
			fi := slices.IndexFunc(feats, func(f *Feature) bool { return f.Name == col || f.Column == col })
			if fi < 0 || inBase[fi] == nil {
				ar.absent = append(ar.absent, col)
				continue
			}
			f := feats[fi]
			if r.When != WhenBecame && f.Type == mappings.Text {
				return nil, nil, &RulesError{File: rules.File, Line: r.Line,
					Msg: fmt.Sprintf("rule %s: column %s holds text, which has no order: use when: became", r.Name, col)}
			}
			si, ok := slotOf[f.Column]
			if !ok {
				if len(slots) == 64 {
					return nil, nil, &RulesError{File: rules.File, Line: r.Line, Msg: "the rules read more than 64 columns"}
				}
				si = len(slots)
				slotOf[f.Column] = si
				slots = append(slots, newSlot(f))
			}
			ar.slots = append(ar.slots, si)
			var nums []float64
			for _, v := range r.Values {
				if x, err := parseNumber(v); err == nil {
					nums = append(nums, x)
				} else if !f.codes() {
					return nil, nil, &RulesError{File: rules.File, Line: r.Line,
						Msg: fmt.Sprintf("rule %s: value %q is not a number, and column %s holds numbers", r.Name, v, col)}
				}
			}
			ar.values = append(ar.values, r.Values)
			ar.numbers = append(ar.numbers, nums)
		}
		if len(ar.slots) > 0 {
			active = append(active, ar)
		}
	}
	return active, slots, nil
}

// runFacts are a run's directory, rows and manifest facts.
func runFacts(r *rundir.Run, rows int64) RunFacts {
	f := RunFacts{Dir: r.Dir, Rows: rows}
	if r.Manifest != nil {
		for _, x := range r.Manifest.Facts() {
			f.Manifest = append(f.Manifest, ManifestFact{Path: x.Path, Value: x.Value})
		}
	}
	return f
}

// outcomes counts the status columns of both runs.
func outcomes(cur, base *runScan) []ProductOutcome {
	var out []ProductOutcome
	for i, st := range cur.status {
		p := ProductOutcome{Product: st.Product, Sub: st.Sub, Column: st.Column, Now: outcomeOf(cur.outcomes[i])}
		if base != nil {
			for j, bs := range base.status {
				if bs.Column == st.Column {
					o := outcomeOf(base.outcomes[j])
					p.Baseline = &o
				}
			}
		}
		out = append(out, p)
	}
	return out
}

func outcomeOf(h *codeHist) Outcome {
	o := Outcome{Missing: h.missing.n}
	for i, code := range h.codes {
		n := h.counts[i].n
		switch code {
		case "ok":
			o.OK = n
		case "no_record":
			o.NoRecord = n
		case "failed":
			o.Failed = n
		case "skipped":
			o.Skipped = n
		default:
			o.Other += n
		}
	}
	o.HitRate = num(share(o.OK, o.OK+o.NoRecord))
	if o.OK+o.NoRecord == 0 {
		o.HitRate = nil
	}
	return o
}

// featureReport works out a feature's figures from its bins.
func featureReport(f *Feature, b binned, labelled bool) FeatureReport {
	fr := FeatureReport{Name: f.Name, Column: f.Column, Product: f.Product, Sub: f.Sub, Type: string(f.Type),
		DescriptionZH: f.ZH, DescriptionEN: f.EN, InBaseline: b.base != nil}
	n := len(b.labels)
	curN := make([]int64, n)
	goods, bads := make([]int64, n), make([]int64, n)
	var baseN []int64
	for i, c := range b.cur {
		curN[i], goods[i], bads[i] = c.n, c.good, c.bad
		fr.Rows += c.n
	}
	fr.Coverage = num(share(fr.Rows-b.cur[0].n, fr.Rows))
	if fr.Rows == 0 {
		fr.Coverage = nil
	}
	var psiTerms []float64
	if b.base != nil {
		baseN = make([]int64, n)
		var total int64
		for i, c := range b.base {
			baseN[i] = c.n
			total += c.n
		}
		fr.BaselineRows = &total
		if total > 0 {
			fr.BaselineCoverage = num(share(total-b.base[0].n, total))
		}
		fr.PSI = num(PSI(baseN, curN))
		fr.PSIBand = PSIBand(PSI(baseN, curN))
		psiTerms = PSITerms(baseN, curN)
	}
	var woe []float64
	if labelled {
		fr.IV = num(IV(goods, bads))
		fr.IVBand = IVBand(IV(goods, bads))
		fr.KS = num(KS(goods, bads))
		woe = WoE(goods, bads)
	}
	for i, l := range b.labels {
		br := BinReport{Label: l, Count: curN[i], Share: share(curN[i], fr.Rows)}
		if baseN != nil {
			bc := baseN[i]
			br.BaselineCount = &bc
			br.BaselineShare = num(share(bc, *fr.BaselineRows))
			br.PSITerm = num(psiTerms[i])
		}
		if labelled {
			g, bd := goods[i], bads[i]
			br.Goods, br.Bads = &g, &bd
			if g+bd > 0 {
				br.BadRate = num(share(bd, g+bd))
			}
			br.WoE = num(woe[i])
		}
		fr.Bins = append(fr.Bins, br)
	}
	return fr
}

// alerts checks the thresholds.
func alerts(rep *Report, a Alerts) []Alert {
	var out []Alert
	if a.PSI > 0 {
		for _, f := range rep.Features {
			if f.PSI != nil && *f.PSI > a.PSI {
				out = append(out, Alert{Kind: "psi", Subject: f.Name, Value: *f.PSI, Threshold: a.PSI,
					Message: fmt.Sprintf("PSI of %s is %.4f, above %g", f.Name, *f.PSI, a.PSI)})
			}
		}
	}
	for _, r := range rep.Rules {
		if limit, ok := a.Changes[r.Name]; ok && r.Applicants > limit {
			out = append(out, Alert{Kind: "changes", Subject: r.Name, Value: float64(r.Applicants), Threshold: float64(limit),
				Message: fmt.Sprintf("%d applicants under change rule %s, more than %d", r.Applicants, r.Name, limit)})
		}
	}
	slices.SortStableFunc(out, func(x, y Alert) int { return cmp.Compare(x.Kind, y.Kind) })
	return out
}

// num returns a pointer to x, or nil for NaN (JSON has no NaN).
func num(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func parseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return 0, errors.New("not a finite number")
	}
	return f, err
}
