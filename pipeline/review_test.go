package pipeline_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/review"
)

// TestRunWritesTheReview runs a book twice, the second time with
// review.baseline set to the first: the review joins the new set inside the
// same publish, its alerts come back after the publish, and a failure while
// writing it publishes nothing.
func TestRunWritesTheReview(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := tianyuantest.WriteApplicants(&buf, 300, 11); err != nil {
		t.Fatal(err)
	}
	input := filepath.Join(dir, "applicants.csv")
	if err := os.WriteFile(input, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	chosen := map[string]bool{}
	for _, r := range recs[1:40] {
		chosen[r[2]] = true
	}
	configAt := func(out string) *config.Config {
		cfg := sampleConfig(t)
		cfg.Input.Files = []string{input}
		cfg.Output.Dir = out
		cfg.Output.Formats = []string{config.FormatParquet}
		return cfg
	}
	month := func(cfg *config.Config, opts tianyuantest.Options) (*manifest.Manifest, *tianyuantest.Vendor, error) {
		v, c := fakeVendor(t, opts)
		e := env(c)
		e.Refresh = true // a new month: ask again
		m, err := pipeline.Run(context.Background(), cfg, e)
		return m, v, err
	}
	old, cur := filepath.Join(dir, "old"), filepath.Join(dir, "cur")
	if _, _, err := month(configAt(old), tianyuantest.Options{}); err != nil && !errors.Is(err, pipeline.ErrRowsFailed) {
		t.Fatal(err)
	}

	cfg := configAt(cur)
	cfg.Review.Baseline = old
	cfg.Review.Alerts.Changes = map[string]int64{"became_overdue": 0}
	m, _, err := month(cfg, tianyuantest.Options{CurrentlyOverdue: func(id string) bool { return chosen[id] }})
	var inc *pipeline.Incomplete
	if !errors.As(err, &inc) || !slices.ContainsFunc(inc.Reasons, func(r string) bool {
		return strings.HasPrefix(r, "review alert: ") && strings.Contains(r, "became_overdue")
	}) {
		t.Fatalf("error %v, want an Incomplete whose reasons hold the alert on became_overdue", err)
	}
	if m == nil || m.Review == nil || m.Review.Changes["became_overdue"] == 0 || len(m.Review.Alerts) != 1 || m.Exit.Code != pipeline.ExitIncomplete {
		t.Fatalf("manifest review = %+v, exit %+v: want the changes, the alert and exit 2", m.Review, m.Exit)
	}
	var onDisk struct {
		Review  *manifest.ReviewSummary `json:"review"`
		Outputs []manifest.OutputFile   `json:"outputs"`
		Exit    manifest.Exit           `json:"exit"`
	}
	data, err := os.ReadFile(filepath.Join(cur, pipeline.FileManifest))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk.Review == nil || len(onDisk.Review.Alerts) != 1 || !slices.ContainsFunc(onDisk.Exit.Reasons, func(r string) bool { return strings.HasPrefix(r, "review alert: ") }) {
		t.Errorf("manifest.json review = %+v, exit %+v: want the alert in both", onDisk.Review, onDisk.Exit)
	}
	listed := map[string]bool{}
	for _, o := range onDisk.Outputs {
		listed[o.Name] = true
	}
	for _, f := range []string{review.FileWorkbook, "review.json", review.FileChanges, pipeline.FileSuccess} {
		if _, err := os.Stat(filepath.Join(cur, f)); err != nil {
			t.Errorf("%s not published: %v", f, err)
		}
		if f != pipeline.FileSuccess && !listed[f] {
			t.Errorf("manifest outputs do not list %s", f)
		}
	}
	before, err := os.ReadFile(filepath.Join(cur, "review.json"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a failure while writing the review publishes nothing", func(t *testing.T) {
		undo := pipeline.SetPublishFault(func(step string) error {
			if step == pipeline.StepWrite+review.FileWorkbook {
				return errors.New("disk full (injected)")
			}
			return nil
		})
		defer undo()
		cfg := configAt(cur)
		cfg.Review.Baseline = old
		_, _, err := month(cfg, tianyuantest.Options{})
		var abort *pipeline.AbortError
		if !errors.As(err, &abort) {
			t.Fatalf("error %v, want an AbortError", err)
		}
		after, err := os.ReadFile(filepath.Join(cur, "review.json"))
		if err != nil || !bytes.Equal(before, after) {
			t.Errorf("the old review.json changed or went away (%v)", err)
		}
	})
	t.Run("a missing baseline stops the run before any call", func(t *testing.T) {
		cfg := configAt(filepath.Join(dir, "other"))
		cfg.Review.Baseline = filepath.Join(dir, "nowhere")
		_, v, err := month(cfg, tianyuantest.Options{})
		var ce *config.ConfigError
		if !errors.As(err, &ce) || ce.Field != "review.baseline" {
			t.Errorf("error %v, want a ConfigError on review.baseline", err)
		}
		if n := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11"); n != 0 {
			t.Errorf("%d requests sent, want none", n)
		}
	})
	t.Run("the review needs the parquet format", func(t *testing.T) {
		cfg := configAt(filepath.Join(dir, "csv"))
		cfg.Output.Formats = []string{config.FormatCSV}
		cfg.Review.Baseline = old
		_, _, err := month(cfg, tianyuantest.Options{})
		var ce *config.ConfigError
		if !errors.As(err, &ce) || ce.Field != "review.baseline" {
			t.Errorf("error %v, want a ConfigError on review.baseline", err)
		}
	})
}
