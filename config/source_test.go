package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/config"
)

// configLines writes settings (dotted key → YAML value, "" for none) as a
// block YAML file and returns it with the line each key is on.
func configLines(settings map[string]string) (string, map[string]int) {
	type tree struct {
		keys  []string
		kids  map[string]*tree
		value string
		leaf  bool
	}
	root := &tree{kids: map[string]*tree{}}
	paths := make([]string, 0, len(settings))
	for p := range settings {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		n := root
		for _, part := range strings.Split(p, ".") {
			next, ok := n.kids[part]
			if !ok {
				next = &tree{kids: map[string]*tree{}}
				n.kids[part] = next
				n.keys = append(n.keys, part)
			}
			n = next
		}
		n.leaf, n.value = true, settings[p]
	}
	var b strings.Builder
	lines := map[string]int{}
	line := 0
	var emit func(n *tree, path string, depth int)
	emit = func(n *tree, path string, depth int) {
		for _, k := range n.keys {
			kid, full := n.kids[k], strings.TrimPrefix(path+"."+k, ".")
			line++
			lines[full] = line
			if kid.leaf {
				fmt.Fprintf(&b, "%s%s: %s\n", strings.Repeat("  ", depth), k, kid.value)
				continue
			}
			fmt.Fprintf(&b, "%s%s:\n", strings.Repeat("  ", depth), k)
			emit(kid, full, depth+1)
		}
	}
	emit(root, "", 0)
	return b.String(), lines
}

// TestValueSources gives every kind of config value (number, whole number,
// duration, flag, text, list, mapping, choice) an empty value, a value of
// the wrong kind and a value out of range, once in the file and once with
// --set: each error names where the value was written (the file and the
// key's line, or the --set flag as given, never both), the field, and no
// Go type.
func TestValueSources(t *testing.T) {
	base := map[string]string{"input.files": "[a.csv]", "products.JRZQ9E2A.burst": "2"}
	cases := []struct {
		key, value string
		want       string // in the message; "" when the value is accepted
	}{
		{"products.JRZQ9E2A.price", "", "no value: want a number"},
		{"products.JRZQ9E2A.price", "cheap", `want a number, got "cheap"`},
		{"products.JRZQ9E2A.price", "[1]", "want a number, got a list"},
		{"products.JRZQ9E2A.price", "-1", "must be ≥ 0"},
		{"products.JRZQ9E2A.price", ".nan", "must be a finite number"},
		{"products.JRZQ9E2A.rate_per_second", "", "no value: want a number"},
		{"products.JRZQ9E2A.rate_per_second", "-5", "must be ≥ 0"},
		{"products.JRZQ9E2A.rate_per_second", "1e-9", "below one call a day"},
		{"products.JRZQ9E2A.burst", "", "no value: want a whole number"},
		{"products.JRZQ9E2A.burst", "1.5", `want a whole number, got "1.5"`},
		{"products.JRZQ9E2A.burst", "0", "must be ≥ 1"},
		{"products.JRZQ9E2A.concurrency", "5000", "between 1 and 1024"},
		{"limits.max_calls", "", "no value: want a whole number"},
		{"limits.max_calls", "many", `want a whole number, got "many"`},
		{"limits.max_calls", "-1", "must be ≥ 0"},
		{"limits.max_calls", "99999999999999999999", "want a whole number"},
		{"input.xlsx.max_bytes", "0", "must be ≥ 1"},
		{"output.row_group_rows", "{a: 1}", "want a whole number, got a mapping"},
		{"cache.retain", "", "no value: want a duration"},
		{"cache.retain", "long", `want a duration such as 15s, 200ms or 720h, got "long"`},
		{"cache.retain", "-1h", "must not be negative"},
		{"vendor.timeout", "15", `want a duration such as 15s, 200ms or 720h, got "15"`},
		{"vendor.timeout", "0s", "must be positive"},
		{"retry.max_delay", "1ms", "below retry.base_delay"},
		{"vendor.fake", "", "no value: want true or false"},
		{"vendor.fake", "sometimes", `want true or false, got "sometimes"`},
		{"vendor.fake", "[true]", "want true or false, got a list"},
		{"output.dir", "", `no value: want a text value, or "" for none`},
		{"output.dir", "[a, b]", "want a text value, got a list"},
		{"metrics.job", "a b", "want a name of letters"},
		{"metrics.pushgateway", "ftp://x", "want the URL of a Pushgateway"},
		{"input.files", "", "no value: want a list of text values, e.g. [a, b], or [] for none"},
		{"input.files", "{a: 1}", "want a list of text values, e.g. [a, b], got a mapping"},
		{"output.formats", "parquet", `want a list of text values, e.g. [a, b], got "parquet"`},
		{"output.formats", "[pdf]", `unknown format "pdf"`},
		{"output.formats", "[]", "at least one of parquet, xlsx, csv"},
		{"vendor.codes.fatal", "[x]", `want a whole number, got "x"`},
		{"vendor.codes.throttle", "[1002]", "code 1002 is both fatal and throttle"},
		{"input.passthrough", "", ""}, // an empty section sets nothing
		{"input.passthrough", "[a]", "want a mapping of keys to values, got a list"},
		{"input.passthrough", "{label: blob}", `type must be string, int, float or date, got "blob"`},
		{"input.passthrough", "{label: [int]}", "want a text value, got a list"},
		{"input.columns", "{name: 姓名}", `want a list of text values, e.g. [a, b], got "姓名"`},
		{"review.alerts.changes", "{became_overdue: -1}", "must be ≥ 0"},
		{"review.alerts.psi", "-1", "must be ≥ 0"},
		{"output.pii", "", `no value: want a text value, or "" for none`},
		{"output.pii", "[mask]", "want a text value, got a list"},
		{"output.pii", "hide", `must be mask or keep, got "hide"`},
		{"vendor.key_format", "base64", `must be hex or raw, got "base64"`},
		{"input.xlsx", "", ""},
		{"input.xlsx", "big", `want a mapping of keys to values, got "big"`},
	}
	for _, c := range cases {
		for _, fromFile := range []bool{true, false} {
			source := "--set"
			if fromFile {
				source = "file"
			}
			t.Run(fmt.Sprintf("%s=%s from the %s", c.key, c.value, source), func(t *testing.T) {
				settings := map[string]string{}
				for k, v := range base {
					settings[k] = v
				}
				var sets []string
				if fromFile {
					settings[c.key] = c.value
				} else {
					sets = []string{c.key + "=" + c.value}
				}
				if c.key == "retry.max_delay" { // below base_delay, set in the file
					settings["retry.base_delay"] = "1s"
				}
				file, lines := configLines(settings)
				path := filepath.Join(t.TempDir(), "config.yaml")
				if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
					t.Fatal(err)
				}
				_, err := config.LoadConfig(path, sets...)
				if c.want == "" {
					if err != nil {
						t.Fatalf("LoadConfig = %v, want no error", err)
					}
					return
				}
				var ce *config.ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("LoadConfig = %v, want a *ConfigError\nfile:\n%s", err, file)
				}
				msg := err.Error()
				if !strings.Contains(msg, c.want) {
					t.Errorf("message %q does not say %q", msg, c.want)
				}
				if !strings.Contains(msg, c.key) {
					t.Errorf("message %q does not name %s", msg, c.key)
				}
				// int is a passthrough type, and a value as written is the user's.
				plain := strings.NewReplacer("string, int, float or date", "", "--set "+strings.Join(sets, ""), "").Replace(msg)
				if w := goWordIn(plain); w != "" {
					t.Errorf("message %q names %q", msg, w)
				}
				if fromFile {
					where := fmt.Sprintf("%s:%d: ", path, lines[c.key])
					if !strings.HasPrefix(msg, where) || ce.Flag != "" {
						t.Errorf("message %q, want it to start with %q (the file and the key's line)\nfile:\n%s", msg, where, file)
					}
					return
				}
				flag := "--set " + sets[0] + ": "
				if !strings.HasPrefix(msg, flag) {
					t.Errorf("message %q, want it to start with %q", msg, flag)
				}
				if strings.Contains(msg, "config.yaml") || regexp.MustCompile(`\bline \d`).MatchString(msg) || ce.File != "" || ce.Line != 0 {
					t.Errorf("message %q (file %q, line %d) names the config file for a --set value", msg, ce.File, ce.Line)
				}
			})
		}
	}
}

// TestMixedSources checks that where a mistake is told follows the value
// that holds it when the file and --set both set values.
func TestMixedSources(t *testing.T) {
	base := "input:\n  files: [a.csv]\nproducts:\n  JRZQ9E2A: {burst: 2}\nretry:\n  base_delay: 1s\n  max_delay: 2s\nlimits:\n  max_calls: -1\n"
	cases := []struct {
		name  string
		file  string
		sets  []string
		where string // the start of the message; "" when accepted
	}{
		{"a file mistake with an unrelated --set", base, []string{"limits.max_cost=10"}, "config.yaml:9: limits.max_calls"},
		{"a --set mends the file", base, []string{"limits.max_calls=5"}, ""},
		{"the later of two --set wins", base, []string{"limits.max_calls=5", "limits.max_calls=-2"}, "--set limits.max_calls=-2: limits.max_calls"},
		{"a --set of a whole section", base, []string{"limits={max_calls: -3}"}, "--set limits={max_calls: -3}: limits.max_calls"},
		{"a --set of a new product", strings.Replace(base, "max_calls: -1", "max_calls: 1", 1), []string{"products.COMBTY11={concurrency: 0}"},
			"--set products.COMBTY11={concurrency: 0}: products.COMBTY11.concurrency"},
		{"base_delay by --set above the file's max_delay", strings.Replace(base, "max_calls: -1", "max_calls: 1", 1), []string{"retry.base_delay=5s"},
			"--set retry.base_delay=5s: retry.max_delay: 2s is below retry.base_delay (5s)"},
		{"a product by --set, a mistake in the file's", base, []string{"products.COMBTY11.price=1"}, "config.yaml:9: limits.max_calls"},
		{"a mistake behind an alias", "input: {files: [a.csv]}\nproducts: {JRZQ9E2A: {}}\nlimits: &l {max_calls: -4}\n", nil, "config.yaml:3: limits.max_calls"},
		{"a mistake in a merge", "input: {files: [a.csv]}\nproducts:\n  JRZQ9E2A:\n    <<: {burst: 0}\n", nil, "config.yaml:4: products.JRZQ9E2A.burst"},
		{"an alias inside its own value", "input: {files: [a.csv]}\nproducts: &p {JRZQ9E2A: {}, <<: *p}\n", nil, "config.yaml:2: products: the alias *p is inside the value it names"},
		{"an alias inside its own value by --set", "input: {files: [a.csv]}\nproducts: {JRZQ9E2A: {}}\n", []string{"limits=&l {<<: [*l]}"},
			"--set limits=&l {<<: [*l]}: limits: the alias *l is inside the value it names"},
		{"a list of merged mappings", "input: {files: [a.csv]}\nproducts:\n  JRZQ9E2A: {<<: [{burst: 2}, {burst: -1}]}\n", nil, ""},
		{"a mistake in a list of merged mappings", "input: {files: [a.csv]}\nproducts:\n  JRZQ9E2A: {<<: [{burst: 2}, {burst: x}]}\n", nil,
			`config.yaml:3: products.JRZQ9E2A.burst: want a whole number, got "x"`},
		{"a passthrough column with a dot", "input:\n  files: [a.csv]\n  passthrough:\n    a.b: blob\nproducts: {JRZQ9E2A: {}}\n", nil,
			`config.yaml:4: input.passthrough.a.b: type must be`},
		{"a passthrough column with a dot by --set", "input:\n  files: [a.csv]\nproducts: {JRZQ9E2A: {}}\n", []string{"input.passthrough={a.b: blob}"},
			`--set input.passthrough={a.b: blob}: input.passthrough.a.b: type must be`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(path, []byte(c.file), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := config.LoadConfig(path, c.sets...)
			if c.where == "" {
				if err != nil {
					t.Fatalf("LoadConfig = %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadConfig = nil, want an error starting %q", c.where)
			}
			msg := strings.TrimPrefix(err.Error(), dir+string(filepath.Separator))
			if !strings.HasPrefix(msg, c.where) {
				t.Errorf("message %q, want it to start with %q", msg, c.where)
			}
		})
	}
}

// TestOneDocument checks that a config file is one YAML document: a
// second one holding anything is an error naming the line it starts on;
// an empty one after a trailing --- is harmless.
func TestOneDocument(t *testing.T) {
	first := "input: {files: [a.csv]}\nproducts: {JRZQ9E2A: {}}\n"
	cases := []struct {
		name string
		file string
		line int // of the error; 0 when accepted
	}{
		{"one document", first, 0},
		{"a leading ---", "---\n" + first, 0},
		{"a trailing ---", first + "---\n", 0},
		{"a trailing --- and a comment", first + "---\n# more to come\n", 0},
		{"an end marker", first + "...\n", 0},
		{"an empty mapping after ---", first + "--- {}\n", 0},
		{"a null after ---", first + "---\n~\n", 0},
		{"a second product", first + "---\nproducts: {COMBTY11: {}}\n", 3},
		{"a second document after an empty one", first + "---\n---\nlimits: {max_calls: 1}\n", 4},
		{"a list after ---", first + "--- [a]\n", 3},
		{"a text after ---", first + "---\nhello\n", 3},
		{"a second document that does not parse", first + "---\nproducts: [\n", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(c.file), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.LoadConfig(path)
			if c.line == 0 {
				if err != nil {
					t.Fatalf("LoadConfig = %v, want no error", err)
				}
				if got := cfg.ProductCodes(); len(got) != 1 || got[0] != "JRZQ9E2A" {
					t.Errorf("products %v, want [JRZQ9E2A]", got)
				}
				return
			}
			var ce *config.ConfigError
			if !errors.As(err, &ce) || ce.File != path {
				t.Fatalf("LoadConfig = %v, want a *ConfigError naming %s", err, path)
			}
			if c.line > 0 {
				if ce.Line != c.line || !strings.Contains(err.Error(), "second YAML document") {
					t.Errorf("message %q (line %d), want the second document at line %d", err, ce.Line, c.line)
				}
			}
		})
	}
}

// TestMergedProducts checks that a product's settings merged in from an
// anchor (<<: *name) or taken by an alias are kept, not replaced by the
// defaults.
func TestMergedProducts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	body := "input: {files: [a.csv]}\nproducts:\n  JRZQ9E2A: &c {rate_per_second: 3, burst: 2}\n" +
		"  COMBTY11: {<<: *c, concurrency: 4}\n  <<: {QYGL1234: *c}\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]config.ProductConfig{
		"JRZQ9E2A": {RatePerSecond: 3, Burst: 2, Concurrency: config.DefaultProduct.Concurrency},
		"COMBTY11": {RatePerSecond: 3, Burst: 2, Concurrency: 4},
		"QYGL1234": {RatePerSecond: 3, Burst: 2, Concurrency: config.DefaultProduct.Concurrency},
	}
	for code, w := range want {
		if got := cfg.Products[code]; got != w {
			t.Errorf("products.%s = %+v, want %+v", code, got, w)
		}
	}
}

// FuzzSetMessages loads a config with an arbitrary --set value for keys
// of every kind: an error names the flag, never the file, and no Go type;
// no value panics.
func FuzzSetMessages(f *testing.F) {
	keys := []string{"products.JRZQ9E2A.price", "products.JRZQ9E2A.burst", "limits.max_calls", "cache.retain",
		"vendor.fake", "output.dir", "output.pii", "input.files", "output.formats", "input.passthrough",
		"vendor.codes.throttle", "review.alerts", "products.COMBTY11", "products", "retry"}
	for _, seed := range []string{"", "-1", "abc", "[1, x]", "{a: 1}", "1.5", ".nan", "~", "&a [*a]", "{<<: {x: 1}}", "'", "- a\n- b"} {
		f.Add(uint8(0), seed)
		f.Add(uint8(len(keys)-1), seed)
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte("input:\n  files: [a.csv]\nproducts:\n  JRZQ9E2A: {}\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, k uint8, value string) {
		set := keys[int(k)%len(keys)] + "=" + value
		_, err := config.LoadConfig(path, set)
		if err == nil {
			return
		}
		var ce *config.ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
		}
		if ce.Flag != "--set "+set || ce.File != "" || ce.Line != 0 {
			t.Errorf("error %q (flag %q, file %q, line %d), want it to name the flag %q alone", err, ce.Flag, ce.File, ce.Line, set)
		}
		msg := strings.Replace(err.Error(), ce.Flag, "", 1)
		if w := goWordIn(strings.ReplaceAll(msg, "string, int, float or date", "")); w != "" && !strings.Contains(value, w) {
			t.Errorf("message %q names %q", err, w)
		}
	})
}
