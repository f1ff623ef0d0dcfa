package collect_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/collect"
	"github.com/scorepipe/scorepipe/publish"
	"github.com/scorepipe/scorepipe/shards"
)

// copyTree copies the folder src to dst, as cp -a would.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// remark rewrites the marker of shard s in dir with the sizes and hashes
// of its files as they are now: a part its run wrote so.
func remark(t *testing.T, dir string, s shards.Shard) {
	t.Helper()
	path := filepath.Join(dir, s.Marker())
	m, err := publish.ReadPartMarker(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range m.Files {
		n, sum, err := publish.HashFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if err != nil {
			t.Fatal(err)
		}
		m.Files[i].Bytes, m.Files[i].SHA256 = n, sum
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCollectRefusesADamagedPart damages one file of one published part in
// each of the ways a disk, a copy or a hand can, and checks that collect
// refuses the dataset naming the shard and the file, writes no _SUCCESS,
// and that the same dataset undamaged collects.
func TestCollectRefusesADamagedPart(t *testing.T) {
	f := newFixture(t)
	const n = 3
	s := shards.Shard{Index: 2, Count: n}
	parquet := s.File(shards.DirFeatures, ".parquet")
	// An earlier run of shard 2: a valid Parquet part of the same size as
	// the one published next, other bytes (its run id differs).
	f.shard(2, n, nil)
	otherParquet, err := os.ReadFile(filepath.Join(f.out, parquet))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		f.shard(i, n, nil)
	}

	edit := func(rel string, fn func([]byte) []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			path := filepath.Join(dir, rel)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, fn(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	flip := func(data []byte) []byte {
		for i := len(data) / 2; i < len(data)/2+7 && i < len(data); i++ {
			data[i] ^= 0xff
		}
		return data
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   []string // in the message
	}{
		{"bytes flipped in the middle", edit(parquet, flip), []string{parquet, "not the file its run wrote"}},
		{"bytes overwritten at 200", edit(parquet, func(d []byte) []byte { copy(d[200:], "garbage"); return d }), []string{parquet}},
		{"truncated", edit(parquet, func(d []byte) []byte { return d[:len(d)-100] }), []string{parquet, "bytes, its run wrote"}},
		{"bytes appended", edit(parquet, func(d []byte) []byte { return append(d, "PAR1"...) }), []string{parquet, "bytes, its run wrote"}},
		{"replaced by another valid part of the same size", func(t *testing.T, dir string) {
			path := filepath.Join(dir, parquet)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != int64(len(otherParquet)) {
				t.Fatalf("the other run's part holds %d bytes, this one %d: not a replacement of the same size", len(otherParquet), fi.Size())
			}
			if err := os.WriteFile(path, otherParquet, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{parquet, "not the file its run wrote"}},
		{"rejects edited", edit(s.File(shards.DirRejects, ".csv"), flip), []string{s.File(shards.DirRejects, ".csv")}},
		{"csv edited", edit(s.File(shards.DirCSV, ".csv"), flip), []string{s.File(shards.DirCSV, ".csv")}},
		{"manifest edited", edit(s.File(shards.DirManifests, ".json"), func(d []byte) []byte {
			return []byte(strings.Replace(string(d), `"written": `, `"written": 1`, 1))
		}), []string{s.File(shards.DirManifests, ".json")}},
		{"csv removed", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, s.File(shards.DirCSV, ".csv"))); err != nil {
				t.Fatal(err)
			}
		}, []string{s.File(shards.DirCSV, ".csv"), "missing"}},
		{"a file of the part its run did not write", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, parquet+".old"), otherParquet, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{parquet + ".old", "was not written by the run"}},
		{"marker without checksums", edit(s.Marker(), func([]byte) []byte { return nil }), []string{"records no checksums"}},
		{"marker not JSON", edit(s.Marker(), func([]byte) []byte { return []byte("ok\n") }), []string{s.Marker()}},
		{"marker of another part", func(t *testing.T, dir string) {
			data, err := os.ReadFile(filepath.Join(dir, shards.Shard{Index: 1, Count: n}.Marker()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, s.Marker()), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"names the part"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "dataset")
			copyTree(t, f.out, dir)
			tt.damage(t, dir)
			_, err := collect.Collect(dir, collect.Options{XLSX: true})
			var de *collect.DamagedPartError
			if !errors.As(err, &de) {
				t.Fatalf("Collect = %v, want a *DamagedPartError", err)
			}
			if de.Shard != s {
				t.Errorf("damaged shard = %v, want %v", de.Shard, s)
			}
			msg := err.Error()
			for _, w := range append(tt.want, s.Name(), "rerun that shard (run --shard 2/3)") {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not say %q", msg, w)
				}
			}
			for _, name := range []string{collect.FileSuccess, collect.FileManifest, collect.FileXLSX} {
				if exists(filepath.Join(dir, name)) {
					t.Errorf("%s written for a damaged dataset", name)
				}
			}
		})
	}

	t.Run("intact", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "dataset")
		copyTree(t, f.out, dir)
		// A later run of a shard that failed rewrites its metrics file
		// and leaves its part: the part is still whole.
		metricsFile := filepath.Join(dir, s.File(shards.DirMetrics, ".prom"))
		if err := os.WriteFile(metricsFile, []byte("# a failed run's figures\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := collect.Collect(dir, collect.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !exists(filepath.Join(dir, collect.FileSuccess)) {
			t.Error("no _SUCCESS for an intact dataset")
		}
		got := 0
		for _, p := range m.Shards.Parts {
			got += len(p.Files)
		}
		if want := 5 * n; got != want { // features, csv, rejects, manifest, metrics
			t.Errorf("the combined manifest lists %d files of the parts, want %d", got, want)
		}
	})
}
