package review

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// book makes n applicants; value(i) gives each one's columns.
func book(n int, value func(i int) map[string]any) []map[string]any {
	rows := make([]map[string]any, n)
	for i := range rows {
		r := map[string]any{"applicant_key": fmt.Sprintf("key-%05d", i)}
		for k, v := range value(i) {
			r[k] = v
		}
		rows[i] = r
	}
	return rows
}

func featureByName(t *testing.T, rep *Report, name string) FeatureReport {
	t.Helper()
	for _, f := range rep.Features {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no feature %s", name)
	return FeatureReport{}
}

func TestFiguresOverBins(t *testing.T) {
	set := testMappings(t)
	dir := t.TempDir()
	// Baseline: xyp_cpl0001 codes 1,1,2,3 repeated; now: 1,2,2,3 and one
	// missing in five. Label: bad when code 3.
	codes := func(pattern []any) func(i int) map[string]any {
		return func(i int) map[string]any {
			c := pattern[i%len(pattern)]
			label := 0
			if c == "3" {
				label = 1
			}
			return map[string]any{"xyp_cpl0001_code": c, "label": label, "dwbg8b4d_fraud_score": float64(i % 100)}
		}
	}
	base := writeRun(t, filepath.Join(dir, "old"), set, book(400, codes([]any{"1", "1", "2", "3"})))
	cur := writeRun(t, filepath.Join(dir, "new"), set, book(500, codes([]any{"1", "2", "2", "3", nil})))
	rep, _, err := review(t, cur, base, set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := featureByName(t, rep, "xyp_cpl0001")
	var labels []string
	var counts, baseCounts []int64
	for _, b := range f.Bins {
		labels = append(labels, b.Label)
		counts = append(counts, b.Count)
		baseCounts = append(baseCounts, *b.BaselineCount)
	}
	wantLabels := []string{"missing"} // the table's codes with their ranges, in order
	for _, e := range set.Tables["jrzq9e2a_count"].Entries {
		wantLabels = append(wantLabels, e.Code+" "+e.Interval.String())
	}
	if !slices.Equal(labels, wantLabels) {
		t.Errorf("bins = %q, want %q", labels, wantLabels)
	}
	if want := []int64{100, 100, 200, 100, 0, 0, 0}; !slices.Equal(counts, want) {
		t.Errorf("counts = %v, want %v", counts, want)
	}
	if want := []int64{0, 200, 100, 100, 0, 0, 0}; !slices.Equal(baseCounts, want) {
		t.Errorf("baseline counts = %v, want %v", baseCounts, want)
	}
	if *f.Coverage != 0.8 || *f.BaselineCoverage != 1 {
		t.Errorf("coverage %v, baseline %v, want 0.8 and 1", *f.Coverage, *f.BaselineCoverage)
	}
	// The report's figures are those of the formulas over these bins.
	wantPSI := PSI(baseCounts, counts)
	if !near(*f.PSI, wantPSI) || f.PSIBand != PSIBand(wantPSI) {
		t.Errorf("PSI = %v (%s), want %v", *f.PSI, f.PSIBand, wantPSI)
	}
	// Goods and bads: label 1 exactly in bin 3; the missing rows are good.
	goods := []int64{100, 100, 200, 0, 0, 0, 0}
	bads := []int64{0, 0, 0, 100, 0, 0, 0}
	if !near(*f.IV, IV(goods, bads)) || !near(*f.KS, 1) {
		t.Errorf("IV %v KS %v, want %v and 1", *f.IV, *f.KS, IV(goods, bads))
	}
	if f.IVBand != "suspicious" {
		t.Errorf("IV band %q, want suspicious (the label is the feature)", f.IVBand)
	}
	if r := f.Bins[3].BadRate; r == nil || *r != 1 {
		t.Errorf("bad rate of bin 3 = %v, want 1", r)
	}
	// A number: deciles of the baseline (0..99 four times), shared by both runs.
	fs := featureByName(t, rep, "dwbg8b4d_fraud_score")
	if len(fs.Bins) != 11 || fs.Bins[1].Label != "(-∞,9]" || fs.Bins[10].Label != "(89,+∞)" {
		t.Errorf("fraud score bins: %d, first %q, last %q; want missing + 10 deciles of the baseline", len(fs.Bins), fs.Bins[1].Label, fs.Bins[10].Label)
	}
	if *fs.Bins[1].BaselineCount != 40 || fs.Bins[1].Count != 50 {
		t.Errorf("first decile: %d now, %d baseline; want 50 and 40", fs.Bins[1].Count, *fs.Bins[1].BaselineCount)
	}
}

func TestAlerts(t *testing.T) {
	set := testMappings(t)
	dir := t.TempDir()
	base := writeRun(t, filepath.Join(dir, "old"), set, book(100, func(i int) map[string]any {
		return map[string]any{"xyp_cpl0044": 0, "dwbg8b4d_fraud_score": float64(i)}
	}))
	cur := writeRun(t, filepath.Join(dir, "new"), set, book(100, func(i int) map[string]any {
		return map[string]any{"xyp_cpl0044": i % 2, "dwbg8b4d_fraud_score": float64(i)}
	}))
	tests := []struct {
		name   string
		alerts Alerts
		want   []string
	}{
		{"none set", Alerts{}, nil},
		{"psi", Alerts{PSI: 0.25}, []string{"psi xyp_cpl0044"}},
		{"changes above", Alerts{Changes: map[string]int64{"became_overdue": 49}}, []string{"changes became_overdue"}},
		{"changes at the limit", Alerts{Changes: map[string]int64{"became_overdue": 50}}, nil},
		{"both", Alerts{PSI: 0.25, Changes: map[string]int64{"became_overdue": 0, "fraud_score_up": 0}}, []string{"changes became_overdue", "psi xyp_cpl0044"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "r.xlsx")
			rep, _, err := review(t, cur, base, set, Options{Alerts: tt.alerts, Out: out})
			if (err != nil) != (len(tt.want) > 0) || err != nil && !isAlert(err) {
				t.Fatalf("error %v, want alerts %v", err, tt.want)
			}
			var got []string
			for _, a := range rep.Alerts {
				got = append(got, a.Kind+" "+a.Subject)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("alerts = %v, want %v", got, tt.want)
			}
			var onDisk Report
			data, err := os.ReadFile(JSONPath(out))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &onDisk); err != nil {
				t.Fatal(err)
			}
			if len(onDisk.Alerts) != len(tt.want) {
				t.Errorf("review.json lists %d alerts, want %d", len(onDisk.Alerts), len(tt.want))
			}
		})
	}
	t.Run("alert on an unknown rule", func(t *testing.T) {
		_, _, err := review(t, cur, base, set, Options{Alerts: Alerts{Changes: map[string]int64{"became_overdu": 1}}})
		var fe *FieldError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "became_overdu") {
			t.Errorf("error %v, want one naming the unknown rule", err)
		}
	})
}

func TestLabel(t *testing.T) {
	set := testMappings(t)
	dir := t.TempDir()
	run := writeRun(t, filepath.Join(dir, "r"), set, book(10, func(i int) map[string]any {
		return map[string]any{"label": []any{0, 1, nil}[i%3], "xyp_cpl0044": i % 2}
	}))
	rep, _, err := review(t, run, nil, set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (LabelCounts{Good: 4, Bad: 3, Unlabelled: 3}); rep.Label != "label" || *rep.LabelCounts != want {
		t.Errorf("label %q %+v, want label %+v", rep.Label, rep.LabelCounts, want)
	}
	for _, tc := range []struct {
		name     string
		label    func(i int) any
		want     LabelCounts
		warnings []string // parts of the warnings, in order
		ivks     bool
	}{
		{"values other than 0 and 1", func(i int) any { return i }, LabelCounts{Good: 1, Bad: 1, Unlabelled: 3, Invalid: 3},
			[]string{"label column label: 3 rows hold a value other than 0 (good), 1 (bad) or empty, the first at source_row 4"}, true},
		{"no 0 or 1 at all", func(i int) any { return 7 }, LabelCounts{Unlabelled: 5, Invalid: 5},
			[]string{"5 rows hold a value other than", "the first at source_row 2", "label column label holds no 0 (good) or 1 (bad): no IV and KS"}, false},
		{"empty", func(i int) any { return nil }, LabelCounts{Unlabelled: 5},
			[]string{"label column label holds no 0 (good) or 1 (bad): no IV and KS"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := writeRun(t, filepath.Join(t.TempDir(), "r"), set, book(5, func(i int) map[string]any {
				return map[string]any{"label": tc.label(i), "xyp_cpl0044": i % 2}
			}))
			rep, _, err := review(t, r, nil, set, Options{})
			if err != nil {
				t.Fatalf("got error %v, want a review with warnings", err)
			}
			if *rep.LabelCounts != tc.want {
				t.Errorf("label counts %+v, want %+v", *rep.LabelCounts, tc.want)
			}
			all := strings.Join(rep.Warnings, "\n")
			at := 0
			for _, w := range tc.warnings {
				i := strings.Index(all[at:], w)
				if i < 0 {
					t.Errorf("warnings %q, want %q (in order)", rep.Warnings, w)
					break
				}
				at += i + len(w)
			}
			if got := rep.Features[0].IV != nil; got != tc.ivks {
				t.Errorf("IV of %s given: %v, want %v", rep.Features[0].Name, got, tc.ivks)
			}
		})
	}
	if _, _, err := review(t, run, nil, set, Options{Label: "target"}); err == nil || !strings.Contains(err.Error(), `no label column "target"`) {
		t.Errorf("error %v, want one naming the missing label column", err)
	}
}

// TestWorkbook checks review.xlsx as another reader sees it: the sheets,
// a chart on each, a declared dimension that matches the rows, a frozen
// header and an autofilter.
func TestWorkbook(t *testing.T) {
	set := testMappings(t)
	dir := t.TempDir()
	mk := func(name string, shift int) []map[string]any {
		return book(300, func(i int) map[string]any {
			return map[string]any{"xyp_cpl0044": (i + shift) % 3 / 2, "label": i % 4 / 3, "xyp_cpl0001_code": strconv.Itoa(1 + (i+shift)%6),
				"dwbg8b4d_credit_score": float64(300 + (i*7+shift)%700)}
		})
	}
	base := writeRun(t, filepath.Join(dir, "old"), set, mk("old", 0))
	cur := writeRun(t, filepath.Join(dir, "new"), set, mk("new", 1))
	for _, tt := range []struct {
		name   string
		base   bool
		sheets []string
	}{
		{"with a baseline", true, []string{SheetSummary, SheetFeatures, SheetDistributions, SheetPSI, SheetIV, SheetChanges}},
		{"alone", false, []string{SheetSummary, SheetFeatures, SheetDistributions, SheetIV}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "review.xlsx")
			var b = base
			if !tt.base {
				b = nil
			}
			rep, _, err := review(t, cur, b, set, Options{Out: out})
			if err != nil {
				t.Fatal(err)
			}
			parts := readZip(t, out)
			sheets := regexp.MustCompile(`<sheet name="([^"]+)" sheetId="\d+" r:id="rId(\d+)"`).FindAllStringSubmatch(parts["xl/workbook.xml"], -1)
			var names []string
			for _, s := range sheets {
				names = append(names, s[1])
				target := regexp.MustCompile(`Id="rId` + s[2] + `" Target="/?(?:xl/)?([^"]+)"`).FindStringSubmatch(parts["xl/_rels/workbook.xml.rels"])
				xml := parts["xl/"+target[1]]
				dim := regexp.MustCompile(`<dimension ref="A1:([A-Z]+)(\d+)"`).FindStringSubmatch(xml)
				rows := regexp.MustCompile(`<row r="(\d+)"`).FindAllStringSubmatch(xml, -1)
				if dim == nil || len(rows) == 0 {
					t.Fatalf("sheet %s: dimension %v, %d rows", s[1], dim, len(rows))
				}
				if last := rows[len(rows)-1][1]; dim[2] != last {
					t.Errorf("sheet %s: declared dimension ends at row %s, the last row is %s", s[1], dim[2], last)
				}
				if !strings.Contains(xml, `state="frozen"`) || !strings.Contains(xml, "<autoFilter") {
					t.Errorf("sheet %s: header not frozen or no autofilter", s[1])
				}
				rels := parts["xl/worksheets/_rels/"+filepath.Base(target[1])+".rels"]
				charts := 0
				for _, d := range regexp.MustCompile(`drawings/(drawing\d+\.xml)`).FindAllStringSubmatch(rels, -1) {
					charts += strings.Count(parts["xl/drawings/_rels/"+d[1]+".rels"], "charts/chart")
				}
				if charts == 0 {
					t.Errorf("sheet %s has no chart", s[1])
				}
				if s[1] == SheetDistributions && charts != len(rep.Features) {
					t.Errorf("distributions: %d charts, want one per feature (%d)", charts, len(rep.Features))
				}
			}
			if !slices.Equal(names, tt.sheets) {
				t.Errorf("sheets = %v, want %v", names, tt.sheets)
			}
		})
	}
}

func readZip(t *testing.T, path string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		out[f.Name] = b.String()
	}
	return out
}

func TestNothingLeftOnError(t *testing.T) {
	set := testMappings(t)
	dir := t.TempDir()
	cur := writeRun(t, filepath.Join(dir, "cur"), set, book(5, func(i int) map[string]any { return nil }))
	base := writeRun(t, filepath.Join(dir, "old"), set, book(5, func(i int) map[string]any { return nil }))
	outDir := t.TempDir()
	_, _, err := review(t, cur, base, set, Options{Label: "target", Out: filepath.Join(outDir, "review.xlsx")})
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("got error %v, want an InputError for a label column the run lacks", err)
	}
	entries, _ := os.ReadDir(outDir)
	if len(entries) != 0 {
		t.Errorf("files left after a failed review: %v", entries)
	}
}
