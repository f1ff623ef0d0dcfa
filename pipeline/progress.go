package pipeline

import (
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressInterval is how often a progress line is logged when the output
// is not a terminal.
const progressInterval = 5 * time.Second

// startProgress reports rows and calls as the run goes: a bar on a
// terminal, a log line every few seconds otherwise. It returns the function
// that stops it.
func (r *run) startProgress() (stop func()) {
	if r.env.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	calls := func() (n int64) {
		for _, p := range r.prods {
			n += p.stats.attempts.Load()
		}
		return n
	}
	start := time.Now()
	if r.env.Terminal {
		bar := progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(r.env.Progress),
			progressbar.OptionSetDescription("scoring"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		go func() {
			defer close(finished)
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					if pace := r.paceSummary(); pace != "" {
						bar.Describe("scoring (" + pace + ")")
					}
					_ = bar.Set64(r.written.Load())
				case <-done:
					_ = bar.Set64(r.written.Load())
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
			for {
				select {
				case <-t.C:
					elapsed := time.Since(start).Seconds()
					written := r.written.Load()
					r.log.Info("progress", append([]any{"rows_read", r.read.Load(), "rows_written", written,
						"calls", calls(), "rows_per_second", int(float64(written) / elapsed)}, r.paceAttrs()...)...)
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
