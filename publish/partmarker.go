package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A part's marker is not empty: it records every file the part published,
// with its size and SHA-256, hashed from the staged bytes before they are
// renamed into place. A reader of the part (collect) recomputes them and
// refuses a part whose bytes are not the ones its run wrote: a file
// damaged on disk, truncated, appended to, or replaced by another.

// PartFile is a file of a published part as its marker records it.
type PartFile struct {
	Name   string `json:"name"` // relative to the output folder, slash-separated
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// PartMarker is the content of a part's marker.
type PartMarker struct {
	Part  string     `json:"part"`
	Files []PartFile `json:"files"`
}

// stagedFiles hashes the files of the staging folder, as move renames
// them (temporary files left out), sorted by name.
func (p *Part) stagedFiles() ([]PartFile, error) {
	var files []PartFile
	err := filepath.WalkDir(p.staging, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		rel, err := filepath.Rel(p.staging, path)
		if err != nil {
			return err
		}
		n, sum, err := HashFile(path)
		if err != nil {
			return err
		}
		files = append(files, PartFile{Name: filepath.ToSlash(rel), Bytes: n, SHA256: sum})
		return nil
	})
	slices.SortFunc(files, func(a, b PartFile) int { return strings.Compare(a.Name, b.Name) })
	return files, err
}

// writeMarker writes the part's marker, synced.
func (p *Part) writeMarker(files []PartFile) error {
	data, err := json.MarshalIndent(PartMarker{Part: p.name, Files: files}, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(p.dir, p.opts.Marker)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ErrNoChecksums says a part's marker records no files: it was written by
// a version of scorepipe that did not record them.
var ErrNoChecksums = errors.New("its marker records no checksums (written by an earlier version of scorepipe)")

// ReadPartMarker reads the marker of a part at path.
func ReadPartMarker(path string) (*PartMarker, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, ErrNoChecksums
	}
	var m PartMarker
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("its marker %s is not what a run writes: %w", filepath.Base(path), err)
	}
	if len(m.Files) == 0 {
		return nil, ErrNoChecksums
	}
	return &m, nil
}

// CheckPartFile compares the file f of the output folder dir with what the
// marker recorded, and says how it differs ("" when it does not).
func CheckPartFile(dir string, f PartFile) string {
	d := CompareFile(filepath.Join(dir, filepath.FromSlash(f.Name)), f.Bytes, f.SHA256)
	switch {
	case d.Same:
		return ""
	case errors.Is(d.Err, os.ErrNotExist):
		return f.Name + " is missing"
	case d.Err != nil:
		return f.Name + " cannot be read: " + d.Err.Error()
	case d.NotRegular:
		return f.Name + " is no longer a regular file"
	case d.Bytes != f.Bytes:
		return fmt.Sprintf("%s holds %d bytes, its run wrote %d", f.Name, d.Bytes, f.Bytes)
	}
	return fmt.Sprintf("%s is not the file its run wrote (SHA-256 %s, the run's %s)", f.Name, ShortHash(d.SHA256), ShortHash(f.SHA256))
}

// FileDiff is how a file compares with the size and SHA-256 recorded of it
// (see CompareFile).
type FileDiff struct {
	Same       bool
	Err        error  // the file could not be read (os.ErrNotExist: it is missing)
	NotRegular bool   // it is a folder, a link, a device…
	Bytes      int64  // its size
	SHA256     string // its hash, read only when the size is the one recorded
}

// CompareFile compares the file at path with the size and hex SHA-256
// recorded of it; the size first, so that a file of another size is not
// read.
func CompareFile(path string, bytes int64, sha256 string) FileDiff {
	fi, err := os.Lstat(path)
	switch {
	case err != nil:
		return FileDiff{Err: err}
	case !fi.Mode().IsRegular():
		return FileDiff{NotRegular: true}
	case fi.Size() != bytes:
		return FileDiff{Bytes: fi.Size()}
	}
	n, sum, err := HashFile(path)
	if err != nil {
		return FileDiff{Err: err}
	}
	return FileDiff{Same: n == bytes && sum == sha256, Bytes: n, SHA256: sum}
}

// ShortHash is the first 12 characters of a hex hash, as messages give it.
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// HashFile returns the size and the hex SHA-256 of a file.
func HashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
