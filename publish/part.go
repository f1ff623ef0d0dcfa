package publish

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A sharded run's processes write into one output folder at once, each its
// own part of the dataset, so none of them can swap the whole folder or
// hold its lock for a whole run. A Part publishes one of them instead:
//
//	/data/out                                          the dataset, parts of every shard
//	/data/.out.scorepipe-lock.part-00003-of-00008      the part's lock, for the whole run
//	/data/.out.scorepipe-part-00003-of-00008-<16 hex>  the part's staging folder
//	/data/.out.scorepipe-lock                          the folder's lock, while a part publishes
//
// The part's files are written in its staging folder at the paths they take
// in the output folder (features/part-00003-of-00008.parquet). Commit takes
// the folder lock for a moment, removes the dataset's marker (the dataset
// changes: it is complete again only once collected) and the part's own,
// renames every staged file into place, removes the part's files of an
// earlier run that this one does not hold, and writes the part's marker
// last, recording every file it published with its size and SHA-256 (see
// PartMarker). A killed run leaves its part unmarked; a rerun replaces it. Only
// the part's own files are touched: other parts and everything else in the
// folder stay.

// Steps of Part.Commit, in order, as PartOptions.BeforeStep sees them.
const (
	StepPartLock   = "part-lock"   // take the folder lock (waiting up to PartOptions.Wait)
	StepPartCheck  = "part-check"  // PartOptions.Check
	StepPartUnmark = "part-unmark" // remove the dataset's marker and the part's
	StepPartMove   = "part-move"   // rename the staged files into the output folder
	StepPartDrop   = "part-drop"   // remove the part's files the new set does not hold
	StepPartMarker = "part-marker" // write the part's marker
)

// DefaultPartWait is how long Part.Commit waits for the folder lock when
// PartOptions.Wait is 0: other parts hold it for the moment they publish,
// collect for as long as it writes the combined files.
const DefaultPartWait = 10 * time.Minute

// PartOptions configures a Part.
type PartOptions struct {
	// Folders are the folders of the output folder that parts live in
	// (features, rejects…). Commit removes the files of this part there
	// (named after the part, with any extension) that the new set does
	// not hold: a format not asked for this time does not survive.
	Folders []string
	// Marker is the name of the part's marker, written last by Commit.
	Marker string
	// Wait bounds how long Commit waits for the folder lock; 0 means
	// DefaultPartWait.
	Wait time.Duration
	// Check, when not nil, is called by Commit with the folder lock held
	// before anything changes; an error it returns fails Commit. It
	// refuses a folder holding what the parts must not mix with.
	Check func(dir string) error
	// Logger receives what Open cleans up; nil discards.
	Logger *slog.Logger
	// BeforeStep, when not nil, is called before each step of Commit (the
	// StepPart constants); an error it returns fails that step. It is for
	// fault-injection tests.
	BeforeStep func(step string) error
}

// Part is one shard's part of a dataset in an output folder, opened for
// one run: its lock held, a staging folder for its files.
type Part struct {
	dir     string // the output folder, symbolic links resolved
	parent  string
	base    string
	name    string // part-00003-of-00008
	staging string
	lock    *lock
	opts    PartOptions
	log     *slog.Logger

	committed bool
	closed    bool
}

// Name beside the output folder of a part's staging folders and lock.
func partStagingPrefix(base, name string) string { return "." + base + ".scorepipe-" + name + "-" }
func partLockName(base, name string) string      { return "." + base + suffixLock + "." + name }

// OpenPart locks the part name (part-00003-of-00008) of the output folder
// dir, creating the folder and its parents when they do not exist; removes
// the staging folders that dead runs of the same part left; and creates
// the part's staging folder. It fails at once with a *LockedError when
// another run holds the part, and with a *FolderError when dir cannot be
// an output folder (not a folder, or nothing can be written beside it).
func OpenPart(dir, name string, opts PartOptions) (*Part, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !strings.HasPrefix(name, "part-") || name != filepath.Base(name) {
		return nil, fmt.Errorf("publish: bad part name %q (part-…)", name)
	}
	real, err := resolve(dir)
	if err != nil {
		return nil, err
	}
	parent, base := filepath.Dir(real), filepath.Base(real)
	if parent == real {
		return nil, &FolderError{Dir: dir, Msg: "a filesystem root cannot be an output folder: the parts are staged beside the folder"}
	}
	p := &Part{dir: real, parent: parent, base: base, name: name, opts: opts, log: log}
	p.lock, err = acquire(filepath.Join(parent, partLockName(base, name)), real)
	if err != nil {
		var le *LockedError
		if errors.As(err, &le) {
			le.Part = name
			return nil, le
		}
		return nil, &FolderError{Dir: real, Msg: "cannot create the lock beside it (scorepipe writes beside the output folder: choose one in a folder you can write)", Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			p.lock.release()
		}
	}()
	if err := os.MkdirAll(real, 0o755); err != nil {
		return nil, &FolderError{Dir: real, Msg: "cannot create it", Err: err}
	}
	if err := removePartStagings(parent, base, name, log); err != nil {
		return nil, &FolderError{Dir: real, Msg: "cannot remove what a killed run of " + name + " left beside it", Err: err}
	}
	p.staging = filepath.Join(parent, partStagingPrefix(base, name)+newID())
	if err := os.Mkdir(p.staging, 0o755); err != nil {
		return nil, &FolderError{Dir: real, Msg: "cannot create the staging folder beside it", Err: err}
	}
	ok = true
	return p, nil
}

// removePartStagings removes the staging folders of part name beside the
// output folder base: only a run that holds the part's lock calls it, so
// none of them belongs to a live run.
func removePartStagings(parent, base, name string, log *slog.Logger) error {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() && isRunName(e.Name(), partStagingPrefix(base, name)) {
			if err := os.RemoveAll(filepath.Join(parent, e.Name())); err != nil {
				return err
			}
			log.Info("removed what a killed run left", "dir", filepath.Join(parent, e.Name()))
		}
	}
	return nil
}

// Dir returns the output folder, symbolic links resolved.
func (p *Part) Dir() string { return p.dir }

// Name returns the part's name.
func (p *Part) Name() string { return p.name }

// Staging returns the folder the part's files are written into.
func (p *Part) Staging() string { return p.staging }

// Path returns where the file rel (a path relative to the output folder,
// features/part-00003-of-00008.parquet) is written, creating its folder in
// the staging folder.
func (p *Part) Path(rel string) string {
	path := filepath.Join(p.staging, rel)
	_ = os.MkdirAll(filepath.Dir(path), 0o755) // a failure shows when the file is created
	return path
}

// Commit publishes the staged files as the part's files in the output
// folder, its marker last, holding the folder lock while it does (waiting
// up to PartOptions.Wait for it). The files written must be complete and
// synced (sinks' AtomicFile does both). A failure is a *CommitError; the
// part is then unmarked until a run of it commits, and the rest of the
// folder is as it was but for the dataset's marker.
func (p *Part) Commit() error {
	if p.closed || p.committed {
		return &CommitError{Dir: p.dir, Step: StepPartMove, Err: errors.New("already committed or closed")}
	}
	// The files are hashed before the folder lock is taken: other parts
	// and collect wait on it.
	files, err := p.stagedFiles()
	if err != nil {
		return &CommitError{Dir: p.dir, Step: StepPartLock, Err: fmt.Errorf("hash the staged files: %w", err)}
	}
	var folder *FolderLock
	err = p.step(StepPartLock, func() (err error) {
		folder, err = LockFolder(p.dir, p.wait())
		return err
	})
	if err != nil {
		return err
	}
	defer folder.Release()
	if p.opts.Check != nil {
		if err := p.step(StepPartCheck, func() error { return p.opts.Check(p.dir) }); err != nil {
			return err
		}
	}
	if err := p.step(StepPartUnmark, p.unmark); err != nil {
		return err
	}
	var moved []string
	if err := p.step(StepPartMove, func() (err error) { moved, err = p.move(); return err }); err != nil {
		return err
	}
	if err := p.step(StepPartDrop, func() error { return p.drop(moved) }); err != nil {
		return err
	}
	if err := p.step(StepPartMarker, func() error {
		if err := p.writeMarker(files); err != nil {
			return err
		}
		return syncDir(p.dir)
	}); err != nil {
		return err
	}
	p.committed = true
	return nil
}

func (p *Part) wait() time.Duration {
	if p.opts.Wait > 0 {
		return p.opts.Wait
	}
	return DefaultPartWait
}

// step runs fn as a named step of Commit.
func (p *Part) step(name string, fn func() error) error {
	var err error
	if p.opts.BeforeStep != nil {
		err = p.opts.BeforeStep(name)
	}
	if err == nil {
		err = fn()
	}
	if err != nil {
		return &CommitError{Dir: p.dir, Step: name, Err: err}
	}
	return nil
}

// unmark removes the dataset's marker and the part's, and makes that
// durable before any file of the part changes.
func (p *Part) unmark() error {
	for _, name := range []string{Marker, p.opts.Marker} {
		if err := os.Remove(filepath.Join(p.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return syncDir(p.dir)
}

// move renames every staged file into the output folder at the same
// relative path, replacing the file there, and syncs the folders it
// renamed into. It returns the relative paths it moved.
func (p *Part) move() ([]string, error) {
	var moved []string
	dirs := map[string]bool{}
	err := filepath.WalkDir(p.staging, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(p.staging, path)
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			return nil // a temporary file some writer left: not part of the set
		}
		dst := filepath.Join(p.dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(path, dst); err != nil {
			return err
		}
		dirs[filepath.Dir(dst)] = true
		moved = append(moved, rel)
		return nil
	})
	if err != nil {
		return moved, err
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return moved, err
		}
	}
	return moved, syncDir(p.dir)
}

// drop removes the part's files in PartOptions.Folders that the new set
// does not hold.
func (p *Part) drop(moved []string) error {
	for _, folder := range p.opts.Folders {
		entries, err := os.ReadDir(filepath.Join(p.dir, folder))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		removed := false
		for _, e := range entries {
			rel := filepath.Join(folder, e.Name())
			if !strings.HasPrefix(e.Name(), p.name+".") || e.IsDir() || slices.Contains(moved, rel) {
				continue
			}
			if err := os.Remove(filepath.Join(p.dir, rel)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			removed = true
		}
		if removed {
			if err := syncDir(filepath.Join(p.dir, folder)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close removes the staging folder and releases the part's lock. It is
// safe to call more than once.
func (p *Part) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	err := os.RemoveAll(p.staging)
	p.lock.release()
	return err
}

// FolderLock is an output folder's lock held on its own, without a staging
// folder: what collect holds while it writes the combined files of a
// sharded dataset, and a part while it publishes.
type FolderLock struct{ l *lock }

// LockFolder takes the lock of the output folder dir, waiting up to wait
// while another run holds it, and then failing with a *LockedError.
func LockFolder(dir string, wait time.Duration) (*FolderLock, error) {
	real, err := filepath.Abs(dir)
	if err != nil {
		return nil, &FolderError{Dir: dir, Msg: "bad path", Err: err}
	}
	if r, err := filepath.EvalSymlinks(real); err == nil {
		real = r
	}
	path := filepath.Join(filepath.Dir(real), "."+filepath.Base(real)+suffixLock)
	deadline := time.Now().Add(wait)
	pause := 10 * time.Millisecond
	for {
		l, err := acquire(path, real)
		if err == nil {
			return &FolderLock{l: l}, nil
		}
		var le *LockedError
		if !errors.As(err, &le) {
			return nil, &FolderError{Dir: real, Msg: "cannot create the lock beside it", Err: err}
		}
		if !time.Now().Before(deadline) {
			return nil, err
		}
		time.Sleep(min(pause, time.Until(deadline)))
		pause = min(2*pause, time.Second)
	}
}

// Release lets go of the lock. It is safe to call more than once.
func (f *FolderLock) Release() {
	if f != nil {
		f.l.release()
	}
}

// PartLocked reports whether another run holds the part name of the output
// folder dir, and what it wrote into the lock (pid, host, start time). It
// takes the lock for a moment when nobody holds it.
func PartLocked(dir, name string) (bool, string) {
	real, err := filepath.Abs(dir)
	if err != nil {
		return false, ""
	}
	if r, err := filepath.EvalSymlinks(real); err == nil {
		real = r
	}
	l, err := acquire(filepath.Join(filepath.Dir(real), partLockName(filepath.Base(real), name)), real)
	var le *LockedError
	if errors.As(err, &le) {
		return true, le.Holder
	}
	if err == nil {
		l.release()
	}
	return false, ""
}

// RemovePartStagings removes the staging folders that dead runs of any
// part left beside the output folder dir, skipping those of parts a live
// run holds. It returns how many it removed.
func RemovePartStagings(dir string, log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	real, err := filepath.Abs(dir)
	if err != nil {
		return 0, err
	}
	if r, err := filepath.EvalSymlinks(real); err == nil {
		real = r
	}
	parent, base := filepath.Dir(real), filepath.Base(real)
	entries, err := os.ReadDir(parent)
	if err != nil {
		return 0, err
	}
	prefix := "." + base + ".scorepipe-part-"
	removed := 0
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !e.IsDir() || !ok || len(rest) <= idLen+1 {
			continue
		}
		name := "part-" + rest[:len(rest)-idLen-1]
		if !isRunName(e.Name(), partStagingPrefix(base, name)) {
			continue
		}
		l, err := acquire(filepath.Join(parent, partLockName(base, name)), real)
		if err != nil {
			continue // a live run of that part
		}
		err = os.RemoveAll(filepath.Join(parent, e.Name()))
		l.release()
		if err != nil {
			return removed, err
		}
		log.Info("removed what a killed run left", "dir", filepath.Join(parent, e.Name()))
		removed++
	}
	return removed, nil
}
