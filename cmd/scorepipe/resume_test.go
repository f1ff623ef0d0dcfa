package main

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/xuri/excelize/v2"

	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// sampleIDs returns the ID numbers of the sample applicants.
func sampleIDs(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../samples/applicants.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, rec := range recs[1:] {
		ids = append(ids, rec[2])
	}
	return ids
}

// paidTwice counts replies the vendor billed more than once.
func paidTwice(t *testing.T, v *tianyuantest.Vendor) int64 {
	var n int64
	seen := map[string]bool{} // the samples hold some applicants twice
	for _, id := range sampleIDs(t) {
		if seen[id] {
			continue
		}
		seen[id] = true
		if b := v.BilledFor("JRZQ9E2A", id); b > 1 {
			n += b - 1
		}
	}
	return n
}

// checkNoBrokenOutput fails when a file under a final name does not open,
// or when a killed run left _SUCCESS.
func checkNoBrokenOutput(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "_SUCCESS")); err == nil {
		t.Error("_SUCCESS exists after a killed run")
	}
	if _, err := os.Stat(filepath.Join(dir, "features.parquet")); err == nil {
		pf, err := file.OpenParquetFile(filepath.Join(dir, "features.parquet"), false)
		if err != nil {
			t.Errorf("features.parquet does not open: %v", err)
		} else {
			pf.Close()
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "features.xlsx")); err == nil {
		x, err := excelize.OpenFile(filepath.Join(dir, "features.xlsx"))
		if err != nil {
			t.Errorf("features.xlsx does not open: %v", err)
		} else {
			x.Close()
		}
	}
}

func resumableRun(ctx context.Context, endpoint, out string) *exec.Cmd {
	return command(ctx, []string{"SCOREPIPE_ENDPOINT=" + endpoint}, "run", "--config", "../../samples/pipeline.yaml",
		"--out", out, "--products", "JRZQ9E2A", "--set", "products.JRZQ9E2A.concurrency=4",
		"--set", "products.JRZQ9E2A.rate_per_second=0", "--set", "retry.base_delay=1ms")
}

func TestKilledThreeTimesThenRerun(t *testing.T) {
	isolateState(t)
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Latency: 40 * time.Millisecond})
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := t.TempDir()
	// A call is in flight from the moment it is sent until its reply is in
	// the store; at most concurrency (4) calls are, so a kill can cost at
	// most 4 replies paid again. The vendor cannot see the replies it has
	// sent that the run had not stored yet, so the bound is the run's.
	const concurrency = 4
	for kill := 1; kill <= 3; kill++ {
		cmd := resumableRun(ctx, srv.URL, out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		before := v.Billed("JRZQ9E2A")
		// Kill once a few more replies have been paid for.
		waitFor(t, time.Minute, "20 more paid replies", func() bool { return v.Billed("JRZQ9E2A") >= before+20 })
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: the run was not killed mid-way: %v", kill, err)
		}
		checkNoBrokenOutput(t, out)
		t.Logf("kill %d: %d paid so far", kill, v.Billed("JRZQ9E2A"))
	}
	cmd := resumableRun(ctx, srv.URL, out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, msg)
	}
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err != nil {
		t.Fatal("no _SUCCESS after the rerun")
	}
	twice := paidTwice(t, v)
	if bound := int64(3 * concurrency); twice > bound {
		t.Errorf("%d replies paid twice, want at most the %d calls in flight at the three kills", twice, bound)
	}
	t.Logf("paid twice: %d (bound %d)", twice, 3*concurrency)
	f, err := os.Open(filepath.Join(out, "rejects.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rejects, _ := csv.NewReader(f).ReadAll()
	f.Close()
	pf, err := file.OpenParquetFile(filepath.Join(out, "features.parquet"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if got, want := int(pf.NumRows())+len(rejects)-1, len(sampleIDs(t)); got != want {
		t.Errorf("features %d + rejects %d = %d rows, want all %d input rows", pf.NumRows(), len(rejects)-1, got, want)
	}
}

// waitFor polls cond until it holds, and fails the test when it does not
// within d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSignalStopsCleanly stops a run with each signal a scheduler or a
// closing terminal sends, also delivered twice at once as "timeout" does
// (to the process and to its process group): the run stops dispatching,
// lets the calls in flight finish and be stored, publishes nothing and
// exits 3; a rerun pays for nothing twice.
func TestSignalStopsCleanly(t *testing.T) {
	cases := []struct {
		name  string
		sig   syscall.Signal
		group bool // also to the process group, at once
	}{
		{"SIGTERM", syscall.SIGTERM, false},
		{"SIGINT", syscall.SIGINT, false},
		{"SIGHUP", syscall.SIGHUP, false},
		{"SIGTERM to the process and its group", syscall.SIGTERM, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			isolateState(t)
			srv, v := tianyuantest.NewServer(tianyuantest.Options{Latency: 40 * time.Millisecond})
			t.Cleanup(srv.Close)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out := t.TempDir()
			cmd := resumableRun(ctx, srv.URL, out)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, time.Minute, "20 paid replies", func() bool { return v.Billed("JRZQ9E2A") >= 20 })
			signalled := time.Now()
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			if c.group {
				if err := syscall.Kill(-cmd.Process.Pid, c.sig); err != nil {
					t.Fatal(err)
				}
			}
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitAborted {
				t.Fatalf("exit after %s: %v, want code %d\n%s", c.name, err, exitAborted, stderr.String())
			}
			t.Logf("exited %v after %s", time.Since(signalled).Round(time.Millisecond), c.name)
			if !strings.Contains(stderr.String(), "interrupted") || strings.Contains(stderr.String(), "exiting at once") {
				t.Errorf("stderr does not say the run was interrupted, or says it exited at once:\n%s", stderr.String())
			}
			checkNoBrokenOutput(t, out)
			if msg, err := resumableRun(ctx, srv.URL, out).CombinedOutput(); err != nil {
				t.Fatalf("rerun: %v\n%s", err, msg)
			}
			if twice := paidTwice(t, v); twice != 0 {
				t.Errorf("%d replies paid twice after %s: calls in flight finish and are stored", twice, c.name)
			}
		})
	}
}

// TestSecondSignalExitsAtOnce sends a second signal more than a second
// after the first, while the calls in flight (slow at the vendor) are
// still being finished: the run exits at once, with code 3, without
// waiting for them.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	isolateState(t)
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Latency: 3 * time.Second})
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := resumableRun(ctx, srv.URL, t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The first 4 calls (the concurrency) are answered after 3 s; a fifth
	// request at the vendor is in flight for 3 s more.
	waitFor(t, time.Minute, "a call of the second round in flight", func() bool { return v.Requests("JRZQ9E2A") >= 5 })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(sameSignal + 200*time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("the run ended before the second signal, though its calls take 3 s: %v\n%s", err, stderr.String())
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitAborted {
		t.Fatalf("exit after the second signal: %v, want code %d\n%s", err, exitAborted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "exiting at once") || strings.Contains(stderr.String(), "interrupted after") {
		t.Errorf("stderr does not say the run exited at once, or says it finished its calls:\n%s", stderr.String())
	}
}
