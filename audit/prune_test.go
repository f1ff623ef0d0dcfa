package audit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeLog writes a log of the given lines: a number is a reuse line of
// that day of 2026-01 (its key "d<day>"), "!" a damaged line.
func writeLog(t *testing.T, path string, lines []string) {
	t.Helper()
	var b []byte
	for _, l := range lines {
		if l == "!" {
			b = append(b, "{damaged\n"...)
			continue
		}
		var day int
		for _, c := range l {
			day = day*10 + int(c-'0')
		}
		b = reuse("r", "d"+l, jan(day)).AppendJSON(b)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func jan(day int) time.Time { return time.Date(2026, 1, day, 12, 0, 0, 0, time.UTC) }

// describe reads the log back in the notation of writeLog.
func describe(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		e, err := ParseLine([]byte(line))
		if err != nil {
			out = append(out, "!")
			continue
		}
		out = append(out, strings.TrimPrefix(e.ApplicantKey, "d"))
	}
	return strings.Join(out, " ")
}

func TestPrune(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string
		before  int // day of January
		want    string
		removed int
	}{
		{"nothing old", []string{"5", "6", "7"}, 5, "5 6 7", 0},
		{"all old", []string{"1", "2", "3"}, 10, "", 3},
		{"oldest go", []string{"1", "2", "3", "4"}, 3, "3 4", 2},
		{"out of order", []string{"1", "5", "2", "6", "3"}, 4, "5 6", 3},
		{"the cutoff itself is kept", []string{"3", "4"}, 4, "4", 1},
		{"a damaged line goes with the old line after it", []string{"!", "1", "!", "!", "2", "5"}, 3, "5", 5},
		{"a damaged line stays with the new line after it", []string{"1", "!", "5", "2", "!", "6"}, 3, "! 5 ! 6", 2},
		{"damaged lines at the end stay", []string{"1", "5", "!"}, 3, "5 !", 1},
		{"damaged before a kept line at the start stays", []string{"!", "5", "1"}, 3, "! 5", 1},
		{"empty log", nil, 3, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			writeLog(t, path, tt.lines)
			before, _ := os.Stat(path)
			l, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			removed, err := l.Prune(jan(tt.before))
			if err != nil {
				t.Fatal(err)
			}
			if removed != tt.removed {
				t.Errorf("Prune removed %d, want %d", removed, tt.removed)
			}
			if got := describe(t, path); got != tt.want {
				t.Errorf("after Prune: %q, want %q", got, tt.want)
			}
			after, _ := os.Stat(path)
			if same := os.SameFile(before, after); same != (tt.removed == 0) {
				t.Errorf("log replaced: %t, want %t (only when lines are removed)", !same, tt.removed > 0)
			}
			if after.Mode().Perm() != 0o600 {
				t.Errorf("pruned log: mode %v, want 0600", after.Mode().Perm())
			}
			// Appends go on into the pruned log.
			if err := l.Append(reuse("r", "d9", jan(9)), true); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSpace(tt.want + " 9")
			if got := describe(t, path); got != want {
				t.Errorf("after an Append: %q, want %q", got, want)
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*prune*"))
			if len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

func TestPruneKeepsLinesHeldInMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	writeLog(t, path, []string{"1", "2"})
	l, err := Open(path, Options{SyncEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(reuse("r", "d8", jan(8)), false); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(reuse("r", "d1", jan(1)), false); err != nil { // old, but appended now: pruned too
		t.Fatal(err)
	}
	removed, err := l.Prune(jan(5))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if got := describe(t, path); got != "8" || removed != 3 {
		t.Errorf("after Prune: %q, %d removed; want 8, 3 removed", got, removed)
	}
}

func TestPruneALongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	long := reuse("r", "d7", jan(7))
	long.AuthURL = strings.Repeat("x", 200<<10) // longer than the read buffer
	b := reuse("r", "d1", jan(1)).AppendJSON(nil)
	b = long.AppendJSON(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if removed, err := l.Prune(jan(5)); err != nil || removed != 1 {
		t.Fatalf("Prune = %d, %v; want 1", removed, err)
	}
	if got := describe(t, path); got != "7" {
		t.Errorf("after Prune: %q, want 7", got)
	}
}

func TestPruneFailureLeavesTheLog(t *testing.T) {
	fault := errors.New("injected fault")
	tests := []struct {
		name  string
		setup func()
	}{
		{"no temporary file", func() {
			createTemp = func(string, string) (*os.File, error) { return nil, fault }
		}},
		{"no rename", func() {
			rename = func(string, string) error { return fault }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() { createTemp, rename = os.CreateTemp, os.Rename }()
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			writeLog(t, path, []string{"1", "2", "6"})
			l, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tt.setup()
			_, err = l.Prune(jan(5))
			var we *WriteError
			if !errors.As(err, &we) || we.Path != path || we.Err != fault {
				t.Errorf("Prune = %v, want a *WriteError naming %s and wrapping the fault", err, path)
			}
			if got := describe(t, path); got != "1 2 6" {
				t.Errorf("after a failed Prune: %q, want the log as it was", got)
			}
			if err := l.Append(reuse("r", "d9", jan(9)), true); err != nil {
				t.Errorf("Append after a failed Prune = %v, want the log usable", err)
			}
			l.Close()
			if got := describe(t, path); got != "1 2 6 9" {
				t.Errorf("after a failed Prune and an Append: %q, want 1 2 6 9", got)
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".*prune*"))
			if len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// FuzzPrune prunes any file: it never fails, keeps every readable line not
// older than the cutoff, and removes or keeps each line whole.
func FuzzPrune(f *testing.F) {
	f.Add(logOf(reuse("r", "d1", jan(1)), reuse("r", "d9", jan(9))), int64(5))
	f.Add([]byte("{x\n"+string(logOf(reuse("r", "d1", jan(1))))+"\n\n{y"), int64(5))
	f.Add([]byte(`{"time":"2026-01-01T00:00:00.000Z"`+"\n"+`{"time":"2026-01-09T00:00:00.000Z","run_id":"r","event":"reuse","product":"P"}`), int64(5))
	f.Fuzz(func(t *testing.T, data []byte, day int64) {
		cutoff := jan(int(day%20) + 1)
		path := filepath.Join(t.TempDir(), FileName)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		removed, err := l.Prune(cutoff)
		if err != nil {
			t.Fatalf("Prune = %v", err)
		}
		l.Close()
		lines := func(b []byte) []string {
			var out []string
			for _, s := range strings.Split(string(b), "\n") {
				if len(trimLine([]byte(s))) > 0 {
					out = append(out, strings.TrimRight(s, "\r"))
				}
			}
			return out
		}
		after, _ := os.ReadFile(path)
		before, got := lines(data), lines(after)
		if removed+len(got) != len(before) {
			t.Fatalf("removed %d, kept %d of %d lines", removed, len(got), len(before))
		}
		// What is kept is the lines before, in order, less some.
		i := 0
		for _, k := range got {
			for i < len(before) && strings.TrimRight(before[i], "\r") != k {
				if tm, ok := lineTime([]byte(before[i])); ok && !tm.Before(cutoff) {
					t.Fatalf("line %q removed, but not older than %v", before[i], cutoff)
				}
				i++
			}
			if i == len(before) {
				t.Fatalf("kept line %q is not a line of the log, in order", k)
			}
			if tm, ok := lineTime([]byte(k)); ok && tm.Before(cutoff) {
				t.Fatalf("line %q kept, but older than %v", k, cutoff)
			}
			i++
		}
	})
}

func TestPruneFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if n, err := PruneFile(path, jan(5)); n != 0 || err != nil {
		t.Errorf("PruneFile of no log = %d, %v; want 0, nil", n, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PruneFile of no log created one")
	}
	writeLog(t, path, []string{"1", "2", "7"})
	if n, err := PruneFile(path, jan(5)); n != 2 || err != nil {
		t.Errorf("PruneFile = %d, %v; want 2, nil", n, err)
	}
	if got := describe(t, path); got != "7" {
		t.Errorf("after PruneFile: %q, want 7", got)
	}
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var in *InUseError
	if _, err := PruneFile(path, jan(9)); !errors.As(err, &in) {
		t.Errorf("PruneFile while the log is open = %v, want an *InUseError", err)
	}
}
