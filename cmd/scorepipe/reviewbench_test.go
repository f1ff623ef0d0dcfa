package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/sinks"
)

// BenchmarkReview times `scorepipe review` (in its own process, for its
// peak RSS and CPU time) of a run of SCOREPIPE_REVIEW_ROWS rows (default 200,000)
// against a baseline of as many, 95 % of the applicants in both and 5 % of
// those with riskier values. The runs are written once into
// $TMPDIR/scorepipe-review-bench-N and reused. docs/PERFORMANCE.md has the
// figures at 1,000,000 rows:
//
//	SCOREPIPE_REVIEW_ROWS=1000000 go test ./cmd/scorepipe -run '^$' -bench Review -benchtime 1x -count 5
func BenchmarkReview(b *testing.B) {
	rows := 200_000
	if s := os.Getenv("SCOREPIPE_REVIEW_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			b.Fatalf("SCOREPIPE_REVIEW_ROWS=%q: want a number ≥ 100", s)
		}
		rows = n
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("scorepipe-review-bench-%d", rows))
	base, cur := filepath.Join(dir, "2026-10"), filepath.Join(dir, "2026-11")
	if _, err := os.Stat(filepath.Join(cur, "_SUCCESS")); err != nil {
		start := time.Now()
		if err := writeReviewRun(base, rows, 0, false); err != nil {
			b.Fatal(err)
		}
		if err := writeReviewRun(cur, rows, rows/20, true); err != nil {
			b.Fatal(err)
		}
		b.Logf("wrote two runs of %d rows in %s", rows, time.Since(start).Round(time.Millisecond))
	}
	ctx := context.Background()
	var secs, cpu, rss []float64
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "review.xlsx")
		cmd := command(ctx, nil, "review", cur, "--baseline", base, "--out", out, "--log-format", "json")
		start := time.Now()
		msg, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("review: %v\n%s", err, msg)
		}
		secs = append(secs, time.Since(start).Seconds())
		// The review's own peak (VmHWM), which it logs: a child's
		// ru_maxrss starts from the memory of the process that started it.
		var peak struct {
			PeakRSSMB float64 `json:"peak_rss_mb"`
		}
		for line := range strings.Lines(string(msg)) {
			if strings.Contains(line, `"review written"`) {
				_ = json.Unmarshal([]byte(line), &peak)
			}
		}
		if peak.PeakRSSMB == 0 {
			b.Fatalf("review did not log peak_rss_mb:\n%s", msg)
		}
		rss = append(rss, peak.PeakRSSMB)
		cpu = append(cpu, (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds())
	}
	b.ReportMetric(float64(rows)/median(secs), "rows/s")
	b.ReportMetric(median(cpu), "cpu-s")
	b.ReportMetric(median(rss), "peak-RSS-MB")
}

// writeReviewRun publishes a synthetic run of rows applicants into dir,
// with the columns of every catalog. Applicants are numbered from first;
// riskier makes every 20th applicant worse: overdue, one more interval
// step of lending institutions, fraud score up by 15.
func writeReviewRun(dir string, rows, first int, riskier bool) error {
	set, err := mappings.Load("")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	schema := sinks.Schema{
		{Name: "source_file", Type: sinks.String}, {Name: "source_row", Type: sinks.Int64},
		{Name: "applicant_key", Type: sinks.String, Distinct: true}, {Name: "label", Type: sinks.Int64},
	}
	type gen func(r *rand.Rand, i int, row sinks.Row, k int)
	gens := []gen{nil, nil, nil, nil}
	kinds := map[mappings.ColumnKind]sinks.Type{mappings.KindString: sinks.String, mappings.KindInt: sinks.Int64,
		mappings.KindFloat: sinks.Float64, mappings.KindTime: sinks.Timestamp}
	for _, p := range []string{"COMBTY11", "JRZQ9E2A"} {
		c := set.Catalogs[p]
		for _, col := range c.StatusColumns() {
			schema = append(schema, sinks.Column{Name: col.Name, Type: kinds[col.Kind]})
			switch col.Kind {
			case mappings.KindString:
				gens = append(gens, func(r *rand.Rand, _ int, row sinks.Row, k int) {
					row.SetString(k, []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "no_record", "failed"}[r.IntN(10)])
				})
			default:
				gens = append(gens, nil)
			}
		}
		for i := range c.Fields {
			f := &c.Fields[i]
			for j, col := range f.Columns() {
				schema = append(schema, sinks.Column{Name: col.Name, Type: kinds[col.Kind]})
				gens = append(gens, fieldGen(f, j, riskier))
			}
		}
	}
	p, err := sinks.NewParquet(filepath.Join(dir, "features.parquet"), schema, sinks.ParquetOptions{RowGroupRows: 16384})
	if err != nil {
		return err
	}
	defer p.Abort()
	batch := make([]sinks.Row, 1024)
	for i := range batch {
		batch[i] = sinks.NewRow(len(schema))
	}
	n := 0
	for i := range rows {
		id := first + i
		r := rand.New(rand.NewPCG(uint64(id), 42)) // an applicant's values, the same in both runs
		row := batch[n]
		row.Reset()
		row.SetString(0, "applicants.csv")
		row.SetInt(1, int64(i+2))
		row.SetString(2, fmt.Sprintf("%032x", uint64(id)*0x9E3779B97F4A7C15))
		row.SetInt(3, int64(r.IntN(100)/88))
		for k := 4; k < len(schema); k++ {
			if gens[k] != nil {
				gens[k](r, id, row, k)
			}
		}
		if n++; n == len(batch) {
			if err := p.Write(batch); err != nil {
				return err
			}
			n = 0
		}
	}
	if err := p.Write(batch[:n]); err != nil {
		return err
	}
	if err := p.Commit(); err != nil {
		return err
	}
	manifest := fmt.Sprintf(`{"tool": "scorepipe", "version": "bench", "rows": {"read": %d, "valid": %d, "rejected": 0, "written": %d}, "products": {}}`, rows, rows, rows)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "_SUCCESS"), nil, 0o644)
}

// fieldGen makes the values of the j-th column of a field: codes of its
// table, written-out ranges, flags, enum values, scores and counts, one
// value in ten missing. With riskier, every 20th applicant is worse.
func fieldGen(f *mappings.Field, j int, riskier bool) func(r *rand.Rand, id int, row sinks.Row, k int) {
	worse := func(id int) bool { return riskier && id%20 == 0 }
	missing := func(r *rand.Rand) bool { return r.IntN(10) == 0 }
	switch f.Type {
	case mappings.IntervalCode:
		if j > 0 {
			return nil // _low and _high: the review reads the codes
		}
		entries := f.Lookup().Entries
		return func(r *rand.Rand, id int, row sinks.Row, k int) {
			if missing(r) {
				return
			}
			c := r.IntN(len(entries) - 1)
			if worse(id) {
				c++
			}
			row.SetString(k, entries[c].Code)
		}
	case mappings.IntervalText:
		if j > 0 {
			return nil
		}
		codes := []string{"[1,5)", "[5,10)", "10+", "(0,1000)", "0"}
		return func(r *rand.Rand, _ int, row sinks.Row, k int) {
			if !missing(r) {
				row.SetString(k, codes[r.IntN(len(codes))])
			}
		}
	case mappings.Flag:
		return func(r *rand.Rand, id int, row sinks.Row, k int) {
			if missing(r) {
				return
			}
			v := int64(r.IntN(10) / 9)
			if worse(id) {
				v = 1
			}
			row.SetInt(k, v)
		}
	case mappings.Enum:
		entries := f.Lookup().Entries
		return func(r *rand.Rand, _ int, row sinks.Row, k int) {
			if !missing(r) {
				row.SetInt(k, entries[r.IntN(len(entries))].Value)
			}
		}
	case mappings.Score, mappings.Number:
		return func(r *rand.Rand, id int, row sinks.Row, k int) {
			if missing(r) {
				return
			}
			v := float64(r.IntN(900))
			if f.Range == "[0,1]" {
				v = float64(r.IntN(10000)) / 10000
			} else if worse(id) {
				v += 15
			}
			row.SetFloat(k, v)
		}
	case mappings.ListCount:
		return func(r *rand.Rand, _ int, row sinks.Row, k int) {
			if !missing(r) {
				row.SetInt(k, int64(r.IntN(20)/17))
			}
		}
	}
	return func(r *rand.Rand, _ int, row sinks.Row, k int) {
		if !missing(r) {
			row.SetString(k, "text "+strconv.Itoa(r.IntN(30)))
		}
	}
}
