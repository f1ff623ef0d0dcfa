package pacing

import (
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
)

// freshPacer returns a pacer that has sent nothing yet.
func freshPacer(ceiling float64) *Pacer {
	return New(Options{Product: "JRZQ9E2A", Ceiling: ceiling, Burst: 5, MaxPause: 30 * time.Second,
		Tuning: Default, Logger: slog.New(slog.DiscardHandler)})
}

// simulate sends for d from t0 as fast as p lets it (a request every
// millisecond at most, as a few calls in flight to a near vendor would),
// to a vendor that throttles above limit requests per sliding second
// (throttled ones counted, as tianyuantest counts them; 0: no limit) and
// answers at once. It returns the requests sent, those throttled, and
// the time of the last.
func simulate(t *testing.T, p *Pacer, t0 time.Time, d time.Duration, limit int) (sent, throttled int, end time.Time) {
	t.Helper()
	var window []time.Time
	next := t0
	for now := t0; now.Before(t0.Add(d)); now = now.Add(time.Millisecond) {
		if now.Before(next) {
			continue
		}
		p.mu.Lock()
		paused := now.Before(p.pausedUntil)
		p.mu.Unlock()
		if paused {
			continue
		}
		r := p.rateAt(now)
		if !math.IsInf(r, 1) {
			next = now.Add(time.Duration(float64(time.Second) / r))
		}
		p.mu.Lock()
		p.sent.add(now)
		p.mu.Unlock()
		sent++
		for len(window) > 0 && !window[0].After(now.Add(-time.Second)) {
			window = window[1:]
		}
		window = append(window, now)
		var err error
		var reply *tianyuan.Reply
		if limit > 0 && len(window) > limit {
			err, throttled = &tianyuan.HTTPError{StatusCode: 429}, throttled+1
		} else {
			reply = &tianyuan.Reply{}
		}
		if oerr := p.Observe(now, now, ThrottleRule{}, reply, err); oerr != nil {
			t.Fatal(oerr)
		}
		end = now
	}
	return sent, throttled, end
}

// TestPacerEarlyThrottle: a throttling answer before the product has sent
// enough to measure what the vendor counts does not pin the rate: a lone
// one changes nothing, a second one confirming it lowers a ceiling's rate
// by β only (the rate is back within recover) and pauses an unlimited
// product for the cooldown.
func TestPacerEarlyThrottle(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type answer struct{ sent, now time.Time }
	tests := []struct {
		name    string
		ceiling float64
		sends   []time.Time // requests sent before the answers
		answers []answer    // throttling answers
		// The rate just after the answers, and recover later; the
		// least rate; the pause left just after.
		rateNow, rateLater, rateMin float64
		paused                      time.Duration
	}{
		{"a 429 to the first call, unlimited", 0, []time.Time{t0}, []answer{{t0, ms(5)}},
			math.Inf(1), math.Inf(1), math.Inf(1), 0},
		{"a 429 to the first call, ceiling 100", 100, []time.Time{t0}, []answer{{t0, ms(5)}},
			100, 100, 100, 0},
		{"429s to the first four calls in flight together, unlimited", 0, []time.Time{t0, t0, ms(1), ms(1)},
			[]answer{{t0, ms(5)}, {t0, ms(5)}, {ms(1), ms(6)}, {ms(1), ms(6)}}, math.Inf(1), math.Inf(1), math.Inf(1), 0},
		{"429s to the first four calls in flight together, ceiling 100", 100, []time.Time{t0, t0, ms(1), ms(1)},
			[]answer{{t0, ms(5)}, {t0, ms(5)}, {ms(1), ms(6)}, {ms(1), ms(6)}}, 100, 100, 100, 0},
		{"a second 429 confirms the first, ceiling 100", 100, []time.Time{t0, ms(6)},
			[]answer{{t0, ms(5)}, {ms(6), ms(11)}}, 70, 96, 70, 0},
		{"a second 429 confirms the first, unlimited", 0, []time.Time{t0, ms(6)},
			[]answer{{t0, ms(5)}, {ms(6), ms(11)}}, math.Inf(1), math.Inf(1), math.Inf(1), Default.Cooldown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := freshPacer(tt.ceiling)
			for _, s := range tt.sends {
				p.sent.add(s)
			}
			for _, a := range tt.answers {
				if err := throttle(p, a.sent, a.now, 0); err != nil {
					t.Fatal(err)
				}
			}
			end := tt.answers[len(tt.answers)-1].now
			if got := p.rateAt(end); got != tt.rateNow {
				t.Errorf("rate just after = %v, want %v", got, tt.rateNow)
			}
			if got := p.rateAt(end.Add(Default.Recover)); math.Abs(got-tt.rateLater) > 1e-9 && got != tt.rateLater {
				t.Errorf("rate %v later = %v, want %v", Default.Recover, got, tt.rateLater)
			}
			f := p.Figures(end)
			if f.RateMin != tt.rateMin || f.Throttled != int64(len(tt.answers)) {
				t.Errorf("rate min %v, throttled %d; want %v, %d", f.RateMin, f.Throttled, tt.rateMin, len(tt.answers))
			}
			if got := p.pausedUntil.Sub(end); max(got, 0) != tt.paused {
				t.Errorf("paused for %v after, want %v", got, tt.paused)
			}
		})
	}
}

// TestPacerFollowsAThrottlingVendor: against a vendor that throttles above
// 60 requests a second, with a ceiling of 100 or none, the rate settles
// just below 60 and stays there; against a vendor that throttled once, at
// the start, it keeps the ceiling (or none).
func TestPacerFollowsAThrottlingVendor(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name                 string
		ceiling              float64
		limit                int
		firstThrottled       bool // the first call gets a 429 whatever the limit
		minSent, maxSent     int  // requests sent in 20 s
		maxThrottled         int
		settledLo, settledHi float64
	}{
		{"vendor limit 60, ceiling 100", 100, 60, false, 20 * 54, 20 * 62, 40, 54, 60},
		{"vendor limit 60, no ceiling", 0, 60, false, 20 * 54, 20 * 62, 60, 54, 60}, // the first second at 1,000/s: the vendor counts its throttled requests too
		{"one 429 first, ceiling 100", 100, 0, true, 20 * 99, 20*100 + 5, 1, 0, 0},
		{"one 429 first, no ceiling", 0, 0, true, 20 * 999, 20 * 1000, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := freshPacer(tt.ceiling)
			start := t0
			if tt.firstThrottled {
				p.sent.add(t0)
				if err := throttle(p, t0, t0.Add(5*time.Millisecond), 0); err != nil {
					t.Fatal(err)
				}
				start = t0.Add(5 * time.Millisecond)
			}
			sent, throttled, end := simulate(t, p, start, 20*time.Second, tt.limit)
			f := p.Figures(end)
			if sent < tt.minSent || sent > tt.maxSent || throttled > tt.maxThrottled {
				t.Errorf("sent %d, throttled %d; want %d to %d sent, at most %d throttled", sent, throttled, tt.minSent, tt.maxSent, tt.maxThrottled)
			}
			if f.Settled < tt.settledLo || f.Settled > tt.settledHi {
				t.Errorf("settled at %.1f, want %.1f to %.1f", f.Settled, tt.settledLo, tt.settledHi)
			}
			if tt.limit > 0 && (f.Accepted < 0.9*float64(tt.limit) || f.Accepted > float64(tt.limit)) {
				t.Errorf("accepted %.0f a second at most, want about %d", f.Accepted, tt.limit)
			}
		})
	}
}
