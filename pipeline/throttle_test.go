package pipeline_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pacing"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// throttleJob is a run against a fake vendor that enforces a rate limit.
type throttleJob struct {
	rows     int
	products map[string]config.ProductConfig
	vendor   tianyuantest.Options
	setup    func(cfg *config.Config)
	logger   *slog.Logger
	// during, when set, runs beside the run with the vendor, until the run
	// ends (its context is then cancelled).
	during func(ctx context.Context, v *tianyuantest.Vendor)
}

// throttleResult is what the run and the vendor saw.
type throttleResult struct {
	m       *manifest.Manifest
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
	cfg.Output.Formats = []string{config.FormatCSV}
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

// TestThrottledRowsAreAnswered runs against a vendor that throttles above a
// limit, with retry.max_attempts 1: throttled answers are retried without
// counting as attempts, and every row ends answered, each paid once.
func TestThrottledRowsAreAnswered(t *testing.T) {
	const rows, limit = 120, 50
	tests := []struct {
		name       string
		throttle   tianyuantest.Throttle
		codes      []int // vendor.codes.throttle
		wantFailed bool
	}{
		{"429 with Retry-After", tianyuantest.Throttle{Limit: limit}, nil, false},
		{"429 without Retry-After", tianyuantest.Throttle{Limit: limit, RetryAfter: -1}, nil, false},
		{"503 with Retry-After", tianyuantest.Throttle{Limit: limit, Status: 503}, nil, false},
		{"a vendor code configured as throttling", tianyuantest.Throttle{Limit: limit, Code: 1099}, []int{1099}, false},
		{"a vendor code not configured", tianyuantest.Throttle{Limit: limit, Code: 1099}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := throttleJob{rows: rows, products: map[string]config.ProductConfig{"JRZQ9E2A": {RatePerSecond: 1000, Burst: 5, Concurrency: 8}},
				vendor: tianyuantest.Options{Throttle: tt.throttle},
				setup: func(cfg *config.Config) {
					cfg.Retry.MaxAttempts = 1
					cfg.Vendor.Codes.Throttle = tt.codes
				}}.run(t)
			var throttled int64
			for _, c := range r.calls {
				if c.Status == 429 || c.Status == 503 || c.Code == 1099 {
					throttled++
				}
			}
			if throttled == 0 {
				t.Fatal("the vendor throttled nothing: the test does not test")
			}
			p := r.m.Products["JRZQ9E2A"]
			if tt.wantFailed {
				if !errors.Is(r.err, pipeline.ErrRowsFailed) || p.Failed == 0 || p.Throttled != 0 {
					t.Errorf("err %v, %d failed, %d throttled; want rows failed by an unknown code, none throttled", r.err, p.Failed, p.Throttled)
				}
				return
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			if p.Failed != 0 || p.OK+p.NoRecord != rows {
				t.Errorf("ok %d + no_record %d, failed %d, want %d answered, none failed", p.OK, p.NoRecord, p.Failed, rows)
			}
			checks := []struct {
				name      string
				got, want int64
			}{
				{"throttled", p.Throttled, throttled},
				{"calls", p.Calls, int64(len(r.calls))},
				{"billed", p.Billed, int64(rows) - p.Deduplicated},
				{"retries", p.Retries, int64(len(r.calls) - rows + int(p.Deduplicated))},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("manifest %s = %d, want %d (the vendor's count)", c.name, c.got, c.want)
				}
			}
		})
	}
}

// logRecorder keeps the log lines of a run.
type logRecorder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logRecorder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRetryAfterPausesTheProduct checks at the vendor that no request comes
// in before the Retry-After of a throttled one has passed (one call in
// flight, so that none was on its way), that the run says it was throttled,
// and what it settled at.
func TestRetryAfterPausesTheProduct(t *testing.T) {
	const limit = 20
	logs := &logRecorder{}
	r := throttleJob{rows: 2 * limit, products: map[string]config.ProductConfig{"JRZQ9E2A": {RatePerSecond: 200, Burst: 5, Concurrency: 1}},
		vendor: tianyuantest.Options{Throttle: tianyuantest.Throttle{Limit: limit}}, // Retry-After: 1
		setup:  func(cfg *config.Config) { cfg.Retry.MaxDelay = 2 * time.Second },
		logger: slog.New(slog.NewTextHandler(logs, nil))}.run(t)
	if r.err != nil {
		t.Fatal(r.err)
	}
	pauses := 0
	for i, c := range r.calls[:len(r.calls)-1] {
		if c.Status != 429 {
			continue
		}
		pauses++
		if gap := r.calls[i+1].At.Sub(c.At); gap < time.Second {
			t.Errorf("request %d came %v after the 429 with Retry-After: 1 of request %d, want ≥ 1s", i+2, gap, i+1)
		}
	}
	if pauses == 0 {
		t.Fatal("no request was throttled: the test does not test")
	}
	p := r.m.Products["JRZQ9E2A"]
	if p.PausedSeconds < 1 || p.Throttled != int64(pauses) {
		t.Errorf("manifest: paused %.3fs, throttled %d; want ≥ 1s and %d", p.PausedSeconds, p.Throttled, pauses)
	}
	if p.RateMin > limit || p.RateSettled > limit || p.RateSettled < limit/2 {
		t.Errorf("manifest: rate_min %.1f, rate_settled %.1f, want ≤ the vendor's %d and about it", p.RateMin, p.RateSettled, limit)
	}
	var warns []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "throttled") {
			warns = append(warns, line)
		}
	}
	if len(warns) != 1 || !regexp.MustCompile(`set products\.JRZQ9E2A\.rate_per_second to (1[0-9]|20) or less`).MatchString(warns[0]) {
		t.Errorf("want one WARN line on throttling with the rate as a hint, got:\n%s", logs)
	}
}

// TestRateFollowsTheVendorLimit lowers the vendor's limit in the middle of
// a run, then lifts it: the requests the vendor receives come down to the
// new limit, and go back up past it once it is lifted. Counts are made at
// the vendor, with generous bounds.
func TestRateFollowsTheVendorLimit(t *testing.T) {
	defer pipeline.SetPacing(200*time.Millisecond, time.Second)()
	const high, low = 200, 50
	var lowered, lifted int // call log indices where the limit changed
	r := throttleJob{rows: 1000, products: map[string]config.ProductConfig{"JRZQ9E2A": {RatePerSecond: 400, Burst: 5, Concurrency: 16}},
		vendor: tianyuantest.Options{Throttle: tianyuantest.Throttle{Limit: high}},
		during: func(ctx context.Context, v *tianyuantest.Vendor) {
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for lifted == 0 {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				switch n := v.Requests("JRZQ9E2A"); {
				case lowered == 0 && n >= 300:
					v.SetThrottle(tianyuantest.Throttle{Limit: low})
					lowered = len(v.Calls())
				case lowered > 0 && time.Since(v.Calls()[lowered-1].At) > 3*time.Second:
					v.SetThrottle(tianyuantest.Throttle{})
					lifted = len(v.Calls())
				}
			}
		}}.run(t)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if lowered == 0 || lifted == 0 || lifted >= len(r.calls)-100 {
		t.Fatalf("the run ended before the test could change the limit (lowered at %d, lifted at %d of %d calls)", lowered, lifted, len(r.calls))
	}
	p := r.m.Products["JRZQ9E2A"]
	if p.Failed != 0 || p.OK+p.NoRecord != 1000 {
		t.Errorf("ok %d + no_record %d, failed %d, want 1000 answered", p.OK, p.NoRecord, p.Failed)
	}
	if p.RateMin > low {
		t.Errorf("rate_min %.1f, want ≤ the lowered limit %d", p.RateMin, low)
	}
	// Down: in the last second and a half before the limit was lifted, the
	// vendor received about the lowered limit, not the 200 a second before.
	end := r.calls[lifted-1].At
	var late []time.Time
	for _, c := range r.calls[lowered:lifted] {
		if end.Sub(c.At) < 1500*time.Millisecond {
			late = append(late, c.At)
		}
	}
	if got, max := len(late), 112; got > max { // 1.5 s at the limit, and half as many again
		t.Errorf("%d requests in the last 1.5s under the limit of %d/s, want ≤ %d", got, low, max)
	}
	// Up: once lifted, the answered requests of some second are well past
	// the lowered limit.
	after := throttleResult{calls: r.calls[lifted:]}
	if got := busiestSecond(after.answeredTimes("JRZQ9E2A")); got < 2*low {
		t.Errorf("after the limit was lifted, the busiest second has %d answered requests, want ≥ %d", got, 2*low)
	}
	if p.RateFinal <= low {
		t.Errorf("rate_final %.1f, want past the lowered limit %d", p.RateFinal, low)
	}
}

// TestThrottleBudgetStopsTheRun: a vendor that throttles every request
// stops the run once retry.throttle_budget has passed without an answer;
// nothing is published and no row is marked failed.
func TestThrottleBudgetStopsTheRun(t *testing.T) {
	r := throttleJob{rows: 20, products: map[string]config.ProductConfig{"JRZQ9E2A": {RatePerSecond: 0, Burst: 1, Concurrency: 4}},
		vendor: tianyuantest.Options{Faults: tianyuantest.Faults{HTTP429: 1, RetryAfter: -1}},
		setup:  func(cfg *config.Config) { cfg.Retry.ThrottleBudget = 300 * time.Millisecond }}.run(t)
	var abort *pipeline.AbortError
	var budget *pacing.ThrottleBudgetError
	if !errors.As(r.err, &abort) || !errors.As(r.err, &budget) {
		t.Fatalf("err = %v, want an AbortError for retry.throttle_budget", r.err)
	}
	if !strings.Contains(r.err.Error(), "retry.throttle_budget") || !strings.Contains(r.err.Error(), "JRZQ9E2A") {
		t.Errorf("message %q does not name the product and the budget", r.err)
	}
	if r.m != nil {
		t.Error("a manifest came back from a stopped run")
	}
}
