package sinks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// AtomicFile is a file written under a temporary name in the directory of its
// final name, and renamed to the final name only by Commit, after a sync.
// A reader never sees a partial file under the final name.
type AtomicFile struct {
	*os.File
	final string
	done  bool
}

// CreateAtomic creates the temporary file for final. The directory must exist.
func CreateAtomic(final string) (*AtomicFile, error) {
	dir, base := filepath.Split(final)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", final, err)
	}
	if err := f.Chmod(os.FileMode(fileMode)); err != nil { // CreateTemp makes 0600; outputs are for the owner's group
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", final, err)
	}
	return &AtomicFile{File: f, final: final}, nil
}

// Final returns the name the file gets on Commit.
func (a *AtomicFile) Final() string { return a.final }

// Commit syncs and closes the temporary file, renames it to the final name
// and syncs the directory, so that the rename survives a crash.
func (a *AtomicFile) Commit() error {
	if a.done {
		return fmt.Errorf("commit %s: already finished", a.final)
	}
	a.done = true
	if err := a.File.Sync(); err != nil {
		a.discard()
		return fmt.Errorf("write %s: %w", a.final, err)
	}
	if err := a.File.Close(); err != nil {
		_ = os.Remove(a.File.Name())
		return fmt.Errorf("write %s: %w", a.final, err)
	}
	if err := os.Rename(a.File.Name(), a.final); err != nil {
		_ = os.Remove(a.File.Name())
		return fmt.Errorf("publish %s: %w", a.final, err)
	}
	return SyncDir(filepath.Dir(a.final))
}

// Abort closes and removes the temporary file. It does nothing after Commit.
func (a *AtomicFile) Abort() error {
	if a.done {
		return nil
	}
	a.done = true
	a.discard()
	return nil
}

func (a *AtomicFile) discard() {
	_ = a.File.Close()
	_ = os.Remove(a.File.Name())
}

// SyncDir syncs a directory so that renames and removals in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// WriteFileAtomic writes data to name through an AtomicFile.
func WriteFileAtomic(name string, data []byte) error {
	f, err := CreateAtomic(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Abort()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Commit()
}
