package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyTree copies the folder src to dst.
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

// publishedRun runs the sample job against the fake vendor into out, as
// shard of "i/n" when shard is not "".
func publishedRun(t *testing.T, ctx context.Context, cfg, out, shard string) {
	t.Helper()
	args := []string{"run", "-c", cfg, "--fake-vendor", "-o", out, "--formats", "parquet"}
	if shard != "" {
		args = append(args, "--shard", shard)
	}
	msg, err := command(ctx, nil, args...).CombinedOutput()
	if code := exitCodeOf(t, err); code != exitOK && code != exitRows {
		t.Fatalf("run %s: exit %d\n%s", shard, code, msg)
	}
}

func rewrite(t *testing.T, path string, change func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, change(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReviewRefusesDamagedData damages the Parquet data of a collected
// dataset and of a run after they were published, in every way the
// manifest can tell, and reviews them: exit 1 naming the file, and no
// review file written; intact, the review is written.
func TestReviewRefusesDamagedData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, err := filepath.Abs("../../samples/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dataset := filepath.Join(root, "dataset")
	for _, s := range []string{"0/2", "1/2"} {
		publishedRun(t, ctx, cfg, dataset, s)
	}
	if msg, err := command(ctx, nil, "collect", dataset).CombinedOutput(); err != nil {
		t.Fatalf("collect: %v\n%s", err, msg)
	}
	whole := filepath.Join(root, "whole")
	publishedRun(t, ctx, cfg, whole, "")

	const (
		part0 = "features/part-00000-of-00002.parquet"
		part1 = "features/part-00001-of-00002.parquet"
	)
	flip := func(b []byte) []byte { b[len(b)/2] ^= 0x20; return b }
	tests := []struct {
		name   string
		src    string
		damage func(t *testing.T, dir string)
		want   []string // in the output; none for a review that is written
	}{
		{"collected, intact", dataset, func(*testing.T, string) {}, nil},
		{"collected, a byte flipped", dataset, func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, part1), flip)
		}, []string{part1, "the manifest records", "collect again", "run --shard 1/2"}},
		{"collected, truncated", dataset, func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, part0), func(b []byte) []byte { return b[:len(b)-100] })
		}, []string{part0, "bytes, the manifest records", "run --shard 0/2"}},
		{"collected, appended to", dataset, func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, part0), func(b []byte) []byte { return append(b, "more"...) })
		}, []string{part0, "bytes, the manifest records", "run --shard 0/2"}},
		{"collected, parts swapped", dataset, func(t *testing.T, dir string) {
			a, b := filepath.Join(dir, part0), filepath.Join(dir, part1)
			da, _ := os.ReadFile(a)
			db, _ := os.ReadFile(b)
			rewrite(t, a, func([]byte) []byte { return db })
			rewrite(t, b, func([]byte) []byte { return da })
		}, []string{part0, part1, "the manifest records"}},
		{"collected, an extra part", dataset, func(t *testing.T, dir string) {
			data, err := os.ReadFile(filepath.Join(dir, part0))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "features", "part-00002-of-00003.parquet"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"features/part-00002-of-00003.parquet is not listed in manifest.json"}},
		{"collected, a missing part", dataset, func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, part1)); err != nil {
				t.Fatal(err)
			}
		}, []string{part1 + " is listed in manifest.json but missing", "run --shard 1/2"}},
		{"run, intact", whole, func(*testing.T, string) {}, nil},
		{"run, a byte flipped", whole, func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, "features.parquet"), flip)
		}, []string{"features.parquet has SHA-256", "rerun the run that wrote it"}},
		{"run, replaced by the other's part", whole, func(t *testing.T, dir string) {
			data, _ := os.ReadFile(filepath.Join(dataset, part0))
			rewrite(t, filepath.Join(dir, "features.parquet"), func([]byte) []byte { return data })
		}, []string{"features.parquet holds", "the manifest records"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			copyTree(t, tt.src, dir)
			tt.damage(t, dir)
			msg, err := command(ctx, nil, "review", dir).CombinedOutput()
			code := exitCodeOf(t, err)
			_, statErr := os.Stat(filepath.Join(dir, "review.xlsx"))
			written := statErr == nil
			if tt.want == nil {
				if code != exitOK || !written {
					t.Errorf("review: exit %d, review.xlsx written %v; want exit 0 and the review\n%s", code, written, msg)
				}
				if strings.Contains(string(msg), "not checked") {
					t.Errorf("review says the data was not checked:\n%s", msg)
				}
				return
			}
			if code != exitUsage {
				t.Errorf("review: exit %d, want %d\n%s", code, exitUsage, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(msg), w) {
					t.Errorf("the output does not say %q:\n%s", w, msg)
				}
			}
			for _, f := range []string{"review.xlsx", "review.json", "changes.parquet"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s was written", f)
				}
			}
		})
	}
}

// TestReviewReadsUncheckedDataOfEarlierVersions reviews a run whose
// manifest records no hash of features.parquet: written, with a notice.
func TestReviewReadsUncheckedDataOfEarlierVersions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := filepath.Abs("../../samples/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	publishedRun(t, ctx, cfg, out, "")
	rewrite(t, filepath.Join(out, "manifest.json"), func(b []byte) []byte {
		s := string(b)
		for _, key := range []string{`"sha256"`, `"bytes"`} {
			s = strings.ReplaceAll(s, key, `"earlier_`+key[1:])
		}
		return []byte(s)
	})
	msg, err := command(ctx, nil, "review", out).CombinedOutput()
	if code := exitCodeOf(t, err); code != exitOK {
		t.Fatalf("review: exit %d, want 0\n%s", code, msg)
	}
	if !strings.Contains(string(msg), "data not checked") || !strings.Contains(string(msg), "earlier version") {
		t.Errorf("no notice that the data was read unchecked:\n%s", msg)
	}
}
