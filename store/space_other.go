//go:build !linux

package store

// allocate makes the log f size bytes long, the new room written with
// zeros: a write into it later needs no more space, so a full disk is found
// here, before a reply is paid for, rather than after.
func allocate(f logFile, from, size int64) error {
	return writeZeros(f, from, size)
}

// punch replaces n bytes of the log at off with zeros.
func punch(f logFile, off, n int64) error {
	return writeZeros(f, off, off+n)
}
