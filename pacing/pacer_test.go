package pacing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
)

func TestThrottleRule(t *testing.T) {
	rule := ThrottleRule{Codes: []int{1099}}
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
			got, after := rule.Throttling(tt.err)
			if got != tt.throttled || after != tt.after {
				t.Errorf("throttling(%v) = %v, %v, want %v, %v", tt.err, got, after, tt.throttled, tt.after)
			}
		})
	}
	if got, _ := (ThrottleRule{}).Throttling(&tianyuan.CodeError{Code: 1099}); got {
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
func testPacer(ceiling float64, budget time.Duration, start time.Time, perSecond int) *Pacer {
	p := New(Options{Product: "JRZQ9E2A", Ceiling: ceiling, Burst: 5, MaxPause: 30 * time.Second, Budget: budget,
		Tuning: Default, Logger: slog.New(slog.DiscardHandler)})
	for i := range perSecond {
		p.sent.add(start.Add(-time.Second + time.Duration(i)*time.Second/time.Duration(perSecond)))
	}
	return p
}

// throttle tells p that a request sent at sent was throttled at now.
func throttle(p *Pacer, sent, now time.Time, retryAfter time.Duration) error {
	return p.Observe(sent, now, ThrottleRule{}, nil, &tianyuan.HTTPError{StatusCode: 429, RetryAfter: retryAfter})
}

func (p *Pacer) rateAt(now time.Time) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.adjust(now)
	return p.rate
}

// TestPacerCurve follows the rate after a throttling answer: down to β·M
// (or, after a Retry-After, just below M once the pause ends), back to just
// below M within pacing.recover, and up to the ceiling along the probe.
func TestPacerCurve(t *testing.T) {
	tune := Default
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	after := func(d time.Duration) time.Time { return t0.Add(d) }
	k, probe := tune.Recover, tune.Probe
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
			f := p.Figures(tt.want[len(tt.want)-1].at)
			if f.Throttled != 1 || math.Abs(f.Settled-0.96*60) > 1e-9 {
				t.Errorf("throttled %d, settled %.2f, want 1, 57.6", f.Throttled, f.Settled)
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
	end := t0.Add(Default.Recover + Default.Probe)
	if got := p.rateAt(end); got != 100 {
		t.Fatalf("rate = %v, want the ceiling 100", got)
	}
	if got, lim := p.lim.Burst(), float64(p.lim.Limit()); got != 5 || lim != 100 {
		t.Errorf("bucket at the ceiling: burst %d, limit %v, want 5, 100", got, lim)
	}
	f := p.Figures(end.Add(time.Hour))
	if want := end.Sub(t0); f.Slow != want {
		t.Errorf("time below the ceiling = %v, want %v", f.Slow, want)
	}
	if math.Abs(f.RateMin-42) > 1e-9 || f.Rate != 100 {
		t.Errorf("rate min %v, now %v, want 42, 100", f.RateMin, f.Rate)
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
		{"probing past M", []answer{{at(2*time.Second + Default.Probe/2), at(2*time.Second + Default.Probe/2)}}, 1, 0},
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
			if f := p.Figures(t0.Add(time.Hour)); f.Paused != tt.want || f.PausedNow {
				t.Errorf("paused %v (now %v), want %v", f.Paused, f.PausedNow, tt.want)
			}
			if f := p.Figures(t0.Add(50 * time.Millisecond)); !f.PausedNow || f.Paused != 50*time.Millisecond {
				t.Errorf("50ms in: paused %v (now %v), want 50ms, now", f.Paused, f.PausedNow)
			}
		})
	}
}

func TestPacerThrottleBudget(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	answered := func(p *Pacer, now time.Time) {
		_ = p.Observe(now, now, ThrottleRule{}, &tianyuan.Reply{}, nil)
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
					_ = p.Observe(now, now, ThrottleRule{}, nil, &tianyuan.HTTPError{StatusCode: 500})
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
