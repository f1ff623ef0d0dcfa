package progress

import (
	"math"
	"testing"
	"time"
)

// TestProgressMeter feeds the meter the counts of runs at known paces and
// checks the figures a person reads: rows a second over the last window,
// and the time left paced by the rate limits.
func TestProgressMeter(t *testing.T) {
	const s = time.Second
	inf := math.Inf(1)
	type step struct {
		at          time.Duration
		done, calls int64
		ceiling     float64
		wantRate    float64
		wantETA     time.Duration
	}
	cases := []struct {
		name  string
		total int64
		steps []step
	}{
		{"paced at 20 calls a second, a call a row", 1000, []step{
			{0, 0, 0, 20, 0, 50 * s},
			{5 * s, 100, 100, 20, 20, 45 * s},
			{10 * s, 200, 200, 20, 20, 40 * s},
			{15 * s, 300, 300, 20, 20, 35 * s},
		}},
		{"the pace is measured over the last 10 seconds", 1000, []step{
			{0, 0, 0, inf, 0, -1},
			{5 * s, 500, 0, inf, 100, 5 * s},    // from the store: no call
			{10 * s, 600, 100, inf, 60, 7 * s},  // 600 rows in 10 s
			{15 * s, 700, 200, inf, 20, 15 * s}, // 200 rows in the last 10 s
			{20 * s, 800, 300, inf, 20, 10 * s}, // 200 rows in the last 10 s
			{25 * s, 1000, 400, inf, 30, 0 * s}, // done
			{30 * s, 1000, 400, inf, 20, 0 * s}, // 200 rows in the last 10 s
			{60 * s, 1000, 400, inf, 0, 0 * s},  // nothing since 30 s
			{65 * s, 1000, 400, inf, 0, 0 * s},  // still nothing
		}},
		{"a burst faster than the limit: the ETA follows the limit", 1000, []step{
			{0, 0, 0, 20, 0, 50 * s},
			{1 * s, 25, 25, 20, 25, 49 * s}, // 975 left at 20 a second
		}},
		{"a slow start: the limit paces the ETA for the first seconds", 1000, []step{
			{0, 0, 0, 20, 0, 50 * s},
			{2 * s, 10, 40, 20, 5, 50 * s},  // 990 left at 20 a second, not at 5
			{4 * s, 20, 80, 20, 5, 196 * s}, // measured over 4 s: 980 left at 5 a second
		}},
		{"the estimate was short", 100, []step{
			{0, 0, 0, 20, 0, 5 * s},
			{5 * s, 120, 120, 20, 24, 0},
		}},
		{"no total: no ETA", 0, []step{
			{0, 0, 0, 20, 0, -1},
			{5 * s, 100, 100, 20, 20, -1},
		}},
		{"no limit and no pace yet: no ETA", 1000, []step{
			{0, 0, 0, inf, 0, -1},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &meter{total: c.total}
			for _, st := range c.steps {
				f := m.observe(Sample{At: st.at, Done: st.done, Calls: st.calls}, st.ceiling)
				if math.Abs(f.RowsPerSecond-st.wantRate) > 1e-9 || f.ETA != st.wantETA {
					t.Errorf("at %v (%d rows done): %.2f rows/s, ETA %v; want %.2f rows/s, ETA %v",
						st.at, st.done, f.RowsPerSecond, f.ETA, st.wantRate, st.wantETA)
				}
			}
			if len(m.samples) > 3 {
				t.Errorf("the meter keeps %d samples, want the last window's only", len(m.samples))
			}
		})
	}
}

// TestProgressAttrs checks the progress log line's figures.
func TestProgressAttrs(t *testing.T) {
	f := figures{Done: 114, Total: 225, RowsPerSecond: 22.84, CallsPerSecond: 41.66, Calls: 208, ETA: 5 * time.Second}
	got := map[string]any{}
	a := f.attrs()
	for i := 0; i+1 < len(a); i += 2 {
		got[a[i].(string)] = a[i+1]
	}
	want := map[string]any{"rows_done": int64(114), "rows_total": int64(225), "percent": 50.7, "rows_per_second": 22.8,
		"calls": int64(208), "calls_per_second": 41.7, "eta": "5s", "eta_seconds": int64(5)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, got[k], got[k], v)
		}
	}
	if s := f.short(); s != "23 rows/s, 42 calls/s, ETA 5s" {
		t.Errorf("bar text %q", s)
	}
}
