package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// productCounts reads what a run's manifest says it paid for and reused.
func productCounts(t *testing.T, out, product string) (billed, fromStore int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Products map[string]struct {
			Billed    int `json:"billed"`
			FromStore int `json:"from_store"`
		} `json:"products"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	p := m.Products[product]
	return p.Billed, p.FromStore
}

// TestSharedStoreKeepsItsSecret runs into two output directories with one
// reply store: the identity secret lives beside the store, so the second
// run pays for nothing; with another secret, or without one, a run refuses
// to start rather than pay for every row again.
func TestSharedStoreKeepsItsSecret(t *testing.T) {
	isolateState(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "clean.csv")
	err := os.WriteFile(input, []byte("姓名,身份证号,手机号,授权书编号\n张三,320102196709283870,15098778580,AUTH1\n李四,11010519491231002X,13800138000,AUTH2\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "shared", "replies.db")
	secret := filepath.Join(dir, "shared", "identity.secret")
	scorepipe := func(verb, out string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return command(ctx, []string{"SCOREPIPE_IDENTITY_SECRET="}, verb, "-c", "../../samples/pipeline.yaml", "-i", input,
			"--set", "input.passthrough={}", "--products", "JRZQ9E2A", "--cache", store, "-o", filepath.Join(dir, out)).CombinedOutput()
	}
	run := func(out string) ([]byte, error) { return scorepipe("run", out) }
	steps := []struct {
		out                   string
		wantBilled, wantStore int
	}{
		{"out-1", 2, 0},
		{"out-2", 0, 2},
	}
	for _, s := range steps {
		t.Run(s.out, func(t *testing.T) {
			if b, err := run(s.out); err != nil {
				t.Fatalf("run: %v\n%s", err, b)
			}
			if billed, stored := productCounts(t, filepath.Join(dir, s.out), "JRZQ9E2A"); billed != s.wantBilled || stored != s.wantStore {
				t.Errorf("billed %d, from the store %d; want %d and %d", billed, stored, s.wantBilled, s.wantStore)
			}
		})
	}
	if _, err := os.Stat(secret); err != nil {
		t.Fatalf("no secret beside the store: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out-1", ".scorepipe", "identity.secret")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a secret in the output directory too (err %v)", err)
	}

	t.Run("another secret from the environment", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b, err := command(ctx, []string{"SCOREPIPE_IDENTITY_SECRET=another-secret-0123456789abcdef"}, "run", "-c", "../../samples/pipeline.yaml",
			"-i", input, "--set", "input.passthrough={}", "--products", "JRZQ9E2A", "--cache", store, "-o", filepath.Join(dir, "out-other")).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
			t.Fatalf("exit %v, want %d\n%s", err, exitUsage, b)
		}
		if !strings.Contains(string(b), "another identity secret") {
			t.Errorf("the message does not say why:\n%s", b)
		}
	})

	t.Run("secret lost", func(t *testing.T) {
		if err := os.Remove(secret); err != nil {
			t.Fatal(err)
		}
		before, err := os.Stat(store + ".log")
		if err != nil {
			t.Fatal(err)
		}
		for _, verb := range []string{"plan", "run"} {
			b, err := scorepipe(verb, "out-3")
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
				t.Fatalf("%s: exit %v, want %d\n%s", verb, err, exitUsage, b)
			}
			if !strings.Contains(string(b), "pay for every row again") {
				t.Errorf("%s: the message does not say what is at stake:\n%s", verb, b)
			}
		}
		if _, err := os.Stat(secret); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a new secret was made (err %v)", err)
		}
		if after, err := os.Stat(store + ".log"); err != nil || after.Size() != before.Size() {
			t.Errorf("the store changed: %d bytes, then %v (err %v)", before.Size(), after, err)
		}
	})
}
