package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExitCodes(t *testing.T) {
	isolateState(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sample, _ := filepath.Abs("../../samples/applicants.csv")
	typo := write("typo.yaml", "input:\n  files: ["+sample+"]\nproducts:\n  JRZQ9E2A: {rate_per_secnd: 5}\n")
	badBurst := write("burst.yaml", "input:\n  files: ["+sample+"]\nproducts:\n  JRZQ9E2A: {burst: 0}\n")
	codes := write("codes.yaml", "input:\n  files: ["+sample+"]\nproducts:\n  JRZQ9E2A: {}\nvendor:\n  codes: {retryable: [1001], fatal: [1001]}\n")
	unknownProduct := write("product.yaml", "input:\n  files: ["+sample+"]\nproducts:\n  NOPE1234: {}\n")
	missingInput := write("missing.yaml", "input:\n  files: [no-such-file.csv]\nproducts:\n  JRZQ9E2A: {}\n")
	write("maps/tables/jrzq9e2a_count.csv", "code,range\n1,\"(0,9)\"\n2,\"[5,19]\"\n")
	badMappings := write("maps.yaml", "input:\n  files: ["+sample+"]\nproducts:\n  JRZQ9E2A: {}\nmappings:\n  dir: maps\n")
	clean := write("clean.csv", "姓名,身份证号,手机号,授权书编号\n张三,320102196709283870,15098778580,AUTH1\n")
	_ = clean

	cases := []struct {
		name string
		env  []string
		args []string
		code int
		says string
	}{
		{"unknown flag", nil, []string{"run", "--nope"}, exitUsage, "unknown flag"},
		{"config typo", nil, []string{"validate", "-c", typo}, exitUsage, "rate_per_secnd"},
		{"bad burst", nil, []string{"validate", "-c", badBurst}, exitUsage, "products.JRZQ9E2A.burst"},
		{"code in two sets", nil, []string{"validate", "-c", codes}, exitUsage, "vendor.codes: code 1001 is both"},
		{"unknown product", nil, []string{"validate", "-c", unknownProduct}, exitUsage, "NOPE1234"},
		{"missing input", nil, []string{"validate", "-c", missingInput}, exitUsage, "no-such-file.csv"},
		{"overlapping table", nil, []string{"validate", "-c", badMappings}, exitUsage, "jrzq9e2a_count.csv:3"},
		{"short key", []string{"SCOREPIPE_ACCESS_ID=x", "SCOREPIPE_ACCESS_KEY=abc"}, []string{"run", "-c", "../../samples/pipeline.yaml", "--set", "vendor.fake=false", "-o", filepath.Join(dir, "o1")}, exitUsage, "32 hex"},
		{"rows rejected", nil, []string{"validate", "-c", "../../samples/pipeline.yaml"}, exitRows, "would be rejected"},
		{"clean input", nil, []string{"validate", "-c", "../../samples/pipeline.yaml", "-i", clean, "--products", "JRZQ9E2A", "--set", "input.passthrough={}"}, exitOK, ""},
		{"catalog format", nil, []string{"catalog", "--format", "xml"}, exitUsage, "--format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := command(ctx, c.env, c.args...).CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.code {
				t.Errorf("exit %d, want %d\n%s", code, c.code, out)
			}
			if !strings.Contains(string(out), c.says) {
				t.Errorf("output does not say %q:\n%s", c.says, out)
			}
		})
	}
}

func TestWrongKeyExitsThree(t *testing.T) {
	isolateState(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	endpoint := startMockVendor(t, ctx)
	out, err := command(ctx, []string{"SCOREPIPE_ENDPOINT=" + endpoint, "SCOREPIPE_ACCESS_ID=demo-access-id",
		"SCOREPIPE_ACCESS_KEY=00000000000000000000000000000000"},
		"run", "-c", "../../samples/pipeline.yaml", "-o", t.TempDir()).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitAborted {
		t.Fatalf("exit %v, want %d\n%s", err, exitAborted, out)
	}
	if !strings.Contains(string(out), "1002") || !strings.Contains(string(out), "access key") {
		t.Errorf("message does not name the key problem:\n%s", out)
	}
	if n := strings.Count(string(out), "1002"); n > 3 {
		t.Errorf("1002 reported %d times, want one message", n)
	}
}

// TestLastLineHoldsTheExitCode: with JSON logs, the last line on stderr
// holds the exit code, whatever it is, a success included; with plain
// text a success ends with no line of its own.
func TestLastLineHoldsTheExitCode(t *testing.T) {
	dir := t.TempDir()
	clean := filepath.Join(dir, "clean.csv")
	if err := os.WriteFile(clean, []byte("姓名,身份证号,手机号,授权书编号\n张三,320102196709283870,15098778580,AUTH1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	oneRow := []string{"-c", "../../samples/pipeline.yaml", "-i", clean, "--products", "JRZQ9E2A", "--set", "input.passthrough={}"}
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"run complete", append([]string{"run", "-o", filepath.Join(dir, "out-ok")}, oneRow...), exitOK},
		{"validate clean", append([]string{"validate"}, oneRow...), exitOK},
		{"catalog", []string{"catalog"}, exitOK},
		{"unknown flag", []string{"run", "--nope"}, exitUsage},
		{"rows rejected", []string{"validate", "-c", "../../samples/pipeline.yaml"}, exitRows},
		{"past the budget", []string{"run", "-c", "../../samples/pipeline.yaml", "-o", filepath.Join(dir, "out-3"), "--set", "limits.max_calls=1"}, exitAborted},
	}
	for _, c := range cases {
		for _, format := range []string{"json", "text"} {
			t.Run(c.name+"/"+format, func(t *testing.T) {
				isolateState(t)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				code, _, stderr := exitOf(t, command(ctx, nil, append(c.args, "--log-format", format)...))
				if code != c.code {
					t.Fatalf("exit %d, want %d\n%s", code, c.code, stderr)
				}
				if format == "text" {
					if c.code == exitOK && strings.Contains(stderr, "exit") {
						t.Errorf("a success says more than its logs:\n%s", stderr)
					}
					return
				}
				lines := jsonLines(t, stderr)
				if len(lines) == 0 {
					t.Fatal("nothing on stderr")
				}
				last := lines[len(lines)-1]
				if last["exit_code"] != float64(c.code) {
					t.Errorf("last line %v, want exit_code %d", last, c.code)
				}
				for _, l := range lines[:len(lines)-1] {
					if _, ok := l["exit_code"]; ok {
						t.Errorf("a line before the last holds exit_code: %v", l)
					}
				}
			})
		}
	}
}
