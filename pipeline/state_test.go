package pipeline_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// withTestState runs the tests with a state directory of their own, so
// that no test uses the state of the user who runs them.
func withTestState(run func() int) int {
	dir, err := os.MkdirTemp("", "scorepipe-state-")
	if err != nil {
		return 1
	}
	defer os.RemoveAll(dir)
	os.Setenv(config.EnvStateDir, dir)
	return run()
}

// TestStateIsShared runs into two output directories with the default
// state: the second run pays nothing, the applicant keys are the same, and
// neither output directory holds a secret or a store.
func TestStateIsShared(t *testing.T) {
	state := t.TempDir()
	t.Setenv(config.EnvStateDir, state)
	v, client := fakeVendor(t, tianyuantest.Options{})
	e := env(client)
	e.Secret, _ = config.LoadSecret(filepath.Join(state, "identity.secret"))
	var keys [2][]string
	for i := range 2 {
		cfg := sampleConfig(t)
		cfg.Cache.Path = "" // the default: the state directory
		cfg.Products = map[string]config.ProductConfig{"JRZQ9E2A": {Burst: 1, Concurrency: 4}}
		m := run(t, cfg, e)
		if i == 1 && m.Products["JRZQ9E2A"].Billed != 0 {
			t.Errorf("the run into a second output directory paid for %d replies", m.Products["JRZQ9E2A"].Billed)
		}
		header, rows := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
		for _, r := range rows {
			keys[i] = append(keys[i], r[column(t, header, "applicant_key")])
		}
		filepath.WalkDir(cfg.Output.Dir, func(path string, d os.DirEntry, err error) error {
			if d != nil && (d.Name() == "identity.secret" || strings.HasPrefix(d.Name(), "replies.db")) {
				t.Errorf("%s in the output directory", path)
			}
			return nil
		})
	}
	if strings.Join(keys[0], ",") != strings.Join(keys[1], ",") {
		t.Error("the two runs' applicant keys differ")
	}
	if _, err := os.Stat(filepath.Join(state, "replies.db.log")); err != nil {
		t.Errorf("no store in the state directory: %v", err)
	}
	_ = v
}

// TestLegacyStoreKeepsBeingUsed runs into an output directory that holds a
// store where runs kept it before: it keeps being used (nothing is paid
// again), the run logs how to move it, and once moved by that command the
// state directory's store serves.
func TestLegacyStoreKeepsBeingUsed(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	t.Setenv(config.EnvStateDir, state)
	v, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	cfg.Products = map[string]config.ProductConfig{"JRZQ9E2A": {Burst: 1, Concurrency: 4}}
	cfg.Cache.Path = filepath.Join(cfg.Output.Dir, ".scorepipe", "replies.db") // as runs kept it before
	run(t, cfg, env(client))
	paid := v.Billed("JRZQ9E2A")

	cfg.Cache.Path = ""
	if got := cfg.CachePath(); got != filepath.Join(cfg.Output.Dir, ".scorepipe", "replies.db") {
		t.Fatalf("CachePath() = %q, want the store in the output directory", got)
	}
	hint := cfg.LegacyStoreHint()
	if !strings.Contains(hint, "mv ") || !strings.Contains(hint, state) {
		t.Fatalf("hint %q is not a command moving the store to %s", hint, state)
	}
	var logs strings.Builder
	e := env(client)
	e.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	run(t, cfg, e)
	if v.Billed("JRZQ9E2A") != paid {
		t.Errorf("the run paid %d again with the store in the output directory", v.Billed("JRZQ9E2A")-paid)
	}
	if !strings.Contains(logs.String(), "mkdir -p -m 700") {
		t.Errorf("the log does not say how to move the store:\n%s", logs.String())
	}
	if out, err := exec.CommandContext(context.Background(), "sh", "-c", hint).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", hint, err, out)
	}
	if got := cfg.CachePath(); got != filepath.Join(state, "replies.db") {
		t.Fatalf("after the move, CachePath() = %q", got)
	}
	run(t, cfg, env(client))
	if v.Billed("JRZQ9E2A") != paid {
		t.Errorf("the run paid %d again after the store was moved", v.Billed("JRZQ9E2A")-paid)
	}
	if cfg.LegacyStoreHint() != "" {
		t.Error("a hint after the move")
	}
}
