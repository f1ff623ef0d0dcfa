package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPlanKnowsTheAccessKey: after the access key changed, plan counts the
// replies stored under the old one as billable, as the run pays for them
// again; under the same key it counts them as stored.
func TestPlanKnowsTheAccessKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	state := []string{"SCOREPIPE_STATE_DIR=" + filepath.Join(dir, "state")}
	// Filled through the built-in fake vendor, with its demo key.
	if out, err := command(ctx, state, "run", "-c", "../../samples/pipeline.yaml", "-o", filepath.Join(dir, "out")).CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	otherKey := append(state, "SCOREPIPE_ACCESS_ID=another-id", "SCOREPIPE_ACCESS_KEY=ffeeddccbbaa99887766554433221100",
		"SCOREPIPE_ENDPOINT=http://127.0.0.1:1") // a mock-vendor signed in with another key: plan calls nothing
	tests := []struct {
		name     string
		env      []string
		billable bool // every valid row billable, none stored
	}{
		{"the key the replies were stored under", state, false},
		{"another key", otherKey, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := command(ctx, tt.env, "plan", "-c", "../../samples/pipeline.yaml", "--json").Output()
			if err != nil {
				t.Fatalf("plan: %v\n%s", err, out)
			}
			var rep struct {
				Products map[string]struct {
					Rows, Duplicates, Stored, Billable int64
					Skipped                            int64
				} `json:"products"`
			}
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatalf("plan --json: %v\n%s", err, out)
			}
			if len(rep.Products) == 0 {
				t.Fatalf("plan --json lists no product:\n%s", out)
			}
			for code, p := range rep.Products {
				callable := p.Rows - p.Skipped - p.Duplicates
				if tt.billable && (p.Stored != 0 || p.Billable != callable) {
					t.Errorf("%s: stored %d, billable %d; want 0 and %d: the stored replies are under another key", code, p.Stored, p.Billable, callable)
				}
				if !tt.billable && (p.Billable != 0 || p.Stored != callable) {
					t.Errorf("%s: stored %d, billable %d; want %d and 0", code, p.Stored, p.Billable, callable)
				}
			}
		})
	}
}

// TestBudgetKnowsTheAccessKey: after the access key changed, the budget
// checked before a run counts the replies stored under the old key as
// billable, and stops the run (exit 3) before it calls anything.
func TestBudgetKnowsTheAccessKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	state := []string{"SCOREPIPE_STATE_DIR=" + filepath.Join(dir, "state")}
	if out, err := command(ctx, state, "run", "-c", "../../samples/pipeline.yaml", "-o", filepath.Join(dir, "out")).CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	tests := []struct {
		name string
		env  []string
		want int
	}{
		{"the key the replies were stored under", state, exitOK},
		// Nothing listens at the endpoint: a run that called it would fail
		// its rows (exit 2), not stop before calling (exit 3).
		{"another key", append(state, "SCOREPIPE_ACCESS_ID=another-id", "SCOREPIPE_ACCESS_KEY=ffeeddccbbaa99887766554433221100",
			"SCOREPIPE_ENDPOINT=http://127.0.0.1:1"), exitAborted},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := command(ctx, tt.env, "run", "-c", "../../samples/pipeline.yaml", "-o", filepath.Join(dir, fmt.Sprint("again", i)),
				"--set", "limits.max_calls=5").CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if code != tt.want {
				t.Fatalf("exit %d, want %d\n%s", code, tt.want, out)
			}
			if tt.want == exitAborted && !strings.Contains(string(out), "the plan already exceeds") {
				t.Errorf("output does not say the plan exceeds the budget:\n%s", out)
			}
		})
	}
}
