package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// defaultState is the state directory withStateDir gives the tests.
var defaultState string

// withStateDir runs the tests with a state directory of their own, so
// that no test uses the state of the user who runs them.
func withStateDir(run func() int) int {
	dir, err := os.MkdirTemp("", "scorepipe-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	defaultState = dir
	os.Setenv("SCOREPIPE_STATE_DIR", dir)
	return run()
}

// stateFor returns the state directory of a command a test runs: the
// test's own when it set one (isolateState); otherwise one of its own for
// the command's output directory (in the tests' state directory), so that
// runs into different output directories do not share replies, as they
// did not when the store lived in the output directory, and runs into the
// same one do.
func stateFor(args []string) []string {
	if os.Getenv("SCOREPIPE_STATE_DIR") != defaultState {
		return nil
	}
	for i, a := range args {
		out := ""
		switch {
		case (a == "-o" || a == "--out") && i+1 < len(args):
			out = args[i+1]
		case strings.HasPrefix(a, "--out="):
			out = strings.TrimPrefix(a, "--out=")
		}
		if out != "" {
			abs, _ := filepath.Abs(out)
			sum := sha256.Sum256([]byte(abs))
			return []string{"SCOREPIPE_STATE_DIR=" + filepath.Join(defaultState, hex.EncodeToString(sum[:8]))}
		}
	}
	return nil
}

// isolateState gives the test a state directory of its own: its runs do
// not find the replies of other tests.
func isolateState(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "state")
	t.Setenv("SCOREPIPE_STATE_DIR", dir)
	return dir
}

// limitFileSize sets the file size limit of a command run by a test to
// SCOREPIPE_TEST_FSIZE bytes, when set: a write past it fails (EFBIG), as
// on a full disk. SIGXFSZ, which would kill the process, is ignored.
func limitFileSize() {
	v := os.Getenv("SCOREPIPE_TEST_FSIZE")
	if v == "" {
		return
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		panic(err)
	}
	signal.Ignore(syscall.SIGXFSZ)
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: n, Max: n}); err != nil {
		panic(err)
	}
}

// exitCodeOf returns the exit code of a finished command.
func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// TestFullDiskPaysOnce runs with a file size limit under the reply store,
// as on a disk that fills: the run exits 3 at the first write that fails,
// saying what to free, and once the limit is lifted a rerun completes;
// across both, no applicant is paid for more than once.
func TestFullDiskPaysOnce(t *testing.T) {
	state := isolateState(t)
	srv, v := tianyuantest.NewServer(tianyuantest.Options{})
	defer srv.Close()
	out := t.TempDir()
	scorepipe := func(env ...string) ([]byte, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		b, err := command(ctx, append(env, "SCOREPIPE_ENDPOINT="+srv.URL), "run", "-c", "../../samples/pipeline.yaml",
			"--products", "JRZQ9E2A", "--set", "products.JRZQ9E2A.rate_per_second=0", "-o", out, "--formats", "csv").CombinedOutput()
		return b, exitCodeOf(t, err)
	}
	b, code := scorepipe("SCOREPIPE_TEST_FSIZE=" + strconv.Itoa(3<<19))
	if code != exitAborted {
		t.Fatalf("run with the file size limit: exit %d, want %d\n%s", code, exitAborted, b)
	}
	for _, want := range []string{filepath.Join(state, "replies.db"), "file size limit"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the message does not say %q:\n%s", want, b)
		}
	}
	first := v.Billed("JRZQ9E2A")
	if b, code := scorepipe(); code != exitOK {
		t.Fatalf("rerun: exit %d\n%s", code, b)
	}
	ids := sampleIDs(t)
	for _, id := range ids {
		if n := v.BilledFor("JRZQ9E2A", id); n > 1 {
			t.Errorf("applicant %s…: paid %d times", id[:6], n)
		}
	}
	t.Logf("paid %d before the limit, %d in all", first, v.Billed("JRZQ9E2A"))
}

// TestSecondRunFailsAtOnce starts a run that holds the reply store, then a
// second run and a plan on the same store: both fail (exit 3) with a
// message naming the store, while the first goes on.
func TestSecondRunFailsAtOnce(t *testing.T) {
	state := isolateState(t)
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Latency: 20 * time.Millisecond})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := func(verb, out string) []string {
		return []string{verb, "-c", "../../samples/pipeline.yaml", "--products", "JRZQ9E2A", "-o", out, "--formats", "csv",
			"--set", "products.JRZQ9E2A.rate_per_second=20"}
	}
	env := []string{"SCOREPIPE_ENDPOINT=" + srv.URL}
	first := command(ctx, env, args("run", t.TempDir())...)
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); v.Requests("JRZQ9E2A") == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first run made no call:\n%s", firstOut.String())
		}
	}
	for _, verb := range []string{"run", "plan"} {
		b, err := command(ctx, env, args(verb, t.TempDir())...).CombinedOutput()
		if code := exitCodeOf(t, err); code != exitAborted {
			t.Errorf("%s beside a run: exit %d, want %d\n%s", verb, code, exitAborted, b)
		}
		if !bytes.Contains(b, []byte(filepath.Join(state, "replies.db"))) || !bytes.Contains(b, []byte("in use")) {
			t.Errorf("%s: the message does not name the store in use:\n%s", verb, b)
		}
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("the first run: %v\n%s", err, firstOut.String())
	}
}

// TestDamagedIndexNeitherPanicsNorHangs damages the index of a filled
// store in several ways: plan returns and counts every reply as stored, a
// run pays for nothing, and store check and repair report and fix.
func TestDamagedIndexNeitherPanicsNorHangs(t *testing.T) {
	state := isolateState(t)
	srv, v := tianyuantest.NewServer(tianyuantest.Options{})
	defer srv.Close()
	env := []string{"SCOREPIPE_ENDPOINT=" + srv.URL}
	scorepipe := func(args ...string) ([]byte, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		b, err := command(ctx, env, args...).CombinedOutput()
		return b, exitCodeOf(t, err)
	}
	stdout := func(args ...string) ([]byte, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := command(ctx, env, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		return append(b, stderr.Bytes()...), exitCodeOf(t, err)
	}
	job := []string{"-c", "../../samples/pipeline.yaml", "--products", "JRZQ9E2A", "--set", "products.JRZQ9E2A.rate_per_second=0", "--formats", "csv"}
	if b, code := scorepipe(append([]string{"run", "-o", t.TempDir()}, job...)...); code != exitOK {
		t.Fatalf("first run: exit %d\n%s", code, b)
	}
	paid := v.Billed("JRZQ9E2A")
	index := filepath.Join(state, "replies.db")
	pristine, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	damages := map[string]func([]byte) []byte{
		"half cut":         func(b []byte) []byte { return b[:len(b)/2] },
		"pages flipped":    func(b []byte) []byte { flipEvery(b, 997); return b },
		"meta overwritten": func(b []byte) []byte { copy(b, bytes.Repeat([]byte{0xff}, 8192)); return b },
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(index, damage(bytes.Clone(pristine)), 0o600); err != nil {
				t.Fatal(err)
			}
			b, code := stdout(append([]string{"plan", "--json", "-o", t.TempDir()}, job...)...)
			if code != exitOK {
				t.Fatalf("plan: exit %d\n%s", code, b)
			}
			var rep struct {
				Products map[string]struct{ Stored, Billable int }
			}
			if err := json.NewDecoder(bytes.NewReader(b)).Decode(&rep); err != nil {
				t.Fatalf("plan --json: %v\n%s", err, b)
			}
			if p := rep.Products["JRZQ9E2A"]; p.Billable != 0 || int64(p.Stored) != paid {
				t.Errorf("plan: %+v, want %d stored and nothing billable", p, paid)
			}
			if b, code := scorepipe(append([]string{"run", "-o", t.TempDir()}, job...)...); code != exitOK {
				t.Fatalf("run: exit %d\n%s", code, b)
			}
			if got := v.Billed("JRZQ9E2A"); got != paid {
				t.Errorf("the run paid %d again", got-paid)
			}
		})
	}

	t.Run("store commands", func(t *testing.T) {
		if b, code := scorepipe("store", "check"); code != exitOK || !bytes.Contains(b, []byte("healthy")) {
			t.Fatalf("store check: exit %d\n%s", code, b)
		}
		alterFile(t, index+".log", func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b })
		if b, code := scorepipe("store", "check"); code != exitRows || !bytes.Contains(b, []byte("1 damaged")) {
			t.Errorf("store check of a damaged log: exit %d, want %d\n%s", code, exitRows, b)
		}
		if b, code := scorepipe("store", "repair"); code != exitOK {
			t.Fatalf("store repair: exit %d\n%s", code, b)
		}
		if b, code := scorepipe("store", "check"); code != exitOK {
			t.Errorf("store check after repair: exit %d\n%s", code, b)
		}
		b, code := stdout("store", "stats", "--json")
		var st struct{ Replies int }
		if code != exitOK || json.NewDecoder(bytes.NewReader(b)).Decode(&st) != nil || int64(st.Replies) != paid-1 {
			t.Errorf("store stats: exit %d, %d replies, want %d (one dropped by repair)\n%s", code, st.Replies, paid-1, b)
		}
		if b, code := scorepipe("store", "prune", "--retain", "1ms"); code != exitOK {
			t.Fatalf("store prune: exit %d\n%s", code, b)
		}
		b, _ = stdout("store", "stats", "--json")
		if json.NewDecoder(bytes.NewReader(b)).Decode(&st) != nil || st.Replies != 0 {
			t.Errorf("after pruning every reply, stats say %d\n%s", st.Replies, b)
		}
	})
}

// flipEvery flips a bit in every n-th byte of b.
func flipEvery(b []byte, n int) {
	for i := n; i < len(b); i += n {
		b[i] ^= 0x04
	}
}

func alterFile(t *testing.T, path string, fn func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(b), 0o600); err != nil {
		t.Fatal(err)
	}
}
