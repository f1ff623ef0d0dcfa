package pipeline

import (
	"math"
	"time"

	"github.com/scorepipe/scorepipe/progress"
)

// startProgress reports rows and calls as the run goes (see package
// progress), when Env.Progress is set. It returns the function that stops
// it.
func (r *run) startProgress() (stop func()) {
	if r.env.Progress == nil {
		return func() {}
	}
	var total int64
	for _, f := range r.files {
		total += int64(f.Rows)
	}
	if s := r.env.Shard; s.Sharded() {
		total /= int64(s.Count) // about a shard's share: keys spread evenly
	}
	return progress.Start(progress.Options{Out: r.env.Progress, Terminal: r.env.Terminal, Logger: r.log, Total: total,
		Sample: r.sample, Ceiling: r.rowRateCeiling, Pacing: r.paceSummary, PacingAttrs: r.paceAttrs})
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
func (r *run) sample(at time.Duration) progress.Sample {
	var calls int64
	for _, p := range r.prods {
		calls += p.stats.attempts.Load()
	}
	return progress.Sample{At: at, Done: r.written.Load() + r.rejected.Load(), Calls: calls}
}
