package store

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrNotFound is returned by Open with Options.MustExist when there is no
// store at the path.
var ErrNotFound = errors.New("no reply store")

// SecretError says the store was filled with another identity secret: with
// the one given, none of its replies would be found, and every row would
// be paid for again.
type SecretError struct {
	Path string
}

func (e *SecretError) Error() string {
	return fmt.Sprintf("the reply store %s was filled with another identity secret: "+
		"with this one none of its replies would be found and every row would be paid for again; use the secret the store "+
		"was filled with (identity.secret_file or SCOREPIPE_IDENTITY_SECRET), or another cache.path", e.Path)
}

// InUseError says another process has the store open: one writer at a
// time.
type InUseError struct {
	Path string
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("the reply store %s is in use by another scorepipe process (a run, plan or store command): "+
		"wait for it to finish and start again, or use another store (cache.path)", e.Path)
}

// CorruptError says a store file cannot be used as it is and could not be
// rebuilt: nothing was paid for, and nothing was written.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("the reply store file %s is unusable (%v): run scorepipe store check, then scorepipe store repair; "+
		"or move the store aside (a new one pays for every reply again)", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// WriteError says the store could not write: the disk is full, a quota or
// a file size limit is reached, or the disk failed. Once a write failed,
// the store takes no more replies (Reserve fails), so that no reply is paid
// for that could not be kept.
//
// It does not unwrap to the system's error: a caller that sorts errors by
// what they wrap would take an errno for a network fault and retry, and a
// retry is a new paid call. Cause gives it.
type WriteError struct {
	Path string // the file
	Op   string // what was being done: "set aside room in", "write", "sync", …
	Err  error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("the reply store could not %s %s: %v; %s", e.Op, e.Path, e.Err, writeAdvice(e.Err))
}

// elsewhere ends every piece of advice of writeAdvice.
const elsewhere = "or move the store elsewhere (cache.path or SCOREPIPE_STATE_DIR)"

// writeAdvice says what to do about a write the system refused, by its
// errno: a full disk or quota wants free space, a read-only file system a
// writable one, a refused permission the owner's or mode's fix.
func writeAdvice(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return "check the disk that holds it, " + elsewhere
	}
	switch errno {
	case syscall.ENOSPC:
		return "the disk that holds it is full: free space there, " + elsewhere
	case syscall.EDQUOT:
		return "the disk quota is reached: free space in it, " + elsewhere
	case syscall.EFBIG:
		return "the file size limit is reached (ulimit -f): raise it, " + elsewhere
	case syscall.EROFS:
		return "the file system that holds it is read-only: mount it read-write, " + elsewhere
	case syscall.EACCES, syscall.EPERM:
		return "this user may not write there: fix the owner or the permissions of the file and its folder, " + elsewhere
	case syscall.EIO:
		return "the disk failed: check it (the system log tells), " + elsewhere
	}
	return "check the disk that holds it, " + elsewhere
}

// writeRefused reports whether err is the system refusing to write (full
// disk or quota, read-only file system, no permission): not a damaged
// store.
func writeRefused(err error) bool {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EACCES, syscall.EPERM} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// Cause returns the system's error.
func (e *WriteError) Cause() error { return e.Err }
