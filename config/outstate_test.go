package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/config"
)

func TestCheckOutputFolder(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	store := filepath.Join(root, "cache")  // cache.path's folder
	secrets := filepath.Join(root, "keys") // identity.secret_file's folder
	for _, d := range []string{state, store, secrets, filepath.Join(root, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	link := func(name, target string) string {
		p := filepath.Join(root, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	toState := link("to-state", state)
	toRoot := link("to-root", root)
	dangling := link("later", filepath.Join(state, "not-yet"))
	t.Chdir(root)

	tests := []struct {
		name string
		out  string
		want string // in the message; "" accepts
	}{
		{"the state directory", state, "is the folder " + state},
		{"the state directory with a trailing slash", state + "/", "is the folder"},
		{"inside it", filepath.Join(state, "out"), "is inside the folder " + state},
		{"inside it, not made yet", filepath.Join(state, "a", "b"), "is inside"},
		{"its parent", root, "holds the folder"},
		{"through a link to it", toState, "is the folder"},
		{"through a link to a parent", filepath.Join(toRoot, "state", "out"), "is inside"},
		{"a link to a folder not made yet inside it", dangling, "is inside"},
		{"relative", "state", "is the folder"},
		{"relative with dots", "data/../state/out", "is inside"},
		{"the store's folder", store, "is the folder " + store},
		{"inside the store's folder", filepath.Join(store, "x"), "is inside"},
		{"the secret's folder", secrets, "is the folder " + secrets},
		{"a sibling", filepath.Join(root, "data", "out"), ""},
		{"a sibling sharing a prefix", state + "2", ""},
		{"relative sibling", "data/out", ""},
	}
	cfg := config.DefaultConfig()
	cfg.Cache.Path = filepath.Join(store, "replies.db")
	cfg.Identity.SecretFile = filepath.Join(secrets, "identity.secret")
	t.Setenv(config.EnvStateDir, state)
	folders := cfg.StateFolders()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := config.CheckOutputFolder("output.dir", tt.out, folders)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckOutputFolder(%q) = %v, want nil", tt.out, err)
				}
				return
			}
			var ce *config.ConfigError
			if !errors.As(err, &ce) || ce.Field != "output.dir" {
				t.Fatalf("CheckOutputFolder(%q) = %v, want a *ConfigError on output.dir", tt.out, err)
			}
			if got := err.Error(); !strings.Contains(got, tt.want) || !strings.Contains(got, "never holds a secret") {
				t.Errorf("CheckOutputFolder(%q) = %q, want it to say %q", tt.out, got, tt.want)
			}
		})
	}
}

func TestStateFolders(t *testing.T) {
	root := t.TempDir()
	t.Setenv(config.EnvStateDir, filepath.Join(root, "state"))
	tests := []struct {
		name        string
		cache, key  string
		legacyStore bool
		want        []string
	}{
		{name: "defaults", want: []string{filepath.Join(root, "state"), filepath.Join(root, "state"), filepath.Join(root, "state")}},
		{name: "cache.path elsewhere", cache: filepath.Join(root, "c", "r.db"),
			want: []string{filepath.Join(root, "state"), filepath.Join(root, "c"), filepath.Join(root, "c")}},
		{name: "secret_file elsewhere", key: filepath.Join(root, "k", "s"),
			want: []string{filepath.Join(root, "state"), filepath.Join(root, "state"), filepath.Join(root, "k")}},
		// A store kept in the output folder as before the state directory:
		// runs carry it over unpublished (LegacyStoreHint says how to move it).
		{name: "a store kept in the output folder", legacyStore: true, want: []string{filepath.Join(root, "state")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.DefaultConfig()
			cfg.Output.Dir = filepath.Join(root, "out-"+strings.ReplaceAll(tt.name, " ", "-"))
			cfg.Cache.Path, cfg.Identity.SecretFile = tt.cache, tt.key
			if tt.legacyStore {
				cfg.Cache.Path = filepath.Join(cfg.Output.Dir, ".scorepipe", "replies.db")
			}
			got := cfg.StateFolders()
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("StateFolders() = %q, want %q", got, tt.want)
			}
			if err := config.CheckOutputFolder("output.dir", cfg.Output.Dir, got); err != nil {
				t.Errorf("the output folder is refused: %v", err)
			}
		})
	}
}
