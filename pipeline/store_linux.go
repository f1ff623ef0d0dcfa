package pipeline

import (
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releaseMappedIndex tells the kernel that the pages of the index file
// mapped into memory need not stay resident: once the index is read into
// memory, bbolt's mapping is touched again only to write, and its pages,
// about 84 bytes a reply, would otherwise count in the run's memory until
// the end. The mapping is shared and read-only, so the pages stay in the
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
