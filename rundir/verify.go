package rundir

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/scorepipe/scorepipe/publish"
	"github.com/scorepipe/scorepipe/shards"
)

// Open checks the Parquet files it will read against the sizes and
// SHA-256 hashes the manifest records, before it reads any of them: a
// file damaged, truncated, appended to or replaced after the run (or the
// collect) published it would otherwise be reviewed as if it were the
// run's. The whole file is hashed once, up front, rather than while it is
// scanned: a scan reads only the column chunks it asks for, by offset, so
// the bytes it reads are not the file, and an error found mid-scan would
// come after some figures were made.

// recordedFile is a data file as the manifest records it.
type recordedFile struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// recordedFiles are the data files of a manifest: of a collected dataset,
// the files of shards.parts[].files under features/; of a run, its
// outputs. Sharded says which.
type recordedFiles struct {
	Sharded bool
	Files   map[string]recordedFile // by slash-separated name
}

func recorded(m *Manifest) (recordedFiles, error) {
	var doc struct {
		Outputs []recordedFile `json:"outputs"`
		Shards  *struct {
			Parts []struct {
				Files []recordedFile `json:"files"`
			} `json:"parts"`
		} `json:"shards"`
	}
	data, err := json.Marshal(m.Raw)
	if err != nil {
		return recordedFiles{}, err
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return recordedFiles{}, fmt.Errorf("its files are not listed as a run lists them: %w", err)
	}
	out := recordedFiles{Files: map[string]recordedFile{}}
	keep := func(f recordedFile) {
		if f.SHA256 != "" {
			out.Files[f.Name] = f
		}
	}
	if doc.Shards != nil && len(doc.Shards.Parts) > 0 {
		out.Sharded = true
		for _, p := range doc.Shards.Parts {
			for _, f := range p.Files {
				if dir, base := path.Split(f.Name); dir == DirFeatures+"/" && strings.HasSuffix(base, ".parquet") {
					keep(f)
				}
			}
		}
		return out, nil
	}
	for _, f := range doc.Outputs {
		if f.Name == FileFeatures {
			keep(f)
		}
	}
	return out, nil
}

// DamagedError says that the data files of a run are not those its
// manifest records: a file whose size or SHA-256 differs, one the
// manifest lists that is missing, or one in the folder it does not list.
// Nothing was read from them.
type DamagedError struct {
	Dir      string
	Sharded  bool     // a collected dataset
	Problems []string // one per file
	Shards   []string // the shards of the damaged parts ("1/4"), when known
}

func (e *DamagedError) Error() string {
	if !e.Sharded {
		return fmt.Sprintf("run %s: its data is not what the run published: %s; nothing was read: rerun the run that wrote it",
			e.Dir, strings.Join(e.Problems, "; "))
	}
	fix := "collect again (scorepipe collect " + e.Dir + ") or rerun that shard, then collect"
	if len(e.Shards) > 0 {
		fix = "collect again (scorepipe collect " + e.Dir + ") or rerun that shard (run --shard " +
			strings.Join(e.Shards, ", run --shard ") + "), then collect"
	}
	return fmt.Sprintf("run %s: its data is not what collect published: %s; nothing was read: %s",
		e.Dir, strings.Join(e.Problems, "; "), fix)
}

// verify checks parts, the files Open is about to read, against the
// manifest. It returns the notice to log when the manifest records no
// hashes (written by an earlier version): those files are read unchecked.
func verify(dir string, m *Manifest, parts []string) (string, error) {
	rec, err := recorded(m)
	if err != nil {
		return "", &Error{Dir: dir, Msg: "cannot read " + FileManifest, Err: err}
	}
	if len(rec.Files) == 0 {
		what := FileFeatures
		if rec.Sharded || len(parts) > 1 || (len(parts) == 1 && filepath.Base(parts[0]) != FileFeatures) {
			what = "the parts under " + DirFeatures + "/"
		}
		return fmt.Sprintf("%s records no SHA-256 of %s (written by an earlier version of scorepipe): they are read unchecked", FileManifest, what), nil
	}
	damaged := &DamagedError{Dir: dir, Sharded: rec.Sharded}
	shardSeen := map[string]bool{}
	problem := func(name, msg string) {
		damaged.Problems = append(damaged.Problems, msg)
		if s, ok := shards.ParseName(path.Base(name)); ok && !shardSeen[s.String()] {
			shardSeen[s.String()] = true
			damaged.Shards = append(damaged.Shards, s.String())
		}
	}
	reading := map[string]bool{}
	for _, p := range parts {
		name := filepath.ToSlash(rel(dir, p))
		reading[name] = true
		f, ok := rec.Files[name]
		if !ok {
			problem(name, name+" is not listed in "+FileManifest)
			continue
		}
		if msg := checkFile(p, f); msg != "" {
			problem(name, msg)
		}
	}
	names := make([]string, 0, len(rec.Files))
	for name := range rec.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !reading[name] {
			problem(name, name+" is listed in "+FileManifest+" but missing")
		}
	}
	if len(damaged.Problems) > 0 {
		return "", damaged
	}
	return "", nil
}

// checkFile compares the file at p with f, and says how it differs ("" when
// it does not).
func checkFile(p string, f recordedFile) string {
	d := publish.CompareFile(p, f.Bytes, f.SHA256)
	switch {
	case d.Same:
		return ""
	case d.Err != nil:
		return f.Name + " cannot be read: " + d.Err.Error()
	case d.NotRegular:
		return f.Name + " is not a regular file"
	case d.Bytes != f.Bytes:
		return fmt.Sprintf("%s holds %d bytes, the manifest records %d", f.Name, d.Bytes, f.Bytes)
	}
	return fmt.Sprintf("%s has SHA-256 %s, the manifest records %s", f.Name, publish.ShortHash(d.SHA256), publish.ShortHash(f.SHA256))
}
