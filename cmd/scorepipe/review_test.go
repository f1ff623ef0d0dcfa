package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/review"
)

// month runs the job of dir/job.yaml into out against a fake vendor with
// opts: one month of the same book.
func month(t *testing.T, dir, out, store string, opts tianyuantest.Options) {
	t.Helper()
	cfg, err := config.LoadConfig(filepath.Join(dir, "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Output.Dir = out
	cfg.Cache.Path = filepath.Join(dir, store, "replies.db")
	srv, _ := tianyuantest.NewServer(opts)
	defer srv.Close()
	c, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: srv.URL, AccessID: tianyuantest.DemoAccessID, Key: tianyuantest.DemoKey()})
	if err != nil {
		t.Fatal(err)
	}
	env := pipeline.Env{Caller: c, Cipher: c.Cipher(), Secret: []byte("review-test-secret-0123456789abc"),
		Now: func() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) }}
	if _, err := pipeline.Run(context.Background(), cfg, env); err != nil && !errors.Is(err, pipeline.ErrRowsFailed) {
		t.Fatalf("run into %s: %v", out, err)
	}
}

// TestReviewTwoMonths runs the same 2,000 applicants twice against the
// fake vendor, the second time with a known set of them currently
// overdue, and reviews the second month against the first: the changes
// list exactly that set under became_overdue (less those already overdue
// in the first month by every column of the rule), and nothing else.
func TestReviewTwoMonths(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := tianyuantest.WriteApplicants(&buf, 2000, 7); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "applicants.csv"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	job := `input: {files: [applicants.csv], passthrough: {application_id: string, apply_date: date, label: int}}
output: {formats: [parquet]}
products:
  JRZQ9E2A: {rate_per_second: 0, concurrency: 16}
  COMBTY11: {rate_per_second: 0, concurrency: 16}
retry: {max_attempts: 3, base_delay: 1ms, max_delay: 5ms}
`
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Every 7th applicant becomes overdue in the second month; those who
	// were overdue by every column of the rule in the first month cannot
	// "become" so.
	chosen := map[string]bool{}
	want := map[int64]bool{}
	already := 0
	for i, rec := range recs[1:] {
		if i%7 != 3 {
			continue
		}
		params := map[string]string{"name": rec[1], "id_card": rec[2], "mobile_no": rec[3]}
		chosen[rec[2]] = true
		if overdueEverywhere(t, params) {
			already++
			continue
		}
		want[int64(i+2)] = true // CSV line: the header is line 1
	}
	if already == 0 || len(want) < 200 {
		t.Fatalf("fixture: %d chosen applicants to become overdue, %d already overdue: want some of both", len(want), already)
	}

	t.Logf("%d applicants chosen to become overdue, %d of them overdue already", len(want)+already, already)
	old, cur := filepath.Join(dir, "2026-10"), filepath.Join(dir, "2026-11")
	month(t, dir, old, "store-10", tianyuantest.Options{})
	month(t, dir, cur, "store-11", tianyuantest.Options{CurrentlyOverdue: func(id string) bool { return chosen[id] }})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"review", cur, "--baseline", old, "--log-format", "text", "--alert-changes", "became_overdue=10", "--alert-psi", "0.5"}, &stdout, &stderr)
	if code := exitCode(err); code != exitRows {
		t.Fatalf("review: exit %d (%v), want %d: an alert on became_overdue\n%s", code, err, exitRows, stderr.String())
	}
	if !errors.Is(err, errReported) {
		t.Errorf("the alert error is not marked as logged: main would print it twice")
	}
	if n := strings.Count(stderr.String(), "review alert:"); n != 1 {
		t.Errorf("stderr has %d alert lines, want 1:\n%s", n, stderr.String())
	}

	got := changesByRule(t, filepath.Join(cur, review.FileChanges))
	t.Run("became_overdue lists exactly the known set", func(t *testing.T) {
		rows := got["became_overdue"]
		if len(rows) != len(want) {
			t.Errorf("became_overdue lists %d applicants, want %d", len(rows), len(want))
		}
		for r := range want {
			if !rows[r] {
				t.Errorf("source row %d became overdue but is not listed", r)
			}
		}
		for r := range rows {
			if !want[r] {
				t.Errorf("source row %d is listed but did not become overdue", r)
			}
		}
	})
	t.Run("no other rule fires", func(t *testing.T) {
		for rule, rows := range got {
			if rule != "became_overdue" {
				t.Errorf("rule %s lists %d applicants, want none: only the overdue state changed", rule, len(rows))
			}
		}
	})

	var rep review.Report
	data, err := os.ReadFile(filepath.Join(cur, "review.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	t.Run("review.json", func(t *testing.T) {
		a := rep.Applicants
		if a == nil || a.InBoth != rep.Run.Rows-a.DuplicateRows || a.New != 0 || a.Gone != 0 {
			t.Errorf("applicants = %+v, want all %d in both", a, rep.Run.Rows)
		}
		if len(rep.Alerts) != 1 || rep.Alerts[0].Subject != "became_overdue" || rep.Alerts[0].Value != float64(len(want)) {
			t.Errorf("alerts = %+v, want one on became_overdue with %d", rep.Alerts, len(want))
		}
		psi := map[string]*float64{}
		for _, f := range rep.Features {
			psi[f.Name] = f.PSI
		}
		for _, name := range []string{"xyp_cpl0001", "dwbg8b4d_fraud_score", "flxg0v4b_sxbzxr", "xyp_model_score_high"} {
			if p := psi[name]; p == nil || *p != 0 {
				t.Errorf("PSI of %s = %v, want 0: its values did not change", name, p)
			}
		}
		for _, name := range []string{"xyp_cpl0044", "dwbg8b4d_risk_warning_hit_current_overdue"} {
			if p := psi[name]; p == nil || *p <= 0.01 {
				t.Errorf("PSI of %s = %v, want a shift: %d applicants became overdue", name, p, len(want))
			}
		}
		if rep.Label != "label" || rep.LabelCounts == nil || rep.LabelCounts.Bad == 0 {
			t.Errorf("label = %q %+v, want the label column used", rep.Label, rep.LabelCounts)
		}
	})
	t.Run("workbook has a chart on every sheet", func(t *testing.T) {
		charts := sheetCharts(t, filepath.Join(cur, review.FileWorkbook))
		for _, s := range []string{review.SheetSummary, review.SheetFeatures, review.SheetDistributions, review.SheetPSI, review.SheetIV, review.SheetChanges} {
			if charts[s] == 0 {
				t.Errorf("sheet %s: no chart (charts per sheet: %v)", s, charts)
			}
		}
	})
}

// overdueEverywhere says whether the fake's first-month replies have the
// applicant currently overdue in every column of became_overdue.
func overdueEverywhere(t *testing.T, params map[string]string) bool {
	t.Helper()
	ml, err := tianyuantest.SyntheticPayload("JRZQ9E2A", params, 0)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(ml, &m); err != nil {
		t.Fatal(err)
	}
	rr, err := tianyuantest.SyntheticPayload("COMBTY11", params, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m["xyp_cpl0044"] == "1" && strings.Contains(string(rr), `"hitCurrentOverdue":1`)
}

// changesByRule reads changes.parquet: per rule, the source rows listed.
func changesByRule(t *testing.T, path string) map[string]map[int64]bool {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	rr := array.NewTableReader(tbl, 1<<20)
	defer rr.Release()
	out := map[string]map[int64]bool{}
	for rr.Next() {
		rec := rr.Record()
		rules := rec.Column(2).(*array.String)
		rows := rec.Column(1).(*array.Int64)
		for i := range int(rec.NumRows()) {
			r := rules.Value(i)
			if out[r] == nil {
				out[r] = map[int64]bool{}
			}
			if out[r][rows.Value(i)] {
				t.Errorf("rule %s lists source row %d twice", r, rows.Value(i))
			}
			out[r][rows.Value(i)] = true
		}
	}
	return out
}

// sheetCharts counts the charts of each sheet of a workbook, from its
// parts: sheet → drawing → charts.
func sheetCharts(t *testing.T, path string) map[string]int {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	read := func(name string) string {
		for _, f := range zr.File {
			if f.Name == name {
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				var b bytes.Buffer
				if _, err := b.ReadFrom(rc); err != nil {
					t.Fatal(err)
				}
				return b.String()
			}
		}
		return ""
	}
	sheets := regexp.MustCompile(`<sheet name="([^"]+)" sheetId="\d+" r:id="rId(\d+)"`).FindAllStringSubmatch(read("xl/workbook.xml"), -1)
	rels := read("xl/_rels/workbook.xml.rels")
	out := map[string]int{}
	for _, s := range sheets {
		target := regexp.MustCompile(`Id="rId` + s[2] + `" Target="([^"]+)"`).FindStringSubmatch(rels)
		if target == nil {
			t.Fatalf("sheet %s has no part", s[1])
		}
		part := strings.TrimPrefix(target[1], "/xl/")
		sheetRels := read("xl/worksheets/_rels/" + filepath.Base(part) + ".rels")
		for _, d := range regexp.MustCompile(`Target="\.\./drawings/(drawing\d+\.xml)"`).FindAllStringSubmatch(sheetRels, -1) {
			out[s[1]] += strings.Count(read("xl/drawings/_rels/"+d[1]+".rels"), "/charts/chart")
		}
	}
	return out
}

func TestReviewAlertsExitTwo(t *testing.T) {
	alerts := &review.AlertError{Alerts: []review.Alert{{Kind: "psi", Subject: "x", Value: 0.3, Threshold: 0.25, Message: "PSI of x is 0.3000, above 0.25"}}}
	if got := exitCode(&reported{err: alerts}); got != exitRows {
		t.Errorf("review alerts: exit %d, want %d", got, exitRows)
	}
	if !errors.Is(&reported{err: alerts}, errReported) {
		t.Error("the alerts, logged one a line, would be printed again")
	}
}
