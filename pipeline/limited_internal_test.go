package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pacing"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
)

// testPacer returns the pacer of a product at ceiling calls/s.
func testPacer(ceiling float64) *pacing.Pacer {
	return newPacer("JRZQ9E2A", config.ProductConfig{RatePerSecond: ceiling, Burst: 5, Concurrency: 16},
		config.RetryConfig{MaxDelay: 30 * time.Second}, defaultPacing, slog.New(slog.DiscardHandler))
}

// scriptedCaller answers from a script, one error per call (nil for a
// reply), and records when each call came in.
type scriptedCaller struct {
	mu     sync.Mutex
	script []error
	at     []time.Time
}

func (s *scriptedCaller) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = append(s.at, time.Now())
	var err error
	if len(s.script) > 0 {
		err, s.script = s.script[0], s.script[1:]
	}
	if err != nil {
		return nil, err
	}
	return &tianyuan.Reply{Product: product}, nil
}

// TestRetryingThrottled checks that throttled answers are retried without
// counting as attempts, and without a backoff of their own: with a base
// delay of an hour, a backoff after a throttled answer would outlast the
// test's deadline.
func TestRetryingThrottled(t *testing.T) {
	tooMany := &tianyuan.HTTPError{StatusCode: 429}
	tests := []struct {
		name     string
		script   []error
		attempts int
		base     time.Duration // the backoff of transient failures
		wantErr  bool
		calls    int
	}{
		{"throttled, then answered", []error{tooMany, tooMany, tooMany, nil}, 1, time.Hour, false, 4},
		{"throttling code", []error{&tianyuan.CodeError{Code: 1099}, nil}, 1, time.Hour, false, 2},
		{"throttled between transient failures", []error{&tianyuan.HTTPError{StatusCode: 502}, tooMany, tooMany, nil}, 2, time.Millisecond, false, 4},
		{"transient failures still count", []error{&tianyuan.HTTPError{StatusCode: 502}, tooMany, &tianyuan.HTTPError{StatusCode: 502}}, 2, time.Millisecond, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			next := &scriptedCaller{script: tt.script}
			pace := testPacer(1000)
			rule := pacing.ThrottleRule{Codes: []int{1099}}
			retries := 0
			r := &retrying{next: newLimited(next, pace, rule, config.ProductConfig{Concurrency: 1}, time.Minute), policy: tianyuan.DefaultCodePolicy(),
				throttle: rule, maxAttempts: tt.attempts, base: tt.base, max: time.Hour,
				onRetry: func(string, int, time.Duration, error) { retries++ }}
			_, err := r.Call(ctx, "JRZQ9E2A", tianyuan.Params{})
			if ctx.Err() != nil {
				t.Fatal("retrying waited past the deadline")
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(next.at) != tt.calls || retries != tt.calls-1 {
				t.Errorf("%d calls, %d retries, want %d, %d", len(next.at), retries, tt.calls, tt.calls-1)
			}
		})
	}
}

// TestRetryAfterPausesEveryCall sends a call that is answered 429 with
// Retry-After, then, once it has returned, more calls at once: none may
// reach the vendor before the Retry-After has passed.
func TestRetryAfterPausesEveryCall(t *testing.T) {
	const retryAfter = 300 * time.Millisecond
	next := &scriptedCaller{script: []error{&tianyuan.HTTPError{StatusCode: 429, RetryAfter: retryAfter}}}
	pace := testPacer(1000)
	l := newLimited(next, pace, pacing.ThrottleRule{}, config.ProductConfig{Concurrency: 4}, time.Minute)
	before := time.Now()
	if _, err := l.Call(context.Background(), "JRZQ9E2A", tianyuan.Params{}); err == nil {
		t.Fatal("the first call was not throttled")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.Call(ctx, "JRZQ9E2A", tianyuan.Params{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i, at := range next.at[1:] {
		if waited := at.Sub(before); waited < retryAfter {
			t.Errorf("call %d reached the vendor %v after the throttled one began, want ≥ %v", i+2, waited, retryAfter)
		}
	}
	if f := pace.Figures(time.Now()); f.Paused != retryAfter || f.Throttled != 1 {
		t.Errorf("paused %v, throttled %d, want %v, 1", f.Paused, f.Throttled, retryAfter)
	}
}
