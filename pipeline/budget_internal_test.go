package pipeline

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
)

// billingCaller answers every call, billing (code 0) all but every
// unbilledEvery-th one, which gets code 1001.
type billingCaller struct {
	unbilledEvery int64
	calls, billed atomic.Int64
}

func (c *billingCaller) Call(_ context.Context, product string, _ tianyuan.Params) (*tianyuan.Reply, error) {
	n := c.calls.Add(1)
	if c.unbilledEvery > 0 && n%c.unbilledEvery == 0 {
		return &tianyuan.Reply{Product: product, Code: 1001}, &tianyuan.CodeError{Product: product, Code: 1001}
	}
	c.billed.Add(1)
	return &tianyuan.Reply{Product: product}, nil
}

// TestBudgetPerCall is the check that stays once the run has started, for
// what the plan cannot know (a stored reply that cannot be used, a store
// changed since): concurrent calls never bill past a limit, and calls that
// were not billed give their share back.
func TestBudgetPerCall(t *testing.T) {
	cases := []struct {
		name          string
		maxCalls      int64
		maxCost       float64
		price         float64
		unbilledEvery int64
		wantBilled    int64
		wantLimit     string
	}{
		{"max_calls", 40, 0, 1, 0, 40, "limits.max_calls"},
		{"max_cost", 0, 10, 0.5, 0, 20, "limits.max_cost"},
		{"max_cost not a multiple of the price", 0, 10.2, 0.5, 0, 20, "limits.max_cost"},
		{"unbilled calls are given back", 30, 0, 1, 3, 30, "limits.max_calls"},
		{"no limit", 0, 0, 1, 0, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next := &billingCaller{unbilledEvery: c.unbilledEvery}
			caller := &budgeted{next: next, budget: &budget{maxCalls: c.maxCalls, maxCost: c.maxCost}, price: c.price}
			var (
				wg      sync.WaitGroup
				refused atomic.Int64
				mu      sync.Mutex
				limit   string
			)
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 25 {
						_, err := caller.Call(context.Background(), "JRZQ9E2A", nil)
						var be *BudgetError
						if errors.As(err, &be) {
							refused.Add(1)
							mu.Lock()
							limit = be.Limit
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			if got := next.billed.Load(); got != c.wantBilled {
				t.Errorf("billed %d, want %d", got, c.wantBilled)
			}
			if limit != c.wantLimit {
				t.Errorf("refused by %q, want %q", limit, c.wantLimit)
			}
			if got := next.calls.Load() + refused.Load(); got != 200 {
				t.Errorf("%d calls sent + %d refused, want 200 in all", next.calls.Load(), refused.Load())
			}
		})
	}
}
