package publish

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// owned is what the tests' runs own, as the pipeline passes it.
var owned = []string{"features.parquet", "features.xlsx", "features.csv", "manifest.json", "features",
	".features.parquet.tmp-*", ".features.xlsx.spill-*"}

func options() Options { return Options{Owned: owned, KeepDirs: []string{".scorepipe"}} }

// TestMain runs a child publisher when the kill tests ask for one.
func TestMain(m *testing.M) {
	if os.Getenv("PUBLISH_TEST_CHILD") != "" {
		os.Exit(child())
	}
	if os.Getenv("PUBLISH_TEST_PART_CHILD") != "" {
		os.Exit(partChild())
	}
	os.Exit(m.Run())
}

// child publishes generations into PUBLISH_TEST_DIR: one, killing itself
// at step PUBLISH_TEST_KILL_AT, or (with PUBLISH_TEST_LOOP) one after the
// other until it is killed.
func child() int {
	dir := os.Getenv("PUBLISH_TEST_DIR")
	if os.Getenv("PUBLISH_TEST_NOEXCHANGE") != "" {
		exchangeDirs = func(string, string) error { return errNoExchange }
	}
	gen, _ := strconv.Atoi(os.Getenv("PUBLISH_TEST_GEN"))
	killAt := os.Getenv("PUBLISH_TEST_KILL_AT")
	kill := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }
	for {
		opts := options()
		opts.BeforeStep = func(step string) error {
			if step == killAt {
				kill()
			}
			return nil
		}
		f, err := Open(dir, opts)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := writeGen(f.Staging(), gen, gen%2 == 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if killAt == "writing" {
			kill()
		}
		if err := f.Commit(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if killAt == "committed" {
			kill()
		}
		f.Close()
		if os.Getenv("PUBLISH_TEST_LOOP") == "" {
			return 0
		}
		gen++
	}
}

// genFiles is the set generation gen publishes (without the marker): an
// odd generation asks for xlsx, an even one for csv, and both hold a
// folder of parts.
func genFiles(gen int, csv bool) map[string]string {
	other := "features.xlsx"
	if csv {
		other = "features.csv"
	}
	names := []string{"features.parquet", other, "features/part-00000-of-00002.parquet", "features/part-00001-of-00002.parquet"}
	files := map[string]string{}
	for _, n := range names {
		files[n] = fmt.Sprintf("gen %d %s\n", gen, n)
	}
	files["manifest.json"] = fmt.Sprintf("gen %d files %s\n", gen, strings.Join(names, ","))
	return files
}

// writeGen writes generation gen into dir, with the temporary files a
// run has while it writes, synced as sinks do.
func writeGen(dir string, gen int, csv bool) error {
	for name, data := range genFiles(gen, csv) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			return err
		}
	}
	for _, tmp := range []string{".features.parquet.tmp-123", ".features.xlsx.spill-456", "excelize-789"} {
		if err := os.WriteFile(filepath.Join(dir, tmp), make([]byte, 64<<10), 0o600); err != nil {
			return err
		}
	}
	for _, tmp := range []string{".features.parquet.tmp-123", ".features.xlsx.spill-456", "excelize-789"} {
		if err := os.Remove(filepath.Join(dir, tmp)); err != nil {
			return err
		}
	}
	return syncTree(dir)
}

// snapshot reads every file under dir, by path relative to dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			files[rel] = "-> " + target
			return err
		}
		data, err := os.ReadFile(p)
		files[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// foreign is what the output folder holds that runs do not write.
func foreign() map[string]string {
	return map[string]string{"notes.txt": "mine\n", ".scorepipe/replies.db": "replies\n", "notes-link": "-> notes.txt"}
}

func withForeign(set map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range set {
		out[k] = v
	}
	for k, v := range foreign() {
		out[k] = v
	}
	out[Marker] = ""
	return out
}

// setUp makes an output folder holding foreign entries and generation 1.
func setUp(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	if err := os.MkdirAll(filepath.Join(out, ".scorepipe"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range foreign() {
		p := filepath.Join(out, name)
		if target, ok := strings.CutPrefix(data, "-> "); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	publishGen(t, out, 1)
	return out
}

func publishGen(t *testing.T, out string, gen int) {
	t.Helper()
	f, err := Open(out, options())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeGen(f.Staging(), gen, gen%2 == 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
}

// diff describes how got differs from want, or "" when they are equal.
func diff(got, want map[string]string) string {
	var d []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			d = append(d, "missing "+k)
		} else if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			d = append(d, "extra "+k)
		}
	}
	slices.Sort(d)
	return strings.Join(d, "; ")
}

// beside lists what lies beside the output folder but the folder itself.
func beside(t *testing.T, out string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(out))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != filepath.Base(out) {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestCommitReplacesTheWholeSet(t *testing.T) {
	out := setUp(t)
	notes, err := os.Stat(filepath.Join(out, "notes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, ".features.parquet.tmp-999"), []byte("left by a killed run"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, ".notes.txt.tmp-1"), []byte("not ours"), 0o644); err != nil {
		t.Fatal(err)
	}
	publishGen(t, out, 2) // csv instead of xlsx
	want := withForeign(genFiles(2, true))
	want[".notes.txt.tmp-1"] = "not ours"
	if d := diff(snapshot(t, out), want); d != "" {
		t.Errorf("after the second publish: %s", d)
	}
	if _, err := os.Stat(filepath.Join(out, "features.xlsx")); err == nil {
		t.Error("features.xlsx of the format not asked for survived")
	}
	carried, err := os.Stat(filepath.Join(out, "notes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(notes, carried) {
		t.Error("notes.txt was copied, want the same file linked into the new set")
	}
	if left := beside(t, out); len(left) > 0 {
		t.Errorf("left beside the output folder: %v", left)
	}
}

func TestNewFolderAndLinkedFolder(t *testing.T) {
	base := t.TempDir()
	t.Run("missing parents", func(t *testing.T) {
		out := filepath.Join(base, "a", "b", "out")
		publishGen(t, out, 1)
		want := genFiles(1, false)
		want[Marker] = ""
		if d := diff(snapshot(t, out), want); d != "" {
			t.Errorf("%s", d)
		}
	})
	t.Run("symbolic link to the folder", func(t *testing.T) {
		real := filepath.Join(base, "real")
		if err := os.Mkdir(real, 0o755); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(base, "link")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		publishGen(t, link, 1)
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("the link was replaced: %v %v", fi, err)
		}
		if _, err := os.Stat(filepath.Join(real, Marker)); err != nil {
			t.Errorf("the set is not in the linked folder: %v", err)
		}
	})
}

func TestSecondOpenFailsAtOnce(t *testing.T) {
	out := setUp(t)
	first, err := Open(out, options())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(out, options())
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Open = %v, want *LockedError", err)
	}
	if le.Dir != out || !strings.Contains(err.Error(), out) {
		t.Errorf("error %q does not name %s", err, out)
	}
	if !strings.Contains(le.Holder, "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("holder = %q, want this pid", le.Holder)
	}
	// The lock stays through the swap.
	if err := writeGen(first.Staging(), 2, true); err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(out, options()); !errors.As(err, &le) {
		t.Fatalf("Open after the swap, before Close = %v, want *LockedError", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second, err := Open(out, options())
	if err != nil {
		t.Fatalf("Open once the first is closed: %v", err)
	}
	second.Close()
	if left := beside(t, out); len(left) > 0 {
		t.Errorf("left beside the output folder: %v", left)
	}
}

func TestSecondProcessFailsAtOnce(t *testing.T) {
	out := setUp(t)
	f, err := Open(out, options())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), "PUBLISH_TEST_CHILD=1", "PUBLISH_TEST_DIR="+out, "PUBLISH_TEST_GEN=2")
	msg, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "in use by another run") {
		t.Fatalf("second process: %v, %s; want it refused", err, msg)
	}
	if d := diff(snapshot(t, out), withForeign(genFiles(1, false))); d != "" {
		t.Errorf("the refused process changed the folder: %s", d)
	}
}

func TestOpenRefuses(t *testing.T) {
	cases := []struct {
		name  string
		setUp func(t *testing.T, out string)
		says  string
	}{
		{"a file", func(t *testing.T, out string) { write(t, out, "x") }, "not a folder"},
		{"a foreign folder", func(t *testing.T, out string) { write(t, filepath.Join(out, "src", "main.go"), "x") }, "src/"},
		{"a fifo", func(t *testing.T, out string) {
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(filepath.Join(out, "pipe"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "pipe"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			c.setUp(t, out)
			_, err := Open(out, options())
			var fe *FolderError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("Open = %v, want a *FolderError saying %q", err, c.says)
			}
			if left := beside(t, out); len(left) > 0 {
				t.Errorf("left beside the output folder: %v", left)
			}
		})
	}
}

func TestMountRoot(t *testing.T) {
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("no /proc")
	}
	got, err := isMountRoot("/proc", "/")
	if err != nil || !got {
		t.Errorf("isMountRoot(/proc) = %v, %v; want true", got, err)
	}
	dir := t.TempDir()
	got, err = isMountRoot(dir, filepath.Dir(dir))
	if err != nil || got {
		t.Errorf("isMountRoot(%s) = %v, %v; want false", dir, got, err)
	}
	if _, err := Open("/proc", options()); err == nil || !strings.Contains(err.Error(), "mount point") {
		t.Errorf("Open(/proc) = %v, want a mount point refused", err)
	}
}

func write(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// modes are the two ways of swapping: one exchange, or two renames where
// the file system cannot exchange.
var modes = []struct {
	name       string
	noExchange bool
}{{"exchange", false}, {"two renames", true}}

func setMode(t *testing.T, noExchange bool) {
	if noExchange {
		exchangeDirs = func(string, string) error { return errNoExchange }
		t.Cleanup(func() { exchangeDirs = exchange })
	}
}

func TestFailureAtEachStep(t *testing.T) {
	steps := []struct {
		step string
		new  bool // the publish went through
	}{
		{StepCarry, false}, {StepMarker, false}, {StepSync, false}, {StepSwap, false}, {StepSwapGap, false}, {StepRemoveOld, true},
	}
	for _, m := range modes {
		for _, s := range steps {
			t.Run(m.name+"/"+s.step, func(t *testing.T) {
				setMode(t, m.noExchange)
				out := setUp(t)
				opts := options()
				reached := false
				opts.BeforeStep = func(step string) error {
					if step == s.step {
						reached = true
						return errors.New("injected")
					}
					return nil
				}
				f, err := Open(out, opts)
				if err != nil {
					t.Fatal(err)
				}
				if err := writeGen(f.Staging(), 2, true); err != nil {
					t.Fatal(err)
				}
				err = f.Commit()
				if !reached {
					if s.step == StepSwapGap && !m.noExchange {
						f.Close()
						return // one exchange has no gap
					}
					t.Fatalf("step %s never reached", s.step)
				}
				want := withForeign(genFiles(1, false))
				if s.new {
					want = withForeign(genFiles(2, true))
					if err != nil {
						t.Errorf("Commit = %v, want nil once the swap is done", err)
					}
				} else {
					var ce *CommitError
					if !errors.As(err, &ce) || ce.Step != s.step {
						t.Errorf("Commit = %v, want a *CommitError at %s", err, s.step)
					}
				}
				if d := diff(snapshot(t, out), want); d != "" {
					t.Errorf("after a failure at %s: %s", s.step, d)
				}
				f.Close()
				g, err := Open(out, options()) // removes what is left
				if err != nil {
					t.Fatal(err)
				}
				g.Close()
				if left := beside(t, out); len(left) > 0 {
					t.Errorf("left beside the output folder after the next Open: %v", left)
				}
			})
		}
	}
}

// runChild runs the child publisher and waits for it, killed or not.
func runChild(t *testing.T, ctx context.Context, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"PUBLISH_TEST_CHILD=1"}, env...)...)
	return cmd
}

func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
}

// checkWhole fails unless out holds generation old or generation new,
// whole and marked, beside the foreign entries; it returns which.
func checkWhole(t *testing.T, out string, old, new int) int {
	t.Helper()
	got := snapshot(t, out)
	dOld := diff(got, withForeign(genFiles(old, old%2 == 0)))
	dNew := diff(got, withForeign(genFiles(new, new%2 == 0)))
	switch {
	case dOld == "":
		return old
	case dNew == "":
		return new
	}
	t.Fatalf("the folder is neither generation %d (%s) nor %d (%s)", old, dOld, new, dNew)
	return 0
}

// checkClean fails when anything a run leaves is still there after the
// next Open and Close.
func checkClean(t *testing.T, out string) {
	t.Helper()
	f, err := Open(out, options())
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if left := beside(t, out); len(left) > 0 {
		t.Errorf("left beside the output folder: %v", left)
	}
	for name := range snapshot(t, out) {
		if strings.Contains(name, ".tmp-") || strings.Contains(name, ".spill-") || strings.HasPrefix(name, "excelize-") {
			t.Errorf("temporary file %s survived", name)
		}
	}
}

func TestKillAtEachStep(t *testing.T) {
	steps := []struct {
		step string
		new  bool
	}{
		{"writing", false}, {StepCarry, false}, {StepMarker, false}, {StepSync, false}, {StepSwap, false},
		{StepSwapGap, false}, {StepRemoveOld, true}, {"committed", true},
	}
	for _, m := range modes {
		for _, s := range steps {
			if s.step == StepSwapGap && !m.noExchange {
				continue
			}
			t.Run(m.name+"/"+s.step, func(t *testing.T) {
				out := setUp(t)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				env := []string{"PUBLISH_TEST_DIR=" + out, "PUBLISH_TEST_GEN=2", "PUBLISH_TEST_KILL_AT=" + s.step}
				if m.noExchange {
					env = append(env, "PUBLISH_TEST_NOEXCHANGE=1")
				}
				msg, err := runChild(t, ctx, env...).CombinedOutput()
				if !killedBySIGKILL(err) {
					t.Fatalf("child: %v, want killed at %s\n%s", err, s.step, msg)
				}
				if s.step == StepSwapGap {
					// The folder is missing between the two renames; the
					// next Open puts the old set back.
					if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("the folder exists in the gap: %v", err)
					}
					f, err := Open(out, options())
					if err != nil {
						t.Fatal(err)
					}
					f.Close()
				}
				want := 1
				if s.new {
					want = 2
				}
				if got := checkWhole(t, out, 1, 2); got != want {
					t.Errorf("killed at %s: generation %d, want %d", s.step, got, want)
				}
				checkClean(t, out)
				publishGen(t, out, 3)
				checkWhole(t, out, 3, 3)
			})
		}
	}
}

func TestKillAtRandomInstants(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			out := setUp(t)
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
			gen := 1
			for round := range 15 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				env := []string{"PUBLISH_TEST_DIR=" + out, "PUBLISH_TEST_GEN=" + strconv.Itoa(gen+1), "PUBLISH_TEST_LOOP=1"}
				if m.noExchange {
					env = append(env, "PUBLISH_TEST_NOEXCHANGE=1")
				}
				cmd := runChild(t, ctx, env...)
				if err := cmd.Start(); err != nil {
					cancel()
					t.Fatal(err)
				}
				time.Sleep(time.Duration(5+rng.IntN(60)) * time.Millisecond)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				err := cmd.Wait()
				cancel()
				if !killedBySIGKILL(err) {
					t.Fatalf("round %d: child %v, want killed", round, err)
				}
				if _, err := os.Stat(out); errors.Is(err, os.ErrNotExist) {
					if !m.noExchange {
						t.Fatalf("round %d: the folder is missing after a kill", round)
					}
					f, err := Open(out, options()) // killed between the two renames
					if err != nil {
						t.Fatal(err)
					}
					f.Close()
				}
				got := snapshot(t, out)
				man, ok := got["manifest.json"]
				if !ok {
					t.Fatalf("round %d: no manifest", round)
				}
				g, err := strconv.Atoi(strings.Fields(man)[1])
				if err != nil {
					t.Fatal(err)
				}
				if g < gen {
					t.Fatalf("round %d: generation %d went back from %d", round, g, gen)
				}
				checkWhole(t, out, g, g)
				t.Logf("round %d: generation %d", round, g)
				gen = g
				checkClean(t, out)
			}
		})
	}
}

func TestOutputFolderRemovedDuringTheRun(t *testing.T) {
	out := setUp(t)
	f, err := Open(out, options())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeGen(f.Staging(), 2, true); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatalf("Commit into a removed folder: %v", err)
	}
	want := genFiles(2, true)
	want[Marker] = ""
	if d := diff(snapshot(t, out), want); d != "" {
		t.Errorf("%s", d)
	}
}
