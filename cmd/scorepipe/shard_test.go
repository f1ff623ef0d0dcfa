package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/scorepipe/scorepipe/collect"
	"github.com/scorepipe/scorepipe/metrics"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/shards"
)

// arrivals records when each request reached the vendor, by the path
// prefix its client was given (one per shard) and product.
type arrivals struct {
	mu sync.Mutex
	at map[string][]time.Time // "prefix product" → arrival times
}

// vendorByPrefix serves the fake vendor under /<prefix>/api/v1/…, counting
// arrivals by prefix: each shard gets its own prefix, so the vendor tells
// the shards' requests apart.
func vendorByPrefix(t *testing.T) (*httptest.Server, *arrivals) {
	t.Helper()
	v := tianyuantest.New(tianyuantest.Options{})
	a := &arrivals{at: map[string][]time.Time{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		prefix, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		product := rest[strings.LastIndex(rest, "/")+1:]
		a.mu.Lock()
		a.at[prefix+" "+product] = append(a.at[prefix+" "+product], now)
		a.mu.Unlock()
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + rest
		v.ServeHTTP(w, r2)
	}))
	t.Cleanup(srv.Close)
	return srv, a
}

// maxPerSecond is the most requests of prefix and product that arrived
// within any one second.
func (a *arrivals) maxPerSecond(prefix, product string) (most, total int) {
	a.mu.Lock()
	at := slices.Clone(a.at[prefix+" "+product])
	a.mu.Unlock()
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	j := 0
	for i := range at {
		for at[i].Sub(at[j]) >= time.Second {
			j++
		}
		most = max(most, i-j+1)
	}
	return most, len(at)
}

// partRows reads a Parquet file's rows as text keyed by source row,
// leaving out the columns that differ from call to call, and the values of
// applicant_key.
func partRows(t *testing.T, path string) (rows map[string]string, keys []string) {
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
	n := int(tbl.NumRows())
	cells := make([][]string, n)
	var rowCol, keyCol int
	kept := 0
	for c, f := range tbl.Schema().Fields() {
		if strings.HasSuffix(f.Name, "_transaction_id") || strings.HasSuffix(f.Name, "_queried_at") {
			continue
		}
		switch f.Name {
		case "source_row":
			rowCol = kept
		case "applicant_key":
			keyCol = kept
		}
		kept++
		i := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for j := 0; j < chunk.Len(); j++ {
				v := "<null>"
				if chunk.IsValid(j) {
					v = chunk.ValueStr(j)
				}
				cells[i] = append(cells[i], v)
				i++
			}
		}
	}
	rows = map[string]string{}
	for _, r := range cells {
		rows[r[rowCol]] = strings.Join(r, "|")
		keys = append(keys, r[keyCol])
	}
	return rows, keys
}

// TestFourShardProcessesMakeTheWholeRun runs 800 applicants whole, then as
// four shard processes at once into one folder, each against the vendor
// under its own path, and checks that together they hold exactly the whole
// run's rows and features, no applicant in two shards, that each shard
// stayed within a quarter of the rate ceiling as the vendor saw it, and
// that collect publishes the dataset, or exits 3 naming a missing shard.
func TestFourShardProcessesMakeTheWholeRun(t *testing.T) {
	const (
		n          = 4
		applicants = 800
		ceiling    = 200 // per product, per second
		burst      = 4
	)
	srv, seen := vendorByPrefix(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "applicants.csv")
	f, err := os.Create(input)
	if err != nil {
		t.Fatal(err)
	}
	if err := tianyuantest.WriteApplicants(f, applicants, 16); err != nil {
		t.Fatal(err)
	}
	f.Close()
	config := filepath.Join(dir, "job.yaml")
	yaml := fmt.Sprintf(`input: {files: [applicants.csv]}
output: {formats: [parquet, xlsx, csv]}
products:
  JRZQ9E2A: {rate_per_second: %d, burst: %d, concurrency: 8, price: 0.5}
  COMBTY11: {rate_per_second: %d, burst: %d, concurrency: 8, price: 2}
retry: {max_attempts: 3, base_delay: 1ms, max_delay: 5ms}
cache: {path: state/replies.db}
vendor: {fake: true}             # the test's vendor, at SCOREPIPE_ENDPOINT
`, ceiling, burst, ceiling, burst)
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	endpoint := func(prefix string) string { return "SCOREPIPE_ENDPOINT=" + srv.URL + "/" + prefix }

	whole := filepath.Join(dir, "whole")
	if msg, err := command(ctx, []string{endpoint("whole")}, "run", "-c", config, "--out", whole, "--formats", "parquet",
		"--cache", filepath.Join(dir, "whole-state", "replies.db"),
		"--set", "products.JRZQ9E2A.rate_per_second=0", "--set", "products.COMBTY11.rate_per_second=0").CombinedOutput(); err != nil {
		t.Fatalf("whole run: %v\n%s", err, msg)
	}
	wantRows, _ := partRows(t, filepath.Join(whole, "features.parquet"))

	out := filepath.Join(dir, "dataset")
	cmds := make([]*exec.Cmd, n)
	outputs := make([]strings.Builder, n)
	for i := range n {
		args := []string{"run", "-c", config, "--out", out, "--collect"} // the last to publish collects
		env := []string{endpoint(fmt.Sprintf("s%d", i))}
		if i%2 == 0 {
			args = append(args, "--shard", fmt.Sprintf("%d/%d", i, n))
		} else { // as a Kubernetes Indexed Job sets it
			env = append(env, fmt.Sprintf("%s=%d", shards.EnvIndex, i), fmt.Sprintf("%s=%d", shards.EnvCount, n))
		}
		cmds[i] = command(ctx, env, args...)
		cmds[i].Stdout, cmds[i].Stderr = &outputs[i], &outputs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("shard %d: %v\n%s", i, err, outputs[i].String())
		}
	}
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err != nil {
		t.Fatalf("no _SUCCESS after the shards ran with --collect: %v", err)
	}
	collected := 0
	for i := range n {
		if strings.Contains(outputs[i].String(), `"msg":"collected the dataset"`) {
			collected++
		}
	}
	if collected < 1 {
		t.Errorf("no shard says it collected the dataset")
	}
	if _, err := os.Stat(filepath.Join(out, "features.xlsx")); err != nil {
		t.Errorf("the shard that collected wrote no workbook (xlsx is among the formats): %v", err)
	}
	// Collecting again by hand gives the same dataset.
	if msg, err := command(ctx, nil, "collect", out, "--xlsx", "-c", config).CombinedOutput(); err != nil {
		t.Fatalf("collect: %v\n%s", err, msg)
	}
	// The dataset's metrics.prom holds the combined manifest's counts.
	var combined collect.Manifest
	if data, err := os.ReadFile(filepath.Join(out, "manifest.json")); err != nil || json.Unmarshal(data, &combined) != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if combined.Rows.Read != applicants || combined.Rows.Written+combined.Rows.Rejected != applicants || combined.Shards.Count != n {
		t.Errorf("combined manifest: rows %+v, %d shards", combined.Rows, combined.Shards.Count)
	}
	data, err := os.ReadFile(filepath.Join(out, "metrics.prom"))
	if err != nil {
		t.Fatal(err)
	}
	families, err := metrics.Parse(data)
	if err != nil {
		t.Fatalf("metrics.prom: %v", err)
	}
	for _, m := range families[metrics.NameRows].Metric {
		kind, got := m.Label[0].GetValue(), m.GetGauge().GetValue()
		if m.Label[0].GetName() != "kind" {
			kind = m.Label[1].GetValue()
		}
		want := map[string]int{"read": combined.Rows.Read, "valid": combined.Rows.Valid, "rejected": combined.Rows.Rejected, "written": combined.Rows.Written, "blank_skipped": 0}[kind]
		if got != float64(want) {
			t.Errorf("metrics.prom: rows %s = %v, manifest.json says %d", kind, got, want)
		}
	}
	for code, p := range combined.Products {
		for _, m := range families[metrics.NameBilled].Metric {
			for _, l := range m.Label {
				if l.GetName() == "product" && l.GetValue() == code && m.GetGauge().GetValue() != float64(p.Billed) {
					t.Errorf("metrics.prom: %s billed %v, manifest.json says %d", code, m.GetGauge().GetValue(), p.Billed)
				}
			}
		}
	}

	gotRows := map[string]string{}
	shardOf := map[string]int{}
	for i := range n {
		s := shards.Shard{Index: i, Count: n}
		rows, keys := partRows(t, filepath.Join(out, s.File(shards.DirFeatures, ".parquet")))
		for k, r := range rows {
			if _, dup := gotRows[k]; dup {
				t.Errorf("row %s in two shards", k)
			}
			gotRows[k] = r
		}
		for _, key := range keys {
			if j, ok := shardOf[key]; ok && j != i {
				t.Errorf("applicant %s in shards %d and %d", key, j, i)
			}
			shardOf[key] = i
		}
		for _, product := range []string{"JRZQ9E2A", "COMBTY11"} {
			most, total := seen.maxPerSecond(fmt.Sprintf("s%d", i), product)
			// A token bucket lets through at most rate + burst in any
			// second; arrivals may bunch by a request or two on the way.
			limit := ceiling/n + burst/n + 2
			if most > limit {
				t.Errorf("shard %d: %s: %d requests within one second at the vendor, want at most %d (a quarter of %d/s, burst %d)", i, product, most, limit, ceiling, burst/n)
			}
			if total == 0 || total > applicants {
				t.Errorf("shard %d: %s: %d requests", i, product, total)
			}
			t.Logf("shard %d: %s: %d requests, at most %d within a second", i, product, total, most)
		}
	}
	if len(gotRows) != len(wantRows) {
		t.Errorf("the shards hold %d rows, the whole run %d", len(gotRows), len(wantRows))
	}
	for k, want := range wantRows {
		if got := gotRows[k]; got != want {
			t.Errorf("row %s:\n shards: %.200s\n whole:  %.200s", k, got, want)
		}
	}

	// Each shard kept its own audit log beside its reply store (a log
	// has one writer); scorepipe audit reads them all: every request the
	// vendor saw is in them.
	var requests int64
	for _, p := range combined.Products {
		requests += p.Calls
	}
	auditOut, err := command(ctx, nil, "audit", "-c", config, "--json").Output()
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	var fromVendor int64
	for _, line := range strings.Split(strings.TrimSpace(string(auditOut)), "\n") {
		var q struct{ Source string }
		if err := json.Unmarshal([]byte(line), &q); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if q.Source == "vendor" {
			fromVendor++
		}
	}
	if fromVendor != requests {
		t.Errorf("scorepipe audit lists %d requests, the shards made %d", fromVendor, requests)
	}
	for i := range n {
		if _, err := os.Stat(filepath.Join(dir, "state", fmt.Sprintf("audit.shard-%d.jsonl", i))); err != nil {
			t.Errorf("shard %d's audit log: %v", i, err)
		}
	}

	// A missing shard: collect exits 3 naming it, and publishes nothing.
	partial := filepath.Join(dir, "partial")
	for _, i := range []int{0, 1, 3} {
		if msg, err := command(ctx, []string{endpoint("again")}, "run", "-c", config, "--out", partial, "--shard", fmt.Sprintf("%d/%d", i, n)).CombinedOutput(); err != nil {
			t.Fatalf("shard %d into %s: %v\n%s", i, partial, err, msg)
		}
	}
	if _, total := seen.maxPerSecond("again", "JRZQ9E2A"); total != 0 {
		t.Errorf("reruns of published shards made %d calls, want 0 (their replies are in their stores)", total)
	}
	msg, err := command(ctx, nil, "collect", partial).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitAborted || !strings.Contains(string(msg), "shard 2 of 4 has not published") {
		t.Errorf("collect with shard 2 missing: %v, want exit %d naming shard 2\n%s", err, exitAborted, msg)
	}
	if _, err := os.Stat(filepath.Join(partial, "_SUCCESS")); err == nil {
		t.Error("_SUCCESS written with a shard missing")
	}
}

func TestShardFlagsAndEnvironment(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"bad flag", []string{"--shard", "4/4"}, nil, "the shard index must be from 0 to 3"},
		{"flag without count", []string{"--shard", "3"}, nil, "INDEX/COUNT"},
		{"index without count", nil, []string{shards.EnvIndex + "=2"}, "SCOREPIPE_SHARDS is not"},
		{"env out of range", nil, []string{shards.EnvIndex + "=5", shards.EnvCount + "=4"}, "from 0 to 3"},
		{"collect without shard", []string{"--collect"}, nil, "give --shard"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"run", "-c", "../../samples/pipeline.yaml", "--out", out}, tt.args...)
			msg, err := command(ctx, append([]string{shards.EnvIndex + "=", shards.EnvCount + "="}, tt.env...), args...).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(msg), tt.want) {
				t.Errorf("run %v: %v, want exit %d saying %q\n%s", tt.args, err, exitUsage, tt.want, msg)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("the output folder was created")
			}
		})
	}
	// The flag wins over the environment.
	out := filepath.Join(t.TempDir(), "out")
	msg, err := command(ctx, []string{shards.EnvIndex + "=1", shards.EnvCount + "=3"},
		"run", "-c", "../../samples/pipeline.yaml", "--out", out, "--shard", "0/2", "--formats", "parquet",
		"--set", "products.JRZQ9E2A.rate_per_second=0", "--set", "products.COMBTY11.rate_per_second=0").CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitRows {
			t.Fatalf("run: %v\n%s", err, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS.part-00000-of-00002")); err != nil {
		t.Errorf("--shard 0/2 with the environment saying 1/3: %v\n%s", err, msg)
	}
}
