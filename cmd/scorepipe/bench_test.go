package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchSmall runs the whole measurement on a few hundred applicants:
// the store is filled, every timed run answers from it, and the figures
// are there.
func TestBenchSmall(t *testing.T) {
	isolateState(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := command(ctx, nil, "bench", "--rows", "400", "--runs", "2", "--api-calls", "0", "--dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res benchResult
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"rows", res.Rows == 400},
		{"two timed runs", len(res.RunSeconds) == 2 && len(res.RunCPUSeconds) == 2 && len(res.RunMaxRSSKB) == 2},
		{"median time and CPU", res.MedianSeconds > 0 && res.MedianCPU > 0 && res.RowsPerSecond > 0},
		{"peak RSS of the run, not of bench: between 5 MB and 1 GB", res.MedianRSSMB > 5 && res.MedianRSSMB < 1024},
		{"every reply exported", res.NDJSONLines == 400},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("bench.json: %s", data)
			}
		})
	}
	t.Run("each exported reply names its application, for the join with the applicants", func(t *testing.T) {
		applicants, err := os.ReadFile(filepath.Join(dir, "applicants.csv"))
		if err != nil {
			t.Fatal(err)
		}
		replies, err := os.ReadFile(filepath.Join(dir, "replies.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for line := range strings.Lines(string(replies)) {
			var r struct {
				ApplicationID string `json:"application_id"`
				Key           string `json:"applicant_key"`
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if r.ApplicationID == "" || r.Key == "" || seen[r.ApplicationID] || !strings.Contains(string(applicants), "\n"+r.ApplicationID+",") {
				t.Fatalf("application_id %q, applicant_key %q: want a distinct application of applicants.csv and a key", r.ApplicationID, r.Key)
			}
			seen[r.ApplicationID] = true
		}
		if len(seen) != 400 {
			t.Errorf("got %d applications, want 400", len(seen))
		}
	})
	t.Run("a run by hand in the bench directory pays nothing", func(t *testing.T) {
		out := filepath.Join(dir, "out-by-hand")
		if b, err := command(ctx, []string{"SCOREPIPE_IDENTITY_SECRET="}, "run", "-c", filepath.Join(dir, "bench.yaml"), "-o", out).CombinedOutput(); err != nil {
			t.Fatalf("run: %v\n%s", err, b)
		}
		if billed, stored := productCounts(t, out, "JRZQ9E2A"); billed != 0 || stored != 400 {
			t.Errorf("billed %d, from the store %d; want 0 and 400", billed, stored)
		}
	})
}
