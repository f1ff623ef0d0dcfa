package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

func TestSecondRunIntoTheSameFolderExitsThree(t *testing.T) {
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Latency: 40 * time.Millisecond})
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "out")
	first := resumableRun(ctx, srv.URL, out)
	var firstErr strings.Builder
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	// The first run holds the folder once it calls the vendor.
	for v.Requests("JRZQ9E2A") == 0 {
		select {
		case err := <-done:
			t.Fatalf("the first run ended before calling: %v\n%s", err, firstErr.String())
		case <-ctx.Done():
			t.Fatal("the first run made no call in time")
		case <-time.After(5 * time.Millisecond):
		}
	}
	before := v.Requests("JRZQ9E2A")
	msg, err := resumableRun(ctx, srv.URL, out).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitAborted {
		t.Fatalf("second run: %v, want exit %d\n%s", err, exitAborted, msg)
	}
	if !strings.Contains(string(msg), "in use by another run") || !strings.Contains(string(msg), filepath.Base(out)) {
		t.Errorf("second run says %q, want the folder named and in use", msg)
	}
	select {
	case err := <-done:
		t.Fatalf("the first run ended (%v) before the second was refused: the second did not fail at once", err)
	default:
	}
	// validate writes nothing and takes no lock.
	if msg, err := command(ctx, nil, "validate", "-c", "../../samples/pipeline.yaml", "--out", out).CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitRows {
			t.Errorf("validate during the run: %v\n%s", err, msg)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("first run: %v\n%s", err, firstErr.String())
		}
	case <-ctx.Done():
		t.Fatal("the first run did not finish in time")
	}
	t.Logf("the first run made %d requests, %d of them after the second was refused", v.Requests("JRZQ9E2A"), v.Requests("JRZQ9E2A")-before)
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err != nil {
		t.Errorf("no _SUCCESS after the first run: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("beside the output folder: %v, want only it", names)
	}
}
