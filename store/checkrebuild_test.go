package store

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCheckReportsWhatARebuildFinds takes the index away in each way a
// run rebuilds it for (deleted, emptied, garbage, zeroed, cut, of another
// log) and checks that Check reports the log's replies, which a run then
// finds, and that the index is to be rebuilt; and that Check changes no
// byte of either file.
func TestCheckReportsWhatARebuildFinds(t *testing.T) {
	const n, replaced = 40, 10
	base := filepath.Join(t.TempDir(), "replies.db")
	want := testReplies(n, time.UnixMilli(1.7e12).UTC())
	s := openStore(t, base)
	putAll(t, s, n, keyOf, want)
	putAll(t, s, replaced, keyOf, want) // replaced: the later records win
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "replies.db") // a store of its own log
	s = openStore(t, other)
	putAll(t, s, 3, keyOf, want)
	s.Close()
	otherIndex, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	healthy, err := Check(base, time.Now())
	if err != nil || !healthy.Healthy() || healthy.Rebuild || healthy.Whole != n {
		t.Fatalf("Check of the intact store: %+v, %v", healthy, err)
	}

	tests := []struct {
		name      string
		damage    func(path string)
		wantIndex int // replies the index still holds
	}{
		{"deleted", func(path string) { os.Remove(path) }, 0},
		{"emptied", func(path string) { alter(t, path, func([]byte) []byte { return nil }) }, 0},
		{"garbage", func(path string) {
			alter(t, path, func(b []byte) []byte { return bytes.Repeat([]byte("garbage!"), len(b)/8) })
		}, 0},
		{"zeroed", func(path string) { alter(t, path, func(b []byte) []byte { return make([]byte, len(b)) }) }, 0},
		{"cut", func(path string) { alter(t, path, func(b []byte) []byte { return b[:4096] }) }, 0},
		{"the index of another log", func(path string) { alter(t, path, func([]byte) []byte { return otherIndex }) }, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := copyStore(t, base)
			tt.damage(path)
			before := snapshotFiles(t, path)
			rep, err := Check(path, time.Now())
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if !rep.Rebuild || rep.Index == "ok" {
				t.Errorf("Check: index %q, rebuild %v; want it to say the index is rebuilt", rep.Index, rep.Rebuild)
			}
			if rep.LogReplies != n {
				t.Errorf("Check: log_replies = %d, want %d", rep.LogReplies, n)
			}
			if rep.LostWithIndex != 0 {
				t.Errorf("Check: lost_with_index = %d, want 0", rep.LostWithIndex)
			}
			if got := rep.Ages.Day + rep.Ages.Week + rep.Ages.Month + rep.Ages.Quarter + rep.Ages.Year + rep.Ages.Older; got != n {
				t.Errorf("Check: ages count %d replies, want %d", got, n)
			}
			if rep.DeadBytes != healthy.DeadBytes {
				t.Errorf("Check: %d bytes dead, want %d (the replaced records), as with the index", rep.DeadBytes, healthy.DeadBytes)
			}
			if rep.Replies != tt.wantIndex {
				t.Errorf("Check: the index holds %d replies, want %d", rep.Replies, tt.wantIndex)
			}
			if after := snapshotFiles(t, path); after != before {
				t.Errorf("Check changed the store: %s, then %s", before, after)
			}
			// What a run finds: every reply, none to pay for again.
			s, err := Open(path, Options{Secret: testSecret, KeepSecret: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.Count(); got != rep.LogReplies {
				t.Errorf("a run finds %d replies, Check said %d", got, rep.LogReplies)
			}
			if missing := checkAll(t, s, want, keyOf); missing != 0 {
				t.Errorf("%d replies not found after the rebuild", missing)
			}
		})
	}
}

// snapshotFiles is the index's and the log's sizes, times and content
// hashes, to tell whether anything changed them.
func snapshotFiles(t *testing.T, path string) string {
	t.Helper()
	var b bytes.Buffer
	for _, p := range []string{path, path + ".log"} {
		info, err := os.Stat(p)
		if err != nil {
			b.WriteString(p + " missing; ")
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(p + " " + info.ModTime().String() + " " + fmt.Sprintf("%x", sha256.Sum256(data)) + "; ")
	}
	return b.String()
}
