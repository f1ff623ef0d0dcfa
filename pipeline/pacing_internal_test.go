package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
)

func TestThrottleRule(t *testing.T) {
	rule := throttleRule{codes: []int{1099}}
	tests := []struct {
		name      string
		err       error
		throttled bool
		after     time.Duration
	}{
		{"nil", nil, false, 0},
		{"429", &tianyuan.HTTPError{StatusCode: 429}, true, 0},
		{"429 with Retry-After", &tianyuan.HTTPError{StatusCode: 429, RetryAfter: 2 * time.Second}, true, 2 * time.Second},
		{"429 wrapped", fmt.Errorf("call: %w", &tianyuan.HTTPError{StatusCode: 429}), true, 0},
		{"503 with Retry-After", &tianyuan.HTTPError{StatusCode: 503, RetryAfter: time.Second}, true, time.Second},
		{"503 without Retry-After", &tianyuan.HTTPError{StatusCode: 503}, false, 0},
		{"500 with Retry-After", &tianyuan.HTTPError{StatusCode: 500, RetryAfter: time.Second}, false, 0},
		{"throttling code", &tianyuan.CodeError{Code: 1099}, true, 0},
		{"other code", &tianyuan.CodeError{Code: 1001}, false, 0},
		{"unreadable reply", &tianyuan.ProtocolError{Reason: "not JSON"}, false, 0},
		{"transport", context.DeadlineExceeded, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, after := rule.throttling(tt.err)
			if got != tt.throttled || after != tt.after {
				t.Errorf("throttling(%v) = %v, %v, want %v, %v", tt.err, got, after, tt.throttled, tt.after)
			}
		})
	}
	if got, _ := (throttleRule{}).throttling(&tianyuan.CodeError{Code: 1099}); got {
		t.Error("a code not configured as throttling counts as throttling")
	}
}

func TestSendLogCountBefore(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var l sendLog
	for i := range 30 { // one every 100 ms, from t0 to t0+2.9s
		l.add(t0.Add(time.Duration(i) * 100 * time.Millisecond))
	}
	tests := []struct {
		at   time.Duration
		want int
	}{
		{0, 0},
		{50 * time.Millisecond, 1},
		{time.Second, 10},             // t0 … t0+0.9s
		{1500 * time.Millisecond, 10}, // t0+0.5s … t0+1.4s
		{2900 * time.Millisecond, 10},
		{3500 * time.Millisecond, 5}, // t0+2.5s … t0+2.9s
		{10 * time.Second, 0},
	}
	for _, tt := range tests {
		if got := l.countBefore(t0.Add(tt.at)); got != tt.want {
			t.Errorf("countBefore(t0+%v) = %d, want %d", tt.at, got, tt.want)
		}
	}
	var full sendLog
	for range 2 * len(full.at) {
		full.add(t0)
	}
	if got := full.countBefore(t0.Add(time.Millisecond)); got != len(full.at) {
		t.Errorf("a full ring counts %d, want %d", got, len(full.at))
	}
}

// testPacer returns a pacer of a product at ceiling calls/s (0: unlimited)
// that sent at perSecond from start-1s to start.
func testPacer(ceiling float64, budget time.Duration, start time.Time, perSecond int) *pacer {
	p := newPacer("JRZQ9E2A", config.ProductConfig{RatePerSecond: ceiling, Burst: 5, Concurrency: 16},
		config.RetryConfig{MaxDelay: 30 * time.Second, ThrottleBudget: budget}, defaultPacing, slog.New(slog.DiscardHandler))
	for i := range perSecond {
		p.sent.add(start.Add(-time.Second + time.Duration(i)*time.Second/time.Duration(perSecond)))
	}
	return p
}

// throttle tells p that a request sent at sent was throttled at now.
func throttle(p *pacer, sent, now time.Time, retryAfter time.Duration) error {
	return p.observe(sent, now, throttleRule{}, nil, &tianyuan.HTTPError{StatusCode: 429, RetryAfter: retryAfter})
}

func (p *pacer) rateAt(now time.Time) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.adjust(now)
	return p.rate
}

// TestPacerCurve follows the rate after a throttling answer: down to β·M
// (or, after a Retry-After, just below M once the pause ends), back to just
// below M within pacing.recover, and up to the ceiling along the probe.
func TestPacerCurve(t *testing.T) {
	tune := defaultPacing
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	after := func(d time.Duration) time.Time { return t0.Add(d) }
	k, probe := tune.recover, tune.probe
	tests := []struct {
		name       string
		ceiling    float64
		retryAfter time.Duration
		want       []struct {
			at   time.Time
			rate float64
		}
	}{
		{"429 without Retry-After", 100, 0, []struct {
			at   time.Time
			rate float64
		}{
			{after(0), 0.7 * 60},
			{after(k / 2), 0.96*60 - (0.96-0.7)*60/8},
			{after(k), 0.96 * 60},
			{after(k + probe/2), 0.96 * 60 * 1.125},
			{after(k + probe), 100}, // twice 57.6 is past the ceiling
		}},
		{"429 with Retry-After", 100, time.Second, []struct {
			at   time.Time
			rate float64
		}{
			{after(0), 0.96 * 60},
			{after(time.Second + k), 0.96 * 60},
			{after(time.Second + k + probe/2), 0.96 * 60 * 1.125},
		}},
		{"unlimited", 0, 0, []struct {
			at   time.Time
			rate float64
		}{
			{after(0), 0.7 * 60},
			{after(k), 0.96 * 60},
			{after(k + probe), 2 * 0.96 * 60},
			{after(k + 3*probe), 28 * 0.96 * 60}, // no ceiling: the probe goes on
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPacer(tt.ceiling, 0, t0, 60)
			if err := throttle(p, t0, t0, tt.retryAfter); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if got := p.rateAt(w.at); math.Abs(got-w.rate) > 1e-6 {
					t.Errorf("rate at t0+%v = %.3f, want %.3f", w.at.Sub(t0), got, w.rate)
				}
			}
			f := p.figures(tt.want[len(tt.want)-1].at)
			if f.throttled != 1 || math.Abs(f.settled-0.96*60) > 1e-9 {
				t.Errorf("throttled %d, settled %.2f, want 1, 57.6", f.throttled, f.settled)
			}
		})
	}
}

// TestPacerBackAtTheCeiling checks that the bucket gets its configured
// burst back with the ceiling, and keeps burst 1 below it.
func TestPacerBackAtTheCeiling(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := testPacer(100, 0, t0, 60)
	if err := throttle(p, t0, t0, 0); err != nil {
		t.Fatal(err)
	}
	if got := p.lim.Burst(); got != 1 {
		t.Errorf("burst below the ceiling = %d, want 1", got)
	}
	end := t0.Add(defaultPacing.recover + defaultPacing.probe)
	if got := p.rateAt(end); got != 100 {
		t.Fatalf("rate = %v, want the ceiling 100", got)
	}
	if got, lim := p.lim.Burst(), float64(p.lim.Limit()); got != 5 || lim != 100 {
		t.Errorf("bucket at the ceiling: burst %d, limit %v, want 5, 100", got, lim)
	}
	f := p.figures(end.Add(time.Hour))
	if want := end.Sub(t0); f.slow != want {
		t.Errorf("time below the ceiling = %v, want %v", f.slow, want)
	}
	if math.Abs(f.rateMin-42) > 1e-9 || f.rate != 100 {
		t.Errorf("rate min %v, now %v, want 42, 100", f.rateMin, f.rate)
	}
}

// TestPacerDecreases checks when a throttling answer lowers the rate:
// past the cooldown, for a request sent after the last decrease, and at
// the plateau only when a second answer confirms a lone one; and that an
// answer to an earlier request of the same second corrects the decrease.
func TestPacerDecreases(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type answer struct {
		sent, now time.Time
	}
	tests := []struct {
		name    string
		answers []answer // after the first decrease, at t0, to 42 calls/s (settling at 57.6)
		cuts    int      // decreases after the first
		settled float64
	}{
		{"sent before the decrease", []answer{{at(-time.Millisecond), at(3 * time.Second)}}, 0, 57.6},
		{"within the cooldown", []answer{{at(time.Millisecond), at(500 * time.Millisecond)}}, 0, 57.6},
		{"lone at the plateau", []answer{{at(5 * time.Second), at(5 * time.Second)}}, 0, 57.6 * 0.99},
		{"two lone ones far apart", []answer{{at(5 * time.Second), at(5 * time.Second)}, {at(8 * time.Second), at(8 * time.Second)}}, 0, 57.6 * 0.99 * 0.99},
		{"confirmed", []answer{{at(5 * time.Second), at(5 * time.Second)}, {at(5100 * time.Millisecond), at(5200 * time.Millisecond)}}, 1, 0},
		{"second one sent before the lone one was received", []answer{{at(5 * time.Second), at(5100 * time.Millisecond)}, {at(5050 * time.Millisecond), at(5150 * time.Millisecond)}}, 0, 57.6 * 0.99},
		{"lone ones go no lower than 0.9·M", func() []answer {
			var a []answer
			for i := range 8 { // every 2.5 s, until the probe nears M
				d := 5*time.Second + time.Duration(i)*2500*time.Millisecond
				a = append(a, answer{at(d), at(d)})
			}
			return a
		}(), 0, 0.9 * 60},
		{"an earlier request throttled too", []answer{{at(-100 * time.Millisecond), at(50 * time.Millisecond)}}, 0, 0.96 * 54},
		{"probing past M", []answer{{at(2*time.Second + defaultPacing.probe/2), at(2*time.Second + defaultPacing.probe/2)}}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPacer(100, 0, t0, 60)
			if err := throttle(p, t0, t0, 0); err != nil {
				t.Fatal(err)
			}
			first, last := p.lastCut, t0
			cuts := 0
			for _, a := range tt.answers {
				// What was sent in the second before: 50 a second.
				for s := a.sent.Add(-time.Second); s.Before(a.sent); s = s.Add(20 * time.Millisecond) {
					if s.After(last) {
						p.sent.add(s)
						last = s
					}
				}
				if err := throttle(p, a.sent, a.now, 0); err != nil {
					t.Fatal(err)
				}
				if p.lastCut != first {
					cuts++
					first = p.lastCut
				}
			}
			if cuts != tt.cuts {
				t.Errorf("%d decreases, want %d", cuts, tt.cuts)
			}
			if tt.settled != 0 && math.Abs(p.settled-tt.settled) > 1e-9 {
				t.Errorf("plateau %.4f, want %.4f", p.settled, tt.settled)
			}
		})
	}
}

func TestPacerPauseAccounting(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		pauses  []time.Duration // Retry-After of answers at t0, t0+100ms, …
		want    time.Duration
		until   time.Duration // paused until t0 + until
		maxWait time.Duration
	}{
		{"one", []time.Duration{time.Second}, time.Second, time.Second, 30 * time.Second},
		{"overlapping counted once", []time.Duration{time.Second, time.Second}, 1100 * time.Millisecond, 1100 * time.Millisecond, 30 * time.Second},
		{"a shorter one inside", []time.Duration{2 * time.Second, 500 * time.Millisecond}, 2 * time.Second, 2 * time.Second, 30 * time.Second},
		{"capped by retry.max_delay", []time.Duration{time.Hour}, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPacer(100, 0, t0, 60)
			p.maxPause = tt.maxWait
			for i, d := range tt.pauses {
				now := t0.Add(time.Duration(i) * 100 * time.Millisecond)
				if err := throttle(p, now, now, d); err != nil {
					t.Fatal(err)
				}
			}
			if got := p.pausedUntil.Sub(t0); got != tt.until {
				t.Errorf("paused until t0+%v, want t0+%v", got, tt.until)
			}
			if f := p.figures(t0.Add(time.Hour)); f.paused != tt.want || f.pausedNow {
				t.Errorf("paused %v (now %v), want %v", f.paused, f.pausedNow, tt.want)
			}
			if f := p.figures(t0.Add(50 * time.Millisecond)); !f.pausedNow || f.paused != 50*time.Millisecond {
				t.Errorf("50ms in: paused %v (now %v), want 50ms, now", f.paused, f.pausedNow)
			}
		})
	}
}

func TestPacerThrottleBudget(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	answered := func(p *pacer, now time.Time) {
		_ = p.observe(now, now, throttleRule{}, &tianyuan.Reply{}, nil)
	}
	tests := []struct {
		name    string
		budget  time.Duration
		events  []string // "t" throttled or "a" answered, one a minute
		wantErr bool
	}{
		{"within the budget", 3 * time.Minute, []string{"t", "t", "t", "t"}, false},
		{"past the budget", 2 * time.Minute, []string{"t", "t", "t", "t"}, true},
		{"an answer starts it again", 2 * time.Minute, []string{"t", "t", "a", "t", "t", "t"}, false},
		{"an error answer starts it again", 2 * time.Minute, []string{"t", "t", "e", "t", "t", "t"}, false},
		{"no budget", 0, []string{"t", "t", "t", "t", "t", "t", "t"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPacer(100, tt.budget, t0, 60)
			var err error
			for i, e := range tt.events {
				now := t0.Add(time.Duration(i) * time.Minute)
				switch e {
				case "t":
					err = throttle(p, now, now, 0)
				case "a":
					answered(p, now)
				case "e":
					_ = p.observe(now, now, throttleRule{}, nil, &tianyuan.HTTPError{StatusCode: 500})
				}
			}
			var be *ThrottleBudgetError
			if errors.As(err, &be) != tt.wantErr {
				t.Fatalf("err = %v, want a ThrottleBudgetError %v", err, tt.wantErr)
			}
			if be != nil && (be.Product != "JRZQ9E2A" || be.Budget != tt.budget || !strings.Contains(be.Error(), "retry.throttle_budget")) {
				t.Errorf("error %q does not name the product and the budget", be)
			}
		})
	}
}

// scriptedCaller answers from a script, one error per call (nil for a
// reply), and records when each call came in.
type scriptedCaller struct {
	mu     sync.Mutex
	script []error
	at     []time.Time
}

func (s *scriptedCaller) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = append(s.at, time.Now())
	var err error
	if len(s.script) > 0 {
		err, s.script = s.script[0], s.script[1:]
	}
	if err != nil {
		return nil, err
	}
	return &tianyuan.Reply{Product: product}, nil
}

// TestRetryingThrottled checks that throttled answers are retried without
// counting as attempts, and without a backoff of their own: with a base
// delay of an hour, a backoff after a throttled answer would outlast the
// test's deadline.
func TestRetryingThrottled(t *testing.T) {
	tooMany := &tianyuan.HTTPError{StatusCode: 429}
	tests := []struct {
		name     string
		script   []error
		attempts int
		base     time.Duration // the backoff of transient failures
		wantErr  bool
		calls    int
	}{
		{"throttled, then answered", []error{tooMany, tooMany, tooMany, nil}, 1, time.Hour, false, 4},
		{"throttling code", []error{&tianyuan.CodeError{Code: 1099}, nil}, 1, time.Hour, false, 2},
		{"throttled between transient failures", []error{&tianyuan.HTTPError{StatusCode: 502}, tooMany, tooMany, nil}, 2, time.Millisecond, false, 4},
		{"transient failures still count", []error{&tianyuan.HTTPError{StatusCode: 502}, tooMany, &tianyuan.HTTPError{StatusCode: 502}}, 2, time.Millisecond, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			next := &scriptedCaller{script: tt.script}
			pace := testPacer(1000, 0, time.Now(), 500) // the vendor counted 500 in the second before
			rule := throttleRule{codes: []int{1099}}
			retries := 0
			r := &retrying{next: newLimited(next, pace, rule, config.ProductConfig{Concurrency: 1}, time.Minute), policy: tianyuan.DefaultCodePolicy(),
				throttle: rule, maxAttempts: tt.attempts, base: tt.base, max: time.Hour,
				onRetry: func(string, int, time.Duration, error) { retries++ }}
			_, err := r.Call(ctx, "JRZQ9E2A", tianyuan.Params{})
			if ctx.Err() != nil {
				t.Fatal("retrying waited past the deadline")
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(next.at) != tt.calls || retries != tt.calls-1 {
				t.Errorf("%d calls, %d retries, want %d, %d", len(next.at), retries, tt.calls, tt.calls-1)
			}
		})
	}
}

// TestRetryAfterPausesEveryCall sends a call that is answered 429 with
// Retry-After, then, once it has returned, more calls at once: none may
// reach the vendor before the Retry-After has passed.
func TestRetryAfterPausesEveryCall(t *testing.T) {
	const retryAfter = 300 * time.Millisecond
	next := &scriptedCaller{script: []error{&tianyuan.HTTPError{StatusCode: 429, RetryAfter: retryAfter}}}
	pace := testPacer(1000, 0, time.Now(), 0)
	l := newLimited(next, pace, throttleRule{}, config.ProductConfig{Concurrency: 4}, time.Minute)
	before := time.Now()
	if _, err := l.Call(context.Background(), "JRZQ9E2A", tianyuan.Params{}); err == nil {
		t.Fatal("the first call was not throttled")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.Call(ctx, "JRZQ9E2A", tianyuan.Params{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i, at := range next.at[1:] {
		if waited := at.Sub(before); waited < retryAfter {
			t.Errorf("call %d reached the vendor %v after the throttled one began, want ≥ %v", i+2, waited, retryAfter)
		}
	}
	if f := pace.figures(time.Now()); f.paused != retryAfter || f.throttled != 1 {
		t.Errorf("paused %v, throttled %d, want %v, 1", f.paused, f.throttled, retryAfter)
	}
}

// TestPaceSummary checks what the progress line and bar show.
func TestPaceSummary(t *testing.T) {
	t0 := time.Now()
	slowed := testPacer(100, 0, t0, 60)
	_ = throttle(slowed, t0, t0, time.Hour)
	r := &run{prods: []*productRun{
		{code: "COMBTY11", stats: &productStats{pace: testPacer(20, 0, t0, 0)}},
		{code: "JRZQ9E2A", stats: &productStats{pace: slowed}},
		{code: "NOPACE01", stats: &productStats{}},
	}}
	if got, want := r.paceSummary(), "JRZQ9E2A 57.6/s, 1 throttled, paused now"; got != want {
		t.Errorf("paceSummary = %q, want %q", got, want)
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("progress", r.paceAttrs()...)
	for _, want := range []string{"COMBTY11.rate=20 COMBTY11.throttled=0 COMBTY11.paused_seconds=0", "JRZQ9E2A.rate=57.6 JRZQ9E2A.throttled=1"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("progress line %q does not hold %q", b.String(), want)
		}
	}
}
