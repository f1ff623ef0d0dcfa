package store

import (
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// sortedIndex is the reply store's index read into memory: every key and
// its entry, in key order, as bbolt keeps them. A run that looks up many
// replies reads it once instead of walking bbolt's B+tree for each, which
// cost a few cache misses per look-up. Store keys are HMACs, spread evenly
// over their range, so the top bits of a key tell where it is: a directory
// by those bits points to one or two slots, and a look-up touches the
// directory (small enough to stay in cache) and one slot.
type sortedIndex struct {
	slots []indexSlot // outside the Go heap where it can be: see allocSlots
	free  func()      // gives back the memory of slots
	// dir[i] is the first slot whose key's top dirBits bits are i or
	// more; dir[len(dir)-1] is len(slots).
	dir     []uint32
	dirBits uint

	mu       sync.RWMutex
	added    map[[KeySize]byte][entrySize]byte // entries put since it was read
	new      int                               // keys of added not in slots
	anyAdded atomic.Bool                       // something was added: find locks to look in added
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

// readBatch is how many entries readSortedIndex reads between two calls of
// readSome: bbolt keeps about 50 in a page, so some 5 MB of its mapping.
// Tests make it small.
var readBatch = 1 << 16

// indexSlot is a key, as two big-endian halves, and its entry.
type indexSlot struct {
	hi, lo uint64
	entry  [entrySize]byte
}

// readSortedIndex reads the index bucket into memory. maxEntries is the
// most entries the bucket can hold; should it hold more, readSortedIndex
// returns nil, and look-ups stay with bbolt. It calls readSome after every
// readBatch entries: the pages of bbolt's mapping read so far need not
// stay resident.
func readSortedIndex(b *bolt.Bucket, maxEntries int, readSome func()) *sortedIndex {
	ix := &sortedIndex{}
	ix.slots, ix.free = allocSlots(maxEntries)
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != KeySize || len(v) != entrySize {
			continue // not a reply: lookup would not find it either
		}
		if len(ix.slots) == maxEntries {
			ix.free()
			return nil
		}
		if len(ix.slots)%readBatch == readBatch-1 {
			readSome()
		}
		s := indexSlot{hi: binary.BigEndian.Uint64(k[:8]), lo: binary.BigEndian.Uint64(k[8:])}
		copy(s.entry[:], v)
		ix.slots = append(ix.slots, s)
	}
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
	return ix
}

// find returns the entry of key.
func (ix *sortedIndex) find(key []byte) (entry [entrySize]byte, found bool) {
	if len(key) != KeySize {
		return entry, false
	}
	if ix.anyAdded.Load() { // no lock for a run that puts nothing
		ix.mu.RLock()
		entry, found = ix.added[[KeySize]byte(key)]
		ix.mu.RUnlock()
		if found {
			return entry, true
		}
	}
	return ix.findSorted(key)
}

// findSorted returns the entry of key as it was when the index was read.
func (ix *sortedIndex) findSorted(key []byte) (entry [entrySize]byte, found bool) {
	hi, lo := binary.BigEndian.Uint64(key[:8]), binary.BigEndian.Uint64(key[8:])
	top := hi >> (64 - ix.dirBits)
	for _, s := range ix.slots[ix.dir[top]:ix.dir[top+1]] {
		switch c := compareKey(s.hi, s.lo, hi, lo); {
		case c == 0:
			return s.entry, true
		case c > 0:
			return entry, false
		}
	}
	return entry, false
}

// add records an entry put in the store since the index was read, or, past
// maxAdded keys, makes the index stale.
func (ix *sortedIndex) add(key []byte, entry [entrySize]byte) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.stale.Load() {
		return
	}
	if ix.added == nil {
		ix.added = map[[KeySize]byte][entrySize]byte{}
	}
	k := [KeySize]byte(key)
	if _, again := ix.added[k]; !again {
		if len(ix.added) >= maxAdded {
			ix.stale.Store(true)
			ix.added = nil
			return
		}
		if _, kept := ix.findSorted(key); !kept {
			ix.new++
		}
	}
	ix.added[k] = entry
	ix.anyAdded.Store(true)
}

// count returns how many keys the store holds.
func (ix *sortedIndex) count() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.slots) + ix.new
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
