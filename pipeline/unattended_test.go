package pipeline_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/xuri/excelize/v2"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/sinks"
)

// unlimited is a product setting without a rate limit.
var unlimited = config.ProductConfig{Burst: 5, Concurrency: 8}

// writeRows writes rows as a CSV file in a temporary directory.
func writeRows(t *testing.T, name string, rows [][]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	writeDelimited(t, path, rows, ',', false, false)
	return path
}

// readManifest reads manifest.json as written.
func readManifest(t *testing.T, dir string) manifest.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, pipeline.FileManifest))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestVerdict runs jobs that finish but are not complete, each in one way
// a scheduler must hear of: the run returns an *Incomplete (exit 2) whose
// reasons, one a line, are those of manifest.json; a complete run has
// none.
func TestVerdict(t *testing.T) {
	rows := cleanSampleRows(t)
	renamed := append([]string(nil), rows[0]...)
	for i, h := range renamed {
		if h == "授权书编号" {
			renamed[i] = "授权编号" // the authorization column under another name
		}
	}
	noURL := [][]string{}
	for _, r := range rows[:40] {
		noURL = append(noURL, append(append([]string(nil), r[:5]...), r[7:]...)) // without authorization_url, auth_date
	}
	jrzq := map[string]config.ProductConfig{"JRZQ9E2A": unlimited}
	both := map[string]config.ProductConfig{"JRZQ9E2A": unlimited, "COMBTY11": unlimited}
	cases := []struct {
		name     string
		rows     [][]string
		products map[string]config.ProductConfig
		faults   tianyuantest.Faults
		want     []string // reasons, by prefix; none for a complete run
		shapes   tianyuantest.Shapes
	}{
		{"complete", rows[:30], jrzq, tianyuantest.Faults{}, nil, tianyuantest.Shapes{}},
		{"every row rejected", append([][]string{renamed}, rows[1:30]...), jrzq, tianyuantest.Faults{},
			[]string{"no valid row: all 29 input rows were rejected"}, tianyuantest.Shapes{}},
		{"rows failed at the vendor", rows[:60], jrzq, tianyuantest.Faults{Code1001: 0.3},
			[]string{"JRZQ9E2A failed at the vendor for "}, tianyuantest.Shapes{}},
		{"every row failed at the vendor", rows[:20], jrzq, tianyuantest.Faults{Code1001: 1},
			[]string{"JRZQ9E2A failed at the vendor for "}, tianyuantest.Shapes{}},
		{"a product skipped for every row", noURL, both, tianyuantest.Faults{},
			[]string{"COMBTY11 was skipped for every row: missing authorization_url"}, tianyuantest.Shapes{}},
		{"a sub-product failed for some rows", rows, map[string]config.ProductConfig{"COMBTY11": unlimited}, tianyuantest.Faults{},
			[]string{"DWBG8B4D (in COMBTY11) failed for ", "FLXG0V4B (in COMBTY11) failed for "}, tianyuantest.Shapes{SubFailure: 0.05}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, client := fakeVendor(t, tianyuantest.Options{Seed: 3, Faults: c.faults, Shapes: c.shapes})
			cfg := sampleConfig(t)
			cfg.Input.Files = []string{writeRows(t, "in.csv", c.rows)}
			cfg.Products = c.products
			cfg.Retry.MaxAttempts = 1
			m, err := pipeline.Run(context.Background(), cfg, env(client))
			var inc *pipeline.Incomplete
			switch {
			case c.want == nil && err != nil:
				t.Fatalf("Run: %v, want a complete run", err)
			case c.want != nil && !errors.As(err, &inc):
				t.Fatalf("Run: %v, want *Incomplete", err)
			case c.want != nil && !errors.Is(err, pipeline.ErrRowsFailed):
				t.Errorf("%v does not match ErrRowsFailed", err)
			}
			if m == nil {
				t.Fatal("no manifest")
			}
			onDisk := readManifest(t, cfg.Output.Dir)
			wantCode := 0
			if c.want != nil {
				wantCode = 2
			}
			if onDisk.Exit.Code != wantCode || m.Exit.Code != wantCode {
				t.Errorf("manifest exit code %d (returned %d), want %d", onDisk.Exit.Code, m.Exit.Code, wantCode)
			}
			if len(onDisk.Exit.Reasons) != len(c.want) {
				t.Fatalf("manifest reasons %q, want %d starting %q", onDisk.Exit.Reasons, len(c.want), c.want)
			}
			for i, want := range c.want {
				if !strings.HasPrefix(onDisk.Exit.Reasons[i], want) {
					t.Errorf("reason %q, want it to start %q", onDisk.Exit.Reasons[i], want)
				}
				if !strings.Contains(err.Error(), onDisk.Exit.Reasons[i]) {
					t.Errorf("error %q does not give the manifest's reason %q", err, onDisk.Exit.Reasons[i])
				}
			}
			if _, err := os.Stat(filepath.Join(cfg.Output.Dir, pipeline.FileSuccess)); err != nil {
				t.Errorf("no _SUCCESS: an incomplete run still publishes what it has (%v)", err)
			}
			if p := m.Products["JRZQ9E2A"]; c.faults.Code1001 == 1 && (p.Failed != m.Rows.Written || m.Rows.Written == 0) {
				t.Errorf("%d of %d rows failed, want all", p.Failed, m.Rows.Written)
			}
		})
	}
}

// TestManifestProvenance checks that manifest.json holds what an auditor
// asks first, and that a run on the fake vendor says so in every file that
// can carry it.
func TestManifestProvenance(t *testing.T) {
	for _, fake := range []bool{true, false} {
		t.Run(map[bool]string{true: "fake vendor", false: "real vendor"}[fake], func(t *testing.T) {
			v, client := fakeVendor(t, tianyuantest.Options{})
			cfg, err := config.LoadConfig("../samples/pipeline.yaml", "products.JRZQ9E2A.price=0.35", "products.COMBTY11.rate_per_second=0",
				"products.JRZQ9E2A.rate_per_second=0", "output.formats=[parquet, xlsx]", "retry.base_delay=1ms")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Output.Dir = t.TempDir()
			cfg.Cache.Path = filepath.Join(t.TempDir(), "state", "replies.db") // the test's own state: it pays
			e := env(client)
			e.Vendor = manifest.VendorInfo{Endpoint: "https://vendor.example/api", Fake: fake}
			e.Build = manifest.Build{Version: "v1.2.3", Revision: "0123456789abcdef", Modified: true, Go: "go1.26"}
			e.Command = []string{"scorepipe", "run", "--set", "products.JRZQ9E2A.price=0.35"}
			start := time.Now()
			_, err = pipeline.Run(context.Background(), cfg, e)
			requireComplete(t, err)
			m := readManifest(t, cfg.Output.Dir)

			if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(m.RunID) {
				t.Errorf("run_id %q, want a UUID version 7", m.RunID)
			}
			if m.Build != e.Build {
				t.Errorf("build %+v, want %+v", m.Build, e.Build)
			}
			if strings.Join(m.Command, " ") != strings.Join(e.Command, " ") {
				t.Errorf("command %q, want %q", m.Command, e.Command)
			}
			if m.StartedAt.IsZero() || m.FinishedAt.Before(m.StartedAt) || m.StartedAt.Before(fixedNow.Add(-time.Second)) {
				t.Errorf("started %v, finished %v", m.StartedAt, m.FinishedAt)
			}
			_ = start
			if m.Vendor != e.Vendor {
				t.Errorf("vendor %+v, want %+v", m.Vendor, e.Vendor)
			}
			// The effective configuration, after the overrides.
			products, _ := m.Config["products"].(map[string]any)
			jrzq, _ := products["JRZQ9E2A"].(map[string]any)
			if jrzq["price"] != 0.35 {
				t.Errorf("config products.JRZQ9E2A.price = %v, want 0.35 from --set", jrzq["price"])
			}
			if vendor, _ := m.Config["vendor"].(map[string]any); vendor["timeout"] != "15s" {
				t.Errorf("config vendor.timeout = %v, want \"15s\"", vendor["timeout"])
			}
			if cache, _ := m.Config["cache"].(map[string]any); cache["path"] != cfg.CachePath() {
				t.Errorf("config cache.path = %v, want the store used, %s", cache["path"], cfg.CachePath())
			}
			// Inputs with size and hash.
			data, err := os.ReadFile("../samples/applicants.csv")
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if len(m.Inputs) != 1 || m.Inputs[0].Size != int64(len(data)) || m.Inputs[0].SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("inputs %+v, want size %d and sha256 %x", m.Inputs, len(data), sum)
			}
			// Money spent: billed × price, per product and in all.
			total := 0.0
			for code, p := range m.Products {
				price := cfg.Products[code].Price
				if want := float64(v.Billed(code)) * price; p.Billed != v.Billed(code) || p.Price != price || abs(p.Cost-want) > 1e-9 {
					t.Errorf("%s: billed %d at %v costs %v; the vendor billed %d, want cost %v", code, p.Billed, p.Price, p.Cost, v.Billed(code), want)
				}
				total += p.Cost
			}
			if abs(m.Cost-total) > 1e-9 || m.Cost == 0 {
				t.Errorf("cost %v, want the products' sum %v", m.Cost, total)
			}

			// The Parquet file's key-value metadata.
			pf, err := file.OpenParquetFile(filepath.Join(cfg.Output.Dir, pipeline.FileParquet), false)
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			kv := pf.MetaData().KeyValueMetadata()
			get := func(key string) string {
				if v := kv.FindValue(key); v != nil {
					return *v
				}
				return ""
			}
			if got := get("scorepipe.vendor_fake"); got != map[bool]string{true: "true", false: "false"}[fake] {
				t.Errorf("parquet scorepipe.vendor_fake = %q, want %v", got, fake)
			}
			if got := get("scorepipe.synthetic"); (got != "") != fake || fake && !strings.Contains(got, "SYNTHETIC") {
				t.Errorf("parquet scorepipe.synthetic = %q (fake vendor %v)", got, fake)
			}
			if get("scorepipe.run_id") != m.RunID || !strings.Contains(get("scorepipe.build"), e.Build.Revision) {
				t.Errorf("parquet run_id %q, build %q; want %s and the revision", get("scorepipe.run_id"), get("scorepipe.build"), m.RunID)
			}

			// The workbook's about sheet.
			x, err := excelize.OpenFile(filepath.Join(cfg.Output.Dir, pipeline.FileXLSX))
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			about, err := x.GetRows(sinks.AboutSheet)
			if err != nil {
				t.Fatal(err)
			}
			items := map[string]string{}
			for _, r := range about[1:] {
				if len(r) == 2 {
					items[r[0]] = r[1]
				}
			}
			if got := items["synthetic"]; strings.Contains(got, "SYNTHETIC") != fake {
				t.Errorf("about sheet: synthetic %q (fake vendor %v)", got, fake)
			}
			if items["run_id"] != m.RunID || items["vendor_endpoint"] != e.Vendor.Endpoint {
				t.Errorf("about sheet %v, want run_id %s and the endpoint", items, m.RunID)
			}
			if x.GetSheetName(x.GetActiveSheetIndex()) != "features" {
				t.Errorf("active sheet %q, want features", x.GetSheetName(x.GetActiveSheetIndex()))
			}
		})
	}
}

func jsonLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestReuseAndRefresh reruns a job: a stored reply is reused while it is
// younger than cache.reuse_within and paid for again once older; --refresh
// pays for every applicant again, once. The runs move the clock of the
// run, the client and the vendor together.
func TestReuseAndRefresh(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Now: clock})
	t.Cleanup(srv.Close)
	client, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: srv.URL, AccessID: tianyuantest.DemoAccessID,
		Key: tianyuantest.DemoKey(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sampleConfig(t)
	cfg.Products = map[string]config.ProductConfig{"JRZQ9E2A": unlimited}
	cfg.Cache.ReuseWithin = 720 * time.Hour
	const day = 24 * time.Hour
	steps := []struct {
		name              string
		at                time.Duration // from now
		refresh           bool
		billed, fromStore int64
	}{
		{"first run pays for each applicant", -31 * day, false, 210, 0},
		{"two days later: reused", -29 * day, false, 0, 213},
		{"31 days after the first: older than reuse_within, paid again", 0, false, 210, 0},
		{"then reused", 0, false, 0, 213},
		{"refresh pays again, once per applicant", 0, true, 210, 0},
		{"after a refresh: reused", 0, false, 0, 213},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			offset.Store(int64(s.at))
			before := v.Billed("JRZQ9E2A")
			e := env(client)
			e.Now, e.Refresh = clock, s.refresh
			m, err := pipeline.Run(context.Background(), cfg, e)
			if err != nil {
				t.Fatal(err)
			}
			p := m.Products["JRZQ9E2A"]
			if got := v.Billed("JRZQ9E2A") - before; got != s.billed || p.Billed != s.billed {
				t.Errorf("vendor billed %d, manifest billed %d; want %d", got, p.Billed, s.billed)
			}
			// The run tells a reply it paid for from one of an earlier run
			// by the wall clock: only the runs at the present are told
			// apart exactly.
			if s.at == 0 && (p.FromStore != s.fromStore || s.billed > 0 && p.Deduplicated != 3) {
				t.Errorf("from the store %d, deduplicated %d; want %d from the store and, when paying, the 3 repeated applicants deduplicated",
					p.FromStore, p.Deduplicated, s.fromStore)
			}
			if s.fromStore > 0 && p.FromStore != s.fromStore {
				t.Errorf("from the store %d, want %d", p.FromStore, s.fromStore)
			}
		})
	}
}

// TestPIIKeep checks both settings of output.pii: mask writes masked
// identity columns, keep writes them as normalised; rejects.csv and the
// logs are masked either way.
func TestPIIKeep(t *testing.T) {
	rows := cleanSampleRows(t)
	raw := map[string][3]string{} // application_id → name, id_card, mobile
	for _, r := range rows[1:] {
		raw[r[0]] = [3]string{r[1], r[2], r[3]}
	}
	for _, pii := range []string{"mask", "keep"} {
		t.Run(pii, func(t *testing.T) {
			var logs strings.Builder
			_, client := fakeVendor(t, tianyuantest.Options{})
			cfg := sampleConfig(t)
			cfg.Products = map[string]config.ProductConfig{"JRZQ9E2A": unlimited}
			cfg.Output.PII = pii
			e := env(client)
			e.Logger = jsonLogger(&logs)
			if _, err := pipeline.Run(context.Background(), cfg, e); err != nil {
				t.Fatal(err)
			}
			header, feats := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
			app, name, id, mobile := column(t, header, "application_id"), column(t, header, "name"), column(t, header, "id_card"), column(t, header, "mobile_no")
			masked := regexp.MustCompile(`^\d{6}\*{8}\d{3}[\dX]$`)
			for _, r := range feats {
				want := raw[r[app]]
				switch pii {
				case "keep":
					if r[name] != want[0] || r[id] != want[1] || r[mobile] != want[2] {
						t.Fatalf("%s: %s %s %s, want the raw %s %s %s", r[app], r[name], r[id], r[mobile], want[0], want[1], want[2])
					}
				case "mask":
					if !masked.MatchString(r[id]) || r[mobile] != want[2][:3]+"****"+want[2][7:] || r[name] == want[0] && len([]rune(want[0])) > 1 {
						t.Fatalf("%s: %s %s %s, want masked", r[app], r[name], r[id], r[mobile])
					}
				}
			}
			_, rejects := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileRejects))
			for _, pii := range sampleIdentities(t) {
				for _, r := range rejects {
					if strings.Contains(strings.Join(r, ","), pii) {
						t.Errorf("rejects.csv holds %s… raw", pii[:3])
					}
				}
				if strings.Contains(logs.String(), pii) {
					t.Errorf("the logs hold %s… raw", pii[:3])
				}
			}
		})
	}
}
