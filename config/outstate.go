package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// StateFolders returns the folders that hold what a run keeps and never
// publishes: the state directory, the reply store's folder (cache.path's
// when it puts the store elsewhere) and the identity secret's. A store kept
// in the output folder as before the state directory (<out>/.scorepipe)
// is left out: runs carry that folder over without publishing it, and
// LegacyStoreHint says how to move it.
func (c *Config) StateFolders() []string {
	var folders []string
	if dir, err := StateDir(); err == nil {
		folders = append(folders, dir)
	}
	legacy := filepath.Dir(c.legacyCachePath())
	for _, f := range []string{filepath.Dir(c.CachePath()), filepath.Dir(c.SecretPath())} {
		if c.Output.Dir != "" && samePath(f, legacy) {
			continue
		}
		folders = append(folders, f)
	}
	return folders
}

// CheckOutputFolder refuses, with a *ConfigError on field, an output
// folder out that is one of the state folders (see StateFolders), is
// inside one, or holds one: its files would be published beside the
// identity secret, the reply store and the audit log, or those copied
// with the dataset. Relative paths and symbolic links are resolved before
// the paths are compared; out need not exist yet.
func CheckOutputFolder(field, out string, stateFolders []string) error {
	o, err := resolvePath(out)
	if err != nil {
		return &ConfigError{Field: field, Msg: fmt.Sprintf("%s: %v", out, err)}
	}
	for _, f := range stateFolders {
		s, err := resolvePath(f)
		if err != nil {
			continue // a folder that cannot be resolved holds nothing yet
		}
		var how string
		switch {
		case o == s:
			how = "is"
		case within(o, s):
			how = "is inside"
		case within(s, o):
			how = "holds"
		default:
			continue
		}
		return &ConfigError{Field: field, Msg: fmt.Sprintf("%s %s the folder %s, which holds the identity secret, the reply store and the audit log: "+
			"an output folder never holds a secret; choose an output folder outside it (or move the state with %s, cache.path and identity.secret_file)",
			out, how, f, EnvStateDir)}
	}
	return nil
}

// within reports whether path is below dir (both clean and absolute).
func within(path, dir string) bool {
	if dir == string(filepath.Separator) {
		return path != dir
	}
	return strings.HasPrefix(path, dir+string(filepath.Separator))
}

func samePath(a, b string) bool {
	ra, err1 := resolvePath(a)
	rb, err2 := resolvePath(b)
	return err1 == nil && err2 == nil && ra == rb
}

// resolvePath returns path absolute and clean, with the symbolic links of
// its longest existing part resolved (a link to a folder not made yet
// too): the same folder however it is named, whether or not it exists
// yet.
func resolvePath(path string) (string, error) { return resolveLinks(path, 0) }

func resolveLinks(path string, depth int) (string, error) {
	if depth > 40 {
		return "", fmt.Errorf("too many levels of symbolic links")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	var rest []string
	for p := abs; ; p = filepath.Dir(p) {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if fi, lerr := os.Lstat(p); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			// A link to what does not exist yet: where it points is
			// where the folder will be made.
			target, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(p), target)
			}
			return resolveLinks(filepath.Join(append([]string{target}, rest...)...), depth+1)
		}
		if filepath.Dir(p) == p {
			return abs, nil
		}
		rest = append([]string{filepath.Base(p)}, rest...)
	}
}
