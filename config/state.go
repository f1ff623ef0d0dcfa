package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvStateDir names the variable that sets the state directory.
const EnvStateDir = "SCOREPIPE_STATE_DIR"

// StateDir returns the per-user directory the reply store and the identity
// secret live in by default: $SCOREPIPE_STATE_DIR, else
// $XDG_STATE_HOME/scorepipe, else ~/.local/state/scorepipe. State lives
// outside the output, so that runs into different output directories
// share replies and applicant keys, and no output directory holds a
// secret.
func StateDir() (string, error) {
	if d := os.Getenv(EnvStateDir); d != "" {
		return filepath.Abs(d)
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "scorepipe"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", fmt.Errorf("no state directory: set %s (or HOME), or cache.path and identity.secret_file", EnvStateDir)
	}
	return filepath.Join(home, ".local", "state", "scorepipe"), nil
}

// legacyCachePath is where the reply store was kept before the state
// directory: inside the output directory.
func (c *Config) legacyCachePath() string {
	return filepath.Join(c.Output.Dir, ".scorepipe", "replies.db")
}

// CachePath returns the reply store's path: cache.path; else a store kept
// in the output directory as before (<out>/.scorepipe/replies.db), when
// there is one, so that it keeps being used (see LegacyStoreHint); else
// replies.db in the state directory.
func (c *Config) CachePath() string {
	if c.Cache.Path != "" {
		return c.Cache.Path
	}
	if old := c.legacyCachePath(); exists(old) || exists(old+".log") {
		return old
	}
	dir, err := StateDir()
	if err != nil {
		dir = ".scorepipe-state" // Validate refuses this case; never reached from a loaded config
	}
	return filepath.Join(dir, "replies.db")
}

// SecretPath returns the identity secret's path: identity.secret_file, or
// identity.secret beside the reply store, whose keys it makes (so that a
// store shared by several runs keeps its secret with it).
func (c *Config) SecretPath() string {
	if c.Identity.SecretFile != "" {
		return c.Identity.SecretFile
	}
	return filepath.Join(filepath.Dir(c.CachePath()), "identity.secret")
}

// LegacyStoreHint returns, when the run uses a reply store kept in the
// output directory as before the state directory, a one-line hint that
// says how to move it there; "" otherwise.
func (c *Config) LegacyStoreHint() string {
	old := c.CachePath()
	if c.Cache.Path != "" || old != c.legacyCachePath() {
		return ""
	}
	dir, err := StateDir()
	if err != nil {
		return ""
	}
	target := filepath.Join(dir, "replies.db")
	if exists(target) || exists(target+".log") {
		return fmt.Sprintf("the state directory %s holds a reply store already; to keep this one, set cache.path: %s", dir, old)
	}
	files := []string{old, old + ".log"}
	if secret := filepath.Join(filepath.Dir(old), "identity.secret"); c.Identity.SecretFile == "" && exists(secret) {
		files = append(files, secret)
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = shellQuote(f)
	}
	return fmt.Sprintf("mkdir -p -m 700 %s && mv %s %s/", shellQuote(dir), strings.Join(quoted, " "), shellQuote(dir))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// LoadSecret reads the identity secret from path, creating it with 32
// random bytes (hex, mode 0600, in a directory made 0700) when it does not
// exist. Keys derived from it stay stable as long as the file is kept.
func LoadSecret(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(data))
		if len(s) < 16 {
			return nil, fmt.Errorf("identity secret %s: too short (at least 16 characters)", path)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("identity secret: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(buf)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("identity secret: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // created by a concurrent run
			return LoadSecret(path)
		}
		return nil, fmt.Errorf("identity secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("identity secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("identity secret: %w", err)
	}
	return []byte(s), nil
}
