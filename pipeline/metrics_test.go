package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/metrics"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/shards"
)

// fakePushgateway records every push it receives.
type fakePushgateway struct {
	mu     sync.Mutex
	pushes []push
}

type push struct {
	method, path string
	body         []byte
}

func (g *fakePushgateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	g.pushes = append(g.pushes, push{r.Method, r.URL.Path, body})
	g.mu.Unlock()
}

func (g *fakePushgateway) last(t *testing.T) push {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pushes) == 0 {
		t.Fatal("nothing was pushed")
	}
	return g.pushes[len(g.pushes)-1]
}

// gauge returns the value of the gauge name whose labels include want.
func gauge(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	t.Helper()
	f := families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		match := true
		for _, l := range m.Label {
			if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
				match = false
			}
		}
		if match {
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// checkAgainstManifest parses figures with Prometheus's text parser and
// checks that every count is the manifest's.
func checkAgainstManifest(t *testing.T, what string, data []byte, m *manifest.Manifest, labels map[string]string) map[string]*dto.MetricFamily {
	t.Helper()
	families, err := metrics.Parse(data)
	if err != nil {
		t.Fatalf("%s: Prometheus's parser refuses it: %v\n%s", what, err, data)
	}
	with := func(l map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range labels {
			out[k] = v
		}
		for k, v := range l {
			out[k] = v
		}
		return out
	}
	expect := func(name string, l map[string]string, want float64) {
		t.Helper()
		got, ok := gauge(t, families, name, with(l))
		if !ok || got != want {
			t.Errorf("%s: %s%v = %v (found %v), the manifest says %v", what, name, l, got, ok, want)
		}
	}
	blank := 0
	for _, in := range m.Inputs {
		blank += in.Blank
	}
	for kind, n := range map[string]int{"read": m.Rows.Read, "valid": m.Rows.Valid, "rejected": m.Rows.Rejected, "written": m.Rows.Written, "blank_skipped": blank} {
		expect(metrics.NameRows, map[string]string{"kind": kind}, float64(n))
	}
	for code, p := range m.Products {
		for status, n := range map[string]int{"ok": p.OK, "no_record": p.NoRecord, "failed": p.Failed, "skipped": p.Skipped} {
			expect(metrics.NameProductRows, map[string]string{"product": code, "status": status}, float64(n))
		}
		for sub, c := range p.SubProducts {
			for status, n := range map[string]int{"ok": c.OK, "no_record": c.NoRecord, "failed": c.Failed, "skipped": c.Skipped} {
				expect(metrics.NameSubProductRows, map[string]string{"product": code, "sub_product": sub, "status": status}, float64(n))
			}
		}
		l := map[string]string{"product": code}
		expect(metrics.NameCalls, l, float64(p.Calls))
		expect(metrics.NameBilled, l, float64(p.Billed))
		expect(metrics.NamePossiblyBilled, l, float64(p.PossiblyBilled))
		expect(metrics.NameRetries, l, float64(p.Retries))
		expect(metrics.NameFromStore, l, float64(p.FromStore))
		expect(metrics.NameDeduplicated, l, float64(p.Deduplicated))
		expect(metrics.NameProductCost, l, p.Cost)
		expect(metrics.NameThrottled, l, float64(p.Throttled))
		expect(metrics.NamePaused, l, p.PausedSeconds)
		expect(metrics.NameRateMin, l, p.RateMin)
		expect(metrics.NameRateFinal, l, p.RateFinal)
	}
	expect(metrics.NameCost, nil, m.Cost)
	expect(metrics.NameInfo, map[string]string{"run_id": m.RunID}, 1)
	return families
}

func TestMetricsOfAPublishedRun(t *testing.T) {
	_, client := fakeVendor(t, tianyuantest.Options{Shapes: tianyuantest.Shapes{SubFailure: 0.05}})
	gw := &fakePushgateway{}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	cfg := sampleConfig(t)
	cfg.Metrics = config.MetricsConfig{Pushgateway: srv.URL, Job: "nightly"}
	j, err := pipeline.Prepare(cfg, env(client))
	if err != nil {
		t.Fatal(err)
	}
	m, err := j.Run(context.Background(), pipeline.Vendor{Caller: client, Cipher: client.Cipher()})
	if m == nil {
		t.Fatalf("Run: %v", err)
	}
	code := 0
	if errors.Is(err, pipeline.ErrRowsFailed) {
		code = 2
	}
	if m.Exit.Code != code {
		t.Fatalf("exit %d, manifest says %d", code, m.Exit.Code)
	}
	data, err := os.ReadFile(filepath.Join(cfg.Output.Dir, pipeline.FileMetrics))
	if err != nil {
		t.Fatalf("no metrics.prom in the published set: %v", err)
	}
	families := checkAgainstManifest(t, "metrics.prom", data, m, map[string]string{"scorepipe_job": "nightly"})
	if got, _ := gauge(t, families, metrics.NameExitCode, nil); got != float64(m.Exit.Code) {
		t.Errorf("exit code %v, the manifest's is %d", got, m.Exit.Code)
	}
	if got, _ := gauge(t, families, metrics.NameLastSuccess, nil); got != float64(m.FinishedAt.UnixNano())/1e9 {
		t.Errorf("last success %v, want the run's end %v", got, m.FinishedAt)
	}
	if got, _ := gauge(t, families, metrics.NameDuration, nil); got != m.FinishedAt.Sub(m.StartedAt).Seconds() {
		t.Errorf("duration %v, the manifest's %v", got, m.Seconds)
	}
	j.Report(context.Background(), code, "")
	j.Close()
	p := gw.last(t)
	if p.method != http.MethodPut || p.path != "/metrics/job/nightly" {
		t.Errorf("pushed %s %s, want PUT /metrics/job/nightly", p.method, p.path)
	}
	checkAgainstManifest(t, "the push", p.body, m, nil)
	if strings.Contains(string(p.body), "scorepipe_job") {
		t.Error("the push carries the scorepipe_job label: the Pushgateway's grouping key says the job")
	}
}

// TestMetricsOfAStoppedRun checks that a run that stops early leaves its
// data files as they were but says so in metrics.prom, keeping the last
// success of the run before, and that a push that fails is a warning.
func TestMetricsOfAStoppedRun(t *testing.T) {
	_, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	cfg.Output.Formats = []string{config.FormatParquet}
	first, err := pipeline.Run(context.Background(), cfg, env(client))
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(cfg.Output.Dir, pipeline.FileParquet))
	if err != nil {
		t.Fatal(err)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	cfg.Metrics.Pushgateway = dead.URL
	cfg.Limits.MaxCalls = 3
	cfg.Cache.Path = filepath.Join(t.TempDir(), "replies.db") // nothing stored: the plan is over the budget
	var logs bytes.Buffer
	j, err := pipeline.Prepare(cfg, logTo(env(client), &logs))
	if err != nil {
		t.Fatal(err)
	}
	_, runErr := j.Run(context.Background(), pipeline.Vendor{Caller: client, Cipher: client.Cipher()})
	var over *pipeline.OverBudget
	if !errors.As(runErr, &over) {
		t.Fatalf("Run = %v, want an *OverBudget", runErr)
	}
	j.Report(context.Background(), 3, metrics.ReasonBudget)
	j.Close()
	after, _ := os.ReadFile(filepath.Join(cfg.Output.Dir, pipeline.FileParquet))
	if !bytes.Equal(before, after) {
		t.Error("the stopped run changed features.parquet")
	}
	data, err := os.ReadFile(filepath.Join(cfg.Output.Dir, pipeline.FileMetrics))
	if err != nil {
		t.Fatal(err)
	}
	families, err := metrics.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := gauge(t, families, metrics.NameExitCode, nil); got != 3 {
		t.Errorf("exit code %v, want 3", got)
	}
	if got, _ := gauge(t, families, metrics.NameLastSuccess, nil); got != float64(first.FinishedAt.UnixNano())/1e9 {
		t.Errorf("last success %v, want the first run's end %v", got, first.FinishedAt)
	}
	reason := ""
	for _, l := range families[metrics.NameInfo].Metric[0].Label {
		if l.GetName() == "reason" {
			reason = l.GetValue()
		}
	}
	if reason != metrics.ReasonBudget {
		t.Errorf("%s reason %q, want %q", metrics.NameInfo, reason, metrics.ReasonBudget)
	}
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"could not push the run's metrics`) {
		t.Errorf("a failed push is not logged as a warning:\n%s", logs.String())
	}
}

// TestMetricsOfAShard runs a shard against a vendor that throttles it, and
// checks its metrics file and push: the shard's label and grouping, and
// every figure the manifest has, the throttling ones included.
func TestMetricsOfAShard(t *testing.T) {
	v, client := fakeVendor(t, tianyuantest.Options{Throttle: tianyuantest.Throttle{Products: map[string]int{"JRZQ9E2A": 20}}})
	gw := &fakePushgateway{}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	cfg := sampleConfig(t)
	cfg.Metrics = config.MetricsConfig{Pushgateway: srv.URL, Job: "book"}
	jr := cfg.Products["JRZQ9E2A"]
	jr.RatePerSecond, jr.Burst = 150, 6 // the shard's share: 50/s, over the vendor's 20
	cfg.Products["JRZQ9E2A"] = jr
	e := env(client)
	e.Shard = shards.Shard{Index: 1, Count: 3}
	j, err := pipeline.Prepare(cfg, e)
	if err != nil {
		t.Fatal(err)
	}
	m, err := j.Run(context.Background(), pipeline.Vendor{Caller: client, Cipher: client.Cipher()})
	if err != nil {
		t.Fatal(err)
	}
	j.Report(context.Background(), 0, "")
	j.Close()
	if th := m.Products["JRZQ9E2A"].Throttled; th == 0 || th != v.Throttled("JRZQ9E2A") {
		t.Fatalf("throttled %d, the vendor throttled %d: want the same, and some", th, v.Throttled("JRZQ9E2A"))
	}
	data, err := os.ReadFile(filepath.Join(cfg.Output.Dir, e.Shard.File(shards.DirMetrics, ".prom")))
	if err != nil {
		t.Fatal(err)
	}
	families := checkAgainstManifest(t, "the shard's metrics", data, m, map[string]string{"scorepipe_job": "book", "shard": "1"})
	if got, _ := gauge(t, families, metrics.NameShards, nil); got != 3 {
		t.Errorf("%s = %v, want 3", metrics.NameShards, got)
	}
	if _, err := os.Stat(filepath.Join(cfg.Output.Dir, pipeline.FileMetrics)); err == nil {
		t.Error("a shard wrote the dataset's metrics.prom (collect does)")
	}
	p := gw.last(t)
	if p.method != http.MethodPut || p.path != "/metrics/job/book/shard/1" {
		t.Errorf("pushed %s %s, want PUT /metrics/job/book/shard/1", p.method, p.path)
	}
	checkAgainstManifest(t, "the shard's push", p.body, m, nil)
}
