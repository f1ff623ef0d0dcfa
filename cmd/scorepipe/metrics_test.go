package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/metrics"
)

// TestRunReportsItsExit runs the sample job through the command, done and
// then stopped at its budget, and reads metrics.prom and what the
// Pushgateway received: the exit code the process ended with, and the
// last success kept across the stopped run.
func TestRunReportsItsExit(t *testing.T) {
	var (
		mu     sync.Mutex
		pushed [][]byte
		paths  []string
	)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		pushed, paths = append(pushed, body), append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
	}))
	defer gw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "out")
	state := filepath.Join(t.TempDir(), "replies.db")
	args := []string{"run", "-c", "../../samples/pipeline.yaml", "--out", out, "--formats", "parquet", "--cache", state,
		"--set", "metrics.pushgateway=" + gw.URL, "--set", "metrics.job=sample",
		"--set", "products.JRZQ9E2A.rate_per_second=0", "--set", "products.COMBTY11.rate_per_second=0"}
	exit := func(err error) int {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	msg, err := command(ctx, nil, args...).CombinedOutput()
	first := exit(err)
	if first != exitOK && first != exitRows {
		t.Fatalf("run: exit %d\n%s", first, msg)
	}
	read := func(data []byte) (code, lastSuccess float64) {
		t.Helper()
		families, err := metrics.Parse(data)
		if err != nil {
			t.Fatalf("Prometheus's parser refuses it: %v\n%s", err, data)
		}
		code = families[metrics.NameExitCode].Metric[0].GetGauge().GetValue()
		if f := families[metrics.NameLastSuccess]; f != nil {
			lastSuccess = f.Metric[0].GetGauge().GetValue()
		}
		return code, lastSuccess
	}
	data, err := os.ReadFile(filepath.Join(out, "metrics.prom"))
	if err != nil {
		t.Fatal(err)
	}
	code, success := read(data)
	if int(code) != first || success == 0 {
		t.Errorf("metrics.prom: exit code %v, last success %v; the process exited %d", code, success, first)
	}

	// Stopped at the budget, against a new store: exit 3, reported as such.
	args = append(args, "--set", "limits.max_calls=2", "--cache", filepath.Join(t.TempDir(), "replies.db"))
	msg, err = command(ctx, nil, args...).CombinedOutput()
	if got := exit(err); got != exitAborted {
		t.Fatalf("run over the budget: exit %d, want %d\n%s", got, exitAborted, msg)
	}
	data, err = os.ReadFile(filepath.Join(out, "metrics.prom"))
	if err != nil {
		t.Fatal(err)
	}
	if code, kept := read(data); code != exitAborted || kept != success {
		t.Errorf("metrics.prom after the stopped run: exit code %v, last success %v; want %d and the first run's %v", code, kept, exitAborted, success)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(pushed) != 2 || paths[0] != "PUT /metrics/job/sample" || paths[1] != "POST /metrics/job/sample" {
		t.Fatalf("pushes %v, want a PUT for the published run and a POST for the stopped one", paths)
	}
	if code, _ := read(pushed[0]); int(code) != first {
		t.Errorf("pushed exit code %v, want %d", code, first)
	}
	if code, kept := read(pushed[1]); code != exitAborted || kept != 0 {
		t.Errorf("pushed exit code %v and last success %v for the stopped run, want %d and none (the Pushgateway keeps its own)", code, kept, exitAborted)
	}
}
