package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// partFolders are the folders of a sharded dataset in these tests.
var partFolders = []string{"features", "features-csv", "rejects", "manifests"}

func partOptions(name string) PartOptions {
	return PartOptions{Folders: partFolders, Marker: "_SUCCESS." + name}
}

// partFiles is the set generation gen of a part publishes, marker
// excluded: an odd generation has a csv file, an even one has not.
func partFiles(name string, gen int) map[string]string {
	files := map[string]string{}
	rels := []string{"features/" + name + ".parquet", "rejects/" + name + ".csv", "manifests/" + name + ".json"}
	if gen%2 == 1 {
		rels = append(rels, "features-csv/"+name+".csv")
	}
	for _, rel := range rels {
		files[rel] = fmt.Sprintf("gen %d %s\n", gen, rel)
	}
	return files
}

// markerOf is the marker of generation gen of a part: every file of
// partFiles with its size and SHA-256, by name.
func markerOf(name string, gen int) string {
	m := PartMarker{Part: name}
	for rel, data := range partFiles(name, gen) {
		sum := sha256.Sum256([]byte(data))
		m.Files = append(m.Files, PartFile{Name: rel, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
	}
	slices.SortFunc(m.Files, func(a, b PartFile) int { return strings.Compare(a.Name, b.Name) })
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(data) + "\n"
}

// writePart writes generation gen of a part into its staging folder, with
// a temporary file a writer would leave there.
func writePart(p *Part, gen int) error {
	for rel, data := range partFiles(p.Name(), gen) {
		if err := os.WriteFile(p.Path(rel), []byte(data), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(p.Path("features/.tmp-123"), []byte("temporary"), 0o600); err != nil {
		return err
	}
	return syncTree(p.Staging())
}

// publishPart publishes generation gen of part name into out.
func publishPart(t *testing.T, out, name string, gen int) {
	t.Helper()
	p, err := OpenPart(out, name, partOptions(name))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := writePart(p, gen); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
}

// partChild publishes generation PUBLISH_TEST_GEN of part
// PUBLISH_TEST_PART into PUBLISH_TEST_DIR, killing itself at step
// PUBLISH_TEST_KILL_AT.
func partChild() int {
	dir, name := os.Getenv("PUBLISH_TEST_DIR"), os.Getenv("PUBLISH_TEST_PART")
	gen, _ := strconv.Atoi(os.Getenv("PUBLISH_TEST_GEN"))
	killAt := os.Getenv("PUBLISH_TEST_KILL_AT")
	kill := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }
	opts := partOptions(name)
	opts.Check = func(string) error { return nil }
	opts.BeforeStep = func(step string) error {
		if step == killAt {
			kill()
		}
		return nil
	}
	p, err := OpenPart(dir, name, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := writePart(p, gen); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if killAt == "writing" {
		kill()
	}
	if err := p.Commit(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if killAt == "committed" {
		kill()
	}
	p.Close()
	return 0
}

const (
	part0 = "part-00000-of-00002"
	part1 = "part-00001-of-00002"
)

// setUpParts makes an output folder holding a foreign file, generation 1
// of both parts and the dataset's marker, as collect leaves it.
func setUpParts(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	publishPart(t, out, part0, 1)
	publishPart(t, out, part1, 1)
	write(t, filepath.Join(out, "notes.txt"), "mine\n")
	write(t, filepath.Join(out, "manifest.json"), "combined\n")
	write(t, filepath.Join(out, Marker), "")
	return out
}

// datasetWith is what the folder of setUpParts holds with generation gen0
// of part 0 and gen1 of part 1 (0: the part unmarked, files of
// generation 1), and the dataset's marker when marked.
func datasetWith(gen0, gen1 int, marked bool) map[string]string {
	want := map[string]string{"notes.txt": "mine\n", "manifest.json": "combined\n"}
	for _, p := range []struct {
		name string
		gen  int
	}{{part0, gen0}, {part1, gen1}} {
		gen := p.gen
		if gen == 0 {
			gen = 1
		} else {
			want["_SUCCESS."+p.name] = markerOf(p.name, gen)
		}
		for rel, data := range partFiles(p.name, gen) {
			want[rel] = data
		}
	}
	if marked {
		want[Marker] = ""
	}
	return want
}

func TestPartCommitReplacesItsOwnFilesOnly(t *testing.T) {
	out := setUpParts(t)
	if d := diff(snapshot(t, out), datasetWith(1, 1, true)); d != "" {
		t.Fatalf("set-up: %s", d)
	}
	publishPart(t, out, part1, 2) // generation 2 has no csv file
	if d := diff(snapshot(t, out), datasetWith(1, 2, false)); d != "" {
		t.Errorf("after part 1 published generation 2: %s", d)
	}
	if left := beside(t, out); len(left) > 0 {
		t.Errorf("left beside the output folder: %v", left)
	}
	publishPart(t, out, part1, 3)
	publishPart(t, out, part0, 4)
	if d := diff(snapshot(t, out), datasetWith(4, 3, false)); d != "" {
		t.Errorf("after generations 3 and 4: %s", d)
	}
}

func TestPartLock(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	p, err := OpenPart(out, part0, partOptions(part0))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = OpenPart(out, part0, partOptions(part0))
	var le *LockedError
	if !errors.As(err, &le) || le.Part != part0 || !strings.Contains(err.Error(), part0) || !strings.Contains(le.Holder, "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second OpenPart of the same part = %v, want a *LockedError naming the part and the holder", err)
	}
	if locked, holder := PartLocked(out, part0); !locked || holder == "" {
		t.Errorf("PartLocked(%s) = %v, %q; want held", part0, locked, holder)
	}
	q, err := OpenPart(out, part1, partOptions(part1))
	if err != nil {
		t.Fatalf("another part of the same folder: %v", err)
	}
	defer q.Close()
	// A whole-folder run cannot start while a part publishes, and a part
	// cannot publish while the folder is locked.
	folder, err := LockFolder(out, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(out, options()); !errors.As(err, &le) {
		t.Errorf("Open while the folder lock is held = %v, want a *LockedError", err)
	}
	if err := writePart(q, 1); err != nil {
		t.Fatal(err)
	}
	q.opts.Wait = time.Millisecond
	var ce *CommitError
	if err := q.Commit(); !errors.As(err, &ce) || ce.Step != StepPartLock || !errors.As(err, &le) {
		t.Fatalf("Commit while the folder is locked = %v, want a *CommitError at %s for a *LockedError", err, StepPartLock)
	}
	// Released while a Commit waits: the Commit goes on.
	q.opts.Wait = time.Minute
	done := make(chan error, 1)
	go func() { done <- q.Commit() }()
	time.Sleep(20 * time.Millisecond)
	folder.Release()
	if err := <-done; err != nil {
		t.Fatalf("Commit after the folder lock was released: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS."+part1)); err != nil {
		t.Errorf("no marker after Commit: %v", err)
	}
	p.Close()
	if locked, _ := PartLocked(out, part0); locked {
		t.Error("the part is still locked after Close")
	}
}

func TestPartCheckRefuses(t *testing.T) {
	out := setUpParts(t)
	before := snapshot(t, out)
	opts := partOptions(part1)
	opts.Check = func(dir string) error { return errors.New("holds a whole run's set") }
	p, err := OpenPart(out, part1, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := writePart(p, 2); err != nil {
		t.Fatal(err)
	}
	var ce *CommitError
	if err := p.Commit(); !errors.As(err, &ce) || ce.Step != StepPartCheck || !strings.Contains(err.Error(), "whole run") {
		t.Fatalf("Commit = %v, want the check's error", err)
	}
	if d := diff(snapshot(t, out), before); d != "" {
		t.Errorf("a refused Commit changed the folder: %s", d)
	}
}

var partSteps = []string{StepPartLock, StepPartCheck, StepPartUnmark, StepPartMove, StepPartDrop, StepPartMarker}

func TestPartFailureAtEachStep(t *testing.T) {
	for _, step := range partSteps {
		t.Run(step, func(t *testing.T) {
			out := setUpParts(t)
			opts := partOptions(part1)
			opts.Check = func(string) error { return nil }
			opts.BeforeStep = func(s string) error {
				if s == step {
					return errors.New("injected fault")
				}
				return nil
			}
			p, err := OpenPart(out, part1, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := writePart(p, 2); err != nil {
				t.Fatal(err)
			}
			var ce *CommitError
			if err := p.Commit(); !errors.As(err, &ce) || ce.Step != step {
				t.Fatalf("Commit = %v, want a *CommitError at %s", err, step)
			}
			p.Close()
			checkPartState(t, out, slices.Index(partSteps, step) <= slices.Index(partSteps, StepPartUnmark))
			if left := beside(t, out); len(left) > 0 {
				t.Errorf("left beside the output folder: %v", left)
			}
			publishPart(t, out, part1, 3)
			if d := diff(snapshot(t, out), datasetWith(1, 3, false)); d != "" {
				t.Errorf("the next run: %s", d)
			}
		})
	}
}

// checkPartState fails unless the folder of setUpParts is untouched
// (when a run stopped before it changed anything), or else has lost the
// dataset's marker and holds part 1 either published whole as generation
// 2 or not marked; part 0 is always untouched.
func checkPartState(t *testing.T, out string, untouched bool) {
	t.Helper()
	got := snapshot(t, out)
	if untouched {
		if d := diff(got, datasetWith(1, 1, true)); d != "" {
			t.Fatalf("the folder changed before anything should: %s", d)
		}
		return
	}
	if _, ok := got[Marker]; ok {
		t.Errorf("the dataset is still marked while a part changes")
	}
	for rel, data := range partFiles(part0, 1) {
		if got[rel] != data {
			t.Errorf("part 0's %s = %q, want it untouched", rel, got[rel])
		}
	}
	if _, ok := got["_SUCCESS."+part1]; !ok {
		return // unmarked: whatever its files hold, no reader takes them
	}
	if d := diff(got, datasetWith(1, 2, false)); d != "" {
		t.Errorf("part 1 is marked but not whole: %s", d)
	}
}

func TestPartKillAtEachStep(t *testing.T) {
	steps := append([]string{"writing"}, partSteps...)
	steps = append(steps, "committed")
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			out := setUpParts(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := runChild(t, ctx)
			cmd.Env = append(os.Environ(), "PUBLISH_TEST_PART_CHILD=1", "PUBLISH_TEST_DIR="+out, "PUBLISH_TEST_PART="+part1,
				"PUBLISH_TEST_GEN=2", "PUBLISH_TEST_KILL_AT="+step)
			msg, err := cmd.CombinedOutput()
			if !killedBySIGKILL(err) {
				t.Fatalf("child: %v, want killed at %s\n%s", err, step, msg)
			}
			untouched := step == "writing" || slices.Index(partSteps, step) >= 0 && slices.Index(partSteps, step) <= slices.Index(partSteps, StepPartUnmark)
			checkPartState(t, out, untouched)
			if step == "committed" {
				if d := diff(snapshot(t, out), datasetWith(1, 2, false)); d != "" {
					t.Errorf("killed after Commit: %s", d)
				}
			}
			// The next run of the part removes what the killed one left
			// beside the folder, and publishes whole.
			publishPart(t, out, part1, 3)
			if left := beside(t, out); len(left) > 0 {
				t.Errorf("left beside the output folder: %v", left)
			}
			if d := diff(snapshot(t, out), datasetWith(1, 3, false)); d != "" {
				t.Errorf("the next run: %s", d)
			}
		})
	}
}

func TestRemovePartStagings(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	live, err := OpenPart(out, part0, partOptions(part0))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	dead := filepath.Join(filepath.Dir(out), partStagingPrefix("out", part1)+"0123456789abcdef")
	if err := os.MkdirAll(filepath.Join(dead, "features"), 0o755); err != nil {
		t.Fatal(err)
	}
	otherFolder := filepath.Join(filepath.Dir(out), ".outer.scorepipe-part-00000-of-00002-0123456789abcdef")
	if err := os.Mkdir(otherFolder, 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := RemovePartStagings(out, nil)
	if err != nil || n != 1 {
		t.Fatalf("RemovePartStagings = %d, %v; want 1 removed", n, err)
	}
	for _, p := range []struct {
		path string
		want bool
	}{{dead, false}, {live.Staging(), true}, {otherFolder, true}} {
		if _, err := os.Stat(p.path); (err == nil) != p.want {
			t.Errorf("%s exists: %v, want %v", filepath.Base(p.path), err == nil, p.want)
		}
	}
}

func TestOpenPartRefusesBadNames(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	for _, name := range []string{"", "features", "../part-1", "part-1/x"} {
		if p, err := OpenPart(out, name, PartOptions{}); err == nil {
			p.Close()
			t.Errorf("OpenPart(%q) succeeded", name)
		}
	}
}

func TestPartsPublishAtOnce(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			name := fmt.Sprintf("part-%05d-of-%05d", i, n)
			for gen := 1; gen <= 3; gen++ {
				p, err := OpenPart(out, name, partOptions(name))
				if err != nil {
					errs <- err
					return
				}
				err = writePart(p, gen)
				if err == nil {
					err = p.Commit()
				}
				p.Close()
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("part-%05d-of-%05d", i, n)
		for rel, data := range partFiles(name, 3) {
			want[rel] = data
		}
		want["_SUCCESS."+name] = markerOf(name, 3)
	}
	if d := diff(snapshot(t, out), want); d != "" {
		t.Errorf("after %d parts published at once: %s", n, d)
	}
	if left := beside(t, out); len(left) > 0 {
		t.Errorf("left beside the output folder: %v", left)
	}
}
