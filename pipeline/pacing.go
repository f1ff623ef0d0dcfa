package pipeline

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pacing"
)

// defaultPacing is the pacing of every run; tests may slow it down or
// speed it up.
var defaultPacing = pacing.Default

// newPacer returns the pacer of a product configured as p (see package
// pacing).
func newPacer(product string, p config.ProductConfig, retry config.RetryConfig, tune pacing.Tuning, log *slog.Logger) *pacing.Pacer {
	return pacing.New(pacing.Options{Product: product, Ceiling: p.RatePerSecond, Burst: p.Burst, MaxPause: retry.MaxDelay,
		Budget: retry.ThrottleBudget, Tuning: tune, Logger: log})
}

// pacers returns each product's pacer, under its code.
func (r *run) pacers() []pacing.Named {
	named := make([]pacing.Named, len(r.prods))
	for i, p := range r.prods {
		named[i] = pacing.Named{Code: p.code, Pacer: p.stats.pace}
	}
	return named
}

// paceAttrs returns each product's pacing for the progress log line (see
// pacing.Attrs).
func (r *run) paceAttrs() []any { return pacing.Attrs(time.Now(), r.pacers()) }

// paceSummary describes, for the progress bar, the pacing of the products
// the vendor has throttled (see pacing.Summary).
func (r *run) paceSummary() string { return pacing.Summary(time.Now(), r.pacers()) }

// finishPacing puts each product's pacing in the manifest and, for a
// product the vendor slowed down for much of the run, logs the rate it
// settled at as a hint for its configured rate.
func (r *run) finishPacing() {
	now := time.Now()
	for _, p := range r.prods {
		f := p.stats.pace.Figures(now)
		c := p.counts
		c.Throttled = f.Throttled
		c.PausedSeconds = math.Round(f.Paused.Seconds()*1000) / 1000
		c.RateMin, c.RateFinal, c.RateSettled = pacing.PerSecond(f.RateMin), pacing.PerSecond(f.Rate), pacing.PerSecond(f.Settled)
		if f.Throttled == 0 || f.Slow < time.Second || f.Slow.Seconds() < r.manifest.Seconds/10 {
			continue
		}
		attrs := []any{"product", p.code, "throttled", f.Throttled, "calls", c.Calls,
			"slowed_seconds", math.Round(f.Slow.Seconds()*10) / 10, "paused_seconds", c.PausedSeconds,
			"rate_per_second", p.cfg.RatePerSecond, "rate_settled", c.RateSettled, "rate_accepted", f.Accepted}
		if hint, ok := ceilingHint(f, p.cfg.RatePerSecond); ok {
			attrs = append(attrs, "hint", fmt.Sprintf("set products.%s.rate_per_second to %s or less", p.code, strconv.FormatFloat(hint, 'f', -1, 64)))
		}
		r.log.Warn("the vendor throttled this product for much of the run; the rate settled below the configured one", attrs...)
	}
}

// ceilingHint is the rate_per_second to advise for a product the vendor
// slowed down, configured at ceiling (0: unlimited): what the rate settled
// at, but never below what the vendor demonstrably accepted in a second;
// none when that is not below the ceiling.
func ceilingHint(f pacing.Figures, ceiling float64) (float64, bool) {
	hint := max(math.Floor(f.Settled), f.Accepted, 1)
	return hint, ceiling == 0 || hint < ceiling
}
