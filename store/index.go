package store

import (
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"
)

// sortedIndex is the store's index read into memory: every key and its
// entry, in key order, as bbolt keeps them. The store reads the whole index
// at open anyway, to check it (see Open), and keeps what it read, so that a
// look-up does not walk bbolt's B+tree, which costs a few cache misses.
// Store keys are HMACs, spread evenly over their range, so the top bits of
// a key tell where it is: a directory by those bits points to one or two
// slots, and a look-up touches the directory (small enough to stay in
// cache) and one slot.
type sortedIndex struct {
	slots []indexSlot // outside the Go heap where it can be: see allocSlots
	free  func()      // gives back the memory of slots
	max   int         // room in slots
	// dir[i] is the first slot whose key's top dirBits bits are i or
	// more; dir[len(dir)-1] is len(slots).
	dir     []uint32
	dirBits uint

	mu       sync.RWMutex
	added    map[Key]entry // entries put or removed (n == 0) since it was read
	anyAdded atomic.Bool   // added is not empty: find locks to look in it
	// stale says more keys were put since the read than added keeps: the
	// index no longer answers, and look-ups go to bbolt again.
	stale atomic.Bool
}

// maxAdded is how many keys put since the read the index keeps. A run
// that pays for many replies after reading the index (a large input, most
// of it new, or older than cache.reuse_within) would otherwise grow added
// by some 50 bytes a reply; past maxAdded, look-ups go back to bbolt, whose
// cost no longer matters beside the vendor's. Tests make it small.
var maxAdded = 1 << 16

// indexSlot is a key, as two big-endian halves, and its entry.
type indexSlot struct {
	hi, lo uint64
	off    int64
	n, sum uint32
}

// newSortedIndex returns an empty index with room for maxEntries.
func newSortedIndex(maxEntries int) *sortedIndex {
	ix := &sortedIndex{max: maxEntries}
	ix.slots, ix.free = allocSlots(maxEntries)
	return ix
}

// append adds the next key, in key order; it reports false when there is
// no more room.
func (ix *sortedIndex) append(key []byte, e entry) bool {
	if len(ix.slots) == ix.max {
		return false
	}
	ix.slots = append(ix.slots, indexSlot{hi: binary.BigEndian.Uint64(key[:8]), lo: binary.BigEndian.Uint64(key[8:]),
		off: e.off, n: e.n, sum: e.sum})
	return true
}

// finish builds the directory once every key is in.
func (ix *sortedIndex) finish() {
	// About one directory entry per slot: 4 bytes each next to the
	// slots' 32, and one slot or two to look at per look-up.
	ix.dirBits = uint(max(1, bits.Len(uint(len(ix.slots)))-1))
	ix.dir = make([]uint32, 1<<ix.dirBits+1)
	next := 0
	for i, s := range ix.slots {
		for top := int(s.hi >> (64 - ix.dirBits)); next <= top; next++ {
			ix.dir[next] = uint32(i)
		}
	}
	for ; next < len(ix.dir); next++ {
		ix.dir[next] = uint32(len(ix.slots))
	}
}

// find returns the entry of key.
func (ix *sortedIndex) find(key *Key) (entry, bool) {
	if ix.anyAdded.Load() { // no lock for a run that puts nothing
		ix.mu.RLock()
		e, found := ix.added[*key]
		ix.mu.RUnlock()
		if found {
			return e, e.n > 0
		}
	}
	return ix.findSorted(key)
}

// findSorted returns the entry of key as it was when the index was read.
func (ix *sortedIndex) findSorted(key *Key) (entry, bool) {
	hi, lo := binary.BigEndian.Uint64(key[:8]), binary.BigEndian.Uint64(key[8:])
	top := hi >> (64 - ix.dirBits)
	for _, s := range ix.slots[ix.dir[top]:ix.dir[top+1]] {
		switch c := compareKey(s.hi, s.lo, hi, lo); {
		case c == 0:
			return entry{off: s.off, n: s.n, sum: s.sum}, true
		case c > 0:
			return entry{}, false
		}
	}
	return entry{}, false
}

// add records an entry put in the store since the index was read, or
// removed (e.n == 0); past maxAdded keys, it makes the index stale.
func (ix *sortedIndex) add(key *Key, e entry) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.stale.Load() {
		return
	}
	if _, again := ix.added[*key]; !again && len(ix.added) >= maxAdded {
		ix.stale.Store(true)
		ix.added = nil
		return
	}
	if ix.added == nil {
		ix.added = map[Key]entry{}
	}
	ix.added[*key] = e
	ix.anyAdded.Store(true)
}

// compareKey orders keys given as big-endian halves, as bytes.Compare
// orders their bytes.
func compareKey(ahi, alo, bhi, blo uint64) int {
	switch {
	case ahi < bhi:
		return -1
	case ahi > bhi:
		return 1
	case alo < blo:
		return -1
	case alo > blo:
		return 1
	}
	return 0
}
