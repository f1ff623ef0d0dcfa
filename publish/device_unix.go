//go:build unix

package publish

import (
	"os"
	"syscall"
)

// otherDevice reports whether dir is on another device than parent: a
// mount point (bind mounts of one file system excepted).
func otherDevice(dir, parent string) (bool, error) {
	a, err := os.Stat(dir)
	if err != nil {
		return false, err
	}
	b, err := os.Stat(parent)
	if err != nil {
		return false, err
	}
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev != sb.Dev, nil
}
