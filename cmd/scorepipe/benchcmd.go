package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// benchResult is what bench measured; it is also written as bench.json.
type benchResult struct {
	Rows          int       `json:"rows"`
	FillSeconds   float64   `json:"fill_seconds"`
	RunSeconds    []float64 `json:"run_seconds"`
	RunMaxRSSKB   []int64   `json:"run_max_rss_kb"`
	RunCPUSeconds []float64 `json:"run_cpu_seconds"` // user + system, all threads
	MedianSeconds float64   `json:"median_seconds"`
	MedianCPU     float64   `json:"median_cpu_seconds"`
	RowsPerSecond float64   `json:"rows_per_second"`
	MedianRSSMB   float64   `json:"median_max_rss_mb"`
	NDJSONLines   int       `json:"ndjson_lines"`

	APICalls          int     `json:"api_calls,omitempty"`
	APILimit          float64 `json:"api_limit_per_second,omitempty"`
	APIBurst          int     `json:"api_burst,omitempty"`
	APILatencyMS      float64 `json:"api_latency_ms,omitempty"`
	APICallsPerSecond float64 `json:"api_calls_per_second,omitempty"`
	APIBusiestWindow  int     `json:"api_busiest_one_second_window,omitempty"`
}

func newBenchCommand(g *globalFlags) *cobra.Command {
	var (
		rows, runs, apiCalls int
		dir                  string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure: a run from stored replies to Parquet, and the vendor rate reached",
		Long: `bench generates N synthetic applicants, fills a reply store through the fake
vendor, then times full runs of scorepipe (each in its own process, JRZQ9E2A,
--formats parquet) from the stored replies and reports the median rows/s,
CPU time and peak RSS. The directory keeps the store and its identity secret,
so a run started by hand there reuses them. It also exports the replies as NDJSON (replies.ndjson) and the
interval tables (tables/), the input of docs/bench/duckdb.mjs, and, unless
--api-calls is 0, measures the calls/s reached against a fake vendor with
100 ms latency at a limit of 100 calls/s, burst 5. See docs/PERFORMANCE.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				d, err := os.MkdirTemp("", "scorepipe-bench-")
				if err != nil {
					return err
				}
				dir = d
			}
			res, err := runBench(cmd.Context(), g.stdout, dir, rows, runs, apiCalls)
			if err != nil {
				return err
			}
			data, _ := json.MarshalIndent(res, "", "  ")
			return os.WriteFile(filepath.Join(dir, "bench.json"), append(data, '\n'), 0o644)
		},
	}
	cmd.Flags().IntVar(&rows, "rows", 200_000, "synthetic applicants")
	cmd.Flags().IntVar(&runs, "runs", 5, "timed runs from the store (the median is reported)")
	cmd.Flags().IntVar(&apiCalls, "api-calls", 2000, "calls of the rate-limit measurement (0 skips it)")
	cmd.Flags().StringVar(&dir, "dir", "", "working directory (default: a new temporary one)")
	return cmd
}

// benchSecret is the identity secret of a bench directory, written to
// store/identity.secret beside the store (the runs' outputs are folders
// of the directory, and an output folder never holds a secret): a run
// started by hand there reuses the stored replies.
const benchSecret = "bench-identity-secret-0123456789abcdef"

// writeBenchSecret writes benchSecret to dir/store/identity.secret.
func writeBenchSecret(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "store"), 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "store", "identity.secret"), []byte(benchSecret+"\n"), 0o600)
}

func runBench(ctx context.Context, out io.Writer, dir string, rows, runs, apiCalls int) (*benchResult, error) {
	res := &benchResult{Rows: rows}
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	say("bench directory: %s", dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := writeApplicants(filepath.Join(dir, "applicants.csv"), rows, 1); err != nil {
		return nil, err
	}
	if err := writeBenchSecret(dir); err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "bench.yaml")
	err := os.WriteFile(config, []byte(`input: {files: [applicants.csv], passthrough: {application_id: string, apply_date: date, label: int}}
output: {formats: [parquet]}
vendor: {fake: true}
products:
  JRZQ9E2A: {rate_per_second: 0, burst: 1, concurrency: 64}
cache: {path: store/replies.db}
identity: {secret_file: store/identity.secret}
`), 0o644)
	if err != nil {
		return nil, err
	}
	srv, vendor := tianyuantest.NewServer(tianyuantest.Options{})
	defer srv.Close()

	start := time.Now()
	if _, _, _, err := benchRun(ctx, srv.URL, config, filepath.Join(dir, "out-fill")); err != nil {
		return nil, fmt.Errorf("filling the store: %w", err)
	}
	res.FillSeconds = time.Since(start).Seconds()
	say("filled the store: %d calls in %.1f s (%.0f calls/s, fake vendor in this process)", vendor.Requests("JRZQ9E2A"), res.FillSeconds, float64(vendor.Requests("JRZQ9E2A"))/res.FillSeconds)

	for i := range runs {
		before := vendor.Requests("JRZQ9E2A")
		secs, cpu, rss, err := benchRun(ctx, srv.URL, config, filepath.Join(dir, fmt.Sprintf("out-%d", i+1)))
		if err != nil {
			return nil, err
		}
		if vendor.Requests("JRZQ9E2A") != before {
			return nil, fmt.Errorf("run %d called the vendor: the store did not answer everything", i+1)
		}
		res.RunSeconds = append(res.RunSeconds, secs)
		res.RunMaxRSSKB = append(res.RunMaxRSSKB, rss)
		res.RunCPUSeconds = append(res.RunCPUSeconds, cpu)
		say("run %d from the store: %.2f s, %.0f rows/s, CPU %.2f s (%.1f µs/row), peak RSS %.0f MB",
			i+1, secs, float64(rows)/secs, cpu, 1e6*cpu/float64(rows), float64(rss)/1024)
	}
	if runs > 0 {
		res.MedianSeconds = median(res.RunSeconds)
		res.MedianCPU = median(res.RunCPUSeconds)
		res.RowsPerSecond = float64(rows) / res.MedianSeconds
		rss := make([]float64, len(res.RunMaxRSSKB))
		for i, k := range res.RunMaxRSSKB {
			rss[i] = float64(k) / 1024
		}
		res.MedianRSSMB = median(rss)
		say("median of %d runs: %.2f s, %.0f rows/s, CPU %.2f s (%.1f µs/row), peak RSS %.0f MB",
			runs, res.MedianSeconds, res.RowsPerSecond, res.MedianCPU, 1e6*res.MedianCPU/float64(rows), res.MedianRSSMB)
	}

	if res.NDJSONLines, err = exportForDuckDB(ctx, dir, config); err != nil {
		return nil, err
	}
	say("exported %d replies to replies.ndjson and the tables to tables/ (node docs/bench/duckdb.mjs %s)", res.NDJSONLines, dir)

	if apiCalls > 0 {
		if err := benchAPI(ctx, dir, apiCalls, res); err != nil {
			return nil, err
		}
		say("rate limit %.0f/s burst %d, vendor latency %.0f ms: %d calls at %.1f calls/s (%.1f%% of the limit); busiest one-second window %d calls (limit + burst = %d)",
			res.APILimit, res.APIBurst, res.APILatencyMS, res.APICalls, res.APICallsPerSecond, 100*res.APICallsPerSecond/res.APILimit,
			res.APIBusiestWindow, int(res.APILimit)+res.APIBurst)
	}
	return res, nil
}

func writeApplicants(path string, n int, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := tianyuantest.WriteApplicants(f, n, seed); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// benchRun runs "scorepipe run" in its own process and returns its wall
// time, its CPU time (user and system, seconds) and its peak RSS (KB).
func benchRun(ctx context.Context, endpoint, config, out string, extra ...string) (secs, cpu float64, rss int64, err error) {
	self, err := os.Executable()
	if err != nil {
		return 0, 0, 0, err
	}
	args := append([]string{"run", "--config", config, "--out", out, "--log-level", "warn"}, extra...)
	cmd := exec.CommandContext(ctx, self, args...)
	// The fake vendor (vendor.fake) at endpoint. No secret from the
	// environment: the directory's store/identity.secret.
	cmd.Env = append(os.Environ(), envEndpoint+"="+endpoint, envAccessID+"=", envKey+"=", envSecret+"=")
	if os.Getenv("SCOREPIPE_TEST_MAIN") != "" { // under go test the binary is the test binary
		cmd.Env = append(cmd.Env, "SCOREPIPE_TEST_MAIN=1")
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, 0, fmt.Errorf("%v: %s", err, stderr.String())
	}
	secs = time.Since(start).Seconds()
	cpu = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	// The run's own peak, from its manifest: getrusage's ru_maxrss would, on
	// Linux, also count the memory of this process when it started the run,
	// and reading the run's /proc status while it ran slowed it down.
	var m manifest.Manifest
	if b, err := os.ReadFile(filepath.Join(out, pipeline.FileManifest)); err == nil && json.Unmarshal(b, &m) == nil {
		rss = int64(m.PeakRSSMB * 1024)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && rss == 0 {
		rss = ru.Maxrss // no /proc: an upper bound
	}
	return secs, cpu, rss, nil
}

// exportForDuckDB writes replies.ndjson and the JRZQ9E2A tables.
func exportForDuckDB(ctx context.Context, dir, configFile string) (int, error) {
	cfg, err := config.LoadConfig(configFile)
	if err != nil {
		return 0, err
	}
	f, err := os.Create(filepath.Join(dir, "replies.ndjson"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cipher, err := tianyuan.NewCipher(tianyuantest.DemoKey())
	if err != nil {
		return 0, err
	}
	n, err := exportReplies(ctx, cfg, pipeline.Env{Secret: []byte(benchSecret), Cipher: cipher}, "JRZQ9E2A", []string{"application_id"}, f)
	if err != nil {
		return n, err
	}
	set, err := mappings.Load("")
	if err != nil {
		return n, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "tables"), 0o755); err != nil {
		return n, err
	}
	// The bounds each code gives, by the bracket rule of a field that uses
	// the table: what scorepipe writes.
	catalog := set.Catalogs["JRZQ9E2A"]
	for name, field := range map[string]string{"jrzq9e2a_count": "xyp_cpl0001", "jrzq9e2a_amount": "xyp_cpl0072"} {
		var f *mappings.Field
		for i := range catalog.Fields {
			if catalog.Fields[i].Path == field {
				f = &catalog.Fields[i]
			}
		}
		if f == nil || f.Table != name {
			return n, fmt.Errorf("the JRZQ9E2A catalog has no field %s using table %s", field, name)
		}
		var b strings.Builder
		b.WriteString("code,low,high\n")
		for _, e := range set.Tables[name].Entries {
			low, high := "", ""
			lo, hi, hasLow, hasHigh, _ := f.Bounds(e.Interval)
			if hasLow {
				low = fmt.Sprint(lo)
			}
			if hasHigh {
				high = fmt.Sprint(hi)
			}
			fmt.Fprintf(&b, "%s,%s,%s\n", e.Code, low, high)
		}
		if err := os.WriteFile(filepath.Join(dir, "tables", name+".csv"), []byte(b.String()), 0o644); err != nil {
			return n, err
		}
	}
	return n, f.Close()
}

// benchAPI measures the rate reached against a slow fake vendor.
func benchAPI(ctx context.Context, dir string, calls int, res *benchResult) error {
	const limit, burst, latency = 100, 5, 100 * time.Millisecond
	res.APICalls, res.APILimit, res.APIBurst, res.APILatencyMS = calls, limit, burst, float64(latency.Milliseconds())
	apiDir := filepath.Join(dir, "api")
	// A store left by an earlier bench in dir would answer every call.
	if err := os.RemoveAll(apiDir); err != nil {
		return err
	}
	if err := os.MkdirAll(apiDir, 0o755); err != nil {
		return err
	}
	if err := writeApplicants(filepath.Join(apiDir, "applicants.csv"), calls, 2); err != nil {
		return err
	}
	if err := writeBenchSecret(apiDir); err != nil {
		return err
	}
	config := filepath.Join(apiDir, "api.yaml")
	err := os.WriteFile(config, []byte(fmt.Sprintf(`input: {files: [applicants.csv]}
output: {formats: [parquet]}
vendor: {fake: true}
products:
  JRZQ9E2A: {rate_per_second: %d, burst: %d, concurrency: 16}
cache: {path: store/replies.db}
identity: {secret_file: store/identity.secret}
`, limit, burst)), 0o644)
	if err != nil {
		return err
	}
	srv, vendor := tianyuantest.NewServer(tianyuantest.Options{Latency: latency})
	defer srv.Close()
	if _, _, _, err := benchRun(ctx, srv.URL, config, filepath.Join(apiDir, "out")); err != nil {
		return err
	}
	var at []time.Time
	for _, c := range vendor.Calls() {
		at = append(at, c.At)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	if len(at) < 2 {
		return fmt.Errorf("the rate measurement saw %d calls", len(at))
	}
	// Sustained rate: after the initial burst, calls per second between the
	// burst's end and the last call.
	span := at[len(at)-1].Sub(at[burst-1]).Seconds()
	res.APICallsPerSecond = float64(len(at)-burst) / span
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < time.Second; j++ {
			n++
		}
		res.APIBusiestWindow = max(res.APIBusiestWindow, n)
	}
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
