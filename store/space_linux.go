package store

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// allocate makes the log f size bytes long, the new room zeros and, where
// the file system can, given its blocks now (fallocate): a write into it
// later needs no more space, so a full disk is found here, before a reply
// is paid for, rather than after.
func allocate(f logFile, from, size int64) error {
	if file, ok := f.(*os.File); ok {
		err := unix.Fallocate(int(file.Fd()), 0, from, size-from)
		if err == nil || !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.ENODEV) {
			return err
		}
	}
	return writeZeros(f, from, size)
}

// punch replaces n bytes of the log at off with zeros and gives their
// blocks back to the file system where it can.
func punch(f logFile, off, n int64) error {
	if file, ok := f.(*os.File); ok {
		err := unix.Fallocate(int(file.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
		if err == nil || !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.ENODEV) {
			return err
		}
	}
	return writeZeros(f, off, off+n)
}
