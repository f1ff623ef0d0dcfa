package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/config"
)

// goWords are the Go type and function names no message may show.
var goWords = regexp.MustCompile(`float64|float32|\bu?int(8|16|32|64)?\b|time\.Duration|\[\][a-z]|map\[|pipeline\.|config\.[A-Z]|strconv\.|reflect\.|!!(str|int|float|bool|seq|map|null)|unmarshal|\bstruct\b`)

// goWordIn returns a Go name in msg outside the values it quotes.
func goWordIn(msg string) string {
	return goWords.FindString(regexp.MustCompile(`"[^"]*"`).ReplaceAllString(msg, `"…"`))
}

// TestConfigMessages loads configs with mistakes, in the file and in --set
// overrides: each error names where (file and line, or the flag), the
// field, what it takes and what it got, and no Go type.
func TestConfigMessages(t *testing.T) {
	base := "input:\n  files: [a.csv]\nproducts:\n  JRZQ9E2A: {price: 0.5}\n"
	cases := []struct {
		name string
		file string // the config file; base when empty
		sets []string
		want []string // all in the message
	}{
		{"misspelt key in the file", "input:\n  files: [a.csv]\nproducts:\n  JRZQ9E2A: {rate_per_secnd: 5}\n", nil,
			[]string{"config.yaml:4:", "products.JRZQ9E2A.rate_per_secnd", `unknown key "rate_per_secnd"`, "did you mean rate_per_second?"}},
		{"misspelt section in the file", "imput:\n  files: [a.csv]\n", nil,
			[]string{"config.yaml:1:", `unknown key "imput"`, "did you mean input?"}},
		{"key nothing like a field", base + "colour: blue\n", nil,
			[]string{"config.yaml:5:", `unknown key "colour"`, "known keys: cache, identity, input"}},
		{"text for a number in the file", "products:\n  JRZQ9E2A:\n    price: abc\n", nil,
			[]string{"config.yaml:3:", "products.JRZQ9E2A.price", `want a number, got "abc"`}},
		{"number for a duration in the file", base + "vendor:\n  timeout: 15\n", nil,
			[]string{"config.yaml:6:", "vendor.timeout", "want a duration such as 15s", `got "15"`}},
		{"text for a list in the file", base + "output:\n  formats: parquet\n", nil,
			[]string{"output.formats", "want a list of text values", `got "parquet"`}},
		{"list for a number", base + "limits:\n  max_calls: [1, 2]\n", nil,
			[]string{"limits.max_calls", "want a whole number, got a list"}},
		{"fraction for a whole number", base + "limits:\n  max_calls: 1.5\n", nil,
			[]string{"limits.max_calls", `want a whole number, got "1.5"`}},
		{"text for a flag", base + "vendor:\n  fake: sometimes\n", nil,
			[]string{"vendor.fake", `want true or false, got "sometimes"`}},
		{"mapping for a list item", base + "vendor:\n  codes: {fatal: [{a: 1}]}\n", nil,
			[]string{"vendor.codes.fatal[0]", "want a whole number, got a mapping"}},
		{"YAML that does not parse", "input: [\n", nil, []string{"config.yaml"}},

		{"misspelt --set key", "", []string{"products.JRZQ9E2A.rate_per_secnd=5"},
			[]string{"--set products.JRZQ9E2A.rate_per_secnd=5", `unknown key "rate_per_secnd" in products.JRZQ9E2A`, "did you mean rate_per_second?"}},
		{"misspelt --set section", "", []string{"limit.max_cost=5"},
			[]string{"--set limit.max_cost=5", `unknown key "limit"`, "did you mean limits?"}},
		{"--set below a value", "", []string{"limits.max_cost.x=5"},
			[]string{"--set limits.max_cost.x=5", "limits.max_cost takes a number and has no key x"}},
		{"--set text for a number", "", []string{"limits.max_cost=ten"},
			[]string{"--set limits.max_cost=ten", "limits.max_cost", `want a number, got "ten"`}},
		{"--set a bad duration", "", []string{"retry.base_delay=fast"},
			[]string{"--set retry.base_delay=fast", "want a duration", `got "fast"`}},
		{"--set without a value", "", []string{"limits.max_cost"},
			[]string{"--set limits.max_cost", "not path=value"}},
		{"--set an empty key", "", []string{"limits..max_cost=1"},
			[]string{"--set limits..max_cost=1", "empty key"}},

		{"NaN price", base + "limits: {max_cost: 10}\n", []string{"products.JRZQ9E2A.price=.nan"},
			[]string{"products.JRZQ9E2A.price", "must be a finite number, got NaN"}},
		{"NaN budget", base + "limits: {max_cost: .nan}\n", nil,
			[]string{"limits.max_cost", "must be a finite number, got NaN"}},
		{"infinite budget", base, []string{"limits.max_cost=-.inf"},
			[]string{"limits.max_cost", "must be a finite number, got -Inf"}},
		{"infinite rate", base, []string{"products.JRZQ9E2A.rate_per_second=.inf"},
			[]string{"products.JRZQ9E2A.rate_per_second", "must be a finite number, got +Inf"}},
		{"NaN rate", base, []string{"products.JRZQ9E2A.rate_per_second=.NaN"},
			[]string{"products.JRZQ9E2A.rate_per_second", "finite"}},
		{"rate below one call a day", base, []string{"products.JRZQ9E2A.rate_per_second=1e-9"},
			[]string{"products.JRZQ9E2A.rate_per_second", "below one call a day", "0 for unlimited"}},
		{"negative duration", base, []string{"cache.reuse_within=-1h"},
			[]string{"cache.reuse_within", "must not be negative"}},
		{"negative retry delay", base, []string{"retry.base_delay=-1s"},
			[]string{"retry.base_delay", "must not be negative"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := c.file
			if file == "" {
				file = base
			}
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := config.LoadConfig(path, c.sets...)
			var ce *config.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("LoadConfig error = %v, want a *ConfigError", err)
			}
			msg := err.Error()
			for _, want := range c.want {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %q", msg, want)
				}
			}
			if w := goWordIn(msg); w != "" {
				t.Errorf("message %q names %q", msg, w)
			}
		})
	}
}

// TestConfigOverridesAccepted sets values the config file does not hold,
// in sections and in maps keyed by the user (products, passthrough).
func TestConfigOverridesAccepted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("input:\n  files: [a.csv]\nproducts:\n  JRZQ9E2A:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadConfig(path, "products.COMBTY11.price=2", "input.passthrough.label=int",
		"limits.max_cost=10.5", "vendor.fake=true", "retry.max_delay=1m", "output.formats=[csv]", "products.JRZQ9E2A.rate_per_second=0.00002")
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case cfg.Products["COMBTY11"].Price != 2 || cfg.Products["COMBTY11"].RatePerSecond != config.DefaultProduct.RatePerSecond:
		t.Errorf("products.COMBTY11 = %+v, want price 2 and the default rate", cfg.Products["COMBTY11"])
	case cfg.Input.Passthrough["label"] != "int":
		t.Errorf("passthrough %v", cfg.Input.Passthrough)
	case cfg.Limits.MaxCost != 10.5 || !cfg.Vendor.Fake || cfg.Retry.MaxDelay.Minutes() != 1 || cfg.Output.Formats[0] != "csv":
		t.Errorf("config %+v", cfg)
	case cfg.Products["JRZQ9E2A"].RatePerSecond != 0.00002:
		t.Errorf("rate %v, want 0.00002 (about two calls a day)", cfg.Products["JRZQ9E2A"].RatePerSecond)
	}
}

// FuzzConfigMessages loads arbitrary config files: an error is a
// *ConfigError that names no Go type; no input panics.
func FuzzConfigMessages(f *testing.F) {
	for _, seed := range []string{
		"input:\n  files: [a.csv]\nproducts:\n  JRZQ9E2A: {price: 0.5}\n",
		"products: {JRZQ9E2A: {rate_per_second: abc}}",
		"vendor: {timeout: 15, codes: {fatal: [x]}}",
		"output: {formats: parquet, xlsx: {max_rows: [1]}}",
		"cache: &a {path: x}\nidentity: *a\n",
		"<<: {input: {files: [a]}}\nproducts: {X: {burst: 1e99}}",
		"limits: {max_calls: 99999999999999999999}",
		"products: [1, 2]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := config.LoadConfig(path)
		if err == nil {
			return
		}
		var ce *config.ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
		}
		if w := goWordIn(err.Error()); w != "" && !strings.Contains(data, w) {
			t.Errorf("message %q names %q", err, w)
		}
	})
}
