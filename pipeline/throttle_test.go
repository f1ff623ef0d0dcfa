package pipeline_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

var throttleFigures = flag.Bool("throttle-figures", false, "measure the throttling figures of docs/PERFORMANCE.md (about two minutes)")

// throttleJob is a run against a fake vendor that enforces a rate limit.
type throttleJob struct {
	rows     int
	products map[string]pipeline.ProductConfig
	vendor   tianyuantest.Options
	setup    func(cfg *pipeline.Config)
	logger   *slog.Logger
	// during, when set, runs beside the run with the vendor, until the run
	// ends (its context is then cancelled).
	during func(ctx context.Context, v *tianyuantest.Vendor)
}

// throttleResult is what the run and the vendor saw.
type throttleResult struct {
	m       *pipeline.Manifest
	err     error
	calls   []tianyuantest.Call
	seconds float64 // the run's wall time
}

// applicantsFile writes n synthetic applicants and returns the file.
func applicantsFile(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "applicants.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tianyuantest.WriteApplicants(f, n, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func (j throttleJob) run(t *testing.T) throttleResult {
	t.Helper()
	opts := j.vendor
	opts.CallLog = 10 * j.rows
	v, client := fakeVendor(t, opts)
	cfg := sampleConfig(t)
	cfg.Input.Files = []string{applicantsFile(t, j.rows)}
	cfg.Input.Passthrough = nil
	cfg.Output.Formats = []string{pipeline.FormatCSV}
	cfg.Products = j.products
	if j.setup != nil {
		j.setup(cfg)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	if j.during != nil {
		go func() {
			defer close(done)
			j.during(ctx, v)
		}()
	} else {
		close(done)
	}
	start := time.Now()
	e := env(client)
	e.Logger = j.logger
	m, err := pipeline.Run(context.Background(), cfg, e)
	secs := time.Since(start).Seconds()
	stop()
	<-done
	return throttleResult{m: m, err: err, calls: v.Calls(), seconds: secs}
}

// answeredTimes returns when the vendor received the requests it answered
// with a code (not throttled), in order.
func (r throttleResult) answeredTimes(product string) []time.Time {
	var at []time.Time
	for _, c := range r.calls {
		if c.Product == product && c.Status == 200 && c.Code >= 0 {
			at = append(at, c.At)
		}
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	return at
}

// requestTimes returns when the vendor received every request for product,
// in order.
func (r throttleResult) requestTimes(product string) []time.Time {
	var at []time.Time
	for _, c := range r.calls {
		if c.Product == product {
			at = append(at, c.At)
		}
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	return at
}

// busiestSecond is the most of times within one second.
func busiestSecond(times []time.Time) int {
	worst := 0
	j := 0
	for i := range times {
		for j < len(times) && times[j].Sub(times[i]) < time.Second {
			j++
		}
		worst = max(worst, j-i)
	}
	return worst
}

// perSecond is len(times)-1 over the time from the first to the last.
func perSecond(times []time.Time) float64 {
	if len(times) < 2 {
		return 0
	}
	return float64(len(times)-1) / times[len(times)-1].Sub(times[0]).Seconds()
}

// TestThrottleFigures measures the figures of docs/PERFORMANCE.md
// ("Throttling"): go test ./pipeline -run TestThrottleFigures -throttle-figures -v.
func TestThrottleFigures(t *testing.T) {
	if !*throttleFigures {
		t.Skip("a measurement of about two minutes: -throttle-figures")
	}
	const latency = 100 * time.Millisecond
	var logger *slog.Logger
	if os.Getenv("THROTTLE_DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	defaults := func(cfg *pipeline.Config) { cfg.Retry = pipeline.DefaultConfig().Retry }
	jrzq := pipeline.ProductConfig{RatePerSecond: 100, Burst: 5, Concurrency: 16}
	report := func(name string, r throttleResult, product string) {
		t.Helper()
		if r.err != nil {
			t.Fatalf("%s: %v", name, r.err)
		}
		p := r.m.Products[product]
		answered := r.answeredTimes(product)
		requests := r.requestTimes(product)
		t.Logf("%s: %s rows ok %d, no_record %d, failed %d; %d requests, %d throttled (%.1f%%), paused %.1fs; %.1f answered calls/s (first to last), %.1f over the run's %.1fs; busiest second %d requests, %d answered; rate min %.1f, settled %.1f, final %.1f",
			name, product, p.OK, p.NoRecord, p.Failed, len(requests), p.Throttled, 100*float64(p.Throttled)/float64(len(requests)), p.PausedSeconds,
			perSecond(answered), float64(len(answered))/r.seconds, r.seconds, busiestSecond(requests), busiestSecond(answered),
			p.RateMin, p.RateSettled, p.RateFinal)
	}
	for _, ra := range []struct {
		name string
		d    time.Duration
	}{{"Retry-After 1s", 0}, {"no Retry-After", -1}} {
		r := throttleJob{rows: 1500, products: map[string]pipeline.ProductConfig{"JRZQ9E2A": jrzq},
			vendor: tianyuantest.Options{Latency: latency, Throttle: tianyuantest.Throttle{Limit: 60, RetryAfter: ra.d}},
			setup:  defaults, logger: logger}.run(t)
		report("limit 60/s, ceiling 100, "+ra.name, r, "JRZQ9E2A")
	}
	r := throttleJob{rows: 2000, products: map[string]pipeline.ProductConfig{"JRZQ9E2A": jrzq},
		vendor: tianyuantest.Options{Latency: latency}, setup: defaults, logger: logger}.run(t)
	report("no vendor limit, ceiling 100", r, "JRZQ9E2A")

	both := map[string]pipeline.ProductConfig{"JRZQ9E2A": jrzq, "COMBTY11": {RatePerSecond: 40, Burst: 5, Concurrency: 16}}
	for _, products := range []map[string]pipeline.ProductConfig{
		{"JRZQ9E2A": both["JRZQ9E2A"]}, {"COMBTY11": both["COMBTY11"]}, both} {
		var names []string
		for code := range products {
			names = append(names, code)
		}
		slices.Sort(names)
		r := throttleJob{rows: 1500, products: products, vendor: tianyuantest.Options{Latency: latency,
			Throttle: tianyuantest.Throttle{Products: map[string]int{"JRZQ9E2A": 60, "COMBTY11": 30}}}, setup: defaults, logger: logger}.run(t)
		for _, code := range names {
			report(fmt.Sprintf("products %v, limits 60/s and 30/s", names), r, code)
		}
	}
}
