package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/publish"
	"github.com/scorepipe/scorepipe/shards"
)

// tableRows reads every row of a Parquet file as text, keyed by
// source_file and source_row, leaving out the columns that differ from
// call to call (transaction ids, query times).
func tableRows(t *testing.T, path string) (columns []string, rows map[string]string) {
	t.Helper()
	tbl := readParquet(t, path)
	var keep []int
	for i, f := range tbl.Schema().Fields() {
		columns = append(columns, f.Name)
		if !strings.HasSuffix(f.Name, "_transaction_id") && !strings.HasSuffix(f.Name, "_queried_at") {
			keep = append(keep, i)
		}
	}
	rows = map[string]string{}
	n := int(tbl.NumRows())
	cells := make([][]string, n)
	for _, c := range keep {
		i := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for j := 0; j < chunk.Len(); j++ {
				cells[i] = append(cells[i], valueText(chunk, j))
				i++
			}
		}
	}
	file, row := slices.Index(columns, "source_file"), slices.Index(columns, "source_row")
	for _, r := range cells {
		key := r[slices.Index(keep, file)] + "#" + r[slices.Index(keep, row)]
		if _, dup := rows[key]; dup {
			t.Fatalf("%s: row %s twice", path, key)
		}
		rows[key] = strings.Join(r, "|")
	}
	return columns, rows
}

func valueText(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "<null>"
	}
	return a.ValueStr(i)
}

// TestShardsTogetherAreTheWholeRun runs the sample applicants whole, then
// as three shards into one folder, and checks that the shards together
// hold exactly the whole run's rows, features and rejects, each row in
// one shard, each applicant in one shard, and that their counts add up to
// the whole run's.
func TestShardsTogetherAreTheWholeRun(t *testing.T) {
	v, client := fakeVendor(t, tianyuantest.Options{})
	whole := sampleConfig(t)
	whole.Output.Formats = []string{config.FormatParquet, config.FormatCSV}
	whole.Cache.Path = filepath.Join(t.TempDir(), "whole", "replies.db")
	wm, err := pipeline.Run(context.Background(), whole, env(client))
	if err != nil {
		t.Fatal(err)
	}
	wholeCalls := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11")
	wantColumns, wantRows := tableRows(t, filepath.Join(whole.Output.Dir, pipeline.FileParquet))
	_, wantRejects := readCSV(t, filepath.Join(whole.Output.Dir, pipeline.FileRejects))

	const n = 3
	out := filepath.Join(t.TempDir(), "dataset")
	state := filepath.Join(t.TempDir(), "state")
	gotRows := map[string]string{}
	var gotRejects [][]string
	keyShard := map[string]int{}
	var sum manifest.RowCounts
	sumProducts := map[string]manifest.ProductCounts{}
	configHash := ""
	for i := range n {
		cfg := sampleConfig(t)
		cfg.Output.Dir = out
		cfg.Output.Formats = []string{config.FormatParquet, config.FormatXLSX, config.FormatCSV}
		cfg.Cache.Path = filepath.Join(state, "replies.db")
		e := env(client)
		e.Shard = shards.Shard{Index: i, Count: n}
		m, err := pipeline.Run(context.Background(), cfg, e)
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		s := e.Shard
		if m.Shard == nil || m.Shard.Index != i || m.Shard.Count != n || m.Shard.Part != s.Name() {
			t.Fatalf("shard %d: manifest shard %+v", i, m.Shard)
		}
		if got, want := m.Rows.Read+m.Shard.RowsOtherShards, wm.Rows.Read; got != want {
			t.Errorf("shard %d: read %d + other shards %d = %d, want every input row, %d", i, m.Rows.Read, m.Shard.RowsOtherShards, got, want)
		}
		if m.Shard.KeyCheck != manifest.KeyCheck(testSecret) || m.Shard.Store != shards.StorePath(cfg.Cache.Path, s) {
			t.Errorf("shard %d: key check %q, store %q", i, m.Shard.KeyCheck, m.Shard.Store)
		}
		if _, err := os.Stat(m.Shard.Store); err != nil {
			t.Errorf("shard %d: its reply store: %v", i, err)
		}
		// Its files, under their part names, and its marker.
		for _, rel := range []string{s.File(shards.DirFeatures, ".parquet"), s.File(shards.DirCSV, ".csv"),
			s.File(shards.DirRejects, ".csv"), s.File(shards.DirManifests, ".json"), s.Marker()} {
			if _, err := os.Stat(filepath.Join(out, rel)); err != nil {
				t.Errorf("shard %d: %v", i, err)
			}
		}
		var listed []string
		for _, o := range m.Outputs {
			listed = append(listed, o.Name)
		}
		if want := []string{s.File(shards.DirFeatures, ".parquet"), s.File(shards.DirCSV, ".csv"), s.File(shards.DirRejects, ".csv")}; !slices.Equal(listed, want) {
			t.Errorf("shard %d: outputs %v, want %v (no workbook)", i, listed, want)
		}
		var onDisk manifest.Manifest
		data, err := os.ReadFile(filepath.Join(out, s.File(shards.DirManifests, ".json")))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &onDisk); err != nil {
			t.Fatal(err)
		}
		if configHash == "" {
			configHash = m.ConfigSHA256
		}
		if onDisk.Rows != m.Rows || onDisk.Shard == nil || *onDisk.Shard != *m.Shard || onDisk.ConfigSHA256 != configHash {
			t.Errorf("shard %d: the manifest on disk differs: rows %+v shard %+v config %s", i, onDisk.Rows, onDisk.Shard, onDisk.ConfigSHA256)
		}

		columns, rows := tableRows(t, filepath.Join(out, s.File(shards.DirFeatures, ".parquet")))
		if !slices.Equal(columns, wantColumns) {
			t.Fatalf("shard %d: columns differ from the whole run's", i)
		}
		if len(rows) != m.Rows.Written {
			t.Errorf("shard %d: %d rows in its part, manifest wrote %d", i, len(rows), m.Rows.Written)
		}
		for k, r := range rows {
			if _, dup := gotRows[k]; dup {
				t.Errorf("row %s in two shards", k)
			}
			gotRows[k] = r
		}
		tbl := readParquet(t, filepath.Join(out, s.File(shards.DirFeatures, ".parquet")))
		for _, key := range stringColumn(t, tbl, "applicant_key") {
			if j, ok := keyShard[key]; ok && j != i {
				t.Errorf("applicant %s in shards %d and %d", key, j, i)
			}
			keyShard[key] = i
			if !s.HoldsKey(key) {
				t.Errorf("shard %d holds applicant %s of shard %d", i, key, shards.OfKey(key, n))
			}
		}
		_, rejects := readCSV(t, filepath.Join(out, s.File(shards.DirRejects, ".csv")))
		if len(rejects) != m.Rows.Rejected {
			t.Errorf("shard %d: %d rejects in its part, manifest rejected %d", i, len(rejects), m.Rows.Rejected)
		}
		gotRejects = append(gotRejects, rejects...)
		sum.Read += m.Rows.Read
		sum.Valid += m.Rows.Valid
		sum.Rejected += m.Rows.Rejected
		sum.Written += m.Rows.Written
		for code, p := range m.Products {
			q := sumProducts[code]
			q.OK += p.OK
			q.NoRecord += p.NoRecord
			q.Failed += p.Failed
			q.Skipped += p.Skipped
			q.Billed += p.Billed
			q.Deduplicated += p.Deduplicated
			sumProducts[code] = q
		}
		if m.Rows.Written == 0 || m.Rows.Rejected == 0 {
			t.Errorf("shard %d: %+v: the sample should give every shard rows and rejects", i, m.Rows)
		}
	}
	if sum != wm.Rows {
		t.Errorf("shards' rows add up to %+v, the whole run's are %+v", sum, wm.Rows)
	}
	for code, p := range wm.Products {
		q := sumProducts[code]
		if q.OK != p.OK || q.NoRecord != p.NoRecord || q.Failed != p.Failed || q.Skipped != p.Skipped || q.Billed != p.Billed || q.Deduplicated != p.Deduplicated {
			t.Errorf("%s: shards add up to %+v, the whole run has %+v", code, q, *p)
		}
	}
	if got := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11") - wholeCalls; got != wholeCalls {
		t.Errorf("the shards made %d calls, the whole run %d", got, wholeCalls)
	}
	if len(gotRows) != len(wantRows) {
		t.Errorf("shards hold %d rows, the whole run %d", len(gotRows), len(wantRows))
	}
	for k, want := range wantRows {
		if got, ok := gotRows[k]; !ok {
			t.Errorf("row %s of the whole run is in no shard", k)
		} else if got != want {
			t.Errorf("row %s differs:\n shards: %s\n whole:  %s", k, got, want)
		}
	}
	sortRows := func(rows [][]string) []string {
		var out []string
		for _, r := range rows {
			out = append(out, strings.Join(r, "|"))
		}
		slices.Sort(out)
		return out
	}
	if got, want := sortRows(gotRejects), sortRows(wantRejects); !slices.Equal(got, want) {
		t.Errorf("the shards' rejects differ from the whole run's:\n got %q\nwant %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(out, publish.Marker)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a shard wrote the dataset's _SUCCESS (only collect does): %v", err)
	}
	// A rerun of a shard pays nothing: its replies are in its own store.
	before := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11")
	cfg := sampleConfig(t)
	cfg.Output.Dir = out
	cfg.Cache.Path = filepath.Join(state, "replies.db")
	e := env(client)
	e.Shard = shards.Shard{Index: 1, Count: n}
	if _, err := pipeline.Run(context.Background(), cfg, e); err != nil {
		t.Fatal(err)
	}
	if got := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11") - before; got != 0 {
		t.Errorf("a rerun of shard 1 made %d calls, want 0", got)
	}
}

func TestShardRunRefuses(t *testing.T) {
	_, client := fakeVendor(t, tianyuantest.Options{})
	tests := []struct {
		name    string
		prepare func(t *testing.T, cfg *config.Config)
		field   string
		msg     string
	}{
		{"no parquet", func(t *testing.T, cfg *config.Config) {
			cfg.Output.Formats = []string{config.FormatCSV, config.FormatXLSX}
		}, "output.formats", "add parquet"},
		{"a whole run's folder", func(t *testing.T, cfg *config.Config) {
			c := sampleConfig(t)
			c.Output.Dir = cfg.Output.Dir
			c.Output.Formats = []string{config.FormatCSV}
			if _, err := pipeline.Run(context.Background(), c, env(client)); err != nil {
				t.Fatal(err)
			}
		}, "output.dir", "features.csv of a run that was not sharded"},
		{"a foreign manifest", func(t *testing.T, cfg *config.Config) {
			if err := os.MkdirAll(cfg.Output.Dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(cfg.Output.Dir, "manifest.json"), []byte(`{"rows":{}}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "output.dir", "manifest.json that collect did not write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sampleConfig(t)
			cfg.Output.Dir = filepath.Join(t.TempDir(), "out")
			tt.prepare(t, cfg)
			e := env(client)
			e.Shard = shards.Shard{Index: 0, Count: 2}
			_, err := pipeline.Run(context.Background(), cfg, e)
			var ce *config.ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Run = %v, want a *ConfigError for %s saying %q", err, tt.field, tt.msg)
			}
			if _, err := os.Stat(filepath.Join(cfg.Output.Dir, "_SUCCESS.part-00000-of-00002")); err == nil {
				t.Error("the refused shard published")
			}
		})
	}
}

// TestShardsShareTheLimits checks a shard's share of limits.max_calls: a
// shard of four with a budget of 40 calls has 10, against which its plan
// is checked before any call; with a budget four times its plan it runs.
func TestShardsShareTheLimits(t *testing.T) {
	v, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	cfg.Output.Dir = filepath.Join(t.TempDir(), "out")
	cfg.Limits.MaxCalls = 40
	e := env(client)
	e.Shard = shards.Shard{Index: 2, Count: 4}
	_, err := pipeline.Run(context.Background(), cfg, e)
	var over *pipeline.OverBudget
	if !errors.As(err, &over) || over.Limit != "limits.max_calls" || over.Value != "10" {
		t.Fatalf("Run = %v, want an *OverBudget against the shard's share, 10 calls", err)
	}
	if got := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11"); got != 0 {
		t.Errorf("%d calls before the budget said no", got)
	}
	cfg.Limits.MaxCalls = 4 * over.Calls
	if _, err := pipeline.Run(context.Background(), cfg, e); err != nil {
		t.Fatalf("with a budget of 4 × the shard's plan: %v", err)
	}
	if got := v.Billed("JRZQ9E2A") + v.Billed("COMBTY11"); got != over.Calls {
		t.Errorf("the shard paid %d calls, its plan said %d", got, over.Calls)
	}
}
