package publish

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// lock is the lock of an output folder: a file beside the folder, locked
// while a run holds it and removed when the run releases it. It lives
// beside the folder, not in it, so that it stays put when the folder is
// swapped.
type lock struct {
	file *os.File
	path string
}

// acquire takes the lock at path for the output folder dir, or fails at
// once with a *LockedError. The lock file is removed on release, so a run
// that locked a file which another run has removed since tries again with
// the file now at path.
func acquire(path, dir string) (*lock, error) {
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if err := lockFile(f); err != nil {
			f.Close()
			if err == errHeld {
				holder, _ := os.ReadFile(path)
				return nil, &LockedError{Dir: dir, Holder: strings.TrimSpace(string(holder))}
			}
			return nil, err
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			host, _ := os.Hostname()
			_ = f.Truncate(0)
			_, _ = fmt.Fprintf(f, "pid %d on %s since %s\n", os.Getpid(), host, time.Now().Format(time.RFC3339))
			return &lock{file: f, path: path}, nil
		}
		f.Close() // removed by the run that held it: try the new one
	}
	return nil, fmt.Errorf("lock %s: it keeps being replaced", path)
}

// release removes the lock file, while still holding it, and unlocks it.
func (l *lock) release() {
	if l == nil || l.file == nil {
		return
	}
	_ = os.Remove(l.path)
	_ = l.file.Close() // closing the last descriptor unlocks
	l.file = nil
}
