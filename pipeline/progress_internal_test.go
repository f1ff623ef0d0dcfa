package pipeline

import (
	"math"
	"testing"

	"github.com/scorepipe/scorepipe/config"
)

// TestRowRateCeiling checks the pace the rate limits allow: the slowest
// product at the calls it needs a row.
func TestRowRateCeiling(t *testing.T) {
	product := func(rate float64, calls int64) *productRun {
		p := &productRun{cfg: config.ProductConfig{RatePerSecond: rate}, stats: &productStats{}}
		p.stats.attempts.Store(calls)
		return p
	}
	cases := []struct {
		name  string
		prods []*productRun
		done  int64
		want  float64
	}{
		{"one product, a call a row", []*productRun{product(20, 1000)}, 1000, 20},
		{"two products: the slower one", []*productRun{product(50, 1000), product(20, 1000)}, 1000, 20},
		{"half the rows from the store", []*productRun{product(20, 500)}, 1000, 40},
		{"before 100 rows: a call a row", []*productRun{product(20, 0)}, 50, 20},
		{"every row from the store", []*productRun{product(20, 0)}, 1000, math.Inf(1)},
		{"unlimited", []*productRun{product(0, 1000)}, 1000, math.Inf(1)},
		{"retries count against the rate", []*productRun{product(20, 2000)}, 1000, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &run{prods: c.prods}
			if got := r.rowRateCeiling(c.done); got != c.want {
				t.Errorf("ceiling %v rows/s, want %v", got, c.want)
			}
		})
	}
}
