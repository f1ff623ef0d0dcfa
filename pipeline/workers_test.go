package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// gate holds every call until want calls are in flight at once, then lets
// them all go; it notes the most it saw in flight. After the deadline it
// lets every call go, so that a run that never gets there ends.
type gate struct {
	next     tianyuan.Caller
	want     int
	deadline time.Time

	mu       sync.Mutex
	inFlight int
	most     int
	open     chan struct{}
}

func (g *gate) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	g.mu.Lock()
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	if g.inFlight >= g.want {
		select {
		case <-g.open:
		default:
			close(g.open)
		}
	}
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-time.After(time.Until(g.deadline)):
	}
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	return g.next.Call(ctx, product, params)
}

// TestCallsInFlightReachConcurrency: the run starts a few workers and one
// more whenever a worker waits for the vendor, so that as many calls as a
// product's concurrency are in flight at once, also past the first few
// workers, and no more.
func TestCallsInFlightReachConcurrency(t *testing.T) {
	first := 2*runtime.GOMAXPROCS(0) + 8 // the workers a run starts with
	for _, concurrency := range []int{4, first + 8, 2*first + 3} {
		t.Run(fmt.Sprintf("concurrency %d", concurrency), func(t *testing.T) {
			m, g := runGated(t, applicantsFile(t, 3*concurrency), concurrency)
			if g.most != concurrency {
				t.Errorf("at most %d calls in flight, want the concurrency, %d", g.most, concurrency)
			}
			if p := m.Products["JRZQ9E2A"]; p.OK+p.NoRecord != 3*concurrency {
				t.Errorf("%d rows answered, want %d", p.OK+p.NoRecord, 3*concurrency)
			}
		})
	}
}

// TestIdenticalCallsDoNotHoldUpOthers: rows waiting for the call of an
// identical applicant in flight do not keep the workers from the other
// rows' calls: with more identical rows first than the workers a run
// starts with, as many calls as the concurrency are still in flight at
// once.
func TestIdenticalCallsDoNotHoldUpOthers(t *testing.T) {
	first := 2*runtime.GOMAXPROCS(0) + 8
	const concurrency = 8
	lines := strings.Split(strings.TrimSpace(readFile(t, applicantsFile(t, concurrency+1))), "\n")
	rows := append([]string{lines[0]}, slices.Repeat([]string{lines[1]}, first+4)...) // the same applicant, again and again
	rows = append(rows, lines[2:]...)                                                 // then one each
	path := filepath.Join(t.TempDir(), "applicants.csv")
	if err := os.WriteFile(path, []byte(strings.Join(rows, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, g := runGated(t, path, concurrency)
	if g.most != concurrency {
		t.Errorf("at most %d calls in flight, want the concurrency, %d", g.most, concurrency)
	}
	if p := m.Products["JRZQ9E2A"]; p.Calls != concurrency+1 || p.Deduplicated != int64(first+3) {
		t.Errorf("%d calls, %d rows deduplicated; want %d and %d", p.Calls, p.Deduplicated, concurrency+1, first+3)
	}
}

// runGated runs the applicants of path to CSV, JRZQ9E2A only at the
// given concurrency, through a gate that waits for that many calls in
// flight.
func runGated(t *testing.T, path string, concurrency int) (*manifest.Manifest, *gate) {
	t.Helper()
	_, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	cfg.Input.Files = []string{path}
	cfg.Input.Passthrough = nil
	cfg.Output.Formats = []string{config.FormatCSV}
	cfg.Products = map[string]config.ProductConfig{"JRZQ9E2A": {Burst: 1, Concurrency: concurrency}}
	g := &gate{next: client, want: concurrency, deadline: time.Now().Add(20 * time.Second), open: make(chan struct{})}
	e := env(client)
	e.Caller = g
	m, err := pipeline.Run(context.Background(), cfg, e)
	if err != nil {
		t.Fatal(err)
	}
	return m, g
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
