package review

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/rundir"
)

// withKeyCheck rewrites a run's manifest with the key check given where
// the manifest has it ("" for none) and opens the run again.
func withKeyCheck(t *testing.T, r *rundir.Run, where, check string) *rundir.Run {
	t.Helper()
	m := `{"tool": "scorepipe", "version": "test", "rows": {"read": 5}, "products": {}}`
	switch where {
	case "key_check":
		m = `{"tool": "scorepipe", "key_check": "` + check + `", "rows": {"read": 5}, "products": {}}`
	case "shards":
		m = `{"tool": "scorepipe", "shards": {"count": 2, "key_check": "` + check + `"}, "rows": {"read": 5}, "products": {}}`
	case "shard":
		m = `{"tool": "scorepipe", "shard": {"index": 0, "key_check": "` + check + `"}, "rows": {"read": 5}, "products": {}}`
	}
	if err := os.WriteFile(filepath.Join(r.Dir, rundir.FileManifest), []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := rundir.Open(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestKeysOfAnotherSecret(t *testing.T) {
	set := testMappings(t)
	rows := book(6, func(i int) map[string]any { return map[string]any{"xyp_cpl0044": i % 2} })
	for _, tc := range []struct {
		name                string
		curWhere, baseWhere string
		cur, base           string
		refused             bool
	}{
		{"same secret", "key_check", "key_check", "aaaa", "aaaa", false},
		{"another secret", "key_check", "key_check", "aaaa", "bbbb", true},
		{"against a collected dataset", "key_check", "shards", "aaaa", "bbbb", true},
		{"a shard against a run", "shard", "key_check", "aaaa", "bbbb", true},
		{"collected, same secret", "shards", "key_check", "aaaa", "aaaa", false},
		{"baseline of an earlier version", "key_check", "", "aaaa", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cur := withKeyCheck(t, writeRun(t, filepath.Join(dir, "cur"), set, rows), tc.curWhere, tc.cur)
			base := withKeyCheck(t, writeRun(t, filepath.Join(dir, "base"), set, rows), tc.baseWhere, tc.base)
			out := filepath.Join(t.TempDir(), FileWorkbook)
			_, _, err := review(t, cur, base, set, Options{Out: out})
			var ke *KeysError
			if got := errors.As(err, &ke); got != tc.refused {
				t.Fatalf("refused: %v (error %v), want %v", got, err, tc.refused)
			}
			if !tc.refused {
				return
			}
			for _, want := range []string{cur.Dir, base.Dir, "different identity secrets", "no applicant would join"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not say %q", err, want)
				}
			}
			if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
				t.Errorf("files left after a refused review: %v", entries)
			}
		})
	}
}
