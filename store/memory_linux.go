package store

import (
	"unsafe"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releaseMappedIndex tells the kernel that the pages of the index file
// mapped into memory need not stay resident: while and once the index is
// read into memory, the pages read so far are not needed again but to
// write, and they, about 84 bytes a reply, would otherwise count in the
// run's memory until the end. The mapping is shared and read-only, so the pages stay in the
// page cache and a later access reads them back. size is the length of the
// mapped data (tx.Size()).
func releaseMappedIndex(db *bolt.DB, size int64) {
	info := db.Info()
	size -= size % int64(unix.Getpagesize())
	if size <= 0 {
		return
	}
	// Advice only: an error changes nothing but the memory figure.
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, info.Data, uintptr(size), unix.MADV_DONTNEED)
}

// allocSlots returns room for n index slots outside the Go heap, in an
// anonymous mapping, and the function that unmaps it. In the heap, the
// index would count twice in the run's memory, as the garbage collector
// lets the heap grow by as much as it holds before it collects; out of
// it, a slot costs its 32 bytes, and only the pages written to are
// resident, so n may be an upper bound. It falls back to the heap when the
// mapping fails.
func allocSlots(n int) ([]indexSlot, func()) {
	size := n * int(unsafe.Sizeof(indexSlot{}))
	if size == 0 {
		return nil, func() {}
	}
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]indexSlot, 0, n), func() {}
	}
	// indexSlot holds no pointers: the collector need not see it.
	slots := unsafe.Slice((*indexSlot)(unsafe.Pointer(&mem[0])), n)[:0]
	return slots, func() { _ = unix.Munmap(mem) }
}
