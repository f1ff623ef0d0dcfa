package collect

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/scorepipe/scorepipe/publish"
	"github.com/scorepipe/scorepipe/shards"
)

// DamagedPartError says a shard's published part is not what its run
// wrote: a file whose bytes differ from the size and SHA-256 its marker
// recorded (damaged on disk, truncated, appended to, replaced), a file
// missing, or one its run did not write. The dataset is not published.
type DamagedPartError struct {
	Dir      string
	Shard    shards.Shard
	Problems []string
}

func (e *DamagedPartError) Error() string {
	return fmt.Sprintf("%s: the part of %s (%s) is not what its run wrote: %s; nothing was collected: rerun that shard (run --shard %s), then collect again",
		e.Dir, e.Shard.Describe(), e.Shard.Name(), list(e.Problems), e.Shard.String())
}

// verify checks every part's files against its marker: the size and
// SHA-256 of each file the shard published, and no file of the part that
// it did not. The files of the metrics folder are left out: every run of
// a shard rewrites its metrics file, a run that fails too, while the part
// it published earlier stays. It keeps the hashes for the combined
// manifest.
func (c *collector) verify() error {
	c.hashes = map[string]File{}
	for i := range c.count {
		s := shards.Shard{Index: i, Count: c.count}
		damaged := &DamagedPartError{Dir: c.dir, Shard: s}
		marker, err := publish.ReadPartMarker(filepath.Join(c.dir, s.Marker()))
		if err != nil {
			if errors.Is(err, publish.ErrNoChecksums) {
				damaged.Problems = append(damaged.Problems, err.Error()+", so its files cannot be checked")
			} else {
				damaged.Problems = append(damaged.Problems, err.Error())
			}
			return damaged
		}
		if marker.Part != s.Name() {
			damaged.Problems = append(damaged.Problems, fmt.Sprintf("its marker %s names the part %q", s.Marker(), marker.Part))
			return damaged
		}
		recorded := map[string]bool{}
		for _, f := range marker.Files {
			dir, base := path.Split(f.Name)
			if ps, ok := shards.ParseName(base); !ok || ps != s || !slices.Contains(shards.Dirs, strings.TrimSuffix(dir, "/")) {
				damaged.Problems = append(damaged.Problems, fmt.Sprintf("its marker lists %q, which is not a file of the part", f.Name))
				continue
			}
			recorded[f.Name] = true
			if dir == shards.DirMetrics+"/" {
				continue
			}
			if problem := publish.CheckPartFile(c.dir, f); problem != "" {
				damaged.Problems = append(damaged.Problems, problem)
				continue
			}
			c.hashes[f.Name] = File{Name: f.Name, Bytes: f.Bytes, SHA256: f.SHA256}
		}
		for _, rel := range c.files[c.count][i] {
			name := filepath.ToSlash(rel)
			if !recorded[name] && !strings.HasPrefix(name, shards.DirMetrics+"/") {
				damaged.Problems = append(damaged.Problems, name+" was not written by the run that published the part")
			}
		}
		if len(damaged.Problems) > 0 {
			return damaged
		}
	}
	return nil
}
