package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// reuse returns a reuse entry of applicant key in run.
func reuse(run, key string, at time.Time) *Entry {
	return &Entry{Time: at, RunID: run, Event: EventReuse, Product: "JRZQ9E2A", ApplicantKey: key, AuthCode: "AUTH-" + key,
		Source: SourceStore, TransactionID: "T-" + key, Code: intp(0), Outcome: OutcomeOK, Billed: BilledNo}
}

// readLines returns the log's lines, each parsed, failing on a damaged one.
func readLines(t *testing.T, path string) []Entry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []Entry
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		e, err := ParseLine(line)
		if err != nil {
			t.Fatalf("line %d %q: %v", i+1, line, err)
		}
		out = append(out, e)
	}
	return out
}

func TestOpenMakesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "nested")
	path := filepath.Join(dir, FileName)
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(reuse("r", "k", time.Time{}), true); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		want os.FileMode
	}{{dir, 0o700}, {path, 0o600}, {path + ".lock", 0o600}} {
		info, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got&^tt.want != 0 {
			t.Errorf("%s: mode %v, want at most %v", tt.path, got, tt.want)
		}
	}

	// A log made readable by others is made private again.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("reopened log: mode %v, want 0600", info.Mode().Perm())
	}
}

func TestOpenMustExist(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if _, err := Open(path, Options{MustExist: true}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open(MustExist) of no log = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(MustExist) created the log")
	}
}

func TestOneWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{})
	var in *InUseError
	if !errors.As(err, &in) || in.Path != path {
		t.Fatalf("second Open = %v, want an *InUseError naming %s", err, path)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("message %q, want it to name the log and say it is in use", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after Close = %v, want the lock released", err)
	}
	l2.Close()
}

func TestAppendDurableIsOnDisk(t *testing.T) {
	// A durable line is in the file (read through another descriptor)
	// when Append returns, not in memory; a line not asked to be durable
	// is once Flush returns.
	path := filepath.Join(t.TempDir(), FileName)
	l, err := Open(path, Options{SyncEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := l.Append(reuse("r", "lazy", at), false); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path); len(got) != 0 {
		t.Errorf("after a lazy Append: %d lines in the file, want 0 (held in memory)", len(got))
	}
	if err := l.Append(reuse("r", "durable", at), true); err != nil {
		t.Fatal(err)
	}
	got := readLines(t, path)
	if len(got) != 2 || got[0].ApplicantKey != "lazy" || got[1].ApplicantKey != "durable" {
		t.Errorf("after a durable Append: lines %+v, want lazy then durable", got)
	}
	if err := l.Append(reuse("r", "late", at), false); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path); len(got) != 3 {
		t.Errorf("after Flush: %d lines, want 3", len(got))
	}
	if n := l.Lines(); n != 3 {
		t.Errorf("Lines() = %d, want 3", n)
	}
}

func TestSyncEveryWritesLazyLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	l, err := Open(path, Options{SyncEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Append(reuse("r", "k", time.Time{}), false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(readLines(t, path)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a lazy line was not written by the periodic sync within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := reuse("r", fmt.Sprintf("%02d-%04d", w, i), time.Time{})
				// A long authorization now and then, so that lazy lines
				// pass the size at which they are written.
				if i%50 == 0 {
					e.AuthURL = strings.Repeat("u", 8<<10)
				}
				if err := l.Append(e, i%3 == 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := readLines(t, path)
	if len(got) != writers*each {
		t.Fatalf("%d lines, want %d", len(got), writers*each)
	}
	seen := map[string]bool{}
	last := map[int]int{}
	for _, e := range got {
		if seen[e.ApplicantKey] {
			t.Fatalf("line %s twice", e.ApplicantKey)
		}
		seen[e.ApplicantKey] = true
		var w, i int
		fmt.Sscanf(e.ApplicantKey, "%02d-%04d", &w, &i)
		if prev, ok := last[w]; ok && i < prev {
			t.Errorf("writer %d: line %d after line %d, want a writer's lines in order", w, i, prev)
		}
		last[w] = i
	}
	if err := l.Append(reuse("r", "after", time.Time{}), false); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}

func TestOpenEndsALineCutShort(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	whole := reuse("r", "whole", time.Unix(100, 0)).AppendJSON(nil)
	cut := reuse("r", "cut", time.Unix(200, 0)).AppendJSON(nil)
	if err := os.WriteFile(path, append(whole, cut[:40]...), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(reuse("r", "next", time.Unix(300, 0)), true); err != nil {
		t.Fatal(err)
	}
	l.Close()
	var keys []string
	st, err := scanFile(path, Filter{}, func(q *Query) error { keys = append(keys, q.ApplicantKey); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "whole,next" || st.Damaged != 1 {
		t.Errorf("after a cut line: queries %v, %d damaged; want whole,next and 1 damaged", keys, st.Damaged)
	}
}

func TestWriteFailureStopsTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	l, err := Open(path, Options{SyncEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.wmu.Lock()
	l.f.Close() // every write now fails
	l.wmu.Unlock()
	err = l.Append(reuse("r", "k", time.Time{}), true)
	var we *WriteError
	if !errors.As(err, &we) || we.Path != path {
		t.Fatalf("durable Append to a broken file = %v, want a *WriteError naming %s", err, path)
	}
	if err2 := l.Append(reuse("r", "k2", time.Time{}), false); !errors.As(err2, &we) {
		t.Errorf("Append after a failure = %v, want the *WriteError again", err2)
	}
}

func scanFile(path string, f Filter, emit func(*Query) error) (Stats, error) {
	in, err := os.Open(path)
	if err != nil {
		return Stats{}, err
	}
	defer in.Close()
	return Scan(in, f, emit)
}
