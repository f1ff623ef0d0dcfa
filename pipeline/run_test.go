package pipeline_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/xuri/excelize/v2"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// testSecret keeps applicant keys stable across test runs.
var testSecret = []byte("scorepipe-test-secret-0123456789")

// fixedNow is the run date of the tests, so that birth dates and
// authorization periods are judged the same way every year.
var fixedNow = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// fakeVendor starts the fake vendor on a real loopback listener.
func fakeVendor(t *testing.T, opts tianyuantest.Options) (*tianyuantest.Vendor, *tianyuan.Client) {
	t.Helper()
	srv, v := tianyuantest.NewServer(opts)
	t.Cleanup(srv.Close)
	key := opts.Key
	if key == nil {
		key = tianyuantest.DemoKey()
	}
	id := opts.AccessID
	if id == "" {
		id = tianyuantest.DemoAccessID
	}
	c, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: srv.URL, AccessID: id, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return v, c
}

// sampleConfig loads samples/pipeline.yaml with test settings: fast
// retries, a temporary output directory, all formats.
func sampleConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.LoadConfig("../samples/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Output.Dir = t.TempDir()
	cfg.Cache.Path = filepath.Join(t.TempDir(), "state", "replies.db") // the test's own state
	cfg.Output.Formats = []string{config.FormatParquet, config.FormatXLSX, config.FormatCSV}
	cfg.Retry.BaseDelay, cfg.Retry.MaxDelay = time.Millisecond, 5*time.Millisecond
	for code, p := range cfg.Products {
		p.RatePerSecond = 0
		cfg.Products[code] = p
	}
	return cfg
}

// sampleComplete returns err: a run of the samples on the fake vendor
// is complete, every product and sub-product answered for every row.
func sampleComplete(err error) error { return err }

// requireComplete fails the test unless the run was complete.
func requireComplete(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func env(c *tianyuan.Client) pipeline.Env {
	return pipeline.Env{Caller: c, Cipher: c.Cipher(), Secret: testSecret, Now: func() time.Time { return fixedNow }}
}

// readCSV reads a CSV file as header + rows, after its UTF-8 BOM if it
// has one (outputs do by default: output.csv.bom).
func readCSV(t *testing.T, path string) ([]string, [][]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ = bytes.CutPrefix(data, []byte("\ufeff"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs[0], recs[1:]
}

func column(t *testing.T, header []string, name string) int {
	t.Helper()
	i := slices.Index(header, name)
	if i < 0 {
		t.Fatalf("no column %s in %v", name, header)
	}
	return i
}

func TestSamplesEndToEnd(t *testing.T) {
	v, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	m, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	out := cfg.Output.Dir

	t.Run("manifest counts add up", func(t *testing.T) {
		if m.Rows.Read != m.Rows.Valid+m.Rows.Rejected {
			t.Errorf("read %d != valid %d + rejected %d", m.Rows.Read, m.Rows.Valid, m.Rows.Rejected)
		}
		if m.Rows.Written != m.Rows.Valid {
			t.Errorf("written %d, want valid %d", m.Rows.Written, m.Rows.Valid)
		}
		p := m.Products["JRZQ9E2A"]
		if got := p.OK + p.NoRecord + p.Failed + p.Skipped; got != m.Rows.Valid {
			t.Errorf("product outcomes %d, want %d", got, m.Rows.Valid)
		}
		if p.Failed != 0 {
			t.Errorf("failed = %d, want 0", p.Failed)
		}
		if got, want := v.Requests("JRZQ9E2A"), p.Calls; got != want {
			t.Errorf("vendor saw %d requests, manifest says %d calls", got, want)
		}
		var onDisk manifest.Manifest
		data, err := os.ReadFile(filepath.Join(out, pipeline.FileManifest))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &onDisk); err != nil {
			t.Fatal(err)
		}
		if onDisk.Rows != m.Rows {
			t.Errorf("manifest.json rows %+v, want %+v", onDisk.Rows, m.Rows)
		}
		if runtime.GOOS == "linux" && (onDisk.PeakRSSMB <= 0 || onDisk.PeakRSSMB > 4096) {
			t.Errorf("manifest.json peak_rss_mb = %v, want the run's peak memory", onDisk.PeakRSSMB)
		}
		if _, err := os.Stat(filepath.Join(out, pipeline.FileSuccess)); err != nil {
			t.Errorf("no _SUCCESS: %v", err)
		}
	})

	t.Run("every input row is in features or rejects exactly once", func(t *testing.T) {
		_, inRows := readCSV(t, "../samples/applicants.csv")
		header, feats := readCSV(t, filepath.Join(out, pipeline.FileCSV))
		rh, rejects := readCSV(t, filepath.Join(out, pipeline.FileRejects))
		seen := map[string]int{}
		rowCol, rejRowCol := column(t, header, "source_row"), column(t, rh, "source_row")
		for _, r := range feats {
			seen[r[rowCol]]++
		}
		for _, r := range rejects {
			seen[r[rejRowCol]]++
		}
		for row, n := range seen {
			if n != 1 {
				t.Errorf("row %s appears %d times", row, n)
			}
		}
		if got, want := len(seen), len(inRows); got != want {
			t.Errorf("rows accounted for = %d, want %d input rows", got, want)
		}
		if got := len(rejects); got != m.Rows.Rejected || got < 10 {
			t.Errorf("rejects = %d, manifest %d (want ≥ 10 sample bad rows)", got, m.Rows.Rejected)
		}
	})

	t.Run("rows in input order", func(t *testing.T) {
		header, feats := readCSV(t, filepath.Join(out, pipeline.FileCSV))
		rowCol := column(t, header, "source_row")
		prev := 0
		for _, r := range feats {
			var n int
			fmt.Sscan(r[rowCol], &n)
			if n <= prev {
				t.Fatalf("row %d after row %d", n, prev)
			}
			prev = n
		}
	})

	t.Run("code 1 of xyp_cpl0001, (0,9) institutions, is 1 to 8 in parquet and xlsx", func(t *testing.T) {
		tbl := readParquet(t, filepath.Join(out, pipeline.FileParquet))
		codes := stringColumn(t, tbl, "xyp_cpl0001_code")
		lows, highs := floatColumn(t, tbl, "xyp_cpl0001_low"), floatColumn(t, tbl, "xyp_cpl0001_high")
		found := 0
		for i, c := range codes {
			if c == "1" {
				found++
				if lows[i] == nil || *lows[i] != 1 || highs[i] == nil || *highs[i] != 8 {
					t.Errorf("parquet row %d: code 1 → (%v, %v), want (1, 8)", i, lows[i], highs[i])
				}
			}
		}
		if found == 0 {
			t.Fatal("no row with code 1 in parquet")
		}
		x, err := excelize.OpenFile(filepath.Join(out, pipeline.FileXLSX))
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		rows, err := x.GetRows("features")
		if err != nil {
			t.Fatal(err)
		}
		h := rows[0]
		ci, li, hi := column(t, h, "xyp_cpl0001_code"), column(t, h, "xyp_cpl0001_low"), column(t, h, "xyp_cpl0001_high")
		xfound := 0
		for _, r := range rows[1:] {
			if len(r) > hi && r[ci] == "1" {
				xfound++
				if r[li] != "1" || r[hi] != "8" {
					t.Errorf("xlsx: code 1 → (%s, %s), want (1, 8)", r[li], r[hi])
				}
			}
		}
		if xfound != found {
			t.Errorf("xlsx has %d rows with code 1, parquet %d", xfound, found)
		}
		if got := len(rows) - 1; got != m.Rows.Written {
			t.Errorf("xlsx rows = %d, want %d", got, m.Rows.Written)
		}
	})

	t.Run("parquet types", func(t *testing.T) {
		tbl := readParquet(t, filepath.Join(out, pipeline.FileParquet))
		want := map[string]arrow.Type{
			"source_row": arrow.INT64, "applicant_key": arrow.STRING, "jrzq9e2a_status": arrow.STRING,
			"jrzq9e2a_code": arrow.INT64, "jrzq9e2a_queried_at": arrow.TIMESTAMP, "xyp_cpl0001_low": arrow.FLOAT64,
			"xyp_cpl0044": arrow.INT64, "xyp_model_score_high": arrow.FLOAT64, "label": arrow.INT64, "apply_date": arrow.DATE32, "application_id": arrow.STRING,
		}
		for name, typ := range want {
			fields := tbl.Schema().FieldIndices(name)
			if len(fields) != 1 {
				t.Errorf("column %s missing", name)
				continue
			}
			f := tbl.Schema().Field(fields[0])
			if f.Type.ID() != typ || !f.Nullable {
				t.Errorf("column %s: %s nullable=%v, want %s nullable", name, f.Type, f.Nullable, typ)
			}
		}
		if got := int(tbl.NumRows()); got != m.Rows.Written {
			t.Errorf("parquet rows = %d, want %d", got, m.Rows.Written)
		}
	})

	t.Run("golden", func(t *testing.T) {
		golden(t, filepath.Join(out, pipeline.FileCSV), "testdata/samples_features.golden.csv")
		golden(t, filepath.Join(out, pipeline.FileRejects), "testdata/samples_rejects.golden.csv")
	})
}

// golden compares a CSV output with its golden file, leaving out the
// columns that differ from call to call (transaction id, time) and the
// absolute source path.
func golden(t *testing.T, got, want string) {
	t.Helper()
	header, rows := readCSV(t, got)
	var keep []int
	for i, h := range header {
		if strings.HasSuffix(h, "_transaction_id") || strings.HasSuffix(h, "_queried_at") {
			continue
		}
		keep = append(keep, i)
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	line := func(r []string) {
		out := make([]string, 0, len(keep))
		for _, i := range keep {
			v := r[i]
			if header[i] == "source_file" {
				v = filepath.Base(v)
			}
			out = append(out, v)
		}
		_ = w.Write(out)
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
	w.Flush()
	if *update {
		if err := os.WriteFile(want, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	wantData, err := os.ReadFile(want)
	if err != nil {
		t.Fatalf("%v (run go test ./pipeline -run Golden -update to create it)", err)
	}
	if b.String() != string(wantData) {
		gl, wl := strings.Split(b.String(), "\n"), strings.Split(string(wantData), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs from %s at line %d:\n got: %s\nwant: %s", got, want, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: %d lines, golden %s has %d", got, len(gl), want, len(wl))
	}
}

func readParquet(t *testing.T, path string) arrow.Table {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pf.Close() })
	r, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := r.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

func chunks(t *testing.T, tbl arrow.Table, name string) []arrow.Array {
	t.Helper()
	idx := tbl.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %s", name)
	}
	return tbl.Column(idx[0]).Data().Chunks()
}

func stringColumn(t *testing.T, tbl arrow.Table, name string) []string {
	var out []string
	for _, c := range chunks(t, tbl, name) {
		s := c.(*array.String)
		for i := 0; i < s.Len(); i++ {
			out = append(out, s.Value(i))
		}
	}
	return out
}

func floatColumn(t *testing.T, tbl arrow.Table, name string) []*float64 {
	var out []*float64
	for _, c := range chunks(t, tbl, name) {
		f := c.(*array.Float64)
		for i := 0; i < f.Len(); i++ {
			if f.IsNull(i) {
				out = append(out, nil)
				continue
			}
			v := f.Value(i)
			out = append(out, &v)
		}
	}
	return out
}

func TestRerunFromStorePaysNothing(t *testing.T) {
	v, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	_, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	first := v.Requests("JRZQ9E2A")
	_, before := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
	m, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	if got := v.Requests("JRZQ9E2A") - first; got != 0 {
		t.Errorf("rerun made %d vendor requests, want 0", got)
	}
	if got, want := m.Products["JRZQ9E2A"].FromStore, int64(m.Rows.Valid); got != want {
		t.Errorf("from_store = %d, want %d", got, want)
	}
	_, after := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
	if !slices.EqualFunc(before, after, slices.Equal) {
		t.Error("rerun from the store gave different rows")
	}
}

// TestRepeatedApplicantCounts runs one applicant in many rows twice. Rows
// wait on each other's calls; the counts must not depend on which row went
// first: in the first run one paid call and the rest deduplicated, in the
// rerun every row from the store.
func TestRepeatedApplicantCounts(t *testing.T) {
	rows := cleanSampleRows(t)
	input := [][]string{rows[0]}
	for range 400 {
		input = append(input, rows[1])
	}
	path := filepath.Join(t.TempDir(), "same.csv")
	writeDelimited(t, path, input, ',', false, false)
	v, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	cfg.Input.Files = []string{path}
	tests := []struct {
		run                          string
		wantFromStore, wantDedup     int64
		wantBilledTotal, wantRowsOut int
	}{
		{"first", 0, 399, 1, 400},
		{"rerun", 400, 0, 1, 400},
	}
	for _, tt := range tests {
		t.Run(tt.run, func(t *testing.T) {
			m, err := pipeline.Run(context.Background(), cfg, env(client))
			if err != nil {
				t.Fatal(err)
			}
			p := m.Products["JRZQ9E2A"]
			if p.FromStore != tt.wantFromStore || p.Deduplicated != tt.wantDedup {
				t.Errorf("from_store, deduplicated = %d, %d; want %d, %d", p.FromStore, p.Deduplicated, tt.wantFromStore, tt.wantDedup)
			}
			if got := v.Billed("JRZQ9E2A"); got != int64(tt.wantBilledTotal) {
				t.Errorf("billed %d in all, want %d", got, tt.wantBilledTotal)
			}
			if m.Rows.Valid != tt.wantRowsOut {
				t.Errorf("valid rows %d, want %d", m.Rows.Valid, tt.wantRowsOut)
			}
		})
	}
}

func TestDuplicateApplicantsBilledOnce(t *testing.T) {
	v, client := fakeVendor(t, tianyuantest.Options{Latency: 20 * time.Millisecond})
	cfg := sampleConfig(t)
	m, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	p := m.Products["JRZQ9E2A"]
	if got, want := v.Billed("JRZQ9E2A"), int64(m.Rows.Valid)-p.Deduplicated-p.FromStore; got != want {
		t.Errorf("billed %d, want valid rows %d minus %d deduplicated", got, m.Rows.Valid, p.Deduplicated)
	}
	if p.Deduplicated+p.FromStore < 3 {
		t.Errorf("deduplicated + from_store = %d, want ≥ 3 (the sample has 3 repeated applicants)", p.Deduplicated+p.FromStore)
	}
}

// recordingCaller notes when each call passes the limiter.
type recordingCaller struct {
	next tianyuan.Caller
	mu   sync.Mutex
	at   []time.Time
}

func (r *recordingCaller) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	r.mu.Lock()
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	return r.next.Call(ctx, product, params)
}

func TestRateLimitWindow(t *testing.T) {
	const rate, burst = 40, 4
	v, client := fakeVendor(t, tianyuantest.Options{Latency: 5 * time.Millisecond})
	cfg := sampleConfig(t)
	cfg.Products = map[string]config.ProductConfig{"JRZQ9E2A": {RatePerSecond: rate, Burst: burst, Concurrency: 16}}
	rec := &recordingCaller{next: client}
	e := env(client)
	e.Caller = rec
	m, err := pipeline.Run(context.Background(), cfg, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.at) < 150 {
		t.Fatalf("only %d calls; the test needs several seconds of calls", len(rec.at))
	}
	check := func(name string, times []time.Time, most int) {
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		worst := 0
		for i := range times {
			n := 0
			for j := i; j < len(times) && times[j].Sub(times[i]) < time.Second; j++ {
				n++
			}
			worst = max(worst, n)
		}
		if worst > most {
			t.Errorf("%s: %d calls in one second, want ≤ %d", name, worst, most)
		}
		t.Logf("%s: busiest one-second window has %d calls (limit %d)", name, worst, rate+burst)
	}
	// The bucket grants at most rate + burst in any second, but a call is
	// timed once its goroutine runs again, and at the vendor once its
	// request arrives: on a busy machine calls granted evenly are timed
	// bunched. A tenth more is allowed on both sides; a limiter that let
	// calls through unpaced would give hundreds.
	check("after the limiter", rec.at, rate+burst+rate/10)
	var arrivals []time.Time
	for _, c := range v.Calls() {
		arrivals = append(arrivals, c.At)
	}
	check("at the vendor", arrivals, rate+burst+rate/10)
	p := m.Products["JRZQ9E2A"]
	if int64(len(arrivals)) != p.Calls {
		t.Errorf("vendor logged %d calls, manifest %d", len(arrivals), p.Calls)
	}
	// A vendor that does not throttle leaves the rate at the ceiling.
	if p.Throttled != 0 || p.RateMin != rate || p.RateFinal != rate || p.PausedSeconds != 0 {
		t.Errorf("throttled %d, rate_min %v, rate_final %v, paused %vs; want 0, %d, %d, 0", p.Throttled, p.RateMin, p.RateFinal, p.PausedSeconds, rate, rate)
	}
}

func TestWrongKeyStopsEarly(t *testing.T) {
	srv, v := tianyuantest.NewServer(tianyuantest.Options{})
	t.Cleanup(srv.Close)
	wrong := make([]byte, 16)
	client, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: srv.URL, AccessID: tianyuantest.DemoAccessID, Key: wrong})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sampleConfig(t)
	_, err = pipeline.Run(context.Background(), cfg, env(client))
	var abort *pipeline.AbortError
	if !errors.As(err, &abort) {
		t.Fatalf("Run error = %v, want *AbortError", err)
	}
	if !strings.Contains(err.Error(), "1002") {
		t.Errorf("error %q does not name code 1002", err)
	}
	conc := int64(cfg.Products["JRZQ9E2A"].Concurrency)
	if got := v.Requests("JRZQ9E2A"); got > 2*conc {
		t.Errorf("vendor saw %d requests after a wrong key, want ≤ %d", got, 2*conc)
	}
	for _, name := range []string{pipeline.FileParquet, pipeline.FileXLSX, pipeline.FileCSV, pipeline.FileManifest, pipeline.FileSuccess, pipeline.FileRejects} {
		if _, err := os.Stat(filepath.Join(cfg.Output.Dir, name)); err == nil {
			t.Errorf("%s published by an aborted run", name)
		}
	}
	entries, _ := os.ReadDir(cfg.Output.Dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestTransientFaultsAreRetried(t *testing.T) {
	// A body that is not JSON is not transient: it is tried once more
	// only (see TestUnreadableRepliesAreNotPaidAgain). HTTP 429 is not
	// among them either: it is throttling, which slows the product down
	// (see the throttling tests).
	v, client := fakeVendor(t, tianyuantest.Options{Seed: 7, Faults: tianyuantest.Faults{HTTP503: 0.25, Code1001: 0.05}})
	cfg := sampleConfig(t)
	// With 30% of attempts failing, a call fails 8 attempts in a row with
	// probability 0.3^8 = 7e-5: over about 430 calls, one run in thirty
	// would have a failed row. With 20 attempts, 0.3^20 = 3e-11 a call.
	const attempts = 20
	cfg.Retry.MaxAttempts = attempts
	m, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	p := m.Products["JRZQ9E2A"]
	if p.Failed != 0 {
		t.Errorf("failed = %d, want 0 with %d attempts", p.Failed, attempts)
	}
	if p.Retries == 0 {
		t.Error("no retries counted with 30% faults")
	}
	if got, want := v.Requests("JRZQ9E2A"), p.Calls; got != want {
		t.Errorf("vendor saw %d requests, manifest %d", got, want)
	}
	if got, want := v.Billed("JRZQ9E2A"), p.Billed; got != want {
		t.Errorf("vendor billed %d, manifest %d", got, want)
	}
}
