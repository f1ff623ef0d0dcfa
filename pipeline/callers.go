package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pacing"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The vendor client is wrapped, innermost first, by:
//
//	metered   counts attempts, billed replies and latency
//	budgeted  refuses a call that could go past limits.max_calls / max_cost
//	persisted stores each paid reply before it goes further (see store.go)
//	limited   at most Concurrency calls in flight and a token bucket per product
//	         whose rate follows the vendor's throttling (see package pacing);
//	         the HTTP attempt is detached from cancellation, so that a call in
//	         flight when the run stops still completes (and is stored), bounded
//	         by the per-attempt timeout
//	retrying retries transient failures with full-jitter backoff, honouring Retry-After;
//	         a throttled call goes again through the limiter, which is its wait
//	pooled   tells the worker pool that a worker waits, so that another takes
//	         the next rows (see workers.go)
//	stored   answers from the reply store, merges concurrent identical calls,
//	         and stores every reply before handing it on (see store.go)

// limited caps the calls in flight and their rate, per product, and tells
// the pacer what each answer was.
type limited struct {
	next     tianyuan.Caller
	pace     *pacing.Pacer
	throttle pacing.ThrottleRule
	slots    chan struct{}
	timeout  time.Duration
}

func newLimited(next tianyuan.Caller, pace *pacing.Pacer, throttle pacing.ThrottleRule, p config.ProductConfig, timeout time.Duration) *limited {
	return &limited{next: next, pace: pace, throttle: throttle, slots: make(chan struct{}, p.Concurrency), timeout: timeout}
}

func (l *limited) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.slots }()
	sent, err := l.pace.Wait(ctx)
	if err != nil {
		return nil, err
	}
	attempt, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	reply, err := l.next.Call(attempt, product, params)
	if perr := l.pace.Observe(sent, time.Now(), l.throttle, reply, err); perr != nil {
		return reply, perr
	}
	return reply, err
}

// retrying retries what the code policy says is worth another attempt
// (tianyuan.CodePolicy.Retrier): transient failures, and once in all an
// attempt the vendor may have billed without an answer being read (a reply
// not JSON at all or cut off, a request sent that got no reply); never a
// reply that was understood to be malformed. It
// also retries every throttling answer: the limiter further in has slowed
// the product down or paused it, and is the wait; a throttled attempt is not
// counted against maxAttempts.
type retrying struct {
	next        tianyuan.Caller
	policy      tianyuan.CodePolicy
	throttle    pacing.ThrottleRule
	maxAttempts int
	base, max   time.Duration
	onRetry     func(product string, attempt int, delay time.Duration, err error)
}

func (r *retrying) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	again := r.policy.Retrier()
	for attempt := 1; ; attempt++ {
		reply, err := r.next.Call(ctx, product, params)
		if throttled, _ := r.throttle.Throttling(err); throttled && ctx.Err() == nil {
			attempt-- // not an attempt: go again through the limiter at once
			if r.onRetry != nil {
				r.onRetry(product, attempt, 0, err)
			}
			continue
		}
		if err == nil || ctx.Err() != nil || attempt >= r.maxAttempts || !again(err) {
			return reply, err
		}
		delay := r.backoff(attempt, err)
		if r.onRetry != nil {
			r.onRetry(product, attempt, delay, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return reply, err
		}
	}
}

// backoff returns the wait before the next attempt: full jitter, a random
// duration up to base·2^(attempt-1) capped at max, or the vendor's
// Retry-After when that is longer (also capped at max).
func (r *retrying) backoff(attempt int, err error) time.Duration {
	ceiling := r.base << min(attempt-1, 30)
	if ceiling > r.max || ceiling <= 0 {
		ceiling = r.max
	}
	var d time.Duration
	if ceiling > 0 {
		d = rand.N(ceiling + 1)
	}
	var he *tianyuan.HTTPError
	if errors.As(err, &he) && he.RetryAfter > d {
		d = min(he.RetryAfter, r.max)
	}
	return d
}

// metered counts what reaches the vendor.
type metered struct {
	next  tianyuan.Caller
	stats *productStats
}

func (m *metered) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	start := time.Now()
	m.stats.attempts.Add(1)
	reply, err := m.next.Call(ctx, product, params)
	m.stats.observe(time.Since(start))
	if reply != nil && reply.Code == 0 && err == nil {
		m.stats.billed.Add(1)
	}
	if tianyuan.PossiblyBilled(err) {
		m.stats.possiblyBilled.Add(1)
	}
	return reply, err
}

// productStats are the live counters of one product.
type productStats struct {
	attempts atomic.Int64 // HTTP requests sent
	billed   atomic.Int64 // code-0 replies received
	retries  atomic.Int64
	stored   atomic.Int64  // answered from the reply store
	merged   atomic.Int64  // answered by an identical call of the same run
	pace     *pacing.Pacer // the product's rate and pauses

	// possiblyBilled counts attempts that got no readable answer after
	// their request was sent (a reply that could not be read, or no
	// reply), which the vendor may have billed all the same.
	possiblyBilled atomic.Int64

	undecryptable atomic.Int64 // stored replies paid for again: they did not decrypt with today's key
	damaged       atomic.Int64 // stored replies paid for again: their record was damaged

	mu        sync.Mutex
	latencies []time.Duration // a bounded sample, for percentiles
	seen      int64
}

const latencySample = 4096

func (s *productStats) observe(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen++
	if len(s.latencies) < latencySample {
		s.latencies = append(s.latencies, d)
		return
	}
	if i := rand.Int64N(s.seen); i < latencySample { // reservoir sampling
		s.latencies[i] = d
	}
}

func (s *productStats) percentiles() manifest.Percentiles {
	s.mu.Lock()
	d := append([]time.Duration(nil), s.latencies...)
	s.mu.Unlock()
	if len(d) == 0 {
		return manifest.Percentiles{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	return manifest.Percentiles{P50: ms(d[len(d)/2]), P95: ms(d[len(d)*95/100]), Max: ms(d[len(d)-1])}
}

// budget is what a run may still spend, shared by every product.
type budget struct {
	maxCalls int64   // 0: no cap
	maxCost  float64 // 0: no cap

	mu    sync.Mutex
	calls int64   // paid calls, and calls in flight that may be paid
	cost  float64 // their price
}

// BudgetError says a call would have gone past a limit of the config.
type BudgetError struct {
	Limit string // limits.max_calls or limits.max_cost
	Value string
	Paid  int64 // paid calls before the stop
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%s = %s reached after %s paid calls", e.Limit, e.Value, thousands(e.Paid))
}

// reserve sets aside one call at price, or refuses it.
func (b *budget) reserve(price float64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.maxCalls > 0 && b.calls+1 > b.maxCalls:
		return &BudgetError{Limit: "limits.max_calls", Value: strconv.FormatInt(b.maxCalls, 10), Paid: b.calls}
	case b.maxCost > 0 && b.cost+price > b.maxCost+1e-9:
		return &BudgetError{Limit: "limits.max_cost", Value: strconv.FormatFloat(b.maxCost, 'f', -1, 64), Paid: b.calls}
	}
	b.calls++
	b.cost += price
	return nil
}

// release gives back a reservation whose call was not paid for.
func (b *budget) release(price float64) {
	b.mu.Lock()
	b.calls--
	b.cost -= price
	b.mu.Unlock()
}

// budgeted refuses a call that could go past the run's limits.
type budgeted struct {
	next   tianyuan.Caller
	budget *budget
	price  float64
}

func (b *budgeted) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	if err := b.budget.reserve(b.price); err != nil {
		return nil, err
	}
	reply, err := b.next.Call(ctx, product, params)
	// An attempt with no readable answer after its request was sent may
	// have been paid for: it keeps its share of the budget.
	if !(err == nil && reply != nil && reply.Code == 0) && !tianyuan.PossiblyBilled(err) {
		b.budget.release(b.price)
	}
	return reply, err
}

// thousands writes n with thousands separators: 3,912.
func thousands(n int64) string { return englishNumbers.Sprintf("%d", n) }

var englishNumbers = message.NewPrinter(language.English)
