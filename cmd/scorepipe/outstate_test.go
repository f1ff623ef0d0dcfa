package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOutputFolderOutsideState runs, reviews and collects into the state
// directory, a folder inside it and one holding it: each is refused with
// exit 1 before anything starts, and nothing is written there.
func TestOutputFolderOutsideState(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "identity.secret"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(state, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	cfg, err := filepath.Abs("../../samples/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"run into the state directory", []string{"run", "-c", cfg, "--fake-vendor", "-o", state}},
		{"run into it by a relative path", []string{"run", "-c", cfg, "--fake-vendor", "-o", "state"}},
		{"run into it through a link", []string{"run", "-c", cfg, "--fake-vendor", "-o", "link/out"}},
		{"run into a folder holding it", []string{"run", "-c", cfg, "--fake-vendor", "-o", root}},
		{"a shard into it", []string{"run", "-c", cfg, "--fake-vendor", "-o", filepath.Join(state, "ds"), "--shard", "0/2"}},
		{"review into it", []string{"review", filepath.Join(root, "nowhere"), "--out", filepath.Join(state, "review.xlsx")}},
		{"collect it", []string{"collect", state}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := command(ctx, []string{"SCOREPIPE_STATE_DIR=" + state, "SCOREPIPE_IDENTITY_SECRET="}, tt.args...)
			cmd.Dir = root
			b, err := cmd.CombinedOutput()
			if got := exitCodeOf(t, err); got != exitUsage {
				t.Fatalf("exit %d, want %d\n%s", got, exitUsage, b)
			}
			t.Logf("%s", b)
			if !strings.Contains(string(b), "never holds a secret") {
				t.Errorf("the message does not say why:\n%s", b)
			}
			entries, _ := os.ReadDir(state)
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("the state directory holds %v, want identity.secret alone", names)
			}
		})
	}
}
