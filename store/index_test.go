package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"
)

// indexKeys returns n distinct keys: random ones, and keys at the ends of
// the range and sharing their first half, where a directory by the top
// bits is most easily wrong.
func indexKeys(n int, rng *rand.Rand) [][]byte {
	edges := [][]byte{
		bytes.Repeat([]byte{0}, KeySize),
		bytes.Repeat([]byte{0xff}, KeySize),
		append(bytes.Repeat([]byte{0x80}, 8), bytes.Repeat([]byte{0}, 8)...),
		append(bytes.Repeat([]byte{0x80}, 8), bytes.Repeat([]byte{1}, 8)...),
		append(bytes.Repeat([]byte{0x80}, 8), bytes.Repeat([]byte{0xff}, 8)...),
	}
	seen := map[string]bool{}
	var keys [][]byte
	for _, k := range edges[:min(n, len(edges))] {
		keys, seen[string(k)] = append(keys, k), true
	}
	for len(keys) < n {
		k := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, rng.Uint64()), rng.Uint64())
		if !seen[string(k)] {
			keys, seen[string(k)] = append(keys, k), true
		}
	}
	return keys
}

// neighbour returns key with its second half plus or minus one (wrapping
// around within that half).
func neighbour(key []byte, up bool) []byte {
	v := binary.BigEndian.Uint64(key[8:])
	if up {
		v++
	} else {
		v--
	}
	return binary.BigEndian.AppendUint64(slices.Clone(key[:8]), v)
}

func TestSortedIndex(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 5, 6, 100, 5000} {
		t.Run(fmt.Sprint(n, " keys"), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(n), 7))
			keys := indexKeys(n, rng)
			db, err := bolt.Open(filepath.Join(t.TempDir(), "index.db"), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			entryOf := func(k []byte) (e [entrySize]byte) {
				copy(e[:], k[4:]) // any 16 bytes tied to the key
				e[0] ^= 0x5a
				return e
			}
			err = db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket(indexBucket)
				if err != nil {
					return err
				}
				for _, k := range keys {
					e := entryOf(k)
					if err := b.Put(k, e[:]); err != nil {
						return err
					}
				}
				return b.Put([]byte("short"), []byte("not an entry")) // skipped
			})
			if err != nil {
				t.Fatal(err)
			}
			defer func(b int) { readBatch = b }(readBatch)
			readBatch = 100
			var ix, short *sortedIndex
			reads := 0
			db.View(func(tx *bolt.Tx) error {
				ix = readSortedIndex(tx.Bucket(indexBucket), int(tx.Size()/minEntryBytes), func() { reads++ })
				if n > 0 {
					short = readSortedIndex(tx.Bucket(indexBucket), n-1, func() {})
				}
				return nil
			})
			if ix == nil {
				t.Fatalf("readSortedIndex with the file's bound = nil")
			}
			defer ix.free()
			if short != nil {
				t.Errorf("readSortedIndex with room for %d of %d entries = %d slots, want nil", n-1, n, len(short.slots))
			}
			if want := n / readBatch; reads < want {
				t.Errorf("readSome called %d times for %d entries, want %d or more", reads, n, want)
			}
			if got := ix.count(); got != n {
				t.Errorf("count() = %d, want %d", got, n)
			}
			present := map[string]bool{}
			for _, k := range keys {
				present[string(k)] = true
				if got, ok := ix.find(k); !ok || got != entryOf(k) {
					t.Errorf("find(%x) = %x, %v; want %x, true", k, got, ok, entryOf(k))
				}
			}
			var misses [][]byte
			for _, k := range keys {
				misses = append(misses, neighbour(k, true), neighbour(k, false))
			}
			misses = append(misses, indexKeys(20, rand.New(rand.NewPCG(99, uint64(n))))...)
			for _, k := range misses {
				if present[string(k)] {
					continue
				}
				if got, ok := ix.find(k); ok {
					t.Errorf("find(%x) = %x, true; want not found", k, got)
				}
			}
			if _, ok := ix.find([]byte("short")); ok {
				t.Error("find(short key) found an entry")
			}

			// Entries put later: a new key, and a key kept before, again.
			added := indexKeys(n+1, rng)[n]
			for present[string(added)] {
				added = neighbour(added, true)
			}
			again := added
			if n > 0 {
				again = keys[n/2]
			}
			for _, k := range [][]byte{added, again, added} {
				ix.add(k, [entrySize]byte{1, 2, 3})
			}
			for _, k := range [][]byte{added, again} {
				if got, ok := ix.find(k); !ok || got != [entrySize]byte{1, 2, 3} {
					t.Errorf("after add, find(%x) = %x, %v; want the added entry", k, got, ok)
				}
			}
			if got := ix.count(); got != n+1 {
				t.Errorf("after add, count() = %d, want %d", got, n+1)
			}
		})
	}
}

// TestStoreReadsIndexIntoMemory reopens a store and looks up every reply
// in it: after enough look-ups the index is read into memory, and the
// answers, the misses, later Puts and the count are those bbolt gives.
func TestStoreReadsIndexIntoMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replies.db")
	secret := []byte("0123456789abcdef")
	const n = 3000
	at := time.UnixMilli(1.7e12).UTC()
	keys := indexKeys(n, rand.New(rand.NewPCG(1, 2)))
	want := make([]Reply, n)
	present := map[string]bool{}
	for i, k := range keys {
		present[string(k)] = true
		want[i] = Reply{Product: "JRZQ9E2A", TransactionID: fmt.Sprint("T", i), Data: fmt.Sprint("data ", i), ReceivedAt: at}
	}
	s := reopenedStore(t, path, secret, n, func(_ *Store, i int) []byte { return keys[i] }, want)
	defer func(b int) { readBatch = b }(readBatch)
	readBatch = 50 // bbolt's pages are let go many times while the index is read
	for i := range n {
		j := (i * 1543) % n
		if i == minLookupsBeforeRead-1 && s.mem.Load() != nil {
			t.Fatalf("the index was read after %d look-ups, want %d", i, minLookupsBeforeRead)
		}
		got, ok, err := s.Get(keys[j], time.Time{})
		if err != nil || !ok || *got != want[j] {
			t.Fatalf("look-up %d, reply %d: got %+v, %v, %v; want %+v", i, j, got, ok, err, want[j])
		}
	}
	if s.mem.Load() == nil {
		t.Fatalf("the index is not in memory after %d look-ups", n)
	}
	for _, k := range keys[:50] {
		if k = neighbour(k, true); present[string(k)] {
			continue
		}
		if got, ok, err := s.Get(k, time.Time{}); ok || err != nil {
			t.Errorf("Get(a key never put) = %+v, %v, %v; want not found", got, ok, err)
		}
	}
	if got, err := s.Count(); err != nil || got != n {
		t.Errorf("Count() = %d, %v; want %d", got, err, n)
	}

	fresh := Reply{Product: "JRZQ9E2A", TransactionID: "T-new", Data: "new", ReceivedAt: at.Add(time.Hour)}
	newKey := neighbour(keys[7], true)
	for present[string(newKey)] {
		newKey = neighbour(newKey, true)
	}
	for _, k := range [][]byte{newKey, keys[8]} {
		if err := s.Put(k, &fresh); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := s.Get(k, time.Time{}); err != nil || !ok || *got != fresh {
			t.Errorf("Get after Put(%x) = %+v, %v, %v; want %+v", k, got, ok, err, fresh)
		}
	}
	if got, err := s.Count(); err != nil || got != n+1 {
		t.Errorf("Count() after two Puts, one of a kept key = %d, %v; want %d", got, err, n+1)
	}
	s.Close()
	ro, err := OpenReadOnly(path, secret)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got, err := ro.Count(); err != nil || got != n+1 {
		t.Errorf("bbolt's Count() = %d, %v; want %d", got, err, n+1)
	}
}

// TestStoreExpect tells a reopened store how many look-ups are coming: when
// they are enough, the index is read into memory before any look-up, while
// look-ups and Puts go on beside the read, and Close waits for it.
func TestStoreExpect(t *testing.T) {
	const n = 3000
	at := time.UnixMilli(1.7e12).UTC()
	keys := indexKeys(n+200, rand.New(rand.NewPCG(3, 4)))
	want := make([]Reply, n+200)
	for i := range want {
		want[i] = Reply{Product: "JRZQ9E2A", TransactionID: fmt.Sprint("T", i), Data: fmt.Sprint("data ", i), ReceivedAt: at}
	}
	tests := []struct {
		name       string
		expect     int
		concurrent bool // look up every reply and put 200 new ones while the index may be read
		closeNow   bool // close the store right after Expect
		wantRead   bool // checked unless concurrent or closed
	}{
		{"fewer look-ups than a read repays", minLookupsBeforeRead - 1, false, false, false},
		{"enough look-ups: read before any", n, false, false, true},
		{"read beside look-ups and Puts", n, true, false, false},
		{"closed while reading", n, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func(b int) { readBatch = b }(readBatch)
			readBatch = 50 // bbolt's pages are let go many times while the index is read
			path := filepath.Join(t.TempDir(), "replies.db")
			s := reopenedStore(t, path, []byte("0123456789abcdef"), n, func(_ *Store, i int) []byte { return keys[i] }, want)
			s.Expect(tt.expect)
			if tt.closeNow {
				if err := s.Close(); err != nil {
					t.Fatalf("Close() = %v", err)
				}
				if s.mem.Load() != nil {
					t.Errorf("an index in memory after Close: the read outlived it")
				}
				return
			}
			defer s.Close()
			puts := 0
			if tt.concurrent {
				puts = 200
				var g errgroup.Group
				g.SetLimit(8)
				for i := range n + puts {
					g.Go(func() error {
						if i >= n {
							return s.Put(keys[i], &want[i])
						}
						got, ok, err := s.Get(keys[i], time.Time{})
						if err != nil || !ok || *got != want[i] {
							return fmt.Errorf("reply %d: got %+v, %v, %v; want %+v", i, got, ok, err, want[i])
						}
						return nil
					})
				}
				if err := g.Wait(); err != nil {
					t.Fatal(err)
				}
			}
			s.reading.Wait()
			// Beside Puts, either may come first: a Put that begins before
			// the read stops it, so only the answers are checked.
			if got := s.mem.Load() != nil; !tt.concurrent && got != tt.wantRead {
				t.Fatalf("index in memory: got %v, want %v", got, tt.wantRead)
			}
			for i := range n + puts {
				got, ok, err := s.Get(keys[i], time.Time{})
				if err != nil || !ok || *got != want[i] {
					t.Fatalf("reply %d: got %+v, %v, %v; want %+v", i, got, ok, err, want[i])
				}
			}
			if got, err := s.Count(); err != nil || got != n+puts {
				t.Errorf("Count() = %d, %v; want %d", got, err, n+puts)
			}
		})
	}
}

// TestStoreIndexGoesStale puts more new replies after the index was read
// than it keeps beside it: it stops answering, look-ups go to bbolt, and
// every answer, the overwritten ones too, and the count stay right.
func TestStoreIndexGoesStale(t *testing.T) {
	defer func(m int) { maxAdded = m }(maxAdded)
	maxAdded = 10
	const n, puts = 3000, 25
	at := time.UnixMilli(1.7e12).UTC()
	keys := indexKeys(n+puts, rand.New(rand.NewPCG(5, 6)))
	want := make([]Reply, n+puts)
	for i := range want {
		want[i] = Reply{Product: "JRZQ9E2A", TransactionID: fmt.Sprint("T", i), Data: fmt.Sprint("data ", i), ReceivedAt: at}
	}
	s := reopenedStore(t, filepath.Join(t.TempDir(), "replies.db"), []byte("0123456789abcdef"), n, func(_ *Store, i int) []byte { return keys[i] }, want)
	defer s.Close()
	s.Expect(n)
	s.reading.Wait()
	ix := s.mem.Load()
	if ix == nil {
		t.Fatal("the index was not read")
	}
	// Overwrite five kept replies, then put new ones, checking all the way.
	order := []int{0, 1, 2, 3, 4}
	for i := n; i < n+puts; i++ {
		order = append(order, i)
	}
	for step, i := range order {
		want[i] = Reply{Product: "JRZQ9E2A", TransactionID: fmt.Sprint("T-new", i), Data: fmt.Sprint("new ", i), ReceivedAt: at.Add(time.Hour)}
		if err := s.Put(keys[i], &want[i]); err != nil {
			t.Fatal(err)
		}
		if got, wantStale := ix.stale.Load(), step+1 > maxAdded; got != wantStale {
			t.Fatalf("after %d Puts: stale %v, want %v", step+1, got, wantStale)
		}
		for _, j := range []int{i, 0, 7, n - 1} {
			if got, ok, err := s.Get(keys[j], time.Time{}); err != nil || !ok || *got != want[j] {
				t.Fatalf("after %d Puts, reply %d: got %+v, %v, %v; want %+v", step+1, j, got, ok, err, want[j])
			}
		}
	}
	ix.mu.RLock()
	kept := len(ix.added)
	ix.mu.RUnlock()
	if kept != 0 {
		t.Errorf("a stale index keeps %d added keys, want 0", kept)
	}
	for i := range want {
		if got, ok, err := s.Get(keys[i], time.Time{}); err != nil || !ok || *got != want[i] {
			t.Fatalf("reply %d: got %+v, %v, %v; want %+v", i, got, ok, err, want[i])
		}
	}
	if got, err := s.Count(); err != nil || got != n+puts {
		t.Errorf("Count() = %d, %v; want %d", got, err, n+puts)
	}
}
