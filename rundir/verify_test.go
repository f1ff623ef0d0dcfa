package rundir_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/rundir"
)

const partCount = 3

func partName(i int) string {
	return fmt.Sprintf("features/part-%05d-of-%05d.parquet", i, partCount)
}

type fileEntry struct {
	Name   string `json:"name"`
	Rows   int    `json:"rows,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

func entry(t *testing.T, dir, name string, hashed bool) fileEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	if !hashed {
		return fileEntry{Name: name}
	}
	sum := sha256.Sum256(data)
	return fileEntry{Name: name, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), rundir.FileSuccess), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// collected writes a collected dataset of three parts (10, 11 and 12
// rows) whose manifest lists each part's files, with their hashes when
// hashed (a manifest of an earlier version lists none).
func collected(t *testing.T, dir string, hashed bool) {
	t.Helper()
	type part struct {
		Index int         `json:"index"`
		Part  string      `json:"part"`
		Files []fileEntry `json:"files"`
	}
	var parts []part
	first := 0
	for i := range partCount {
		n := 10 + i
		writeParquet(t, filepath.Join(dir, filepath.FromSlash(partName(i))), schema, first, n)
		first += n
		csvName := fmt.Sprintf("csv/part-%05d-of-%05d.csv", i, partCount)
		if err := os.MkdirAll(filepath.Join(dir, "csv"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(csvName)), []byte("a,b\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p := part{Index: i, Part: fmt.Sprintf("part-%05d-of-%05d", i, partCount)}
		if hashed {
			p.Files = []fileEntry{entry(t, dir, csvName, true), entry(t, dir, partName(i), true)}
		}
		parts = append(parts, p)
	}
	writeJSON(t, filepath.Join(dir, rundir.FileManifest), map[string]any{
		"tool": "scorepipe", "rows": map[string]int{"read": 33, "valid": 33, "written": 33},
		"shards": map[string]any{"count": partCount, "parts": parts},
	})
}

// whole writes an unsharded run of 33 rows whose manifest records the
// hash of features.parquet when hashed.
func whole(t *testing.T, dir string, hashed bool) {
	t.Helper()
	writeParquet(t, filepath.Join(dir, rundir.FileFeatures), schema, 0, 33)
	if err := os.WriteFile(filepath.Join(dir, "rejects.csv"), []byte("row,reason\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	features := entry(t, dir, rundir.FileFeatures, hashed)
	features.Rows = 33
	writeJSON(t, filepath.Join(dir, rundir.FileManifest), map[string]any{
		"tool": "scorepipe", "rows": map[string]int{"read": 33, "valid": 33, "written": 33},
		"outputs": []fileEntry{features, {Name: "rejects.csv"}},
	})
}

func flipByte(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-9); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("trailing")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenChecksCollectedParts(t *testing.T) {
	part := func(dir string, i int) string { return filepath.Join(dir, filepath.FromSlash(partName(i))) }
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   []string // in the error; none for a dataset that opens
	}{
		{"intact", func(*testing.T, string) {}, nil},
		{"a byte flipped", func(t *testing.T, dir string) { flipByte(t, part(dir, 1)) },
			[]string{partName(1) + " has SHA-256", "the manifest records", "run --shard 1/3"}},
		{"truncated", func(t *testing.T, dir string) { truncate(t, part(dir, 2)) },
			[]string{partName(2) + " holds", "bytes, the manifest records", "run --shard 2/3"}},
		{"appended to", func(t *testing.T, dir string) { appendBytes(t, part(dir, 0)) },
			[]string{partName(0) + " holds", "bytes, the manifest records", "run --shard 0/3"}},
		{"swapped with another part", func(t *testing.T, dir string) {
			a, b := part(dir, 0), part(dir, 2)
			tmp := a + ".swap"
			for _, mv := range [][2]string{{a, tmp}, {b, a}, {tmp, b}} {
				if err := os.Rename(mv[0], mv[1]); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{partName(0), partName(2), "the manifest records", "run --shard 0/3, run --shard 2/3"}},
		{"the same bytes under another part's name", func(t *testing.T, dir string) {
			data, err := os.ReadFile(part(dir, 0))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(part(dir, 1), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{partName(1), "the manifest records", "run --shard 1/3"}},
		{"an extra part", func(t *testing.T, dir string) {
			writeParquet(t, filepath.Join(dir, "features", "part-00003-of-00004.parquet"), schema, 100, 5)
		}, []string{"features/part-00003-of-00004.parquet is not listed in manifest.json"}},
		{"a missing part", func(t *testing.T, dir string) {
			if err := os.Remove(part(dir, 1)); err != nil {
				t.Fatal(err)
			}
		}, []string{partName(1) + " is listed in manifest.json but missing", "run --shard 1/3"}},
		{"a part replaced by a folder", func(t *testing.T, dir string) {
			if err := os.Remove(part(dir, 2)); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(part(dir, 2), 0o755); err != nil {
				t.Fatal(err)
			}
		}, []string{partName(2) + " is not a regular file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			collected(t, dir, true)
			tt.damage(t, dir)
			r, err := rundir.Open(dir)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Open: %v, want the dataset", err)
				}
				if got, want := r.Rows, int64(33); got != want {
					t.Errorf("rows = %d, want %d", got, want)
				}
				if r.Unchecked != "" {
					t.Errorf("Unchecked = %q, want the parts checked", r.Unchecked)
				}
				return
			}
			var de *rundir.DamagedError
			if !errors.As(err, &de) {
				t.Fatalf("Open: %v, want a *rundir.DamagedError", err)
			}
			msg := err.Error()
			for _, w := range append(tt.want, dir, "collect again (scorepipe collect "+dir+")", "nothing was read") {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
}

func TestOpenChecksFeaturesParquet(t *testing.T) {
	path := func(dir string) string { return filepath.Join(dir, rundir.FileFeatures) }
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string // in the error; "" for a run that opens
	}{
		{"intact", func(*testing.T, string) {}, ""},
		{"a byte flipped", func(t *testing.T, dir string) { flipByte(t, path(dir)) }, "features.parquet has SHA-256"},
		{"truncated", func(t *testing.T, dir string) { truncate(t, path(dir)) }, "features.parquet holds"},
		{"appended to", func(t *testing.T, dir string) { appendBytes(t, path(dir)) }, "features.parquet holds"},
		{"replaced by another run's", func(t *testing.T, dir string) {
			writeParquet(t, path(dir), schema, 1000, 33)
		}, "the manifest records"},
		{"replaced by parts", func(t *testing.T, dir string) {
			if err := os.Remove(path(dir)); err != nil {
				t.Fatal(err)
			}
			writeParquet(t, filepath.Join(dir, filepath.FromSlash(partName(0))), schema, 0, 33)
		}, "features.parquet is listed in manifest.json but missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			whole(t, dir, true)
			tt.damage(t, dir)
			r, err := rundir.Open(dir)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Open: %v, want the run", err)
				}
				if r.Rows != 33 || r.Unchecked != "" {
					t.Errorf("rows %d, Unchecked %q; want 33 rows, checked", r.Rows, r.Unchecked)
				}
				return
			}
			var de *rundir.DamagedError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "rerun the run that wrote it") {
				t.Errorf("Open: %v, want a *rundir.DamagedError saying %q and how to fix it", err, tt.want)
			}
		})
	}
}

// TestOpenWithoutHashes opens runs whose manifests record no hash (those
// of earlier versions): read as before, replaced files too, with a
// notice.
func TestOpenWithoutHashes(t *testing.T) {
	tests := []struct {
		name  string
		write func(t *testing.T, dir string)
		rows  int64
		want  string
	}{
		{"a collected dataset", func(t *testing.T, dir string) {
			collected(t, dir, false)
			writeParquet(t, filepath.Join(dir, filepath.FromSlash(partName(1))), schema, 500, 11)
		}, 33, "the parts under features/"},
		{"a run", func(t *testing.T, dir string) {
			whole(t, dir, false)
			writeParquet(t, filepath.Join(dir, rundir.FileFeatures), schema, 500, 33)
		}, 33, "of features.parquet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.write(t, dir)
			r, err := rundir.Open(dir)
			if err != nil {
				t.Fatalf("Open: %v, want the run read unchecked", err)
			}
			if r.Rows != tt.rows {
				t.Errorf("rows = %d, want %d", r.Rows, tt.rows)
			}
			if !strings.Contains(r.Unchecked, tt.want) || !strings.Contains(r.Unchecked, "earlier version") {
				t.Errorf("Unchecked = %q, want a notice about %q", r.Unchecked, tt.want)
			}
		})
	}
}
