package publish

import (
	"errors"

	"golang.org/x/sys/unix"
)

// errNoExchange says the file system cannot exchange two names in one
// rename.
var errNoExchange = errors.New("the file system cannot exchange two folders in one rename")

// exchange swaps the folders a and b in one rename: at every instant each
// name holds one of the two, whole.
func exchange(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
		return errNoExchange // NFS, CIFS, FUSE and other file systems without it
	}
	return err
}

// isMountRoot reports whether dir is the root of a mount (a mount point).
func isMountRoot(dir, parent string) (bool, error) {
	var st unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &st)
	if err != nil {
		return false, err
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 { // Linux 5.8 and later
		return st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
	}
	return otherDevice(dir, parent)
}
