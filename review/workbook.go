package review

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/scorepipe/scorepipe/sinks"
	"github.com/xuri/excelize/v2"
)

// Sheet names of review.xlsx.
const (
	SheetSummary       = "summary"
	SheetFeatures      = "features"
	SheetDistributions = "distributions"
	SheetPSI           = "psi"
	SheetIV            = "iv"
	SheetChanges       = "changes"
)

// workbook builds review.xlsx with excelize: one table per sheet, header
// row bold and frozen, an autofilter over the table, column widths from
// the content, and native charts beside the tables.
type workbook struct {
	f               *excelize.File
	bold, pct, dec4 int
	bandStyles      map[string]int
}

func buildWorkbook(w io.Writer, rep *Report, changes func(func(Change) error) error) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	wb := &workbook{f: f}
	if err := wb.styles(); err != nil {
		return err
	}
	sheets := []string{SheetSummary, SheetFeatures, SheetDistributions}
	if rep.Baseline != nil {
		sheets = append(sheets, SheetPSI)
	}
	if rep.labelled() {
		sheets = append(sheets, SheetIV)
	}
	if rep.Changes != nil {
		sheets = append(sheets, SheetChanges)
	}
	if err := f.SetSheetName(f.GetSheetName(0), sheets[0]); err != nil {
		return err
	}
	for _, s := range sheets[1:] {
		if _, err := f.NewSheet(s); err != nil {
			return err
		}
	}
	f.SetActiveSheet(0)
	steps := []func(*Report) error{wb.summary, wb.features, wb.distributions}
	if rep.Baseline != nil {
		steps = append(steps, wb.psi)
	}
	if rep.labelled() {
		steps = append(steps, wb.iv)
	}
	for _, step := range steps {
		if err := step(rep); err != nil {
			return err
		}
	}
	if rep.Changes != nil {
		if err := wb.changes(rep, changes); err != nil {
			return err
		}
	}
	return f.Write(w)
}

func (wb *workbook) styles() error {
	var err error
	mk := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = wb.f.NewStyle(s)
		return id
	}
	fill := func(color string) excelize.Fill {
		return excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{color}}
	}
	dec4 := "0.0000"
	wb.bold = mk(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: fill("DDEBF7")})
	wb.pct = mk(&excelize.Style{NumFmt: 10})
	wb.dec4 = mk(&excelize.Style{CustomNumFmt: &dec4})
	wb.bandStyles = map[string]int{
		"stable": mk(&excelize.Style{Fill: fill("C6EFCE")}), "watch": mk(&excelize.Style{Fill: fill("FFEB9C")}),
		"shift": mk(&excelize.Style{Fill: fill("FFC7CE")}), "useless": mk(&excelize.Style{Fill: fill("EDEDED")}),
		"weak": mk(&excelize.Style{Fill: fill("FFF2CC")}), "medium": mk(&excelize.Style{Fill: fill("E2EFDA")}),
		"strong": mk(&excelize.Style{Fill: fill("C6EFCE")}), "suspicious": mk(&excelize.Style{Fill: fill("FFC7CE")}),
	}
	return err
}

// table is one sheet's table: a header and rows of cells (nil for empty).
type table struct {
	sheet  string
	header []string
	rows   [][]any
	styles map[int]int // column → style of its data cells
}

// write puts the table at A1 with a frozen bold header, an autofilter,
// widths from the content and the declared dimension.
func (wb *workbook) write(t *table) error {
	f := wb.f
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = sinks.DisplayWidth(h) + 2
	}
	header := make([]any, len(t.header))
	for i, h := range t.header {
		header[i] = h
	}
	if err := f.SetSheetRow(t.sheet, "A1", &header); err != nil {
		return err
	}
	for r, row := range t.rows {
		for i, v := range row {
			widths[i] = max(widths[i], cellWidth(v))
		}
		if err := f.SetSheetRow(t.sheet, "A"+strconv.Itoa(r+2), &row); err != nil {
			return err
		}
	}
	last := colName(len(t.header))
	n := len(t.rows) + 1
	if err := f.SetCellStyle(t.sheet, "A1", last+"1", wb.bold); err != nil {
		return err
	}
	for col, style := range t.styles {
		if len(t.rows) > 0 {
			c := colName(col + 1)
			if err := f.SetCellStyle(t.sheet, c+"2", c+strconv.Itoa(n), style); err != nil {
				return err
			}
		}
	}
	for i, w := range widths {
		c := colName(i + 1)
		if err := f.SetColWidth(t.sheet, c, c, float64(min(max(w, 8), 60))); err != nil {
			return err
		}
	}
	if err := freezeHeader(f, t.sheet); err != nil {
		return err
	}
	if err := f.AutoFilter(t.sheet, "A1:"+last+strconv.Itoa(n), nil); err != nil {
		return err
	}
	return f.SetSheetDimension(t.sheet, "A1:"+last+strconv.Itoa(n))
}

func freezeHeader(f *excelize.File, sheet string) error {
	return f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}}})
}

func colName(n int) string {
	s, _ := excelize.ColumnNumberToName(n)
	return s
}

func cellWidth(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		return sinks.DisplayWidth(x) + 1
	case float64:
		return 10
	default:
		return len(fmt.Sprint(x)) + 1
	}
}

// cell turns an optional number into a cell value.
func cell[T int64 | float64](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func ref(sheet, col string, from, to int) string {
	return fmt.Sprintf("'%s'!$%s$%d:$%s$%d", sheet, col, from, col, to)
}

// chart adds a chart with its top-left corner at cell.
// A chart of one series has no legend.
func (wb *workbook) chart(sheet, cell, title string, typ excelize.ChartType, series []excelize.ChartSeries, width, height uint) error {
	legend := excelize.ChartLegend{Position: "bottom"}
	if len(series) == 1 {
		legend.Position = "none"
	}
	vary := false
	return wb.f.AddChart(sheet, cell, &excelize.Chart{
		Type:       typ,
		Series:     series,
		VaryColors: &vary,
		Title:      excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: title}}},
		Legend:     legend,
		Dimension:  excelize.ChartDimension{Width: width, Height: height},
		Format:     excelize.GraphicOptions{OffsetX: 10, OffsetY: 5},
	})
}

// summary: one table of facts, section by section, the two runs side by
// side; charts of the hit rates and of the changes per rule.
func (wb *workbook) summary(rep *Report) error {
	t := &table{sheet: SheetSummary, header: []string{"section", "item", "baseline", "now", "note"},
		styles: map[int]int{}}
	add := func(section, item string, base, now any, note string) int {
		var n any
		if note != "" {
			n = note
		}
		t.rows = append(t.rows, []any{section, item, base, now, n})
		return len(t.rows) + 1 // sheet row
	}
	var baseDir any
	if rep.Baseline != nil {
		baseDir = rep.Baseline.Dir
	}
	add("run", "directory", baseDir, rep.Run.Dir, "")
	add("run", "reviewed at", nil, rep.CreatedAt.Format("2006-01-02 15:04:05 UTC"), rep.Tool+" "+rep.Version)
	var baseRows any
	if rep.Baseline != nil {
		baseRows = rep.Baseline.Rows
	}
	add("run", "rows reviewed", baseRows, rep.Run.Rows, "rows of features.parquet")
	if a := rep.Applicants; a != nil {
		add("applicants", "distinct applicant keys", a.Baseline, a.Current, "")
		add("applicants", "in both runs", nil, a.InBoth, "joined on applicant_key")
		add("applicants", "new", nil, a.New, "in this run only")
		add("applicants", "gone", nil, a.Gone, "in the baseline only")
		add("applicants", "duplicate rows", a.BaselineDuplicateRows, a.DuplicateRows, "rows whose applicant an earlier row had; the first row counts")
	}
	if rep.LabelCounts != nil {
		lc := rep.LabelCounts
		add("label", "column", nil, rep.Label, "0 good, 1 bad")
		add("label", "good (0)", nil, lc.Good, "")
		add("label", "bad (1)", nil, lc.Bad, "")
		add("label", "unlabelled", nil, lc.Unlabelled, "empty, or invalid")
		add("label", "invalid", nil, lc.Invalid, "neither 0, 1 nor empty: left out of IV and KS")
	}
	for _, w := range rep.Warnings {
		add("warning", "", nil, nil, w)
	}
	for _, p := range rep.Products {
		name := p.Product
		if p.Sub != "" {
			name += "/" + p.Sub
		}
		for _, s := range []struct {
			item string
			get  func(Outcome) int64
		}{{"ok", func(o Outcome) int64 { return o.OK }}, {"no_record", func(o Outcome) int64 { return o.NoRecord }},
			{"failed", func(o Outcome) int64 { return o.Failed }}, {"skipped", func(o Outcome) int64 { return o.Skipped }}} {
			var b any
			if p.Baseline != nil {
				b = s.get(*p.Baseline)
			}
			add("outcome", name+" "+s.item, b, s.get(p.Now), p.Column)
		}
	}
	hitFrom := len(t.rows) + 2
	for _, p := range rep.Products {
		name := p.Product
		if p.Sub != "" {
			name += "/" + p.Sub
		}
		var b any
		if p.Baseline != nil {
			b = cell(p.Baseline.HitRate)
		}
		r := add("hit rate", name, b, cell(p.Now.HitRate), "ok / (ok + no_record)")
		for _, c := range []string{"C", "D"} {
			if err := wb.f.SetCellStyle(SheetSummary, c+strconv.Itoa(r), c+strconv.Itoa(r), wb.pct); err != nil {
				return err
			}
		}
	}
	hitTo := len(t.rows) + 1
	ruleFrom := len(t.rows) + 2
	for _, r := range rep.Rules {
		note := r.Description
		if r.Inactive {
			note = "inactive: the runs lack its columns " + fmt.Sprint(r.Columns)
		} else if len(r.AbsentColumns) > 0 {
			note += "; columns not in both runs: " + fmt.Sprint(r.AbsentColumns)
		}
		add("changes", r.Name, nil, r.Applicants, note)
	}
	ruleTo := len(t.rows) + 1
	if c := rep.Changes; c != nil {
		note := "one row per applicant and rule"
		if c.SheetRows < c.Rows {
			note = fmt.Sprintf("the changes sheet shows the first %d; %s has all", c.SheetRows, c.File)
		}
		add("changes", "rows", nil, c.Rows, note)
	}
	for _, a := range rep.Alerts {
		add("alert", a.Kind+" "+a.Subject, nil, a.Value, a.Message)
	}
	if len(rep.Alerts) == 0 {
		add("alert", "none", nil, nil, "no threshold crossed")
	}
	facts := map[string][2]any{}
	var order []string
	put := func(fs []ManifestFact, k int) {
		for _, x := range fs {
			v, ok := facts[x.Path]
			if !ok {
				order = append(order, x.Path)
			}
			v[k] = factValue(x.Value)
			facts[x.Path] = v
		}
	}
	if rep.Baseline != nil {
		put(rep.Baseline.Manifest, 0)
	}
	put(rep.Run.Manifest, 1)
	for _, p := range order {
		add("manifest", p, facts[p][0], facts[p][1], "")
	}
	if err := wb.write(t); err != nil {
		return err
	}
	var series []excelize.ChartSeries
	if rep.Baseline != nil {
		series = append(series, excelize.ChartSeries{Name: "'summary'!$C$1", Categories: ref(SheetSummary, "B", hitFrom, hitTo), Values: ref(SheetSummary, "C", hitFrom, hitTo)})
	}
	series = append(series, excelize.ChartSeries{Name: "'summary'!$D$1", Categories: ref(SheetSummary, "B", hitFrom, hitTo), Values: ref(SheetSummary, "D", hitFrom, hitTo)})
	if hitTo >= hitFrom {
		if err := wb.chart(SheetSummary, "G2", "Hit rate by product: ok / (ok + no_record)", excelize.Col, series, 560, 300); err != nil {
			return err
		}
	}
	if ruleTo >= ruleFrom {
		s := []excelize.ChartSeries{{Name: "'summary'!$D$1", Categories: ref(SheetSummary, "B", ruleFrom, ruleTo), Values: ref(SheetSummary, "D", ruleFrom, ruleTo)}}
		if err := wb.chart(SheetSummary, "G19", "Applicants who got riskier, by rule", excelize.Bar, s, 560, 300); err != nil {
			return err
		}
	}
	return nil
}

// factValue turns a manifest scalar into a cell: numbers as numbers.
func factValue(v any) any {
	switch x := v.(type) {
	case interface{ Float64() (float64, error) }:
		if f, err := x.Float64(); err == nil {
			return f
		}
	case bool:
		return strconv.FormatBool(x)
	}
	return v
}

// features: one row per feature in the run's order; a chart of coverage.
func (wb *workbook) features(rep *Report) error {
	t := &table{sheet: SheetFeatures, header: []string{"feature", "column", "product", "sub_product", "type", "description",
		"coverage", "baseline_coverage", "bins", "psi", "psi_band", "iv", "iv_band", "ks"},
		styles: map[int]int{6: wb.pct, 7: wb.pct, 9: wb.dec4, 11: wb.dec4, 13: wb.dec4}}
	for _, f := range rep.Features {
		t.rows = append(t.rows, []any{f.Name, f.Column, f.Product, emptyNil(f.Sub), f.Type, emptyNil(f.DescriptionZH + " / " + f.DescriptionEN),
			cell(f.Coverage), cell(f.BaselineCoverage), int64(len(f.Bins)), cell(f.PSI), emptyNil(f.PSIBand), cell(f.IV), emptyNil(f.IVBand), cell(f.KS)})
	}
	if err := wb.write(t); err != nil {
		return err
	}
	n := len(t.rows) + 1
	var series []excelize.ChartSeries
	if rep.Baseline != nil {
		series = append(series, excelize.ChartSeries{Name: "'features'!$H$1", Categories: ref(SheetFeatures, "A", 2, n), Values: ref(SheetFeatures, "H", 2, n)})
	}
	series = append(series, excelize.ChartSeries{Name: "'features'!$G$1", Categories: ref(SheetFeatures, "A", 2, n), Values: ref(SheetFeatures, "G", 2, n)})
	return wb.chart(SheetFeatures, "P2", "Coverage (non-null share) by feature", excelize.Bar, series, 640, uint(max(320, 18*len(rep.Features)+120)))
}

// distributions: one row per feature and bin; a chart per feature of its
// shares, the baseline beside this run.
func (wb *workbook) distributions(rep *Report) error {
	t := &table{sheet: SheetDistributions, header: []string{"feature", "bin", "count", "share", "baseline_count", "baseline_share",
		"psi_term", "goods", "bads", "bad_rate", "woe"},
		styles: map[int]int{3: wb.pct, 5: wb.pct, 6: wb.dec4, 9: wb.pct, 10: wb.dec4}}
	type span struct {
		name     string
		from, to int
	}
	var spans []span
	for _, f := range rep.Features {
		from := len(t.rows) + 2
		for _, b := range f.Bins {
			t.rows = append(t.rows, []any{f.Name, b.Label, b.Count, b.Share, cell(b.BaselineCount), cell(b.BaselineShare),
				cell(b.PSITerm), cell(b.Goods), cell(b.Bads), cell(b.BadRate), cell(b.WoE)})
		}
		spans = append(spans, span{f.Name, from, len(t.rows) + 1})
	}
	if err := wb.write(t); err != nil {
		return err
	}
	const chartRows = 16 // rows a chart of 480×300 px takes
	for i, s := range spans {
		var series []excelize.ChartSeries
		if rep.Baseline != nil {
			series = append(series, excelize.ChartSeries{Name: "'distributions'!$F$1", Categories: ref(SheetDistributions, "B", s.from, s.to), Values: ref(SheetDistributions, "F", s.from, s.to)})
		}
		series = append(series, excelize.ChartSeries{Name: "'distributions'!$D$1", Categories: ref(SheetDistributions, "B", s.from, s.to), Values: ref(SheetDistributions, "D", s.from, s.to)})
		col := []string{"M", "U"}[i%2]
		cell := col + strconv.Itoa(2+(i/2)*chartRows)
		if err := wb.chart(SheetDistributions, cell, s.name, excelize.Col, series, 480, 300); err != nil {
			return err
		}
	}
	return nil
}

// psi: features by PSI, highest first, bands coloured; a bar chart.
func (wb *workbook) psi(rep *Report) error {
	feats := slices.Clone(rep.Features)
	slices.SortStableFunc(feats, func(a, b FeatureReport) int { return cmp.Compare(value(b.PSI), value(a.PSI)) })
	t := &table{sheet: SheetPSI, header: []string{"feature", "product", "psi", "band", "coverage", "baseline_coverage", "description"},
		styles: map[int]int{2: wb.dec4, 4: wb.pct, 5: wb.pct}}
	for _, f := range feats {
		t.rows = append(t.rows, []any{f.Name, f.Product, cell(f.PSI), emptyNil(f.PSIBand), cell(f.Coverage), cell(f.BaselineCoverage), emptyNil(f.DescriptionZH)})
	}
	if err := wb.write(t); err != nil {
		return err
	}
	if err := wb.bands(SheetPSI, "D", feats, func(f FeatureReport) string { return f.PSIBand }); err != nil {
		return err
	}
	n := len(t.rows) + 1
	s := []excelize.ChartSeries{{Name: "'psi'!$C$1", Categories: ref(SheetPSI, "A", 2, n), Values: ref(SheetPSI, "C", 2, n)}}
	return wb.chart(SheetPSI, "I2", "PSI by feature (0.1 watch, 0.25 shift)", excelize.Bar, s, 640, uint(max(320, 18*len(feats)+120)))
}

// iv: features by IV, highest first, with KS; a bar chart.
func (wb *workbook) iv(rep *Report) error {
	feats := slices.Clone(rep.Features)
	slices.SortStableFunc(feats, func(a, b FeatureReport) int { return cmp.Compare(value(b.IV), value(a.IV)) })
	t := &table{sheet: SheetIV, header: []string{"feature", "product", "iv", "band", "ks", "coverage", "description"},
		styles: map[int]int{2: wb.dec4, 4: wb.dec4, 5: wb.pct}}
	for _, f := range feats {
		t.rows = append(t.rows, []any{f.Name, f.Product, cell(f.IV), emptyNil(f.IVBand), cell(f.KS), cell(f.Coverage), emptyNil(f.DescriptionZH)})
	}
	if err := wb.write(t); err != nil {
		return err
	}
	if err := wb.bands(SheetIV, "D", feats, func(f FeatureReport) string { return f.IVBand }); err != nil {
		return err
	}
	n := len(t.rows) + 1
	s := []excelize.ChartSeries{{Name: "'iv'!$C$1", Categories: ref(SheetIV, "A", 2, n), Values: ref(SheetIV, "C", 2, n)}}
	return wb.chart(SheetIV, "I2", "IV by feature (0.02 weak, 0.1 medium, 0.3 strong, 0.5 suspicious)", excelize.Bar, s, 640, uint(max(320, 18*len(feats)+120)))
}

func (wb *workbook) bands(sheet, col string, feats []FeatureReport, band func(FeatureReport) string) error {
	for i, f := range feats {
		if st, ok := wb.bandStyles[band(f)]; ok {
			c := col + strconv.Itoa(i+2)
			if err := wb.f.SetCellStyle(sheet, c, c, st); err != nil {
				return err
			}
		}
	}
	return nil
}

func value(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func emptyNil(s string) any {
	if s == "" || s == " / " {
		return nil
	}
	return s
}

// changes: one row per applicant and rule, streamed (the sheet can be
// long); the chart of changes per rule refers to the summary's counts.
func (wb *workbook) changes(rep *Report, changes func(func(Change) error) error) error {
	f := wb.f
	header := []any{"applicant_key", "source_row", "rule", "column", "old_value", "new_value"}
	n := int(rep.Changes.SheetRows) + 1
	last := colName(len(header))
	if err := f.SetSheetDimension(SheetChanges, "A1:"+last+strconv.Itoa(n)); err != nil {
		return err
	}
	// Summary rows of the rules, for the chart.
	rows, err := f.GetRows(SheetSummary)
	if err != nil {
		return err
	}
	from, to := 0, 0
	for i, r := range rows {
		if len(r) > 1 && r[0] == "changes" && r[1] != "rows" {
			if from == 0 {
				from = i + 1
			}
			to = i + 1
		}
	}
	if from > 0 {
		s := []excelize.ChartSeries{{Name: "'summary'!$D$1", Categories: ref(SheetSummary, "B", from, to), Values: ref(SheetSummary, "D", from, to)}}
		if err := wb.chart(SheetChanges, "H2", "Applicants who got riskier, by rule", excelize.Bar, s, 560, 300); err != nil {
			return err
		}
	}
	if err := f.AutoFilter(SheetChanges, "A1:"+last+strconv.Itoa(n), nil); err != nil {
		return err
	}
	widths := []float64{36, 11, 26, 40, 24, 24}
	sw, err := f.NewStreamWriter(SheetChanges)
	if err != nil {
		return err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}}}); err != nil {
		return err
	}
	for i, w := range widths {
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return err
		}
	}
	if err := sw.SetRow("A1", header, excelize.RowOpts{StyleID: wb.bold}); err != nil {
		return err
	}
	vals := make([]any, len(header))
	row := 2
	err = changes(func(c Change) error {
		vals[0], vals[1], vals[2], vals[3] = c.ApplicantKey, nil, c.Rule, c.Column
		if c.SourceRow > 0 {
			vals[1] = c.SourceRow
		}
		vals[4], vals[5] = emptyNil(c.Old), emptyNil(c.New)
		err := sw.SetRow("A"+strconv.Itoa(row), vals)
		row++
		return err
	})
	if err != nil {
		return err
	}
	if row != n+1 {
		return fmt.Errorf("changes sheet: %d rows read back, want %d", row-2, n-1)
	}
	return sw.Flush()
}
