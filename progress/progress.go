// Package progress tells a person how a run is going: a bar with the rows
// done on a terminal, a log line every few seconds otherwise, both with
// rows and calls a second and the time left.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
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

// Sample is what the run had done at one moment.
type Sample struct {
	At    time.Duration // since the start
	Done  int64         // rows written or rejected
	Calls int64         // vendor requests sent
}

// figures are what a person reads about a run under way.
type figures struct {
	Done, Total    int64   // rows done (written or rejected); Total is estimated, 0 when unknown
	RowsPerSecond  float64 // over the last rateWindow
	CallsPerSecond float64
	Calls          int64
	ETA            time.Duration // -1 when it cannot be told
}

// meter measures the pace of a run from samples of its counts.
type meter struct {
	total   int64
	samples []Sample // oldest first, spanning about rateWindow
}

// observe records a sample and returns the figures at that moment.
// ceiling is the most rows a second the rate limits allow (+Inf when they
// do not bound the run): the ETA is paced by it while the measured pace is
// faster (a burst, rows that need no call) or not yet known.
func (m *meter) observe(s Sample, ceiling float64) figures {
	m.samples = append(m.samples, s)
	// Keep one sample at least rateWindow old, as the base of the pace.
	for len(m.samples) > 2 && s.At-m.samples[1].At >= rateWindow {
		m.samples = m.samples[1:]
	}
	f := figures{Done: s.Done, Total: m.total, Calls: s.Calls, ETA: -1}
	if f.Total > 0 && f.Done > f.Total {
		f.Total = f.Done // the estimate was short
	}
	base := m.samples[0]
	span := s.At - base.At
	if span > 0 {
		f.RowsPerSecond = float64(s.Done-base.Done) / span.Seconds()
		f.CallsPerSecond = float64(s.Calls-base.Calls) / span.Seconds()
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

// Options say where progress goes and where its figures come from.
type Options struct {
	Out      io.Writer    // where the bar is drawn
	Terminal bool         // Out is a terminal: draw a bar rather than log lines
	Logger   *slog.Logger // where the progress lines go
	Total    int64        // about how many rows the run will do; 0 when unknown
	// Sample reads the run's counts, at a time since the start.
	Sample func(at time.Duration) Sample
	// Ceiling is the most rows a second the rate limits allow, done rows
	// into the run; +Inf when no limit bounds it.
	Ceiling func(done int64) float64
	// Pacing describes, for the bar, the pacing of the products the
	// vendor has throttled; "" when none. PacingAttrs gives each product's
	// pacing for the log line.
	Pacing      func() string
	PacingAttrs func() []any
}

// Start reports rows and calls as the run goes: a bar with the number of
// rows on a terminal, a log line every few seconds otherwise, both with
// rows a second and the time left. It returns the function that stops it.
func Start(o Options) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	m := &meter{total: o.Total}
	start := time.Now()
	observe := func() figures {
		s := o.Sample(time.Since(start))
		return m.observe(s, o.Ceiling(s.Done))
	}
	if o.Terminal {
		max := m.total
		if max <= 0 {
			max = -1 // a spinner
		}
		bar := progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(o.Out),
			progressbar.OptionSetDescription("scoring"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(barInterval),
			progressbar.OptionClearOnFinish(),
		)
		draw := func(f figures) {
			if max > 0 && f.Done > bar.GetMax64() {
				bar.ChangeMax64(f.Done)
			}
			desc := f.short()
			if pace := o.Pacing(); pace != "" {
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
					o.Logger.Info("progress", append(f.attrs(), o.PacingAttrs()...)...)
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
func (f figures) short() string {
	s := fmt.Sprintf("%s rows/s, %s calls/s", pace(f.RowsPerSecond), pace(f.CallsPerSecond))
	if f.ETA >= 0 {
		s += ", ETA " + f.ETA.String()
	}
	return s
}

// attrs is the figures as log attributes.
func (f figures) attrs() []any {
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

// thousands writes n with thousands separators: 3,912.
func thousands(n int64) string { return englishNumbers.Sprintf("%d", n) }

var englishNumbers = message.NewPrinter(language.English)
