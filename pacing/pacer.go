// Package pacing paces the calls of a product to the vendor under a rate
// ceiling (products.<CODE>.rate_per_second). A vendor account
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
//   - At the ceiling (or unlimited), a throttling answer whose second before
//     does not measure what the vendor counts (no request in it, or fewer
//     than MinCounted while the product has been sending for less than a
//     second: a 429 to the first calls of a run) is taken as a lone one and
//     changes nothing. A second one confirming it lowers the rate to β times
//     the rate then, which it climbs back from within recover; an unlimited
//     product, whose rate then says nothing, is paused for the cooldown
//     instead. Cutting to so few requests would pin the rate near the floor
//     for the probe's minutes.
//
// Throttled is not failed: a throttled call goes again through the bucket
// (the pause and the lower rate are its wait), and it does not count against
// retry.max_attempts. Only a product answered by nothing but throttling for
// retry.throttle_budget stops the run (exit 3, resumable).
package pacing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/time/rate"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
)

// Tuning shapes how a Pacer follows throttling answers.
type Tuning struct {
	// Beta is the multiplicative decrease, as in CUBIC (RFC 8312) and the
	// AWS SDKs: deep enough that a vendor counting requests over a sliding
	// window, throttled ones included, has room again within a fraction of
	// a second.
	Beta float64
	// Margin keeps the rate a little below what the vendor counted, so
	// that the jitter of request arrivals seldom throttles again (a vendor
	// limit of 60 calls/s leaves room for 2.4 requests arriving early).
	Margin float64
	// Recover is how long the rate takes to climb back from β·M to just
	// below M.
	Recover time.Duration
	// Probe sets how fast the rate climbs past M, to find a limit the vendor
	// has raised: slowly at first, since each probe past the vendor's limit
	// costs a throttling answer and, with Retry-After, a pause of at least
	// a second (probe = 90s: +2 % after 25 s, +10 % after 42 s, twice the
	// rate after 90 s).
	Probe time.Duration
	// Cooldown is the least time between two decreases: about the window a
	// vendor counts requests over.
	Cooldown time.Duration
	// Confirm is how soon a second throttling answer must follow a lone one
	// (or the end of its pause) to lower the rate from its plateau.
	Confirm time.Duration
	// LoneStep is how much a lone throttling answer lowers the plateau, and
	// LoneFloor·M the lowest it takes it: lone answers that keep coming
	// make room for the jitter they come from.
	LoneStep, LoneFloor float64
	// Floor is the lowest rate, in calls per second (the ceiling when that
	// is lower).
	Floor float64
	// MinCounted is the fewest requests in the second before a throttled
	// one that measure what the vendor counts while the product has been
	// sending for less than a second: fewer, at the start of a run, cannot
	// tell a limit from a hiccup of the vendor (or another job on the
	// account), and cutting to them would pin the rate near the floor.
	MinCounted int
}

// Default is the tuning of every run.
var Default = Tuning{Beta: 0.7, Margin: 0.04, Recover: 2 * time.Second, Probe: 90 * time.Second,
	Cooldown: time.Second, Confirm: 2 * time.Second, LoneStep: 0.01, LoneFloor: 0.9, Floor: 1, MinCounted: 8}

// ThrottleRule says which answers mean "slow down".
type ThrottleRule struct {
	Codes []int // vendor.codes.throttle
}

// Throttling reports whether err is a throttling answer, and the vendor's
// Retry-After if it sent one.
func (t ThrottleRule) Throttling(err error) (bool, time.Duration) {
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
		return slices.Contains(t.Codes, ce.Code), 0
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

// Pacer paces the calls of one product: a token bucket whose rate follows
// the vendor's throttling answers under a ceiling, and pauses for its
// Retry-After. It is safe for concurrent use.
type Pacer struct {
	product  string
	log      *slog.Logger
	tune     Tuning
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
	// accepted is the most answers not throttled in one second of the
	// clock (acceptedIn the second being counted, acceptedNow its count):
	// a rate the vendor demonstrably accepted.
	accepted    int
	acceptedIn  int64
	acceptedNow int

	throttled int64
	paused    time.Duration // time paused for Retry-After, pauses that overlap counted once
	rateMin   float64
	slowSince time.Time     // when the rate left the ceiling; zero at the ceiling
	slow      time.Duration // time below the ceiling before slowSince
}

// Options configure a Pacer.
type Options struct {
	Product  string        // the product's code, for logs and errors
	Ceiling  float64       // calls per second at most; 0 is unlimited
	Burst    int           // the bucket's burst at the ceiling
	MaxPause time.Duration // the longest pause for a Retry-After; 0 is no cap
	// Budget is how long the product may be answered by nothing but
	// throttling before Observe gives up; 0 is no limit.
	Budget time.Duration
	Tuning Tuning
	Logger *slog.Logger
}

// New returns the pacer of a product.
func New(o Options) *Pacer {
	ceiling := o.Ceiling
	if ceiling == 0 {
		ceiling = math.Inf(1)
	}
	return &Pacer{product: o.Product, log: o.Logger, tune: o.Tuning, ceiling: ceiling, burst: o.Burst, maxPause: o.MaxPause,
		budget: o.Budget, turn: make(chan struct{}, 1), lim: rate.NewLimiter(limitOf(ceiling), o.Burst),
		changed: make(chan struct{}), free: true, rate: ceiling, rateMin: ceiling}
}

func limitOf(r float64) rate.Limit {
	if math.IsInf(r, 1) {
		return rate.Inf
	}
	return rate.Limit(r)
}

// floor is the lowest rate the pacer goes down to.
func (p *Pacer) floor() float64 { return min(p.tune.Floor, p.ceiling) }

// Wait blocks until the product may send a request: no pause is on and the
// bucket has a token. It returns the time the request is sent at, or ctx's
// error if ctx ends first.
func (p *Pacer) Wait(ctx context.Context) (time.Time, error) {
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

// Observe learns from the answer to a request sent at sent (as Wait
// returned it) and received at now. It returns a *ThrottleBudgetError when
// the product has had nothing but throttling answers for longer than the
// budget.
func (p *Pacer) Observe(sent, now time.Time, rule ThrottleRule, reply *tianyuan.Reply, err error) error {
	throttled, retryAfter := rule.Throttling(err)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !throttled {
		var (
			he *tianyuan.HTTPError
			pe *tianyuan.ProtocolError
		)
		if reply != nil || errors.As(err, &he) || errors.As(err, &pe) { // the vendor answered
			p.quietSince = time.Time{}
			p.countAccepted(now)
		}
		return nil
	}
	p.throttled++
	if retryAfter > 0 {
		p.pause(now, retryAfter)
	}
	if !p.lastCut.IsZero() && sent.Before(p.cutSent) && now.Sub(p.lastCut) < p.tune.Cooldown {
		p.refine(now, sent)
	}
	if sent.After(p.lastCut) && (p.lastCut.IsZero() || now.Sub(p.lastCut) >= p.tune.Cooldown) {
		p.adjust(now)
		measured := p.measured(sent)
		confirmed := !p.lone.IsZero() && sent.After(p.lone) && now.Before(p.loneUntil)
		switch {
		case p.free && !measured && !confirmed: // nothing says what the vendor counts: wait for a second answer
			if p.lone.IsZero() || !now.Before(p.loneUntil) {
				p.lone, p.loneUntil = now, now.Add(p.tune.Confirm)
				if p.pausedUntil.After(now) {
					p.loneUntil = p.pausedUntil.Add(p.tune.Confirm)
				}
				p.log.Debug("throttled: too few calls yet to measure a rate", "product", p.product)
			}
		case p.free && !measured && math.IsInf(p.rate, 1): // confirmed, unlimited, still no measure
			p.lone, p.loneUntil = time.Time{}, time.Time{}
			p.pause(now, p.tune.Cooldown) // the vendor's window empties; the rate stays
			p.log.Debug("throttled again: paused, rate unchanged", "product", p.product, "paused_until", p.pausedUntil)
		case p.free || confirmed || p.rate > (1-p.tune.Margin/2)*p.counted: // probing near M or past it, or a confirmed drop
			p.cut(now, sent, measured)
		case p.lone.IsZero() || !now.Before(p.loneUntil):
			p.lone, p.loneUntil = now, now.Add(p.tune.Confirm)
			if p.pausedUntil.After(now) {
				p.loneUntil = p.pausedUntil.Add(p.tune.Confirm)
			}
			p.settled = max(p.settled*(1-p.tune.LoneStep), p.tune.LoneFloor*p.counted, p.floor())
			p.start = min(p.start, p.settled)
			p.log.Debug("throttled: plateau lowered", "product", p.product, "rate_settled", PerSecond(p.settled))
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
func (p *Pacer) pause(now time.Time, d time.Duration) {
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

// measured says whether the requests sent in the second before sent
// measure what the vendor counted: some were, and the product had been
// sending for that whole second, or they were at least MinCounted. p.mu is
// held.
func (p *Pacer) measured(sent time.Time) bool {
	c := p.sent.countBefore(sent)
	return c > 0 && (sent.Sub(p.sent.first) >= time.Second || c >= p.tune.MinCounted)
}

// countAccepted counts an answer, not throttled, received at now. p.mu is
// held.
func (p *Pacer) countAccepted(now time.Time) {
	if sec := now.Unix(); sec != p.acceptedIn {
		p.acceptedIn, p.acceptedNow = sec, 0
	}
	p.acceptedNow++
	p.accepted = max(p.accepted, p.acceptedNow)
}

// cut lowers the rate after a throttling answer to a request sent at sent.
// p.mu is held.
func (p *Pacer) cut(now, sent time.Time, measured bool) {
	// m: what the vendor counted, the requests sent in the second before
	// the throttled one, capped by the rate then; when they do not measure
	// it (see measured), the rate then (a plain multiplicative decrease,
	// which the rate climbs back from within recover), or the floor when
	// unlimited (not reached: an unlimited product is paused instead).
	m := min(float64(p.sent.countBefore(sent)), p.rate)
	if !measured && !math.IsInf(p.rate, 1) {
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
		"rate", PerSecond(p.rate), "rate_settled", PerSecond(p.settled), "paused_until", p.pausedUntil)
}

// refine lowers the last decrease when a request sent before the one that
// caused it, so in the same second, was throttled too: with several calls
// in flight the answers come back out of order, and the first throttled
// request is the one whose second the vendor counted. p.mu is held.
func (p *Pacer) refine(now, sent time.Time) {
	if m := float64(p.sent.countBefore(sent)); m > 0 && m < p.counted {
		p.cutSent = sent
		p.lower(now, m)
	}
}

// lower sets the rate after a decrease, for a vendor that counted m
// requests. p.mu is held.
func (p *Pacer) lower(now time.Time, m float64) {
	floor := p.floor()
	p.counted = m
	p.settled = max((1-p.tune.Margin)*m, floor)
	if p.pausedUntil.Sub(now) >= p.tune.Cooldown { // a pause that empties the vendor's window
		p.start, p.t0 = p.settled, p.pausedUntil
	} else {
		p.start, p.t0 = max(p.tune.Beta*m, floor), now
	}
	p.rate = p.start
	p.rateMin = min(p.rateMin, p.rate)
	p.lim.SetLimitAt(now, limitOf(p.rate))
	p.notify()
}

// notify wakes the waiter holding a reservation. p.mu is held.
func (p *Pacer) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// curve is the rate the pacer climbs along after its last decrease.
func (p *Pacer) curve(now time.Time) float64 {
	s := now.Sub(p.t0).Seconds()
	k := p.tune.Recover.Seconds()
	switch {
	case s <= 0:
		return p.start
	case s < k:
		x := 1 - s/k
		return p.settled - (p.settled-p.start)*x*x*x
	}
	x := (s - k) / p.tune.Probe.Seconds()
	return p.settled * (1 + x*x*x)
}

// adjust sets the bucket's rate to the curve's, or back to the ceiling
// once the curve reaches it. p.mu is held.
func (p *Pacer) adjust(now time.Time) {
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

// Figures are a product's pacing at one moment.
type Figures struct {
	Rate      float64 // calls per second; +Inf when unlimited
	Ceiling   float64
	Throttled int64
	Paused    time.Duration
	PausedNow bool
	RateMin   float64
	Settled   float64       // 0 when never throttled
	Slow      time.Duration // time below the ceiling
	// Accepted is the most answers not throttled in one second of the
	// clock: a rate the vendor demonstrably accepted.
	Accepted float64
}

// Figures returns the pacing now; a nil pacer has none.
func (p *Pacer) Figures(now time.Time) Figures {
	if p == nil {
		return Figures{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.adjust(now)
	f := Figures{Rate: p.rate, Ceiling: p.ceiling, Throttled: p.throttled, Paused: p.paused,
		PausedNow: now.Before(p.pausedUntil), RateMin: p.rateMin, Settled: p.settled, Slow: p.slow,
		Accepted: float64(p.accepted)}
	if f.PausedNow {
		f.Paused -= p.pausedUntil.Sub(now) // not yet spent
	}
	if !p.slowSince.IsZero() {
		f.Slow += now.Sub(p.slowSince)
	}
	return f
}

// sendLog keeps the times of the most recent requests sent, to count those
// of one second.
type sendLog struct {
	at    [4096]time.Time // a ring, in the order sent
	next  int             // where the next goes
	n     int
	first time.Time // the first request sent
}

func (l *sendLog) add(t time.Time) {
	if l.first.IsZero() {
		l.first = t
	}
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

// PerSecond is a rate for the manifest and logs: 0 for unlimited, else
// rounded to 0.1.
func PerSecond(r float64) float64 {
	if math.IsInf(r, 1) {
		return 0
	}
	return math.Round(r*10) / 10
}

// thousands writes n with thousands separators: 3,912.
func thousands(n int64) string { return englishNumbers.Sprintf("%d", n) }

var englishNumbers = message.NewPrinter(language.English)
