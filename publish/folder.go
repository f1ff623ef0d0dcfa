// Package publish makes an output folder change all at once: a run writes
// its files into a staging folder beside the output folder and Commit
// swaps the two folders in one step, under a lock that keeps a second run
// out of the same folder.
//
// The layout, for an output folder /data/out:
//
//	/data/out                                the published set
//	/data/.out.scorepipe-lock                the lock, while a run holds it
//	/data/.out.scorepipe-new-<16 hex>        a run's staging folder
//	/data/.out.scorepipe-old-<16 hex>        the old set, for a moment, where the swap takes two renames
//
// Every temporary file of a run (sinks' temporary names, spill files,
// excelize's temporary files) lives in its staging folder, so that a run
// which holds the lock removes whatever a killed run left: no live run
// can own them.
package publish

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Marker is the empty file written last into every published set. A
// reader that finds it finds the complete set beside it.
const Marker = "_SUCCESS"

// Steps of Commit, in order, as Options.BeforeStep sees them.
const (
	StepCarry     = "carry"      // link the foreign entries into the staging folder
	StepMarker    = "marker"     // write Marker into the staging folder
	StepSync      = "sync"       // sync the staging folder
	StepSwap      = "swap"       // swap the staging and output folders
	StepSwapGap   = "swap-gap"   // between the two renames, where the swap takes two
	StepRemoveOld = "remove-old" // remove the old set (after the swap: failures only logged)
)

// Options configures a Folder.
type Options struct {
	// Owned lists the entries of the output folder that a run replaces,
	// as path.Match patterns of names (features.parquet, .features.parquet.tmp-*).
	// An owned entry that the new set does not hold is dropped by Commit:
	// a file of a format not asked for this time does not survive. Every
	// other entry is foreign: Commit carries it over into the new set.
	Owned []string
	// KeepDirs names foreign folders that may be carried over; Open
	// refuses an output folder holding any other foreign folder.
	KeepDirs []string
	// Logger receives what Open cleans up and what Commit could not
	// remove after the swap; nil discards.
	Logger *slog.Logger
	// BeforeStep, when not nil, is called before each step of Commit (the
	// Step constants); an error it returns fails that step. It is for
	// fault-injection tests.
	BeforeStep func(step string) error
}

// Folder is an output folder opened for one run: locked, cleaned of what
// dead runs left, with a staging folder for the new set.
type Folder struct {
	dir     string // the output folder, symbolic links resolved
	parent  string
	base    string
	staging string
	id      string
	lock    *lock
	opts    Options
	log     *slog.Logger

	committed bool
	closed    bool
}

// LockedError is returned by Open when another run holds the output
// folder.
type LockedError struct {
	Dir    string
	Part   string // the part of the folder that is locked (see OpenPart); "" for the whole folder
	Holder string // what the holder wrote into the lock: pid, host, start time; may be empty
}

func (e *LockedError) Error() string {
	s := fmt.Sprintf("output folder %s is in use by another run", e.Dir)
	if e.Part != "" {
		s = fmt.Sprintf("%s of output folder %s is in use by another run", e.Part, e.Dir)
	}
	if e.Holder != "" {
		s += " (" + e.Holder + ")"
	}
	return s
}

// FolderError says why a folder cannot be an output folder.
type FolderError struct {
	Dir string
	Msg string
	Err error
}

func (e *FolderError) Error() string {
	s := fmt.Sprintf("output folder %s: %s", e.Dir, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FolderError) Unwrap() error { return e.Err }

// CommitError is a failure while publishing. Unless After is set, the
// output folder still holds the old set.
type CommitError struct {
	Dir  string
	Step string
	Err  error
}

func (e *CommitError) Error() string {
	return fmt.Sprintf("publish into %s (%s): %v", e.Dir, e.Step, e.Err)
}

func (e *CommitError) Unwrap() error { return e.Err }

// Names beside the output folder.
const (
	suffixLock = ".scorepipe-lock"
	suffixNew  = ".scorepipe-new-"
	suffixOld  = ".scorepipe-old-"
	idLen      = 16 // hex characters of a run's id
)

// Open locks the output folder dir, creating it and its parents when they
// do not exist; removes the staging folders, half-removed old sets and
// owned temporary files that dead runs left; puts back the old set when a
// run died between the two renames of a swap; and creates this run's
// staging folder. It fails at once with a *LockedError when another run
// holds the folder, and with a *FolderError when the folder cannot be
// published into: not a folder, a mount point, a folder beside which
// nothing can be written, or one holding a foreign folder.
func Open(dir string, opts Options) (*Folder, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	real, err := resolve(dir)
	if err != nil {
		return nil, err
	}
	parent, base := filepath.Dir(real), filepath.Base(real)
	if parent == real {
		return nil, &FolderError{Dir: dir, Msg: "a filesystem root cannot be an output folder: the new set is built beside the folder and swapped with it"}
	}
	f := &Folder{dir: real, parent: parent, base: base, opts: opts, log: log}
	if err := f.checkSwappable(); err != nil {
		return nil, err
	}
	f.lock, err = acquire(filepath.Join(parent, "."+base+suffixLock), real)
	if err != nil {
		var le *LockedError
		if errors.As(err, &le) {
			return nil, err
		}
		return nil, &FolderError{Dir: real, Msg: "cannot create the lock beside it (scorepipe writes beside the output folder: choose one in a folder you can write)", Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			f.lock.release()
		}
	}()
	if err := f.recover(); err != nil {
		return nil, err
	}
	if err := os.Mkdir(real, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, &FolderError{Dir: real, Msg: "cannot create it", Err: err}
	}
	if err := f.checkForeign(); err != nil {
		return nil, err
	}
	if err := f.clean(); err != nil {
		return nil, err
	}
	f.id = newID()
	f.staging = filepath.Join(parent, "."+base+suffixNew+f.id)
	if err := os.Mkdir(f.staging, 0o755); err != nil {
		return nil, &FolderError{Dir: real, Msg: "cannot create the staging folder beside it", Err: err}
	}
	if fi, err := os.Stat(real); err == nil { // the new set keeps the folder's permissions
		_ = os.Chmod(f.staging, fi.Mode()&(os.ModePerm|os.ModeSetgid|os.ModeSticky))
	}
	ok = true
	return f, nil
}

// resolve returns dir as an absolute path with symbolic links resolved,
// creating its parent folders: the swap replaces the folder a link points
// to, not the link.
func resolve(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", &FolderError{Dir: dir, Msg: "bad path", Err: err}
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		fi, err := os.Stat(real)
		if err != nil {
			return "", &FolderError{Dir: dir, Msg: "cannot read it", Err: err}
		}
		if !fi.IsDir() {
			return "", &FolderError{Dir: dir, Msg: "is not a folder"}
		}
		return real, nil
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", &FolderError{Dir: dir, Msg: "cannot create its parent folder", Err: err}
	}
	realParent, err := filepath.EvalSymlinks(parent)
	if err != nil {
		return "", &FolderError{Dir: dir, Msg: "cannot resolve its parent folder", Err: err}
	}
	return filepath.Join(realParent, filepath.Base(abs)), nil
}

// checkSwappable refuses a mount point, which cannot be renamed.
func (f *Folder) checkSwappable() error {
	mount, err := isMountRoot(f.dir, f.parent)
	if err != nil || !mount {
		return nil // a folder that does not exist yet is no mount point
	}
	return &FolderError{Dir: f.dir, Msg: "is a mount point, which cannot be swapped with the new set: publish into a folder inside it (e.g. --out " +
		filepath.Join(f.dir, "features") + ")"}
}

// Dir returns the output folder, symbolic links resolved.
func (f *Folder) Dir() string { return f.dir }

// Staging returns the folder the new set is written into.
func (f *Folder) Staging() string { return f.staging }

// Path returns where the entry name of the new set is written.
func (f *Folder) Path(name string) string { return filepath.Join(f.staging, name) }

// owned reports whether an entry of the output folder belongs to runs.
func (f *Folder) owned(name string) bool {
	if name == Marker {
		return true
	}
	for _, p := range f.opts.Owned {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// checkForeign refuses an output folder holding foreign entries that
// cannot be carried over: folders other than Options.KeepDirs (an output
// folder given by mistake, such as a home or project folder, would be
// copied link by link) and entries that are neither files nor links.
func (f *Folder) checkForeign() error {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return &FolderError{Dir: f.dir, Msg: "cannot read it", Err: err}
	}
	var bad []string
	for _, e := range entries {
		if f.owned(e.Name()) {
			continue
		}
		switch t := e.Type(); {
		case t.IsDir() && slices.Contains(f.opts.KeepDirs, e.Name()):
		case t.IsDir():
			bad = append(bad, e.Name()+"/")
		case t.IsRegular(), t&os.ModeSymlink != 0:
		default:
			bad = append(bad, e.Name()+" ("+t.String()+")")
		}
	}
	if len(bad) == 0 {
		return nil
	}
	if len(bad) > 5 {
		bad = append(bad[:5], fmt.Sprintf("and %d more", len(bad)-5))
	}
	return &FolderError{Dir: f.dir, Msg: "holds entries that scorepipe did not write and does not carry over (" + strings.Join(bad, ", ") +
		"): a run replaces the whole folder; move them out or choose an empty or dedicated output folder"}
}

// leftovers returns the staging folders and old sets that runs left
// beside the output folder, by kind.
func (f *Folder) leftovers() (staging, old []string, err error) {
	entries, err := os.ReadDir(f.parent)
	if err != nil {
		return nil, nil, &FolderError{Dir: f.dir, Msg: "cannot read the folder it is in", Err: err}
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		switch {
		case isRunName(name, "."+f.base+suffixNew):
			staging = append(staging, filepath.Join(f.parent, name))
		case isRunName(name, "."+f.base+suffixOld):
			old = append(old, filepath.Join(f.parent, name))
		}
	}
	return staging, old, nil
}

// isRunName reports whether name is prefix followed by a run id and
// nothing else, so that another output folder's names never match.
func isRunName(name, prefix string) bool {
	id, ok := strings.CutPrefix(name, prefix)
	if !ok || len(id) != idLen {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// recover puts back the old set when a run died between the two renames
// of a swap: the output folder is missing (or empty, created since) and an
// old set waits beside it.
func (f *Folder) recover() error {
	_, old, err := f.leftovers()
	if err != nil || len(old) == 0 {
		return err
	}
	entries, err := os.ReadDir(f.dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return &FolderError{Dir: f.dir, Msg: "cannot read it", Err: err}
	case len(entries) > 0:
		return nil
	default:
		if err := os.Remove(f.dir); err != nil {
			return &FolderError{Dir: f.dir, Msg: "cannot put back the set a killed run moved aside", Err: err}
		}
	}
	newest, newestTime := "", time.Time{}
	for _, o := range old {
		if fi, err := os.Lstat(o); err == nil && (newest == "" || fi.ModTime().After(newestTime)) {
			newest, newestTime = o, fi.ModTime()
		}
	}
	if err := os.Rename(newest, f.dir); err != nil {
		return &FolderError{Dir: f.dir, Msg: "cannot put back the set a killed run moved aside", Err: err}
	}
	f.log.Warn("put back the output a killed run had moved aside while publishing", "dir", f.dir, "from", filepath.Base(newest))
	return syncDir(f.parent)
}

// clean removes what dead runs left: staging folders and old sets beside
// the output folder, and owned temporary files inside it (earlier
// versions wrote them there). Only a run that holds the lock calls it, so
// none of them belongs to a live run.
func (f *Folder) clean() error {
	staging, old, err := f.leftovers()
	if err != nil {
		return err
	}
	var files, bytes int64
	count := func(p string) {
		_ = filepath.WalkDir(p, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files++
				if fi, err := d.Info(); err == nil {
					bytes += fi.Size()
				}
			}
			return nil
		})
	}
	for _, p := range append(staging, old...) {
		count(p)
		if err := os.RemoveAll(p); err != nil {
			return &FolderError{Dir: f.dir, Msg: "cannot remove what a killed run left beside it", Err: err}
		}
	}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return &FolderError{Dir: f.dir, Msg: "cannot read it", Err: err}
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, ".") || !f.owned(name) || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(f.dir, name)
		count(p)
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &FolderError{Dir: f.dir, Msg: "cannot remove a temporary file a killed run left", Err: err}
		}
	}
	if files > 0 || len(staging)+len(old) > 0 {
		f.log.Info("removed what killed runs left", "dir", f.dir, "folders", len(staging)+len(old), "files", files, "bytes", bytes)
	}
	return nil
}

// exchangeDirs is exchange, replaced in tests by one that cannot.
var exchangeDirs = exchange

func newID() string {
	b := make([]byte, idLen/2)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// Commit publishes the staging folder's content as the output folder's
// new set: it carries the foreign entries of the output folder over (files
// as hard links, or copies where links cannot be made; folders of
// Options.KeepDirs recreated with their files linked; symbolic links
// recreated), writes Marker, syncs, and swaps the two folders in one
// rename (renameat2 RENAME_EXCHANGE on Linux). Where the file system
// cannot exchange, the old set is renamed aside and the new one into place
// (two renames: the folder is missing in between, and Open puts the old
// set back if the run dies there). The entries that the caller wrote must
// be complete and synced (sinks' AtomicFile does both).
//
// On failure before the swap the output folder is unchanged and the error
// is a *CommitError. After the swap the old set is removed; a failure to
// remove it is only logged, and the next Open removes it.
func (f *Folder) Commit() error {
	if f.closed || f.committed {
		return &CommitError{Dir: f.dir, Step: StepSwap, Err: errors.New("already committed or closed")}
	}
	if err := f.step(StepCarry, f.carryForeign); err != nil {
		return err
	}
	if err := f.step(StepMarker, func() error { return writeSynced(filepath.Join(f.staging, Marker)) }); err != nil {
		return err
	}
	if err := f.step(StepSync, func() error { return syncTree(f.staging) }); err != nil {
		return err
	}
	old, err := f.swap()
	if err != nil {
		return err
	}
	f.committed = true
	if err := f.before(StepRemoveOld); err == nil && old != "" {
		err = os.RemoveAll(old)
	}
	if err != nil {
		f.log.Warn("could not remove the old output; the next run removes it", "dir", old, "error", err)
	}
	return nil
}

func (f *Folder) before(step string) error {
	if f.opts.BeforeStep != nil {
		return f.opts.BeforeStep(step)
	}
	return nil
}

// step runs fn as a named step of Commit.
func (f *Folder) step(name string, fn func() error) error {
	err := f.before(name)
	if err == nil {
		err = fn()
	}
	if err != nil {
		return &CommitError{Dir: f.dir, Step: name, Err: err}
	}
	return nil
}

// swap puts the staging folder in the output folder's place and returns
// where the old set now is.
func (f *Folder) swap() (string, error) {
	if err := f.step(StepSwap, func() error { return nil }); err != nil {
		return "", err
	}
	if _, err := os.Lstat(f.dir); errors.Is(err, os.ErrNotExist) { // removed since Open
		if err := os.Rename(f.staging, f.dir); err != nil {
			return "", &CommitError{Dir: f.dir, Step: StepSwap, Err: err}
		}
		return "", syncDir(f.parent)
	}
	err := exchangeDirs(f.staging, f.dir)
	if err == nil {
		// The staging name now holds the old set.
		if err := syncDir(f.parent); err != nil {
			f.log.Warn("could not sync after the swap", "dir", f.parent, "error", err)
		}
		return f.staging, nil
	}
	if !errors.Is(err, errNoExchange) {
		return "", &CommitError{Dir: f.dir, Step: StepSwap, Err: err}
	}
	old := filepath.Join(f.parent, "."+f.base+suffixOld+f.id)
	if err := os.Rename(f.dir, old); err != nil {
		return "", &CommitError{Dir: f.dir, Step: StepSwap, Err: err}
	}
	err = f.before(StepSwapGap)
	if err == nil {
		err = os.Rename(f.staging, f.dir)
	}
	if err != nil {
		if rerr := os.Rename(old, f.dir); rerr != nil {
			err = fmt.Errorf("%w; and the old set could not be put back from %s (the next run puts it back): %v", err, old, rerr)
		}
		return "", &CommitError{Dir: f.dir, Step: StepSwapGap, Err: err}
	}
	if err := syncDir(f.parent); err != nil {
		f.log.Warn("could not sync after the swap", "dir", f.parent, "error", err)
	}
	return old, nil
}

// carryForeign links the output folder's foreign entries into the
// staging folder. An entry of the new set wins over a foreign one of the
// same name.
func (f *Folder) carryForeign() error {
	entries, err := os.ReadDir(f.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil // removed since Open: nothing to carry over
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if f.owned(name) {
			continue
		}
		dst := filepath.Join(f.staging, name)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if err := carry(filepath.Join(f.dir, name), dst); err != nil {
			return fmt.Errorf("carry over %s: %w", name, err)
		}
	}
	return nil
}

// carry recreates src at dst: a file as a hard link (a copy where the
// file system refuses links), a folder with its entries carried, a
// symbolic link as a link to the same target.
func carry(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	case fi.IsDir():
		if err := os.Mkdir(dst, fi.Mode().Perm()); err != nil {
			return err
		}
		entries, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := carry(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
		return nil
	case fi.Mode().IsRegular():
		if err := os.Link(src, dst); err == nil {
			return nil
		}
		return copyFile(src, dst, fi.Mode().Perm())
	}
	return fmt.Errorf("%s is not a file, folder or link", src)
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// writeSynced creates an empty file and syncs it.
func writeSynced(name string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncTree syncs a folder and every folder under it, so that the entries
// created in them survive a crash once the swap has.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return syncDir(p)
		}
		return nil
	})
}

// syncDir syncs a folder so that renames and removals in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// Close removes the staging folder unless Commit published it, and
// releases the lock. It is safe to call more than once.
func (f *Folder) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	if !f.committed {
		err = os.RemoveAll(f.staging)
	}
	f.lock.release()
	return err
}
