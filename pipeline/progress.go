package pipeline

import (
	"fmt"
	"math"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressInterval is how often a progress line is logged when the output
// is not a terminal.
const progressInterval = 5 * time.Second

// barInterval is how often the terminal bar is redrawn.
const barInterval = 200 * time.Millisecond

// minPaceSpan is how long the pace is measured before it paces the ETA.
const minPaceSpan = 3 * time.Second

// rateWindow is how far back the rows and calls a second are measured.
const rateWindow = 10 * time.Second

// progressSample is what the run had done at one moment.
type progressSample struct {
	at    time.Duration // since the start
	done  int64         // rows written or rejected
	calls int64         // vendor requests sent
}

// progressFigures are what a person reads about a run under way.
type progressFigures struct {
	Done, Total    int64   // rows done (written or rejected); Total is estimated, 0 when unknown
	RowsPerSecond  float64 // over the last rateWindow
	CallsPerSecond float64
	Calls          int64
	ETA            time.Duration // -1 when it cannot be told
}

// progressMeter measures the pace of a run from samples of its counts.
type progressMeter struct {
	total   int64
	samples []progressSample // oldest first, spanning about rateWindow
}

// observe records a sample and returns the figures at that moment.
// ceiling is the most rows a second the rate limits allow (+Inf when they
// do not bound the run): the ETA is paced by it while the measured pace is
// faster (a burst, rows that need no call) or not yet known.
func (m *progressMeter) observe(s progressSample, ceiling float64) progressFigures {
	m.samples = append(m.samples, s)
	// Keep one sample at least rateWindow old, as the base of the pace.
	for len(m.samples) > 2 && s.at-m.samples[1].at >= rateWindow {
		m.samples = m.samples[1:]
	}
	f := progressFigures{Done: s.done, Total: m.total, Calls: s.calls, ETA: -1}
	if f.Total > 0 && f.Done > f.Total {
		f.Total = f.Done // the estimate was short
	}
	base := m.samples[0]
	span := s.at - base.at
	if span > 0 {
		f.RowsPerSecond = float64(s.done-base.done) / span.Seconds()
		f.CallsPerSecond = float64(s.calls-base.calls) / span.Seconds()
	}
	if f.Total > 0 {
		pace := ceiling
		// The first seconds' pace is noise (the window fills, rows wait
		// for the ones before them): the limits pace the ETA until then.
		if f.RowsPerSecond > 0 && f.RowsPerSecond < pace && (span >= minPaceSpan || math.IsInf(pace, 1)) {
			pace = f.RowsPerSecond
		}
		if left := f.Total - f.Done; left <= 0 {
			f.ETA = 0
		} else if pace > 0 && !math.IsInf(pace, 1) {
			f.ETA = time.Duration(float64(left) / pace * float64(time.Second)).Round(time.Second)
		}
	}
	return f
}

// rowRateCeiling is the most rows a second the products' rate limits
// allow, from the calls each has needed per row done so far (rows
// answered from the store, skipped or rejected need none); +Inf when no
// limit bounds the run.
func (r *run) rowRateCeiling(done int64) float64 {
	ceiling := math.Inf(1)
	for _, p := range r.prods {
		rate := r.productRate(p)
		if rate <= 0 {
			continue // unlimited
		}
		share := 1.0 // before enough rows are done: a call a row
		if done >= 100 {
			share = float64(p.stats.attempts.Load()) / float64(done)
		}
		if share > 0 {
			ceiling = min(ceiling, rate/share)
		}
	}
	return ceiling
}

// productRate is the calls a second a product is paced at: its rate now,
// which throttling may have lowered (0 when unlimited).
func (r *run) productRate(p *productRun) float64 {
	if p.stats.pace == nil {
		return p.cfg.RatePerSecond
	}
	if r := p.stats.pace.Figures(time.Now()).Rate; !math.IsInf(r, 1) {
		return r
	}
	return 0
}

// sample reads the run's counts.
func (r *run) sample(at time.Duration) progressSample {
	var calls int64
	for _, p := range r.prods {
		calls += p.stats.attempts.Load()
	}
	return progressSample{at: at, done: r.written.Load() + r.rejected.Load(), calls: calls}
}

// startProgress reports rows and calls as the run goes: a bar with the
// number of rows on a terminal, a log line every few seconds otherwise,
// both with rows a second and the time left. It returns the function that
// stops it.
func (r *run) startProgress() (stop func()) {
	if r.env.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	meter := &progressMeter{}
	for _, f := range r.files {
		meter.total += int64(f.rows)
	}
	if s := r.env.Shard; s.Sharded() {
		meter.total /= int64(s.Count) // about a shard's share: keys spread evenly
	}
	start := time.Now()
	observe := func() progressFigures {
		s := r.sample(time.Since(start))
		return meter.observe(s, r.rowRateCeiling(s.done))
	}
	if r.env.Terminal {
		max := meter.total
		if max <= 0 {
			max = -1 // a spinner
		}
		bar := progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(r.env.Progress),
			progressbar.OptionSetDescription("scoring"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(barInterval),
			progressbar.OptionClearOnFinish(),
		)
		draw := func(f progressFigures) {
			if max > 0 && f.Done > bar.GetMax64() {
				bar.ChangeMax64(f.Done)
			}
			desc := f.short()
			if pace := r.paceSummary(); pace != "" {
				desc += "; " + pace
			}
			bar.Describe(desc)
			_ = bar.Set64(f.Done)
		}
		go func() {
			defer close(finished)
			t := time.NewTicker(barInterval)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					draw(observe())
				case <-done:
					f := observe()
					if max > 0 {
						bar.ChangeMax64(f.Done)
					}
					draw(f)
					_ = bar.Finish()
					return
				}
			}
		}()
	} else {
		go func() {
			defer close(finished)
			t := time.NewTicker(progressInterval)
			defer t.Stop()
			observe() // the base of the first pace
			for {
				select {
				case <-t.C:
					f := observe()
					r.log.Info("progress", append(f.attrs(), r.paceAttrs()...)...)
				case <-done:
					return
				}
			}
		}()
	}
	return func() {
		close(done)
		<-finished
	}
}

// short is the figures for the end of the bar.
func (f progressFigures) short() string {
	s := fmt.Sprintf("%s rows/s, %s calls/s", pace(f.RowsPerSecond), pace(f.CallsPerSecond))
	if f.ETA >= 0 {
		s += ", ETA " + f.ETA.String()
	}
	return s
}

// attrs is the figures as log attributes.
func (f progressFigures) attrs() []any {
	a := []any{"rows_done", f.Done}
	if f.Total > 0 {
		a = append(a, "rows_total", f.Total, "percent", math.Round(1000*float64(f.Done)/float64(f.Total))/10)
	}
	a = append(a, "rows_per_second", math.Round(10*f.RowsPerSecond)/10, "calls", f.Calls,
		"calls_per_second", math.Round(10*f.CallsPerSecond)/10)
	if f.ETA >= 0 {
		a = append(a, "eta", f.ETA.String(), "eta_seconds", int64(f.ETA.Seconds()))
	}
	return a
}

// pace writes a rate with the precision it deserves.
func pace(x float64) string {
	if x < 10 {
		return fmt.Sprintf("%.1f", x)
	}
	return thousands(int64(math.Round(x)))
}
