package store

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// indexKeys returns n distinct keys in order: random ones, and keys at the
// ends of the range and sharing their first half, where a directory by the
// top bits is most easily wrong.
func indexKeys(n int, rng *rand.Rand) []Key {
	edges := []Key{
		{},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80},
		{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1, 1, 1, 1, 1, 1, 1, 1},
		{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	}
	seen := map[Key]bool{}
	var keys []Key
	for _, k := range edges[:min(n, len(edges))] {
		keys, seen[k] = append(keys, k), true
	}
	for len(keys) < n {
		var k Key
		binary.BigEndian.PutUint64(k[:8], rng.Uint64())
		binary.BigEndian.PutUint64(k[8:], rng.Uint64())
		if !seen[k] {
			keys, seen[k] = append(keys, k), true
		}
	}
	slices.SortFunc(keys, func(a, b Key) int { return compareKeys(a, b) })
	return keys
}

func compareKeys(a, b Key) int {
	return compareKey(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]))
}

// neighbour returns key with its second half plus or minus one (wrapping
// around within that half).
func neighbour(key Key, up bool) Key {
	v := binary.BigEndian.Uint64(key[8:])
	if up {
		v++
	} else {
		v--
	}
	binary.BigEndian.PutUint64(key[8:], v)
	return key
}

func TestSortedIndex(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 5, 6, 100, 5000} {
		t.Run(fmt.Sprint(n, " keys"), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(n), 7))
			keys := indexKeys(n, rng)
			entryOf := func(k Key) entry { // any entry tied to the key
				return entry{off: int64(binary.BigEndian.Uint32(k[4:])), n: binary.BigEndian.Uint32(k[8:]) | 1, sum: binary.BigEndian.Uint32(k[12:])}
			}
			ix := newSortedIndex(n)
			defer ix.free()
			for _, k := range keys {
				if !ix.append(k[:], entryOf(k)) {
					t.Fatalf("no room for %d keys in an index made for %d", len(ix.slots)+1, n)
				}
			}
			if ix.append(make([]byte, KeySize), entry{}) {
				t.Errorf("append past the room made for %d keys succeeded", n)
			}
			ix.finish()
			present := map[Key]bool{}
			for _, k := range keys {
				present[k] = true
				if got, ok := ix.find(&k); !ok || got != entryOf(k) {
					t.Errorf("find(%x) = %+v, %v; want %+v, true", k, got, ok, entryOf(k))
				}
			}
			var misses []Key
			for _, k := range keys {
				misses = append(misses, neighbour(k, true), neighbour(k, false))
			}
			misses = append(misses, indexKeys(20, rand.New(rand.NewPCG(99, uint64(n))))...)
			for _, k := range misses {
				if present[k] {
					continue
				}
				if got, ok := ix.find(&k); ok {
					t.Errorf("find(%x) = %+v, true; want not found", k, got)
				}
			}

			// Entries put later: a new key, and a key kept before, again;
			// then one removed.
			added := indexKeys(n+1, rng)[n]
			for present[added] {
				added = neighbour(added, true)
			}
			again := added
			if n > 0 {
				again = keys[n/2]
			}
			later := entry{off: 1, n: 2, sum: 3}
			for _, k := range []Key{added, again, added} {
				ix.add(&k, later)
			}
			for _, k := range []Key{added, again} {
				if got, ok := ix.find(&k); !ok || got != later {
					t.Errorf("after add, find(%x) = %+v, %v; want the added entry", k, got, ok)
				}
			}
			ix.add(&again, entry{})
			if got, ok := ix.find(&again); ok {
				t.Errorf("after removal, find(%x) = %+v, true; want not found", again, got)
			}
		})
	}
}

// TestStoreIndexGoesStale puts more replies into a reopened store than the
// index in memory keeps beside it: it goes stale, look-ups go back to
// bbolt, and the answers, overwritten replies included, and the count stay
// right all the way.
func TestStoreIndexGoesStale(t *testing.T) {
	defer func(m int) { maxAdded = m }(maxAdded)
	maxAdded = 10
	const n, puts = 3000, 25
	at := time.UnixMilli(1.7e12).UTC()
	keys := indexKeys(n+puts, rand.New(rand.NewPCG(5, 6)))
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	want := make([]Reply, n+puts)
	for i := range want {
		want[i] = Reply{Product: "JRZQ9E2A", TransactionID: fmt.Sprint("T", i), Data: fmt.Sprint("data ", i), ReceivedAt: at}
	}
	path := filepath.Join(t.TempDir(), "replies.db")
	s := reopened(t, path, n, func(i int) Key { return keys[i] }, want)
	defer s.Close()
	ix := s.mem
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
			if got, found, err := s.Get(keys[j], time.Time{}); err != nil || found != Fresh || got != want[j] {
				t.Fatalf("after %d Puts, reply %d: got %+v, %v, %v; want %+v", step+1, j, got, found, err, want[j])
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
		if got, found, err := s.Get(keys[i], time.Time{}); err != nil || found != Fresh || got != want[i] {
			t.Fatalf("reply %d: got %+v, %v, %v; want %+v", i, got, found, err, want[i])
		}
	}
	if got := s.Count(); got != n+puts {
		t.Errorf("Count() = %d, want %d", got, n+puts)
	}
}
