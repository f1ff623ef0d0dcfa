//go:build unix

package audit

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock on the lock file at path (created mode
// 0600) without waiting: another holder gives an *InUseError. The kernel
// releases it when the process dies, however it dies.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, &WriteError{Path: path, Op: "create the lock", Err: err}
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, unix.EWOULDBLOCK):
		f.Close()
		return nil, &InUseError{Path: path[:len(path)-len(".lock")]}
	}
	f.Close()
	return nil, &WriteError{Path: path, Op: "lock", Err: err}
}
