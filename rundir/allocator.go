package rundir

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// reusingAllocator is a memory.Allocator that keeps the buffers released
// to it, by power-of-two capacity, and hands them out again: the Parquet
// reader makes the same buffers for every batch and row group, which would
// otherwise be garbage (and resident memory until the collector runs).
// Allocations are zeroed, as Arrow expects; buffers larger than
// 1<<maxReusedShift bytes are neither kept nor reused.
type reusingAllocator struct {
	mu   sync.Mutex
	free [maxReusedShift + 1][][]byte // by log2 of capacity
}

const (
	minReusedShift = 6 // 64 bytes, the alignment Arrow's allocators give
	maxReusedShift = 24
)

func sizeShift(n int) int { return max(minReusedShift, bits.Len(uint(n-1))) }

// Allocate returns a zeroed buffer of size bytes.
func (a *reusingAllocator) Allocate(size int) []byte {
	k := sizeShift(size)
	if k > maxReusedShift {
		return make([]byte, size)
	}
	a.mu.Lock()
	if n := len(a.free[k]); n > 0 {
		b := a.free[k][n-1]
		a.free[k][n-1] = nil
		a.free[k] = a.free[k][:n-1]
		a.mu.Unlock()
		b = b[:size]
		clear(b)
		return b
	}
	a.mu.Unlock()
	return make([]byte, size, 1<<k) // a power of two from 64 bytes up is 64-byte aligned
}

// Reallocate returns b resized to size bytes, its bytes kept and any new
// ones zeroed.
func (a *reusingAllocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		if size > len(b) {
			clear(b[len(b):size])
		}
		return b[:size]
	}
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

// Free keeps b for a later allocation.
func (a *reusingAllocator) Free(b []byte) {
	k := sizeShift(cap(b))
	if k > maxReusedShift || cap(b) != 1<<k {
		return
	}
	a.mu.Lock()
	a.free[k] = append(a.free[k], b[:0])
	a.mu.Unlock()
}

var _ memory.Allocator = (*reusingAllocator)(nil)
