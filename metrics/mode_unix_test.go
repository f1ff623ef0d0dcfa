//go:build unix

package metrics

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteFileMode checks that metrics.prom, written and rewritten, gets
// the mode of every output file: 0640 lowered by the umask, never more.
func TestWriteFileMode(t *testing.T) {
	mask := syscall.Umask(0)
	syscall.Umask(mask)
	want := os.FileMode(0o640 &^ mask)
	path := filepath.Join(t.TempDir(), "metrics.prom")
	for _, step := range []string{"written", "rewritten"} {
		t.Run(step, func(t *testing.T) {
			r := sampleRun()
			if err := r.WriteFile(path, nil); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("mode %v, want %v (0640 under umask %03o)", got, want, mask)
			}
		})
	}
}
