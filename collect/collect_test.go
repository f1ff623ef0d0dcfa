package collect_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/scorepipe/scorepipe/collect"
	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/metrics"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/publish"
	"github.com/scorepipe/scorepipe/shards"
)

var (
	testSecret = []byte("scorepipe-test-secret-0123456789")
	fixedNow   = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
)

// fixture runs the sample applicants as shards into one folder.
type fixture struct {
	t      *testing.T
	client *tianyuan.Client
	out    string
	state  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv, _ := tianyuantest.NewServer(tianyuantest.Options{})
	t.Cleanup(srv.Close)
	c, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: srv.URL, AccessID: tianyuantest.DemoAccessID, Key: tianyuantest.DemoKey()})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, client: c, out: filepath.Join(t.TempDir(), "dataset"), state: t.TempDir()}
}

func (f *fixture) config() *config.Config {
	f.t.Helper()
	cfg, err := config.LoadConfig("../samples/pipeline.yaml")
	if err != nil {
		f.t.Fatal(err)
	}
	cfg.Output.Dir = f.out
	cfg.Output.Formats = []string{config.FormatParquet, config.FormatCSV}
	cfg.Cache.Path = filepath.Join(f.state, "replies.db")
	cfg.Retry.BaseDelay, cfg.Retry.MaxDelay = time.Millisecond, 5*time.Millisecond
	for code, p := range cfg.Products {
		p.RatePerSecond = 0
		cfg.Products[code] = p
	}
	return cfg
}

func (f *fixture) env(s shards.Shard) pipeline.Env {
	return pipeline.Env{Caller: f.client, Cipher: f.client.Cipher(), Secret: testSecret, Now: func() time.Time { return fixedNow }, Shard: s}
}

// shard runs shard i of n with cfg (the fixture's when nil).
func (f *fixture) shard(i, n int, cfg *config.Config) *manifest.Manifest {
	f.t.Helper()
	if cfg == nil {
		cfg = f.config()
	}
	m, err := pipeline.Run(context.Background(), cfg, f.env(shards.Shard{Index: i, Count: n}))
	if err != nil {
		f.t.Fatalf("shard %d of %d: %v", i, n, err)
	}
	return m
}

// whole runs the sample applicants unsharded into a folder of its own.
func (f *fixture) whole() *manifest.Manifest {
	f.t.Helper()
	cfg := f.config()
	cfg.Output.Dir = filepath.Join(f.t.TempDir(), "whole")
	cfg.Cache.Path = filepath.Join(f.t.TempDir(), "replies.db")
	m, err := pipeline.Run(context.Background(), cfg, f.env(shards.Shard{}))
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readManifest(t *testing.T, path string) *collect.Manifest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m collect.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestCollectPublishesTheDataset(t *testing.T) {
	f := newFixture(t)
	whole := f.whole()
	const n = 3
	for i := range n {
		f.shard(i, n, nil)
	}
	gw := &pushgateway{}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	m, err := collect.Collect(f.out, collect.Options{XLSX: true, Now: func() time.Time { return fixedNow },
		MetricsJob: "book", Pushgateway: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	// metrics.prom and what was pushed hold the combined manifest's counts.
	data, err := os.ReadFile(filepath.Join(f.out, collect.FileMetrics))
	if err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, "metrics.prom", data, &m.Manifest, map[string]string{"scorepipe_job": "book"})
	if gw.method != http.MethodPut || gw.path != "/metrics/job/book" {
		t.Errorf("pushed %s %s, want PUT /metrics/job/book", gw.method, gw.path)
	}
	checkMetrics(t, "the push", gw.body, &m.Manifest, nil)
	families, _ := metrics.Parse(data)
	if got := families[metrics.NameShards].Metric[0].GetGauge().GetValue(); got != n {
		t.Errorf("%s = %v, want %d", metrics.NameShards, got, n)
	}
	if got := families[metrics.NameLastSuccess].Metric[0].GetGauge().GetValue(); got != float64(fixedNow.Unix()) {
		t.Errorf("%s = %v, want the collect's time", metrics.NameLastSuccess, got)
	}
	if !exists(filepath.Join(f.out, collect.FileSuccess)) {
		t.Fatal("no _SUCCESS after collect")
	}
	onDisk := readManifest(t, filepath.Join(f.out, collect.FileManifest))
	for _, got := range []*collect.Manifest{m, onDisk} {
		if got.Rows != whole.Rows {
			t.Errorf("combined rows %+v, the whole run's %+v", got.Rows, whole.Rows)
		}
		for code, w := range whole.Products {
			g := got.Products[code]
			if g == nil || g.StatusCounts != w.StatusCounts || g.Billed != w.Billed || g.Calls != w.Calls || g.Deduplicated != w.Deduplicated {
				t.Errorf("%s: combined %+v, the whole run's %+v", code, g, w)
			}
			for sub, ws := range w.SubProducts {
				if gs := g.SubProducts[sub]; gs == nil || *gs != *ws {
					t.Errorf("%s/%s: combined %+v, the whole run's %+v", code, sub, gs, ws)
				}
			}
		}
		if len(got.Inputs) != 1 || got.Inputs[0].Read != whole.Inputs[0].Read || got.Inputs[0].Blank != whole.Inputs[0].Blank {
			t.Errorf("combined inputs %+v, the whole run's %+v", got.Inputs, whole.Inputs)
		}
		if !mapsEqual(got.Rejects, whole.Rejects) {
			t.Errorf("combined reject reasons %v, the whole run's %v", got.Rejects, whole.Rejects)
		}
		if got.Shards.Count != n || len(got.Shards.Parts) != n || got.Shards.KeyCheck != manifest.KeyCheck(testSecret) || !got.Shards.CollectedAt.Equal(fixedNow) {
			t.Errorf("shards %+v", got.Shards)
		}
	}
	for i, p := range onDisk.Shards.Parts {
		s := shards.Shard{Index: i, Count: n}
		if p.Index != i || p.Part != s.Name() || p.Manifest != s.File(shards.DirManifests, ".json") {
			t.Errorf("part %d: %+v", i, p)
		}
		var names []string
		for _, file := range p.Files {
			names = append(names, file.Name)
			info, err := os.Stat(filepath.Join(f.out, file.Name))
			if err != nil || info.Size() != file.Bytes || len(file.SHA256) != 64 {
				t.Errorf("part %d file %+v: %v", i, file, err)
			}
		}
		want := []string{s.File(shards.DirCSV, ".csv"), s.File(shards.DirFeatures, ".parquet"), s.File(shards.DirManifests, ".json"),
			s.File(shards.DirMetrics, ".prom"), s.File(shards.DirRejects, ".csv")}
		if !slices.Equal(names, want) {
			t.Errorf("part %d files %v, want %v", i, names, want)
		}
	}
	var outputs []string
	for _, o := range onDisk.Outputs {
		outputs = append(outputs, o.Name)
	}
	if !slices.Contains(outputs, collect.FileXLSX) || !slices.Contains(outputs, "features/part-00002-of-00003.parquet") {
		t.Errorf("outputs %v", outputs)
	}

	// The workbook: every row, in input order.
	x, err := excelize.OpenFile(filepath.Join(f.out, collect.FileXLSX))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows, err := x.GetRows("features")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows)-1 != whole.Rows.Written {
		t.Errorf("features.xlsx holds %d rows, want %d", len(rows)-1, whole.Rows.Written)
	}
	col := slices.Index(rows[0], "source_row")
	prev := 0
	for _, r := range rows[1:] {
		n, _ := strconv.Atoi(r[col])
		if n <= prev {
			t.Fatalf("features.xlsx: row %d after row %d, want input order", n, prev)
		}
		prev = n
	}
	if sheets := x.GetSheetList(); !slices.Contains(sheets, "dictionary") {
		t.Errorf("sheets %v, want a dictionary", sheets)
	}

	// Collecting again without --xlsx removes the workbook.
	if _, err := collect.Collect(f.out, collect.Options{}); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(f.out, collect.FileXLSX)) {
		t.Error("a workbook of an earlier collect survived a collect without --xlsx")
	}
	// A shard that publishes again unmarks the dataset until collected.
	f.shard(1, n, nil)
	if exists(filepath.Join(f.out, collect.FileSuccess)) {
		t.Error("_SUCCESS survived a shard publishing again")
	}
	if _, err := collect.Collect(f.out, collect.Options{}); err != nil || !exists(filepath.Join(f.out, collect.FileSuccess)) {
		t.Errorf("collect after the rerun: %v", err)
	}
}

// pushgateway records the last push.
type pushgateway struct {
	method, path string
	body         []byte
}

func (g *pushgateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.method, g.path = r.Method, r.URL.Path
	g.body, _ = io.ReadAll(r.Body)
}

// checkMetrics parses figures written in the text format with
// Prometheus's parser and checks that their counts are the manifest's.
func checkMetrics(t *testing.T, what string, data []byte, m *manifest.Manifest, labels map[string]string) {
	t.Helper()
	families, err := metrics.Parse(data)
	if err != nil {
		t.Fatalf("%s: Prometheus's parser refuses it: %v", what, err)
	}
	get := func(name string, want map[string]string) float64 {
		t.Helper()
		f := families[name]
		if f == nil {
			t.Fatalf("%s: no %s", what, name)
		}
		for _, metric := range f.Metric {
			got := map[string]string{}
			for _, l := range metric.Label {
				got[l.GetName()] = l.GetValue()
			}
			match := true
			for k, v := range want {
				match = match && got[k] == v
			}
			for k, v := range labels {
				match = match && got[k] == v
			}
			if match {
				return metric.GetGauge().GetValue()
			}
		}
		t.Fatalf("%s: no %s%v", what, name, want)
		return 0
	}
	for kind, n := range map[string]int{"read": m.Rows.Read, "valid": m.Rows.Valid, "rejected": m.Rows.Rejected, "written": m.Rows.Written} {
		if got := get(metrics.NameRows, map[string]string{"kind": kind}); got != float64(n) {
			t.Errorf("%s: rows %s = %v, the manifest says %d", what, kind, got, n)
		}
	}
	for code, p := range m.Products {
		for status, n := range map[string]int{"ok": p.OK, "no_record": p.NoRecord, "failed": p.Failed, "skipped": p.Skipped} {
			if got := get(metrics.NameProductRows, map[string]string{"product": code, "status": status}); got != float64(n) {
				t.Errorf("%s: %s %s = %v, the manifest says %d", what, code, status, got, n)
			}
		}
		for name, n := range map[string]int64{metrics.NameCalls: p.Calls, metrics.NameBilled: p.Billed, metrics.NameFromStore: p.FromStore} {
			if got := get(name, map[string]string{"product": code}); got != float64(n) {
				t.Errorf("%s: %s{%s} = %v, the manifest says %d", what, name, code, got, n)
			}
		}
		if got := get(metrics.NameProductCost, map[string]string{"product": code}); got != p.Cost {
			t.Errorf("%s: cost of %s = %v, the manifest says %v", what, code, got, p.Cost)
		}
	}
	if got := get(metrics.NameCost, nil); got != m.Cost {
		t.Errorf("%s: cost = %v, the manifest says %v", what, got, m.Cost)
	}
	if got := get(metrics.NameExitCode, nil); got != float64(m.Exit.Code) {
		t.Errorf("%s: exit code = %v, the manifest says %d", what, got, m.Exit.Code)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestCollectRefusesAnIncompleteDataset(t *testing.T) {
	f := newFixture(t)
	_, err := collect.Collect(f.out, collect.Options{})
	var mis *collect.MismatchError
	if !errors.As(err, &mis) || !strings.Contains(err.Error(), "no such output folder") {
		t.Errorf("collect of a folder that does not exist = %v", err)
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		t.Fatal(err)
	}
	var np *collect.NotPublishedError
	if _, err := collect.Collect(f.out, collect.Options{}); !errors.As(err, &np) || !strings.Contains(err.Error(), "no shard has published") {
		t.Errorf("collect of an empty folder = %v", err)
	}
	f.shard(0, 4, nil)
	f.shard(2, 4, nil)
	_, err = collect.Collect(f.out, collect.Options{})
	if !errors.As(err, &np) || !slices.Equal(np.Missing, []int{1, 3}) {
		t.Fatalf("Collect = %v, want shards 1 and 3 missing", err)
	}
	for _, want := range []string{"shard 1 of 4 has not published", "shard 3 of 4 has not published", f.out} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// A shard that is running is named as such.
	running, err := publish.OpenPart(f.out, shards.Shard{Index: 3, Count: 4}.Name(), publish.PartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = collect.Collect(f.out, collect.Options{})
	running.Close()
	if !strings.Contains(err.Error(), "shard 3 of 4 is still running (pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("error %q does not say shard 3 is running", err)
	}
	for _, name := range []string{collect.FileSuccess, collect.FileManifest} {
		if exists(filepath.Join(f.out, name)) {
			t.Errorf("%s written for an incomplete dataset", name)
		}
	}
	// A shard whose last run failed is named with why.
	cfg := f.config()
	cfg.Limits.MaxCalls = 4
	j, err := pipeline.Prepare(cfg, f.env(shards.Shard{Index: 1, Count: 4}))
	if err != nil {
		t.Fatal(err)
	}
	j.SetSecret(testSecret)
	_, err = j.Run(context.Background(), pipeline.Vendor{Caller: f.client, Cipher: f.client.Cipher()})
	var over *pipeline.OverBudget
	if !errors.As(err, &over) {
		t.Fatalf("shard 1 with a budget of 4 calls: %v, want an *OverBudget", err)
	}
	j.Report(context.Background(), 3, metrics.ReasonBudget)
	j.Close()
	_, err = collect.Collect(f.out, collect.Options{})
	if !errors.As(err, &np) || !strings.Contains(np.Failed[1], "exit code 3") || !strings.Contains(err.Error(), "shard 1 of 4 has not published: its last run ended at") ||
		!strings.Contains(err.Error(), "limits.max_calls") {
		t.Errorf("Collect = %v, want shard 1 named with its failed run", err)
	}
	// The missing shards publish: collect does.
	f.shard(1, 4, nil)
	f.shard(3, 4, nil)
	if _, err := collect.Collect(f.out, collect.Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestCollectRefusesPartsOfDifferentRuns(t *testing.T) {
	tests := []struct {
		name  string
		other func(f *fixture) // runs shard 1 of 2 differently
		want  string
	}{
		{"configuration", func(f *fixture) {
			cfg := f.config()
			p := cfg.Products["JRZQ9E2A"]
			p.Price = 9
			cfg.Products["JRZQ9E2A"] = p
			f.shard(1, 2, cfg)
		}, "differ in their configuration"},
		{"identity secret", func(f *fixture) {
			e := f.env(shards.Shard{Index: 1, Count: 2})
			e.Secret = []byte("another-secret-0123456789abcdef")
			if _, err := pipeline.Run(context.Background(), f.config(), e); err != nil {
				f.t.Fatal(err)
			}
		}, "differ in their identity secret"},
		{"products", func(f *fixture) {
			cfg := f.config()
			delete(cfg.Products, "COMBTY11")
			f.shard(1, 2, cfg)
		}, "differ in their configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.shard(0, 2, nil)
			tt.other(f)
			_, err := collect.Collect(f.out, collect.Options{})
			var mis *collect.MismatchError
			if !errors.As(err, &mis) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "shard 0 of 2 and shard 1 of 2") {
				t.Fatalf("Collect = %v, want a *MismatchError saying %q", err, tt.want)
			}
			if exists(filepath.Join(f.out, collect.FileSuccess)) {
				t.Error("_SUCCESS written")
			}
		})
	}
}

func TestCollectStrayFilesAndOtherCounts(t *testing.T) {
	f := newFixture(t)
	f.shard(0, 2, nil)
	f.shard(1, 2, nil)
	stray := filepath.Join(f.out, shards.DirFeatures, "extra.parquet")
	if err := os.WriteFile(stray, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := collect.Collect(f.out, collect.Options{})
	if !strings.Contains(errText(err), "features/extra.parquet") {
		t.Errorf("Collect = %v, want the stray file named", err)
	}
	os.Remove(stray)

	// Three shards of a new sharding publish beside the two of the old.
	for i := range 3 {
		f.shard(i, 3, nil)
	}
	_, err = collect.Collect(f.out, collect.Options{})
	if !strings.Contains(errText(err), "holds the parts of 2 and 3 shards") || !strings.Contains(errText(err), "--shards") {
		t.Fatalf("Collect = %v, want it to ask for --shards", err)
	}
	m, err := collect.Collect(f.out, collect.Options{Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	if m.Shards.Count != 3 {
		t.Errorf("collected %d shards", m.Shards.Count)
	}
	for _, d := range shards.Dirs {
		entries, _ := os.ReadDir(filepath.Join(f.out, d))
		for _, e := range entries {
			if strings.Contains(e.Name(), "-of-00002") {
				t.Errorf("%s/%s of the earlier sharding survived", d, e.Name())
			}
		}
	}
	if exists(filepath.Join(f.out, shards.Shard{Index: 0, Count: 2}.Marker())) {
		t.Error("a marker of the earlier sharding survived")
	}
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestCollectFailureAtEachWrite(t *testing.T) {
	for _, step := range []string{collect.FileXLSX, collect.FileManifest, collect.FileSuccess} {
		t.Run(step, func(t *testing.T) {
			f := newFixture(t)
			f.shard(0, 2, nil)
			f.shard(1, 2, nil)
			if _, err := collect.Collect(f.out, collect.Options{}); err != nil {
				t.Fatal(err)
			}
			_, err := collect.Collect(f.out, collect.Options{XLSX: true, BeforeWrite: func(name string) error {
				if name == step {
					return errors.New("injected fault")
				}
				return nil
			}})
			if err == nil || !strings.Contains(err.Error(), "injected fault") {
				t.Fatalf("Collect = %v, want the fault", err)
			}
			if exists(filepath.Join(f.out, collect.FileSuccess)) {
				t.Errorf("_SUCCESS after a failure at %s", step)
			}
			entries, _ := os.ReadDir(f.out)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("temporary file %s left", e.Name())
				}
			}
			if _, err := collect.Collect(f.out, collect.Options{XLSX: true}); err != nil || !exists(filepath.Join(f.out, collect.FileSuccess)) {
				t.Errorf("the next collect: %v", err)
			}
		})
	}
}
