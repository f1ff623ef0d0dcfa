package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// baseStore makes, once per test, a closed store of n replies in a
// directory of its own and returns its path and replies.
func baseStore(t *testing.T, n int) (string, []Reply) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "replies.db")
	want := testReplies(n, time.UnixMilli(1.7e12).UTC())
	s := openStore(t, path)
	putAll(t, s, n, keyOf, want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, want
}

// copyStore copies the store at path into a new directory and returns the
// copy's path.
func copyStore(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "replies.db")
	for _, suffix := range []string{"", ".log"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// alter changes a file with fn.
func alter(t *testing.T, path string, fn func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestIndexLostOrDamaged damages the index in every way the class holds
// (deleted, emptied, cut, overwritten, single bytes flipped anywhere):
// Open never panics, and every reply is found again, since the log holds
// them all; replies put afterwards survive a reopen too.
func TestIndexLostOrDamaged(t *testing.T) {
	const n = 1000
	base, want := baseStore(t, n)
	info, err := os.Stat(base)
	if err != nil {
		t.Fatal(err)
	}
	size := int(info.Size())
	faults := map[string]func(path string){
		"deleted": func(path string) { os.Remove(path) },
		"emptied": func(path string) { alter(t, path, func([]byte) []byte { return nil }) },
		"garbage": func(path string) {
			alter(t, path, func(b []byte) []byte { return bytes.Repeat([]byte("garbage!"), len(b)/8) })
		},
		"zeroed": func(path string) { alter(t, path, func(b []byte) []byte { return make([]byte, len(b)) }) },
	}
	for _, cut := range []int{1, 100, 4096, 8192, size / 3, size / 2, size - 4096, size - 1} {
		faults[fmt.Sprintf("cut to %d of %d bytes", cut, size)] = func(path string) {
			alter(t, path, func(b []byte) []byte { return b[:cut] })
		}
	}
	rng := rand.New(rand.NewPCG(17, 23))
	for range 60 {
		at, bit := rng.IntN(size), byte(1)<<rng.IntN(8)
		faults[fmt.Sprintf("bit %#x of byte %d flipped", bit, at)] = func(path string) {
			alter(t, path, func(b []byte) []byte { b[at] ^= bit; return b })
		}
	}
	for _, page := range []int{0, 1, 2, 3} { // the meta pages, the freelist, the first leaves
		faults[fmt.Sprintf("page %d overwritten", page)] = func(path string) {
			alter(t, path, func(b []byte) []byte {
				copy(b[page*4096:(page+1)*4096], bytes.Repeat([]byte{0xa5}, 4096))
				return b
			})
		}
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			path := copyStore(t, base)
			fault(path)
			s, err := Open(path, Options{Secret: testSecret, KeepSecret: true})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if missing := checkAll(t, s, want, keyOf); missing != 0 {
				t.Errorf("%d of %d replies not found (report %+v)", missing, n, s.Report())
			}
			if got := s.Count(); got != n {
				t.Errorf("Count() = %d, want %d", got, n)
			}
			more := testReplies(n+50, time.UnixMilli(1.8e12).UTC())[n:]
			putAll(t, s, len(more), func(i int) Key { return keyOf(n + i) }, more)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openStore(t, path)
			defer s.Close()
			all := append(append([]Reply(nil), want...), more...)
			if missing := checkAll(t, s, all, keyOf); missing != 0 {
				t.Errorf("after more replies and a reopen, %d of %d not found (report %+v)", missing, len(all), s.Report())
			}
		})
	}
}

// TestLogDamaged damages the log: a byte flipped anywhere costs at most the
// one reply whose record holds it, which Get reports as Damaged (and the
// run pays for again), with or without a rebuild of the index; a log cut
// short keeps the replies before the cut, and the count says so.
func TestLogDamaged(t *testing.T) {
	const n = 400
	base, want := baseStore(t, n)
	info, err := os.Stat(base + ".log")
	if err != nil {
		t.Fatal(err)
	}
	size := int(info.Size())
	rng := rand.New(rand.NewPCG(3, 5))
	for i := range 50 {
		at, bit := rng.IntN(size), byte(1)<<rng.IntN(8)
		for _, rebuild := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d: bit %#x of byte %d flipped, index rebuilt %v", i, bit, at, rebuild), func(t *testing.T) {
				path := copyStore(t, base)
				alter(t, path+".log", func(b []byte) []byte { b[at] ^= bit; return b })
				if rebuild {
					os.Remove(path)
				}
				s := openStore(t, path)
				defer s.Close()
				missing := checkAll(t, s, want, keyOf)
				if missing > 1 {
					t.Errorf("%d replies lost to one flipped byte (report %+v)", missing, s.Report())
				}
				if !rebuild && missing != s.Damaged() {
					t.Errorf("%d replies missing, %d reported damaged", missing, s.Damaged())
				}
			})
		}
	}
	t.Run("deleted", func(t *testing.T) {
		path := copyStore(t, base)
		os.Remove(path + ".log")
		s := openStore(t, path)
		defer s.Close()
		if got := s.Count(); got != 0 {
			t.Errorf("Count() = %d with no log, want 0", got)
		}
		if missing := checkAll(t, s, want, keyOf); missing != n {
			t.Errorf("%d replies found with no log", n-missing)
		}
	})
	for _, cut := range []int{0, 1, size / 4, size / 2, size - 1} {
		t.Run(fmt.Sprintf("cut to %d of %d bytes", cut, size), func(t *testing.T) {
			path := copyStore(t, base)
			alter(t, path+".log", func(b []byte) []byte { return b[:cut] })
			s := openStore(t, path)
			defer s.Close()
			found := n - checkAll(t, s, want, keyOf)
			if got := s.Count(); got != found {
				t.Errorf("Count() = %d, but %d replies are found", got, found)
			}
			// The records lie in the log in the order they were stored,
			// and all those wholly before the cut are found.
			if min := cut/recordSizeOf(want) - 2; found < min {
				t.Errorf("%d replies found before a cut at %d, want about %d", found, cut, min)
			}
			if s.Report().Rebuilt == "" {
				t.Error("the report does not say the index was rebuilt")
			}
		})
	}
}

// recordSizeOf returns the largest record size of want.
func recordSizeOf(want []Reply) int {
	m := 0
	for i := range want {
		m = max(m, len(appendReplyRecord(nil, Key{}, &want[i])))
	}
	return m
}

// TestTailIndexedAtOpen writes replies to the log as a run that stopped
// before their index entries were committed leaves them, and a record cut
// short after them: the next open indexes the whole ones and drops the
// rest.
func TestTailIndexedAtOpen(t *testing.T) {
	const n, tail = 100, 7
	path, want := baseStore(t, n)
	more := testReplies(n+tail, time.UnixMilli(1.8e12).UTC())[n:]
	f, err := os.OpenFile(path+".log", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for i := range more {
		b = appendReplyRecord(b, keyOf(n+i), &more[i])
	}
	cut := appendReplyRecord(nil, keyOf(n+tail), &more[0])
	b = append(b, cut[:len(cut)/2]...)
	b = append(b, make([]byte, 5000)...) // room set aside, never used
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s := openStore(t, path)
	defer s.Close()
	if got := s.Report().Reindexed; got != tail {
		t.Errorf("Reindexed = %d, want %d", got, tail)
	}
	all := append(append([]Reply(nil), want...), more...)
	if missing := checkAll(t, s, all, keyOf); missing != 0 {
		t.Errorf("%d of %d replies not found", missing, len(all))
	}
	if _, found, _ := s.Get(keyOf(n+tail), time.Time{}); found != Missing {
		t.Errorf("the record cut short: found %v, want Missing", found)
	}
	if got := s.Count(); got != n+tail {
		t.Errorf("Count() = %d, want %d", got, n+tail)
	}
}

// writeLegacyStore writes a store as the first format did: a log of
// records without keys, and an index of 16-byte entries.
func writeLegacyStore(t *testing.T, path string, want []Reply) {
	t.Helper()
	var log []byte
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(indexBucket)
		if err != nil {
			return err
		}
		meta, err := tx.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		if err := meta.Put(secretCheckKey, secretCheck(testSecret)); err != nil {
			return err
		}
		for i := range want {
			rec := legacyRecord(&want[i])
			e := entry{off: int64(len(log)), n: uint32(len(rec)), sum: recordSum(rec)}.encode()[:legacyEntrySize]
			log = append(log, rec...)
			key := keyOf(i)
			if err := b.Put(key[:], e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.WriteFile(path+".log", log, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLegacyStoreUpgrade opens a store of the first format: its index is
// converted and every reply found; new replies go to the same log; Compact
// rewrites the old ones with their keys, after which the log alone gives
// every reply back.
func TestLegacyStoreUpgrade(t *testing.T) {
	const n = 300
	path := filepath.Join(t.TempDir(), "replies.db")
	want := testReplies(n, time.UnixMilli(1.7e12).UTC())
	for i := range want {
		want[i].KeyCheck = KeyCheck{} // the first format keeps none
	}
	writeLegacyStore(t, path, want)
	s := openStore(t, path)
	if got := s.Report().Rebuilt; !strings.Contains(got, "older format") {
		t.Errorf("Rebuilt = %q, want the older format named", got)
	}
	if missing := checkAll(t, s, want, keyOf); missing != 0 {
		t.Errorf("%d of %d old replies not found", missing, n)
	}
	more := testReplies(n+20, time.UnixMilli(1.8e12).UTC())[n:]
	putAll(t, s, len(more), func(i int) Key { return keyOf(n + i) }, more)
	all := append(append([]Reply(nil), want...), more...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Without the index, the old replies cannot be found again: the log
	// does not know their keys.
	lost := copyStore(t, path)
	os.Remove(lost)
	s = openStore(t, lost)
	if got, want := s.Report().Lost, n; got != want {
		t.Errorf("Lost = %d without the old index, want %d", got, want)
	}
	if missing := checkAll(t, s, all, keyOf); missing != n {
		t.Errorf("%d replies missing without the old index, want the %d old ones", missing, n)
	}
	s.Close()

	s = openStore(t, path)
	rep, err := s.Compact()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Replies != len(all) {
		t.Errorf("Compact kept %d replies, want %d", rep.Replies, len(all))
	}
	s.Close()
	os.Remove(path)
	s = openStore(t, path)
	defer s.Close()
	if missing := checkAll(t, s, all, keyOf); missing != 0 {
		t.Errorf("after Compact and without the index, %d of %d replies not found", missing, len(all))
	}
}

// limitedFile is a log on a disk that holds limit bytes of it.
type limitedFile struct {
	*os.File
	mu    sync.Mutex
	limit int64
}

var errNoSpace = &os.PathError{Op: "write", Path: "replies.db.log", Err: syscall.ENOSPC}

func (f *limitedFile) WriteAt(b []byte, off int64) (int, error) {
	f.mu.Lock()
	limit := f.limit
	f.mu.Unlock()
	if off+int64(len(b)) > limit {
		return 0, errNoSpace
	}
	return f.File.WriteAt(b, off)
}

func (f *limitedFile) Truncate(size int64) error {
	if info, err := f.Stat(); err == nil && size > info.Size() && size > f.limit {
		return errNoSpace
	}
	return f.File.Truncate(size)
}

// TestFullDisk fills the disk under the log: setting room aside fails
// before the call that would pay, with a message that names the store and
// says what to free, and every Reserve after it fails too; replies whose
// room was set aside before are still stored, and all are there once
// space is freed.
func TestFullDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replies.db")
	var file *limitedFile
	limit := int64(3 * RoomPerCall)
	defer func(o func(string) (logFile, error)) { openLog = o }(openLog)
	openLog = func(p string) (logFile, error) {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		file = &limitedFile{File: f, limit: limit}
		return file, nil
	}
	s := openStore(t, path)
	want := testReplies(20, time.UnixMilli(1.7e12).UTC())
	var rooms []*Room
	var err error
	for range len(want) {
		var rm *Room
		if rm, err = s.Reserve(); err != nil {
			break
		}
		rooms = append(rooms, rm)
	}
	var we *WriteError
	if !errors.As(err, &we) || !errors.Is(we.Cause(), syscall.ENOSPC) {
		t.Fatalf("Reserve with the disk full: %v, want a WriteError of ENOSPC", err)
	}
	for _, want := range []string{path + ".log", "full", "free space", "cache.path"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not say %q", err, want)
		}
	}
	if errors.Is(err, syscall.ENOSPC) {
		t.Error("the WriteError unwraps to the errno: a retry layer would take it for a network fault")
	}
	limit = 1 << 30
	file.mu.Lock()
	file.limit = limit // space is freed: the store still refuses, the run has stopped
	file.mu.Unlock()
	if _, err := s.Reserve(); err == nil {
		t.Error("a Reserve after a failed one succeeded: the run would go on paying")
	}
	for i, rm := range rooms {
		if err := rm.Put(keyOf(i), &want[i]); err != nil {
			t.Fatalf("Put in room set aside before the disk filled: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	defer s.Close()
	if missing := checkAll(t, s, want[:len(rooms)], keyOf); missing != 0 {
		t.Errorf("%d of %d replies stored in room set aside are missing", missing, len(rooms))
	}
	if _, err := s.Reserve(); err != nil {
		t.Errorf("Reserve after reopening with space: %v", err)
	}
}

// TestIndexWriteFails has the index refuse a commit after the reply's
// record is durable: Put fails and the store takes no more, and the next
// open finds the reply in the log.
func TestIndexWriteFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replies.db")
	s := openStore(t, path)
	want := testReplies(3, time.UnixMilli(1.7e12).UTC())
	if err := s.Put(keyOf(0), &want[0]); err != nil {
		t.Fatal(err)
	}
	// A read-only index file: bbolt's commit fails to write it.
	s.db.Close()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	s.db = db
	if err := s.Put(keyOf(1), &want[1]); err == nil {
		t.Fatal("Put with an index that cannot be written succeeded")
	}
	if _, err := s.Reserve(); err == nil {
		t.Error("Reserve after a failed Put succeeded")
	}
	s.Close()
	s = openStore(t, path)
	defer s.Close()
	if got := s.Report().Reindexed; got != 1 {
		t.Errorf("Reindexed = %d, want 1", got)
	}
	if missing := checkAll(t, s, want[:2], keyOf); missing != 0 {
		t.Errorf("%d of 2 replies missing", missing)
	}
}

// TestSecondOpenerFails opens a store that is open: the second Open fails
// at once with an InUseError naming the store, and succeeds once the first
// one is closed.
func TestSecondOpenerFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replies.db")
	s := openStore(t, path)
	for _, opts := range []Options{{Secret: testSecret, KeepSecret: true}, {Secret: testSecret, MustExist: true}} {
		_, err := Open(path, opts)
		var ie *InUseError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), path) {
			t.Errorf("second Open(%+v): %v, want an InUseError naming %s", opts, err, path)
		}
	}
	s.Close()
	s = openStore(t, path)
	s.Close()
}

// TestPrune stores replies of several ages and opens the store with
// PruneBefore: exactly the older ones are gone, their data is no longer in
// the log, and Compact gives their room back.
func TestPrune(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replies.db")
	day := 24 * time.Hour
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	const n = 300
	want := testReplies(n, now)
	for i := range want {
		want[i].ReceivedAt = now.Add(-time.Duration(i%100) * day) // 0 to 99 days old
		want[i].Data = fmt.Sprintf("payload-%04d-", i) + want[i].Data
	}
	s := reopened(t, path, n, keyOf, want)
	s.Close()
	cut := now.Add(-90 * day)
	old := func(i int) bool { return want[i].ReceivedAt.Before(cut) }
	s, err := Open(path, Options{Secret: testSecret, KeepSecret: true, PruneBefore: cut})
	if err != nil {
		t.Fatal(err)
	}
	wantPruned := 0
	for i := range want {
		if old(i) {
			wantPruned++
		}
	}
	if got := s.Report().Pruned; got != wantPruned || wantPruned == 0 {
		t.Errorf("Pruned = %d, want %d", got, wantPruned)
	}
	for i := range want {
		_, found, err := s.Get(keyOf(i), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if wantFound := map[bool]Found{true: Missing, false: Fresh}[old(i)]; found != wantFound {
			t.Errorf("reply %d, %v old: found %v, want %v", i, now.Sub(want[i].ReceivedAt), found, wantFound)
		}
	}
	if got := s.Count(); got != n-wantPruned {
		t.Errorf("Count() = %d, want %d", got, n-wantPruned)
	}
	s.Close()
	log, err := os.ReadFile(path + ".log")
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if has := bytes.Contains(log, []byte(fmt.Sprintf("payload-%04d-", i))); has == old(i) {
			t.Errorf("reply %d (old %v): in the log %v", i, old(i), has)
		}
	}
	s = openStore(t, path)
	defer s.Close()
	if got := s.Report().Pruned; got != 0 {
		t.Errorf("a second open pruned %d", got)
	}
	rep, err := s.Compact()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Replies != n-wantPruned || rep.BytesAfter >= rep.BytesBefore {
		t.Errorf("Compact: %+v, want %d replies in fewer bytes", rep, n-wantPruned)
	}
	for i := range want {
		if _, found, _ := s.Get(keyOf(i), time.Time{}); (found == Fresh) == old(i) {
			t.Errorf("after Compact, reply %d (old %v): found %v", i, old(i), found)
		}
	}
}

var _ io.ReaderAt = (*limitedFile)(nil)

// TestCompactThenReopen compacts stores with and without a secret check
// and reopens them: the new index checks (no rebuild), and every reply is
// there.
func TestCompactThenReopen(t *testing.T) {
	for _, secret := range [][]byte{testSecret, nil} {
		t.Run(fmt.Sprintf("secret %v", secret != nil), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "replies.db")
			const n = 200
			want := testReplies(n, time.UnixMilli(1.7e12).UTC())
			s, err := Open(path, Options{Secret: secret, KeepSecret: true})
			if err != nil {
				t.Fatal(err)
			}
			putAll(t, s, n, keyOf, want)
			putAll(t, s, n/2, keyOf, want) // replaced: dead records
			if _, err := s.Compact(); err != nil {
				t.Fatal(err)
			}
			if missing := checkAll(t, s, want, keyOf); missing != 0 {
				t.Errorf("after Compact, %d missing", missing)
			}
			s.Close()
			s = openStore(t, path)
			defer s.Close()
			if rep := s.Report(); rep.Rebuilt != "" || rep.Replies != n {
				t.Errorf("reopened after Compact: %+v", rep)
			}
			if missing := checkAll(t, s, want, keyOf); missing != 0 {
				t.Errorf("reopened after Compact, %d missing", missing)
			}
			rep, err := Check(path, time.Now())
			if err == nil {
				t.Fatal("Check of an open store succeeded")
			}
			s.Close()
			if rep, err = Check(path, time.Now()); err != nil || !rep.Healthy() || rep.Whole != n || rep.DeadBytes != 0 {
				t.Errorf("Check after Compact: %+v, %v", rep, err)
			}
		})
	}
}

// TestUnusableStoreFile gives the store a log it cannot open: Open fails
// with a CorruptError naming the file, and changes nothing.
func TestUnusableStoreFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replies.db")
	if err := os.Mkdir(path+".log", 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{Secret: testSecret, KeepSecret: true})
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), path+".log") {
		t.Fatalf("Open with a directory for a log: %v, want a CorruptError naming %s.log", err, path)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an index was made beside an unusable log (%v)", err)
	}
}
