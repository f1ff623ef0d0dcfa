package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

func TestCombo(t *testing.T) {
	_, client := fakeVendor(t, tianyuantest.Options{Shapes: tianyuantest.Shapes{SubFailure: 0.1}})
	cfg := sampleConfig(t)
	m, err := pipeline.Run(context.Background(), cfg, env(client))
	var inc *pipeline.Incomplete
	if !errors.As(err, &inc) {
		t.Fatalf("Run: %v, want *pipeline.Incomplete for the sub-products that failed", err)
	}
	subs := m.Products["COMBTY11"].SubProducts
	if subs["FLXG0V4B"].Failed == 0 {
		t.Fatalf("no FLXG0V4B failure among %d rows; the fake was asked to fail 10 %%", m.Rows.Valid)
	}
	header, rows := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
	col := func(name string) int { return column(t, header, name) }
	flxg, dwbg := col("flxg0v4b_status"), col("dwbg8b4d_status")
	sx, fraud := col("flxg0v4b_sxbzxr_count"), col("dwbg8b4d_fraud_score")
	overdue := col("dwbg8b4d_overdue_risk_product_has_unsettled_overdue")
	amountCode, amountLow := col("dwbg8b4d_overdue_risk_product_current_overdue_amount_code"), col("dwbg8b4d_overdue_risk_product_current_overdue_amount_low")
	failed, alone, overdueSeen, amounts := 0, 0, map[string]bool{}, 0
	for _, r := range rows {
		if r[flxg] == "failed" {
			failed++
			if r[sx] != "" {
				t.Errorf("row %s: FLXG0V4B failed but flxg0v4b_sxbzxr_count = %q", r[1], r[sx])
			}
			if r[dwbg] == "ok" {
				alone++
				if r[fraud] == "" {
					t.Errorf("row %s: FLXG0V4B failed and DWBG8B4D lost its features", r[1])
				}
			}
		}
		overdueSeen[r[overdue]] = true
		if r[amountCode] == "(0,1000)" {
			amounts++
			if r[amountLow] != "0" {
				t.Errorf("(0,1000) → low %q, want 0", r[amountLow])
			}
		}
	}
	if alone == 0 {
		t.Errorf("no row in which FLXG0V4B failed alone: a sub-product's failure must not take the other's features")
	}
	if failed != subs["FLXG0V4B"].Failed {
		t.Errorf("%d rows with flxg0v4b_status failed, manifest says %d", failed, subs["FLXG0V4B"].Failed)
	}
	if !overdueSeen["0"] {
		t.Errorf("逾期/未逾期 values seen %v, want 0 among them", overdueSeen)
	}
}

func TestUnknownFieldIsCountedNotFatal(t *testing.T) {
	_, client := fakeVendor(t, tianyuantest.Options{ExtraFields: 2})
	cfg := sampleConfig(t)
	m, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	name := "JRZQ9E2A." + tianyuantest.ExtraFactor(1)
	if got := m.Unknowns.Fields[name]; got == 0 {
		t.Errorf("manifest unknowns.fields = %v, want %s counted", m.Unknowns.Fields, name)
	}
}

func TestSchemaStableWhateverTheReplies(t *testing.T) {
	cases := []struct {
		name   string
		faults tianyuantest.Faults
	}{
		{"all answered", tianyuantest.Faults{}},
		{"all failing", tianyuantest.Faults{HTTP503: 1}},
		{"half failing", tianyuantest.Faults{Garbage: 0.5}},
	}
	var want string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, client := fakeVendor(t, tianyuantest.Options{Faults: c.faults, Seed: 3})
			cfg := sampleConfig(t)
			cfg.Retry.MaxAttempts = 1
			if _, err := pipeline.Run(context.Background(), cfg, env(client)); err != nil && !errors.Is(err, pipeline.ErrRowsFailed) {
				t.Fatal(err)
			}
			got := readParquet(t, filepath.Join(cfg.Output.Dir, pipeline.FileParquet)).Schema().String()
			if want == "" {
				want = got
			} else if got != want {
				t.Errorf("schema differs from the first case:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestUserMappingsReplaceATable(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tables"), 0o755); err != nil {
		t.Fatal(err)
	}
	official := "code,range,source\n1,\"[0,5]\",user\n2,\"[6,10]\",user\n3,\"[11,20]\",user\n4,\"[21,50]\",user\n5,\"[51,100]\",user\n6,\"(100,+∞)\",user\n"
	if err := os.WriteFile(filepath.Join(dir, "tables", "jrzq9e2a_count.csv"), []byte(official), 0o644); err != nil {
		t.Fatal(err)
	}
	_, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	cfg.Mappings.Dir = dir
	m, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	header, rows := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
	code, high := column(t, header, "xyp_cpl0001_code"), column(t, header, "xyp_cpl0001_high")
	for _, r := range rows {
		if r[code] == "1" && r[high] != "5" {
			t.Fatalf("code 1 → high %q, want 5 from the user's table", r[high])
		}
	}
	found := false
	for _, f := range m.Mappings {
		if f.Name == "tables/jrzq9e2a_count.csv" {
			found = f.Origin != "embedded"
		}
	}
	if !found {
		t.Errorf("manifest mappings do not record the user's table: %+v", m.Mappings)
	}
}
