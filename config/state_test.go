package config_test

import (
	"path/filepath"
	"testing"

	"github.com/scorepipe/scorepipe/config"
)

func TestStateDir(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		name       string
		state, xdg string
		want       string
	}{
		{name: "SCOREPIPE_STATE_DIR wins", state: "/srv/scorepipe", xdg: "/xdg", want: "/srv/scorepipe"},
		{name: "XDG_STATE_HOME", xdg: "/xdg", want: "/xdg/scorepipe"},
		{name: "relative XDG_STATE_HOME is ignored", xdg: "xdg", want: filepath.Join(home, ".local/state/scorepipe")},
		{name: "home", want: filepath.Join(home, ".local/state/scorepipe")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", home)
			t.Setenv(config.EnvStateDir, tt.state)
			t.Setenv("XDG_STATE_HOME", tt.xdg)
			got, err := config.StateDir()
			if err != nil || got != tt.want {
				t.Fatalf("StateDir() = %q, %v; want %q", got, err, tt.want)
			}
			cfg := config.DefaultConfig()
			cfg.Output.Dir = t.TempDir()
			if got, want := cfg.CachePath(), filepath.Join(tt.want, "replies.db"); got != want {
				t.Errorf("CachePath() = %q, want %q", got, want)
			}
			if got, want := cfg.SecretPath(), filepath.Join(tt.want, "identity.secret"); got != want {
				t.Errorf("SecretPath() = %q, want %q", got, want)
			}
			cfg.Cache.Path = "/elsewhere/r.db"
			if got := cfg.CachePath(); got != "/elsewhere/r.db" {
				t.Errorf("with cache.path, CachePath() = %q", got)
			}
		})
	}
}
