package pipeline_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/audit"
	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// applicantsWithRepeat writes n made-up applicants and the first of them
// once more under another application id, and returns the file's path and
// the n distinct ID numbers.
func applicantsWithRepeat(t *testing.T, n int) (string, []string) {
	t.Helper()
	path := writeApplicants(t, n)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var ids []string
	for _, l := range lines[1:] {
		ids = append(ids, strings.Split(l, ",")[2])
	}
	again := strings.Replace(lines[1], "APP00000001", "APP00000999", 1)
	if err := os.WriteFile(path, []byte(strings.Join(append(lines, again), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, ids
}

// requestsPerApplicant counts the audit log's request lines of product per
// applicant key, from line from on.
func requestsPerApplicant(lines []audit.Entry, product string) map[string]int {
	n := map[string]int{}
	for _, e := range lines {
		if e.Event == audit.EventRequest && e.Product == product {
			n[e.ApplicantKey]++
		}
	}
	return n
}

// TestCallsCutOffAfterSendingArePossiblyBilled: whatever cuts a call off
// after its request was sent (the body cut half-way, the connection reset
// after the request was read, no headers before vendor.timeout), the
// vendor may have billed it: each applicant costs at most two requests
// per product in a run (not retry.max_attempts; an applicant repeated in
// the input none more), the manifest counts every one as possibly billed
// and none as billed, and the audit log's results say billed "possibly".
// A rerun over the same store pays at most as much again. A call refused
// before it was sent is retried up to retry.max_attempts and never billed.
func TestCallsCutOffAfterSendingArePossiblyBilled(t *testing.T) {
	const applicants, maxAttempts = 5, 3
	tests := []struct {
		name    string
		faults  tianyuantest.Faults
		refused bool // nothing listens at the endpoint
		timeout time.Duration
		perApp  int    // requests per applicant and product, in each run
		billed  string // the audit results' billed
		fake    int64  // what the fake bills per applicant and product, in each run
	}{
		{name: "body cut off", faults: tianyuantest.Faults{CutBody: 1}, perApp: 2, billed: audit.BilledPossibly, fake: 2},
		{name: "reset after the request was read", faults: tianyuantest.Faults{Reset: 1}, perApp: 2, billed: audit.BilledPossibly, fake: 2},
		{name: "no headers before the timeout", faults: tianyuantest.Faults{Stall: 1, StallFor: time.Minute}, timeout: 20 * time.Millisecond,
			perApp: 2, billed: audit.BilledPossibly},
		{name: "connection refused", refused: true, perApp: maxAttempts, billed: audit.BilledNo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, client := fakeVendor(t, tianyuantest.Options{Faults: tt.faults})
			if tt.refused {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := ln.Addr().String()
				ln.Close()
				client, err = tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: "http://" + addr, AccessID: tianyuantest.DemoAccessID, Key: tianyuantest.DemoKey()})
				if err != nil {
					t.Fatal(err)
				}
			}
			path, ids := applicantsWithRepeat(t, applicants)
			cfg := auditConfig(t, path)
			cfg.Retry.MaxAttempts = maxAttempts
			if tt.timeout > 0 {
				cfg.Vendor.Timeout = tt.timeout
			}
			seen := 0
			for run := 1; run <= 2; run++ {
				m, err := pipeline.Run(context.Background(), cfg, env(client))
				if !errors.Is(err, pipeline.ErrRowsFailed) {
					t.Fatalf("run %d: %v, want rows failed (exit 2)", run, err)
				}
				lines := auditLines(t, cfg)
				added := lines[seen:]
				seen = len(lines)
				for _, product := range []string{"JRZQ9E2A", "COMBTY11"} {
					p := m.Products[product]
					want := int64(tt.perApp * applicants)
					possibly := want
					if tt.billed == audit.BilledNo {
						possibly = 0
					}
					if p.Failed != applicants+1 || p.Calls != want || p.Billed != 0 || p.PossiblyBilled != possibly || p.Cost != 0 {
						t.Errorf("run %d %s: failed %d calls %d billed %d possibly billed %d cost %v; want %d failed, %d calls, 0 billed, %d possibly billed, no cost",
							run, product, p.Failed, p.Calls, p.Billed, p.PossiblyBilled, p.Cost, applicants+1, want, possibly)
					}
					perApp := requestsPerApplicant(added, product)
					if len(perApp) != applicants {
						t.Errorf("run %d %s: requests for %d applicants, want %d", run, product, len(perApp), applicants)
					}
					for key, n := range perApp {
						if n != tt.perApp {
							t.Errorf("run %d %s: applicant %s got %d requests, want %d", run, product, key, n, tt.perApp)
						}
					}
					sent := int64(tt.perApp * applicants * run)
					if tt.refused {
						sent = 0
					}
					if got := v.Requests(product); got != sent {
						t.Errorf("after run %d %s: the vendor saw %d requests, want %d", run, product, got, sent)
					}
					for _, id := range ids {
						if got := v.BilledFor(product, id); got != tt.fake*int64(run) {
							t.Errorf("after run %d %s: the fake billed an applicant %d times, want %d", run, product, got, tt.fake*int64(run))
						}
					}
				}
				results := 0
				for _, e := range added {
					if e.Event != audit.EventResult {
						continue
					}
					results++
					if e.Outcome != audit.OutcomeFailed || e.Billed != tt.billed || e.Error == "" {
						t.Errorf("run %d: result %+v, want failed, billed %s, with its error", run, e, tt.billed)
					}
					if tt.billed == audit.BilledPossibly && !strings.Contains(e.Error, "may have billed") {
						t.Errorf("run %d: result error %q does not say the vendor may have billed it", run, e.Error)
					}
				}
				if want := 2 * tt.perApp * applicants; results != want {
					t.Errorf("run %d: %d result lines, want %d", run, results, want)
				}
			}
		})
	}
}

// TestStoppedRunCountsOnlyWrittenCalls: a run stopped while its calls are
// in flight counts as possibly billed the calls whose request was written
// (the vendor holds them; each ends at vendor.timeout) and not those that
// never left (still connecting): their audit results say billed "no".
func TestStoppedRunCountsOnlyWrittenCalls(t *testing.T) {
	tests := []struct {
		name   string
		stall  bool   // the vendor holds each request; otherwise connecting hangs
		billed string // the audit results' billed
	}{
		{"stopped while the vendor holds the requests", true, audit.BilledPossibly},
		{"stopped while connecting", false, audit.BilledNo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			var once sync.Once
			arrived := func() { once.Do(stop) } // the first call stops the run
			v := tianyuantest.New(tianyuantest.Options{Faults: tianyuantest.Faults{Stall: 1, StallFor: time.Minute}})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived()
				v.ServeHTTP(w, r)
			}))
			defer srv.Close()
			hc := &http.Client{}
			if !tt.stall {
				hc.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					arrived()
					<-ctx.Done()
					return nil, ctx.Err()
				}}
			}
			client, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: srv.URL, AccessID: tianyuantest.DemoAccessID,
				Key: tianyuantest.DemoKey(), HTTP: hc})
			if err != nil {
				t.Fatal(err)
			}
			cfg := auditConfig(t, writeApplicants(t, 20))
			cfg.Vendor.Timeout = 50 * time.Millisecond
			cfg.Products = map[string]config.ProductConfig{"JRZQ9E2A": {Burst: 1, Concurrency: 2}}
			_, err = pipeline.Run(ctx, cfg, env(client))
			var ae *pipeline.AbortError
			if !errors.As(err, &ae) || !ae.Interrupted {
				t.Fatalf("Run: %v, want interrupted", err)
			}
			var requests, results int
			for _, e := range auditLines(t, cfg) {
				switch e.Event {
				case audit.EventRequest:
					requests++
				case audit.EventResult:
					results++
					if e.Outcome != audit.OutcomeFailed || e.Billed != tt.billed {
						t.Errorf("result %+v, want failed, billed %s", e, tt.billed)
					}
				}
			}
			if requests == 0 || results != requests {
				t.Errorf("%d requests, %d results: want every request in flight to have its result", requests, results)
			}
			want := int64(0)
			if tt.stall {
				want = int64(requests)
			}
			if got := v.Requests("JRZQ9E2A"); got != want {
				t.Errorf("the vendor saw %d requests, want %d", got, want)
			}
		})
	}
}
