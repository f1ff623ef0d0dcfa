package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
)

// Pacing: products.<CODE>.rate_per_second is a ceiling. A vendor account
// has one rate limit, shared by every job that uses it, and it may drop at
// busy hours; each product's calls therefore go out through a token bucket
// (golang.org/x/time/rate) whose rate follows the vendor's throttling
// answers, as in the adaptive retry mode of the AWS SDKs (a client-side
// bucket whose rate follows throttling, CUBIC-shaped), after TCP's AIMD.
//
// A throttling answer is HTTP 429, HTTP 503 with Retry-After, or a code of
// vendor.codes.throttle. It
//
//   - pauses every call of the product until the Retry-After, if it has one
//     (at most retry.max_delay), not only the one call;
//   - lowers the rate, at most once per cooldown and only for a request
//     sent after the last decrease (answers to requests already on their
//     way say nothing new). M is what the vendor counted, as a vendor
//     counting over a sliding second does: the requests sent in the second
//     before the throttled one (capped by the rate then; the rate then if
//     there were none). An answer within the cooldown to an earlier request
//     of that second, throttled too, takes M from its own second instead:
//     with several calls in flight the answers come back out of order.
//   - The rate restarts at β·M and climbs, over recover, along a concave
//     cubic to the plateau (1-margin)·M, just below M. After a pause of a
//     cooldown or more the vendor's window is empty already: the rate
//     resumes at the plateau when the pause ends. Past recover it probes
//     upwards along a convex cubic, plateau·(1 + (t/probe)³): flat at first,
//     +2 % after a quarter of probe, twice the plateau after probe, up to
//     the ceiling, where the bucket gets its configured burst back (below
//     the ceiling the burst is 1: a vendor that throttled gets requests
//     evenly spaced).
//   - Below (1-margin/2)·M, that is not probing, a lone throttling answer
//     only lowers the plateau by loneStep, to loneFloor·M at most (its pause
//     still holds): requests bunch up on their way now and then, the more so
//     on a busy machine, and a full decrease for each would ratchet the rate
//     down. A second one, for a request sent after the first was received
//     and within confirm of it (or of the end of its pause), says the
//     vendor's limit did drop, and lowers the rate as above.
//
// Throttled is not failed: a throttled call goes again through the bucket
// (the pause and the lower rate are its wait), and it does not count against
// retry.max_attempts. Only a product answered by nothing but throttling for
// retry.throttle_budget stops the run (exit 3, resumable).
type pacing struct {
	// beta is the multiplicative decrease, as in CUBIC (RFC 8312) and the
	// AWS SDKs: deep enough that a vendor counting requests over a sliding
	// window, throttled ones included, has room again within a fraction of
	// a second.
	beta float64
	// margin keeps the rate a little below what the vendor counted, so
	// that the jitter of request arrivals seldom throttles again (a vendor
	// limit of 60 calls/s leaves room for 2.4 requests arriving early).
	margin float64
	// recover is how long the rate takes to climb back from β·M to just
	// below M.
	recover time.Duration
	// probe sets how fast the rate climbs past M, to find a limit the vendor
	// has raised: slowly at first, since each probe past the vendor's limit
	// costs a throttling answer and, with Retry-After, a pause of at least
	// a second (probe = 90s: +2 % after 25 s, +10 % after 42 s, twice the
	// rate after 90 s).
	probe time.Duration
	// cooldown is the least time between two decreases: about the window a
	// vendor counts requests over.
	cooldown time.Duration
	// confirm is how soon a second throttling answer must follow a lone one
	// (or the end of its pause) to lower the rate from its plateau.
	confirm time.Duration
	// loneStep is how much a lone throttling answer lowers the plateau, and
	// loneFloor·M the lowest it takes it: lone answers that keep coming
	// make room for the jitter they come from.
	loneStep, loneFloor float64
	// floor is the lowest rate, in calls per second (the ceiling when that
	// is lower).
	floor float64
}

// defaultPacing is the pacing of every run; tests may slow it down or
// speed it up.
var defaultPacing = pacing{beta: 0.7, margin: 0.04, recover: 2 * time.Second, probe: 90 * time.Second,
	cooldown: time.Second, confirm: 2 * time.Second, loneStep: 0.01, loneFloor: 0.9, floor: 1}

// throttleRule says which answers mean "slow down".
type throttleRule struct {
	codes []int // vendor.codes.throttle
}

// throttling reports whether err is a throttling answer, and the vendor's
// Retry-After if it sent one.
func (t throttleRule) throttling(err error) (bool, time.Duration) {
	var (
		he *tianyuan.HTTPError
		ce *tianyuan.CodeError
	)
	switch {
	case errors.As(err, &he):
		if he.StatusCode == http.StatusTooManyRequests || he.StatusCode == http.StatusServiceUnavailable && he.RetryAfter > 0 {
			return true, he.RetryAfter
		}
	case errors.As(err, &ce):
		return slices.Contains(t.codes, ce.Code), 0
	}
	return false, 0
}

// ThrottleBudgetError says a product was answered by nothing but throttling
// for longer than retry.throttle_budget.
type ThrottleBudgetError struct {
	Product   string
	Budget    time.Duration
	Throttled int64 // throttling answers received for the product in the run
}

func (e *ThrottleBudgetError) Error() string {
	return fmt.Sprintf("the vendor throttled every call to %s for %s (retry.throttle_budget), %s throttling answers in all: rerun later, or lower products.%s.rate_per_second",
		e.Product, e.Budget, thousands(e.Throttled), e.Product)
}

// pacer paces the calls of one product: a token bucket whose rate follows
// the vendor's throttling answers under a ceiling, and pauses for its
// Retry-After. It is safe for concurrent use.
type pacer struct {
	product  string
	log      *slog.Logger
	tune     pacing
	ceiling  float64 // calls per second; +Inf when unlimited
	burst    int     // the configured burst, used at the ceiling
	maxPause time.Duration
	budget   time.Duration // retry.throttle_budget; 0: none

	// turn lets one waiter at a time hold a reservation of the bucket, so
	// that a decrease or a pause needs to take back at most one, and does
	// so whole.
	turn chan struct{}

	mu          sync.Mutex
	lim         *rate.Limiter
	changed     chan struct{} // closed, and replaced, when the rate is cut or a pause begins
	free        bool          // at the ceiling: no curve to follow
	rate        float64       // the bucket's rate now
	start       float64       // the rate at t0
	counted     float64       // M: what the vendor counted at the last decrease
	settled     float64       // the plateau, just below M
	t0          time.Time     // where the curve starts: the last decrease, or the end of its pause
	lastCut     time.Time
	cutSent     time.Time // when the request the last decrease was for was sent
	lone        time.Time // a throttling answer at the plateau that lowered nothing; zero when none
	loneUntil   time.Time // a second one before this lowers the rate
	pausedUntil time.Time
	sent        sendLog
	// quietSince is the first throttling answer since the last answered
	// call; zero when the last answer was not throttling.
	quietSince time.Time

	throttled int64
	paused    time.Duration // time paused for Retry-After, pauses that overlap counted once
	rateMin   float64
	slowSince time.Time     // when the rate left the ceiling; zero at the ceiling
	slow      time.Duration // time below the ceiling before slowSince
}

// newPacer returns the pacer of a product configured as p.
func newPacer(product string, p config.ProductConfig, retry config.RetryConfig, tune pacing, log *slog.Logger) *pacer {
	ceiling := p.RatePerSecond
	if ceiling == 0 {
		ceiling = math.Inf(1)
	}
	return &pacer{product: product, log: log, tune: tune, ceiling: ceiling, burst: p.Burst, maxPause: retry.MaxDelay,
		budget: retry.ThrottleBudget, turn: make(chan struct{}, 1), lim: rate.NewLimiter(limitOf(ceiling), p.Burst),
		changed: make(chan struct{}), free: true, rate: ceiling, rateMin: ceiling}
}

func limitOf(r float64) rate.Limit {
	if math.IsInf(r, 1) {
		return rate.Inf
	}
	return rate.Limit(r)
}

// floor is the lowest rate the pacer goes down to.
func (p *pacer) floor() float64 { return min(p.tune.floor, p.ceiling) }

// wait blocks until the product may send a request: no pause is on and the
// bucket has a token. It returns the time the request is sent at, or ctx's
// error if ctx ends first.
func (p *pacer) wait(ctx context.Context) (time.Time, error) {
	p.mu.Lock()
	if now := time.Now(); p.free && math.IsInf(p.ceiling, 1) && !now.Before(p.pausedUntil) {
		p.sent.add(now)
		p.mu.Unlock()
		return now, nil
	}
	p.mu.Unlock()
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	defer func() { <-p.turn }()
	for {
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		now := time.Now()
		p.mu.Lock()
		p.adjust(now)
		changed := p.changed
		var res *rate.Reservation
		delay := p.pausedUntil.Sub(now)
		if delay <= 0 {
			res = p.lim.ReserveN(now, 1)
			if delay = res.DelayFrom(now); delay <= 0 {
				p.sent.add(now)
				p.mu.Unlock()
				return now, nil
			}
		}
		p.mu.Unlock()
		t := time.NewTimer(delay)
		select {
		case <-t.C:
			if res == nil {
				continue // the pause is over
			}
			p.mu.Lock()
			now = time.Now()
			if now.Before(p.pausedUntil) { // a pause began as the token came
				p.mu.Unlock()
				continue
			}
			p.sent.add(now)
			p.mu.Unlock()
			return now, nil
		case <-changed:
			t.Stop()
			if res != nil {
				res.Cancel() // the only reservation: its token is given back whole
			}
		case <-ctx.Done():
			t.Stop()
			if res != nil {
				res.Cancel()
			}
			return time.Time{}, ctx.Err()
		}
	}
}

// observe learns from the answer to a request sent at sent (as wait
// returned it) and received at now. It returns a *ThrottleBudgetError when
// the product has had nothing but throttling answers for longer than the
// budget.
func (p *pacer) observe(sent, now time.Time, rule throttleRule, reply *tianyuan.Reply, err error) error {
	throttled, retryAfter := rule.throttling(err)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !throttled {
		var (
			he *tianyuan.HTTPError
			pe *tianyuan.ProtocolError
		)
		if reply != nil || errors.As(err, &he) || errors.As(err, &pe) { // the vendor answered
			p.quietSince = time.Time{}
		}
		return nil
	}
	p.throttled++
	if retryAfter > 0 {
		p.pause(now, retryAfter)
	}
	if !p.lastCut.IsZero() && sent.Before(p.cutSent) && now.Sub(p.lastCut) < p.tune.cooldown {
		p.refine(now, sent)
	}
	if sent.After(p.lastCut) && (p.lastCut.IsZero() || now.Sub(p.lastCut) >= p.tune.cooldown) {
		p.adjust(now)
		switch {
		case p.free || p.rate > (1-p.tune.margin/2)*p.counted: // probing near M or past it
			p.cut(now, sent)
		case !p.lone.IsZero() && sent.After(p.lone) && now.Before(p.loneUntil): // a confirmed drop
			p.cut(now, sent)
		case p.lone.IsZero() || !now.Before(p.loneUntil):
			p.lone, p.loneUntil = now, now.Add(p.tune.confirm)
			if p.pausedUntil.After(now) {
				p.loneUntil = p.pausedUntil.Add(p.tune.confirm)
			}
			p.settled = max(p.settled*(1-p.tune.loneStep), p.tune.loneFloor*p.counted, p.floor())
			p.start = min(p.start, p.settled)
			p.log.Debug("throttled: plateau lowered", "product", p.product, "rate_settled", perSecond(p.settled))
		}
	}
	if p.quietSince.IsZero() {
		p.quietSince = now
	} else if p.budget > 0 && now.Sub(p.quietSince) > p.budget {
		return &ThrottleBudgetError{Product: p.product, Budget: p.budget, Throttled: p.throttled}
	}
	return nil
}

// pause stops dispatching for d from now (at most maxPause). p.mu is held.
func (p *pacer) pause(now time.Time, d time.Duration) {
	if p.maxPause > 0 {
		d = min(d, p.maxPause)
	}
	until := now.Add(d)
	if !until.After(p.pausedUntil) {
		return
	}
	from := p.pausedUntil
	if from.Before(now) {
		from = now
	}
	p.paused += until.Sub(from)
	p.pausedUntil = until
	if !p.free && p.t0.Before(until) {
		p.t0 = until // the rate does not climb while paused
	}
	p.notify()
}

// cut lowers the rate after a throttling answer to a request sent at sent.
// p.mu is held.
func (p *pacer) cut(now, sent time.Time) {
	// m: what the vendor counted, the requests sent in the second before
	// the throttled one, capped by the rate then; without any, the rate
	// then (a plain multiplicative decrease), or the floor when unlimited.
	m := min(float64(p.sent.countBefore(sent)), p.rate)
	if m == 0 && !math.IsInf(p.rate, 1) {
		m = p.rate
	}
	p.lastCut, p.cutSent = now, sent
	p.lone, p.loneUntil = time.Time{}, time.Time{}
	if p.free {
		p.free = false
		p.slowSince = now
		p.lim.SetBurstAt(now, 1)
	}
	p.lower(now, m)
	p.log.Debug("throttled: rate lowered", "product", p.product, "counted", m,
		"rate", perSecond(p.rate), "rate_settled", perSecond(p.settled), "paused_until", p.pausedUntil)
}

// refine lowers the last decrease when a request sent before the one that
// caused it, so in the same second, was throttled too: with several calls
// in flight the answers come back out of order, and the first throttled
// request is the one whose second the vendor counted. p.mu is held.
func (p *pacer) refine(now, sent time.Time) {
	if m := float64(p.sent.countBefore(sent)); m > 0 && m < p.counted {
		p.cutSent = sent
		p.lower(now, m)
	}
}

// lower sets the rate after a decrease, for a vendor that counted m
// requests. p.mu is held.
func (p *pacer) lower(now time.Time, m float64) {
	floor := p.floor()
	p.counted = m
	p.settled = max((1-p.tune.margin)*m, floor)
	if p.pausedUntil.Sub(now) >= p.tune.cooldown { // a pause that empties the vendor's window
		p.start, p.t0 = p.settled, p.pausedUntil
	} else {
		p.start, p.t0 = max(p.tune.beta*m, floor), now
	}
	p.rate = p.start
	p.rateMin = min(p.rateMin, p.rate)
	p.lim.SetLimitAt(now, limitOf(p.rate))
	p.notify()
}

// notify wakes the waiter holding a reservation. p.mu is held.
func (p *pacer) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// curve is the rate the pacer climbs along after its last decrease.
func (p *pacer) curve(now time.Time) float64 {
	s := now.Sub(p.t0).Seconds()
	k := p.tune.recover.Seconds()
	switch {
	case s <= 0:
		return p.start
	case s < k:
		x := 1 - s/k
		return p.settled - (p.settled-p.start)*x*x*x
	}
	x := (s - k) / p.tune.probe.Seconds()
	return p.settled * (1 + x*x*x)
}

// adjust sets the bucket's rate to the curve's, or back to the ceiling
// once the curve reaches it. p.mu is held.
func (p *pacer) adjust(now time.Time) {
	if p.free {
		return
	}
	r := max(p.curve(now), p.floor())
	if r >= p.ceiling {
		p.free = true
		p.rate = p.ceiling
		p.lim.SetLimitAt(now, limitOf(p.ceiling))
		p.lim.SetBurstAt(now, p.burst)
		p.slow += now.Sub(p.slowSince)
		p.slowSince = time.Time{}
		return
	}
	if r != p.rate {
		p.rate = r
		p.lim.SetLimitAt(now, limitOf(r))
	}
}

// paceFigures are a product's pacing at one moment.
type paceFigures struct {
	rate      float64 // calls per second; +Inf when unlimited
	ceiling   float64
	throttled int64
	paused    time.Duration
	pausedNow bool
	rateMin   float64
	settled   float64       // 0 when never throttled
	slow      time.Duration // time below the ceiling
}

// figures returns the pacing now; a nil pacer has none.
func (p *pacer) figures(now time.Time) paceFigures {
	if p == nil {
		return paceFigures{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.adjust(now)
	f := paceFigures{rate: p.rate, ceiling: p.ceiling, throttled: p.throttled, paused: p.paused,
		pausedNow: now.Before(p.pausedUntil), rateMin: p.rateMin, settled: p.settled, slow: p.slow}
	if f.pausedNow {
		f.paused -= p.pausedUntil.Sub(now) // not yet spent
	}
	if !p.slowSince.IsZero() {
		f.slow += now.Sub(p.slowSince)
	}
	return f
}

// sendLog keeps the times of the most recent requests sent, to count those
// of one second.
type sendLog struct {
	at   [4096]time.Time // a ring, in the order sent
	next int             // where the next goes
	n    int
}

func (l *sendLog) add(t time.Time) {
	l.at[l.next] = t
	l.next = (l.next + 1) % len(l.at)
	l.n = min(l.n+1, len(l.at))
}

// countBefore counts the requests sent in the second before t, t excluded
// (at most the ring's size).
func (l *sendLog) countBefore(t time.Time) int {
	from := t.Add(-time.Second)
	c := 0
	for i := 1; i <= l.n; i++ {
		at := l.at[(l.next-i+len(l.at))%len(l.at)]
		if at.Before(from) {
			break
		}
		if at.Before(t) {
			c++
		}
	}
	return c
}

// perSecond is a rate for the manifest and logs: 0 for unlimited, else
// rounded to 0.1.
func perSecond(r float64) float64 {
	if math.IsInf(r, 1) {
		return 0
	}
	return math.Round(r*10) / 10
}

// paceAttrs returns each product's pacing for the progress log line: its
// rate now (0: unlimited), the throttling answers and the seconds paused.
func (r *run) paceAttrs() []any {
	now := time.Now()
	attrs := make([]any, 0, len(r.prods))
	for _, p := range r.prods {
		f := p.stats.pace.figures(now)
		attrs = append(attrs, slog.Group(p.code, "rate", perSecond(f.rate), "throttled", f.throttled,
			"paused_seconds", math.Round(f.paused.Seconds()*10)/10))
	}
	return attrs
}

// paceSummary describes, for the progress bar, the pacing of the products
// the vendor has throttled: "JRZQ9E2A 58.8/s, 31 throttled, paused 1.0s";
// "" when it has throttled none.
func (r *run) paceSummary() string {
	now := time.Now()
	var parts []string
	for _, p := range r.prods {
		f := p.stats.pace.figures(now)
		if f.throttled == 0 {
			continue
		}
		s := fmt.Sprintf("%s %s/s, %s throttled", p.code, strconv.FormatFloat(perSecond(f.rate), 'f', 1, 64), thousands(f.throttled))
		switch {
		case f.pausedNow:
			s += ", paused now"
		case f.paused > 0:
			s += fmt.Sprintf(", paused %.1fs", f.paused.Seconds())
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// finishPacing puts each product's pacing in the manifest and, for a
// product the vendor slowed down for much of the run, logs the rate it
// settled at as a hint for its configured rate.
func (r *run) finishPacing() {
	now := time.Now()
	for _, p := range r.prods {
		f := p.stats.pace.figures(now)
		c := p.counts
		c.Throttled = f.throttled
		c.PausedSeconds = math.Round(f.paused.Seconds()*1000) / 1000
		c.RateMin, c.RateFinal, c.RateSettled = perSecond(f.rateMin), perSecond(f.rate), perSecond(f.settled)
		if f.throttled == 0 || f.slow < time.Second || f.slow.Seconds() < r.manifest.Seconds/10 {
			continue
		}
		hint := max(math.Floor(f.settled), 1)
		r.log.Warn("the vendor throttled this product for much of the run; the rate settled below the configured one",
			"product", p.code, "throttled", f.throttled, "calls", c.Calls,
			"slowed_seconds", math.Round(f.slow.Seconds()*10)/10, "paused_seconds", c.PausedSeconds,
			"rate_per_second", p.cfg.RatePerSecond, "rate_settled", c.RateSettled,
			"hint", fmt.Sprintf("set products.%s.rate_per_second to %s or less", p.code, strconv.FormatFloat(hint, 'f', -1, 64)))
	}
}
