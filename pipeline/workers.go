package pipeline

import (
	"context"
	"sync"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
)

// workerPool starts the run's workers: a few to begin with, and one more
// whenever a worker is about to wait (for the vendor, or for an identical
// call in flight) while fewer than those few are left to work, up to max:
// enough for every call the vendor may have in flight. A run answered from
// the store keeps the first few. With all of them started at once, rows
// went round every worker in turn, each found cold in the cache: a run of
// 200,000 rows from the store took 3 to 4 % more CPU and wall time.
type workerPool struct {
	mu      sync.Mutex
	live    int    // workers started
	waiting int    // of them, about to wait or waiting
	working int    // how many are kept free to work
	max     int    // the most workers
	start   func() // starts a worker
}

// begin starts working workers (start starts one), and more as they wait,
// up to max in all.
func (p *workerPool) begin(working, max int, start func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.working, p.max, p.start = working, max, start
	for range min(working, max) {
		p.live++
		p.start()
	}
}

// waitBegins says a worker is about to wait; waitEnds, that it no longer
// does. A nil pool does nothing.
func (p *workerPool) waitBegins() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waiting++
	if p.live-p.waiting < p.working && p.live < p.max {
		p.live++
		p.start()
	}
}

func (p *workerPool) waitEnds() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.waiting--
	p.mu.Unlock()
}

// pooled tells the worker pool that its caller waits for the vendor: the
// caller chain inside stored, which waits for the limiter, the vendor and
// retries.
type pooled struct {
	next tianyuan.Caller
	pool *workerPool
}

func (c *pooled) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	c.pool.waitBegins()
	defer c.pool.waitEnds()
	return c.next.Call(ctx, product, params)
}
