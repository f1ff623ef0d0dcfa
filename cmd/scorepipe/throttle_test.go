package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// TestRunAgainstAThrottlingMockVendor runs against "mock-vendor
// --throttle-limit": every row is answered, the manifest counts the
// throttling and the pause, and the log hints at the rate to configure.
func TestRunAgainstAThrottlingMockVendor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const rows, limit = 50, 20
	endpoint := startMockVendor(t, ctx, "--throttle-limit", "20")
	input := filepath.Join(t.TempDir(), "applicants.csv")
	f, err := os.Create(input)
	if err != nil {
		t.Fatal(err)
	}
	if err := tianyuantest.WriteApplicants(f, rows, 3); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := t.TempDir()
	var stderr bytes.Buffer
	cmd := command(ctx, []string{"SCOREPIPE_ENDPOINT=" + endpoint}, "run", "--config", "../../samples/pipeline.yaml",
		"--input", input, "--out", out, "--formats", "csv", "--products", "JRZQ9E2A",
		"--set", "products.JRZQ9E2A.rate_per_second=0", "--set", "retry.max_attempts=1")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	data, err := os.ReadFile(filepath.Join(out, pipeline.FileManifest))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	p := m.Products["JRZQ9E2A"]
	if p.OK+p.NoRecord != rows || p.Failed != 0 {
		t.Errorf("ok %d + no_record %d, failed %d, want %d answered", p.OK, p.NoRecord, p.Failed, rows)
	}
	if p.Throttled == 0 || p.PausedSeconds < 1 || p.RateSettled > limit || p.RateSettled == 0 {
		t.Errorf("manifest: throttled %d, paused %.2fs, rate_settled %.1f; want some, ≥ 1s, at most %d", p.Throttled, p.PausedSeconds, p.RateSettled, limit)
	}
	if !regexp.MustCompile(`set products\.JRZQ9E2A\.rate_per_second to (1[0-9]|20) or less`).MatchString(stderr.String()) {
		t.Errorf("the log has no hint for the rate:\n%s", stderr.String())
	}
}
