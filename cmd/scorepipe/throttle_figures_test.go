package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

var (
	throttleFigures = flag.Bool("throttle-figures", false, "measure the throttling figures of docs/PERFORMANCE.md (about three minutes a round)")
	throttleRounds  = flag.Int("throttle-rounds", 1, "rounds of the throttling measurement")
)

// throttleScenario is one measured run: a fake vendor in this process, with
// 100 ms of latency and a limit per product, and "scorepipe run" in its own
// process, from an empty store.
type throttleScenario struct {
	name     string
	rows     int
	products map[string]config.ProductConfig
	throttle tianyuantest.Throttle
}

// throttleFigure is what one product saw in a scenario.
type throttleFigure struct {
	m                          *manifest.ProductCounts
	requests, throttled        int
	answeredPerSecond          float64 // answered requests, first to last, at the vendor
	sustained                  float64 // requests after the initial burst, per second, at the vendor
	busiestSent, busiestAnswer int     // the most requests, and answered ones, of one second at the vendor
	seconds                    float64 // the run's wall time, process start included
}

func (s throttleScenario) run(t *testing.T, dir string) map[string]throttleFigure {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeApplicants(filepath.Join(dir, "applicants.csv"), s.rows, 1); err != nil {
		t.Fatal(err)
	}
	if err := writeBenchSecret(dir); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("input: {files: [applicants.csv]}\noutput: {formats: [csv]}\nvendor: {fake: true}\nproducts:\n")
	for code, p := range s.products {
		fmt.Fprintf(&b, "  %s: {rate_per_second: %v, burst: %d, concurrency: %d}\n", code, p.RatePerSecond, p.Burst, p.Concurrency)
	}
	b.WriteString("cache: {path: store/replies.db}\nidentity: {secret_file: store/identity.secret}\n")
	config := filepath.Join(dir, "run.yaml")
	if err := os.WriteFile(config, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, vendor := tianyuantest.NewServer(tianyuantest.Options{Latency: 100 * time.Millisecond, Throttle: s.throttle, CallLog: 20 * s.rows})
	defer srv.Close()
	out := filepath.Join(dir, "out")
	secs, _, _, err := benchRun(context.Background(), srv.URL, config, out)
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	data, err := os.ReadFile(filepath.Join(out, pipeline.FileManifest))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	figures := map[string]throttleFigure{}
	for code, p := range s.products {
		f := throttleFigure{m: m.Products[code], seconds: secs}
		var sent, answered []time.Time
		for _, c := range vendor.Calls() {
			if c.Product != code {
				continue
			}
			sent = append(sent, c.At)
			if c.Status == 200 && c.Code >= 0 {
				answered = append(answered, c.At)
			} else {
				f.throttled++
			}
		}
		byTime := func(a, b time.Time) int { return a.Compare(b) }
		slices.SortFunc(sent, byTime)
		slices.SortFunc(answered, byTime)
		f.requests = len(sent)
		if n := len(answered); n > 1 {
			f.answeredPerSecond = float64(n-1) / answered[n-1].Sub(answered[0]).Seconds()
		}
		if n := len(sent); n > p.Burst {
			f.sustained = float64(n-p.Burst) / sent[n-1].Sub(sent[p.Burst-1]).Seconds()
		}
		f.busiestSent, f.busiestAnswer = busiest(sent), busiest(answered)
		figures[code] = f
	}
	return figures
}

// busiest is the most of times, in order, within one second.
func busiest(times []time.Time) int {
	most, j := 0, 0
	for i := range times {
		for j < len(times) && times[j].Sub(times[i]) < time.Second {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

// TestThrottleFigures measures the figures of docs/PERFORMANCE.md
// ("Throttling") and checks them against their targets:
//
//	go test ./cmd/scorepipe -run TestThrottleFigures -throttle-figures -throttle-rounds 3 -v
func TestThrottleFigures(t *testing.T) {
	if !*throttleFigures {
		t.Skip("a measurement of a few minutes: -throttle-figures")
	}
	t.Setenv("SCOREPIPE_TEST_MAIN", "1") // benchRun's runs are this binary's main
	jrzq := config.ProductConfig{RatePerSecond: 100, Burst: 5, Concurrency: 16}
	combty := config.ProductConfig{RatePerSecond: 50, Burst: 5, Concurrency: 16}
	limits := tianyuantest.Throttle{Products: map[string]int{"JRZQ9E2A": 60, "COMBTY11": 40}}
	scenarios := []throttleScenario{
		{"limit 60/s with Retry-After, ceiling 100", 1500, map[string]config.ProductConfig{"JRZQ9E2A": jrzq}, tianyuantest.Throttle{Limit: 60}},
		{"limit 60/s without Retry-After, ceiling 100", 1500, map[string]config.ProductConfig{"JRZQ9E2A": jrzq}, tianyuantest.Throttle{Limit: 60, RetryAfter: -1}},
		{"no limit, ceiling 100", 2000, map[string]config.ProductConfig{"JRZQ9E2A": jrzq}, tianyuantest.Throttle{}},
		{"JRZQ9E2A alone, limit 60/s, ceiling 100", 1500, map[string]config.ProductConfig{"JRZQ9E2A": jrzq}, limits},
		{"COMBTY11 alone, limit 40/s, ceiling 50", 1500, map[string]config.ProductConfig{"COMBTY11": combty}, limits},
		{"both", 1500, map[string]config.ProductConfig{"JRZQ9E2A": jrzq, "COMBTY11": combty}, limits},
	}
	for round := range *throttleRounds {
		seconds := map[string]float64{}
		for i, s := range scenarios {
			figures := s.run(t, filepath.Join(t.TempDir(), fmt.Sprint(i)))
			var codes []string
			for code := range figures {
				codes = append(codes, code)
			}
			slices.Sort(codes)
			for _, code := range codes {
				f := figures[code]
				seconds[s.name] = f.seconds
				t.Logf("round %d, %s: %s: ok %d, no_record %d, failed %d; %d requests, %d throttled (%.1f%%), paused %.1fs; "+
					"%.1f answered/s (first to last), %.1f requests/s after the burst; busiest second %d requests, %d answered; "+
					"rate min %.1f, settled %.1f, final %.1f; run %.1fs",
					round+1, s.name, code, f.m.OK, f.m.NoRecord, f.m.Failed, f.requests, f.throttled, 100*float64(f.throttled)/float64(f.requests),
					f.m.PausedSeconds, f.answeredPerSecond, f.sustained, f.busiestSent, f.busiestAnswer,
					f.m.RateMin, f.m.RateSettled, f.m.RateFinal, f.seconds)
				if f.m.Failed != 0 || f.m.OK+f.m.NoRecord != s.rows {
					t.Errorf("%s: %s: %d rows failed", s.name, code, f.m.Failed)
				}
				if f.throttled > f.requests/10 {
					t.Errorf("%s: %s: %d of %d requests throttled, want at most 10%%", s.name, code, f.throttled, f.requests)
				}
			}
		}
		alone1, ok1 := seconds["JRZQ9E2A alone, limit 60/s, ceiling 100"]
		alone2, ok2 := seconds["COMBTY11 alone, limit 40/s, ceiling 50"]
		if both, ok := seconds["both"]; ok && ok1 && ok2 {
			t.Logf("round %d: both products %.1fs, the slower alone %.1fs, the sum %.1fs", round+1, both, max(alone1, alone2), alone1+alone2)
		}
	}
}
