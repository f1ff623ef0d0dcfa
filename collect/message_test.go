package collect_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/collect"
	"github.com/scorepipe/scorepipe/shards"
)

// TestCollectNamesAMisplacedManifestInWords copies one part's manifest
// over another's: the message names both shards in words, never a Go
// value (braces, field names, the store's path).
func TestCollectNamesAMisplacedManifestInWords(t *testing.T) {
	for _, tc := range []struct {
		name string
		over func(f *fixture, dst string)
		want string
	}{
		{"another part's manifest", func(f *fixture, dst string) {
			src := filepath.Join(f.out, shards.Shard{Index: 0, Count: 2}.File(shards.DirManifests, ".json"))
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "is not the manifest of shard 1 of 2 (it says it is shard 0 of 2)"},
		{"a whole run's manifest", func(f *fixture, dst string) {
			if err := os.WriteFile(dst, []byte(`{"tool": "scorepipe", "rows": {"read": 3}}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "is not the manifest of shard 1 of 2 (it is not a shard's manifest)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.shard(0, 2, nil)
			f.shard(1, 2, nil)
			tc.over(f, filepath.Join(f.out, shards.Shard{Index: 1, Count: 2}.File(shards.DirManifests, ".json")))
			// As if the shard's run had written it: its marker agrees, so
			// the manifest itself is what collect reads and refuses.
			remark(t, f.out, shards.Shard{Index: 1, Count: 2})
			_, err := collect.Collect(f.out, collect.Options{})
			var mis *collect.MismatchError
			if !errors.As(err, &mis) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Collect = %v, want a *MismatchError saying %q", err, tc.want)
			}
			for _, bad := range []string{"{", "}", "Index:", "KeyCheck", "Store", ".db"} {
				if strings.Contains(err.Error(), bad) {
					t.Errorf("message %q holds %q: a Go value, not words", err, bad)
				}
			}
		})
	}
}
