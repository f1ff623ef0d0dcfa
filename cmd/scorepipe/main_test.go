package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMain lets the tests run the command as a subprocess: the test binary
// runs main when SCOREPIPE_TEST_MAIN is set.
func TestMain(m *testing.M) {
	if os.Getenv("SCOREPIPE_TEST_MAIN") == "1" {
		limitFileSize()
		main()
		return
	}
	os.Exit(withStateDir(m.Run))
}

// command runs scorepipe with args in a subprocess.
func command(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SCOREPIPE_TEST_MAIN=1", "SCOREPIPE_ACCESS_ID=", "SCOREPIPE_ACCESS_KEY=", "SCOREPIPE_ENDPOINT=",
		"SCOREPIPE_IDENTITY_SECRET=cmd-test-secret-0123456789abcdef")
	cmd.Env = append(cmd.Env, stateFor(args)...)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// features reads features.csv without the columns that differ per call.
func features(t *testing.T, dir string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "features.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range recs {
		for i, v := range r {
			h := recs[0][i]
			if strings.HasSuffix(h, "_transaction_id") || strings.HasSuffix(h, "_queried_at") {
				continue
			}
			b.WriteString(v + ",")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// startMockVendor starts "scorepipe mock-vendor" on a free port, with
// flags, and returns its URL; the process ends with the test.
func startMockVendor(t *testing.T, ctx context.Context, flags ...string) string {
	t.Helper()
	mock := command(ctx, nil, append([]string{"mock-vendor", "--addr", "127.0.0.1:0"}, flags...)...)
	stdout, err := mock.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := mock.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mock.Process.Kill(); _ = mock.Wait() })
	sc := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`listening on (http://\S+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			go func() { // keep draining so the mock never blocks on stdout
				for sc.Scan() {
				}
			}()
			return m[1]
		}
	}
	t.Fatal("mock-vendor did not print its address")
	return ""
}

// wantComplete fails the test unless the run exited 0. stderr is the
// run's, JSON lines.
func wantComplete(t *testing.T, code int, stderr string) {
	t.Helper()
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
}

// codeOf is the exit code of a command that ran.
func codeOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return 0
}

// lastLine is the last line of s that is not empty.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestMockVendorGivesTheSameFeaturesAsTheBuiltInFake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	endpoint := startMockVendor(t, ctx)

	builtIn, separate := t.TempDir(), t.TempDir()
	for _, run := range []struct {
		out string
		env []string
	}{{builtIn, nil}, {separate, []string{"SCOREPIPE_ENDPOINT=" + endpoint}}} {
		var stderr bytes.Buffer
		cmd := command(ctx, append(run.env, "SCOREPIPE_STATE_DIR="+t.TempDir()), "run", "--config", "../../samples/pipeline.yaml", "--out", run.out, "--formats", "csv",
			"--set", "products.JRZQ9E2A.rate_per_second=0", "--set", "products.COMBTY11.rate_per_second=0")
		cmd.Stderr = &stderr
		wantComplete(t, codeOf(t, cmd.Run()), stderr.String())
		if strings.Contains(stderr.String(), "built-in fake") != (run.env == nil) {
			t.Errorf("run %v: log does not say which vendor it used:\n%s", run.env, stderr.String())
		}
	}
	if a, b := features(t, builtIn), features(t, separate); a != b {
		t.Error("features against mock-vendor differ from those of the built-in fake")
	}
}
