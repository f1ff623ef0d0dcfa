package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestMockVendorShapesAndFaults runs against mock-vendor answering in each
// shape the vendor's documents allow, and with faults a run must not
// retry into more payments: the plain COMBTY11 shape gives the built-in
// fake's features, a malformed reply fails the rows (exit 2), a redirect
// or a fatal code stops the run (exit 3) and the redirect target never
// hears of it.
func TestMockVendorShapesAndFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var targetHits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1) }))
	defer target.Close()

	run := func(t *testing.T, env []string, out string) (int, string) {
		t.Helper()
		args := []string{"run", "--config", "../../samples/pipeline.yaml", "--out", out, "--formats", "csv",
			"--set", "products.JRZQ9E2A.rate_per_second=0", "--set", "products.COMBTY11.rate_per_second=0",
			"--set", "retry.base_delay=1ms", "--set", "retry.max_delay=5ms"}
		b, err := command(ctx, env, args...).CombinedOutput()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return ee.ExitCode(), string(b)
		case err != nil:
			t.Fatal(err)
		}
		return exitOK, string(b)
	}
	builtIn := t.TempDir()
	code, out := run(t, nil, builtIn)
	wantComplete(t, code, out)

	tests := []struct {
		name  string
		flags []string
		code  int
		says  string
	}{
		{"plain COMBTY11", []string{"--combty11-shape", "plain"}, exitOK, ""},
		{"data as a string, fields as numbers", []string{"--data-as-string", "--envelope-fields", "numbers"}, exitOK, ""},
		{"fields absent, plain COMBTY11", []string{"--envelope-fields", "absent", "--combty11-shape", "plain"}, exitOK, ""},
		{"sub-product data as strings, success as strings, an unknown sub-product", []string{"--sub-data-as-string", "--sub-success", "string", "--extra-subs", "1"}, exitOK, ""},
		{"plain COMBTY11, success as digits", []string{"--combty11-shape", "plain", "--sub-success", "digit"}, exitOK, ""},
		{"malformed", []string{"--fail-malformed", "1"}, exitRows, "could not be read"},
		{"HTTP 500 with code 0", []string{"--fail-500-code0", "1"}, exitRows, "possibly_billed"},
		{"redirect to http", []string{"--redirect-to", target.URL + "/api/v1/JRZQ9E2A", "--redirect-status", "308"}, exitAborted, target.URL + "/api/v1/JRZQ9E2A"},
		{"1004", []string{"--fail-code", "1004=1"}, exitAborted, "whitelisted"},
		{"2001 on a share", []string{"--fail-code", "2001=0.2", "--sub-failure", "0.3", "--all-empty", "0.2"}, exitRows, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint := startMockVendor(t, ctx, tt.flags...)
			dir := t.TempDir()
			code, out := run(t, []string{"SCOREPIPE_ENDPOINT=" + endpoint}, dir)
			if tt.code == exitOK {
				wantComplete(t, code, out) // or 2 for the fake's FLXG0V4B failures only
			} else if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, out)
			}
			if !strings.Contains(out, tt.says) {
				t.Errorf("output does not say %q:\n%s", tt.says, out)
			}
			if tt.code == exitOK && features(t, dir) != features(t, builtIn) {
				t.Error("features differ from those of the built-in fake")
			}
		})
	}
	if n := targetHits.Load(); n != 0 {
		t.Errorf("%d requests reached the redirect target", n)
	}
}

func TestParseCodeShares(t *testing.T) {
	tests := []struct {
		in   []string
		want map[int]float64
		err  bool
	}{
		{nil, nil, false},
		{[]string{"2001=0.1"}, map[int]float64{2001: 0.1}, false},
		{[]string{"1004=1", " 2001 = 0.5 "}, map[int]float64{1004: 1, 2001: 0.5}, false},
		{[]string{"2001"}, nil, true},
		{[]string{"x=0.1"}, nil, true},
		{[]string{"2001=lots"}, nil, true},
	}
	for _, tt := range tests {
		got, err := parseCodeShares(tt.in)
		if (err != nil) != tt.err || len(got) != len(tt.want) {
			t.Errorf("parseCodeShares(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		for c, p := range tt.want {
			if got[c] != p {
				t.Errorf("parseCodeShares(%q)[%d] = %v, want %v", tt.in, c, got[c], p)
			}
		}
	}
}
