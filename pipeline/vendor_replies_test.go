package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// writeApplicants writes n made-up applicants, each authorised for both
// products, and returns the file's path.
func writeApplicants(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "applicants.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tianyuantest.WriteApplicants(f, n, 42); err != nil {
		t.Fatal(err)
	}
	return path
}

// featuresWithoutCallColumns reads features.csv without the columns that
// differ from call to call (transaction ids, query times).
func featuresWithoutCallColumns(t *testing.T, dir string) [][]string {
	t.Helper()
	header, rows := readCSV(t, filepath.Join(dir, pipeline.FileCSV))
	var keep []int
	for i, h := range header {
		if !strings.HasSuffix(h, "_transaction_id") && !strings.HasSuffix(h, "_queried_at") {
			keep = append(keep, i)
		}
	}
	out := make([][]string, 0, len(rows)+1)
	for _, r := range append([][]string{header}, rows...) {
		var kept []string
		for _, i := range keep {
			kept = append(kept, r[i])
		}
		out = append(out, kept)
	}
	return out
}

// TestComboShapesGiveTheSameFeatures: COMBTY11 answered in the plain shape
// of its documentation gives every row ok with one request per applicant,
// and the same features as the enveloped shape (with data as an object or
// as a string holding one, message and transaction id in any form).
func TestComboShapesGiveTheSameFeatures(t *testing.T) {
	shapes := []struct {
		name   string
		shapes tianyuantest.Shapes
	}{
		{"envelope", tianyuantest.Shapes{Combo: tianyuantest.ComboEnvelope}},
		{"plain", tianyuantest.Shapes{Combo: tianyuantest.ComboPlain}},
		{"envelope, data as a string, numbers", tianyuantest.Shapes{DataAsString: true, EnvelopeFields: tianyuantest.FieldsNumbers}},
		{"plain, envelope fields absent", tianyuantest.Shapes{Combo: tianyuantest.ComboPlain, EnvelopeFields: tianyuantest.FieldsAbsent}},
	}
	var first [][]string
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			v, client := fakeVendor(t, tianyuantest.Options{Shapes: sh.shapes})
			cfg := sampleConfig(t)
			cfg.Output.Formats = []string{config.FormatCSV}
			m, err := pipeline.Run(context.Background(), cfg, env(client))
			requireComplete(t, err)
			p := m.Products["COMBTY11"]
			if p.Failed != 0 || p.NoRecord != 0 || p.OK == 0 || p.OK+p.Skipped != m.Rows.Valid {
				t.Errorf("COMBTY11 outcomes %+v for %d valid rows, want every authorised row ok", p.StatusCounts, m.Rows.Valid)
			}
			if p.Retries != 0 || p.PossiblyBilled != 0 || p.Calls != p.Billed {
				t.Errorf("COMBTY11 calls %d billed %d retries %d possibly billed %d, want one paid call per applicant",
					p.Calls, p.Billed, p.Retries, p.PossiblyBilled)
			}
			if got := v.Requests("COMBTY11"); got != p.Calls || got != int64(p.OK)-int64(p.Deduplicated) {
				t.Errorf("vendor saw %d requests; manifest %d calls, %d ok rows, %d deduplicated", got, p.Calls, p.OK, p.Deduplicated)
			}
			if n := paidTwice(t, v, "COMBTY11"); n != 0 {
				t.Errorf("%d applicants paid twice", n)
			}
			got := featuresWithoutCallColumns(t, cfg.Output.Dir)
			// Stored like any reply: a rerun pays nothing and gives the
			// same features.
			paid := v.Requests("COMBTY11")
			again, err := pipeline.Run(context.Background(), cfg, env(client))
			requireComplete(t, err)
			if v.Requests("COMBTY11") != paid || again.Products["COMBTY11"].Calls != 0 {
				t.Errorf("rerun made %d requests, want 0", v.Requests("COMBTY11")-paid)
			}
			if i := firstDifference(featuresWithoutCallColumns(t, cfg.Output.Dir), got); i >= 0 {
				t.Errorf("rerun gives other features from row %d", i)
			}
			if first == nil {
				first = got
				return
			}
			if i := firstDifference(got, first); i >= 0 {
				t.Errorf("features differ from the envelope's from row %d", i)
			}
		})
	}
}

// firstDifference returns the index of the first row where a and b differ
// (len of the shorter when one is a prefix of the other), or -1.
func firstDifference(a, b [][]string) int {
	for i := range min(len(a), len(b)) {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestUnreadableRepliesAreNotPaidAgain: a reply that cannot be read is
// never paid for again in the run: valid JSON that cannot be understood
// (every kind), HTTP 500 carrying a code-0 answer and a body over the cap
// take one request per applicant; a body that is not JSON at all two. The
// rows fail with a message saying what was wrong and quoting nothing of
// the reply; the manifest counts the replies as possibly billed.
func TestUnreadableRepliesAreNotPaidAgain(t *testing.T) {
	type tc struct {
		name       string
		faults     tianyuantest.Faults
		shape      string
		perRow     int64
		applicants int
		reason     string
	}
	var tests []tc
	for i, kind := range tianyuantest.MalformedKinds {
		shape := []string{tianyuantest.ComboEnvelope, tianyuantest.ComboPlain}[i%2]
		tests = append(tests, tc{"malformed " + kind + " " + shape, tianyuantest.Faults{Malformed: 1, MalformedKind: kind}, shape, 1, 6, "unreadable reply (HTTP 200)"})
	}
	tests = append(tests,
		tc{"HTTP 500 carrying code 0", tianyuantest.Faults{HTTP500Code0: 1}, tianyuantest.ComboPlain, 1, 6, "HTTP 500 with a success answer"},
		tc{"oversized", tianyuantest.Faults{Oversized: 1}, "", 1, 2, "larger than"},
		tc{"not JSON", tianyuantest.Faults{Garbage: 1}, "", 2, 6, "not JSON"},
	)
	secrets := []string{"fraudScore", "riskWarning", "hasCriminalRecord", "sxbzxr", "xyp_cpl", "建议", "风险"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, client := fakeVendor(t, tianyuantest.Options{Faults: tt.faults, Shapes: tianyuantest.Shapes{Combo: tt.shape}})
			cfg := sampleConfig(t)
			cfg.Input.Files = []string{writeApplicants(t, tt.applicants)}
			cfg.Output.Formats = []string{config.FormatCSV}
			m, err := pipeline.Run(context.Background(), cfg, env(client))
			if !errors.Is(err, pipeline.ErrRowsFailed) {
				t.Fatalf("Run: %v, want rows failed (exit 2)", err)
			}
			header, rows := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
			for _, code := range []string{"JRZQ9E2A", "COMBTY11"} {
				p := m.Products[code]
				want := tt.perRow * int64(tt.applicants)
				if p.Failed != tt.applicants || p.Calls != want || p.PossiblyBilled != want || p.Billed != 0 {
					t.Errorf("%s: failed %d calls %d possibly billed %d billed %d; want %d failed, %d calls, all possibly billed",
						code, p.Failed, p.Calls, p.PossiblyBilled, p.Billed, tt.applicants, want)
				}
				if got := v.Requests(code); got != want {
					t.Errorf("%s: vendor saw %d requests, want %d", code, got, want)
				}
				status, message := column(t, header, strings.ToLower(code)+"_status"), column(t, header, strings.ToLower(code)+"_message")
				for _, r := range rows {
					if r[status] != "failed" || !strings.Contains(r[message], tt.reason) || !strings.Contains(r[message], "may have billed") {
						t.Errorf("%s: status %q message %q, want failed saying %q", code, r[status], r[message], tt.reason)
					}
					for _, s := range secrets {
						if strings.Contains(r[message], s) {
							t.Errorf("%s: message %q carries %q from the reply", code, r[message], s)
						}
					}
				}
			}
			var onDisk struct {
				Products map[string]map[string]any `json:"products"`
			}
			data, err := os.ReadFile(filepath.Join(cfg.Output.Dir, pipeline.FileManifest))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &onDisk); err != nil {
				t.Fatal(err)
			}
			if got := onDisk.Products["COMBTY11"]["possibly_billed"]; got != float64(tt.perRow*int64(tt.applicants)) {
				t.Errorf("manifest.json COMBTY11 possibly_billed = %v", got)
			}
		})
	}
}

// TestPossiblyBilledRepliesCountAgainstTheBudget: replies that may have
// been paid for keep their share of limits.max_calls. The plan of 20
// applicants fits a budget of 20 calls; a body that is not JSON is tried
// once more, so the run reaches the budget call by call.
func TestPossiblyBilledRepliesCountAgainstTheBudget(t *testing.T) {
	v, client := fakeVendor(t, tianyuantest.Options{Faults: tianyuantest.Faults{Garbage: 1}})
	cfg := sampleConfig(t)
	cfg.Input.Files = []string{writeApplicants(t, 20)}
	cfg.Products = map[string]config.ProductConfig{"JRZQ9E2A": {Burst: 1, Concurrency: 1}}
	cfg.Limits.MaxCalls = 20
	_, err := pipeline.Run(context.Background(), cfg, env(client))
	var be *pipeline.BudgetError
	if !errors.As(err, &be) {
		t.Fatalf("Run: %v, want the budget to stop it", err)
	}
	if got := v.Requests("JRZQ9E2A"); got != 20 {
		t.Errorf("vendor saw %d requests, want the 20 limits.max_calls allows", got)
	}
}

// TestRedirectStopsTheRun: an endpoint that redirects (https to plain
// http, or anywhere) stops the run as a wrong endpoint, naming where it
// pointed; no request ever reaches the redirect target and nothing is
// published.
func TestRedirectStopsTheRun(t *testing.T) {
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	defer target.Close()
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			v := tianyuantest.New(tianyuantest.Options{Faults: tianyuantest.Faults{RedirectTo: target.URL + "/api/v1/JRZQ9E2A", RedirectStatus: status}})
			srv := httptest.NewTLSServer(v)
			defer srv.Close()
			client, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: srv.URL, AccessID: tianyuantest.DemoAccessID,
				Key: tianyuantest.DemoKey(), HTTP: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			cfg := sampleConfig(t)
			_, err = pipeline.Run(context.Background(), cfg, env(client))
			var ae *pipeline.AbortError
			var re *tianyuan.RedirectError
			if !errors.As(err, &ae) || !errors.As(err, &re) {
				t.Fatalf("Run: %v, want an abort on the redirect", err)
			}
			if !strings.Contains(err.Error(), target.URL+"/api/v1/JRZQ9E2A") {
				t.Errorf("message %q does not name the redirect target", err)
			}
			if hits.Load() != 0 {
				t.Errorf("%d requests reached the redirect target", hits.Load())
			}
			if n := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11"); n == 0 || n > 16 {
				t.Errorf("the redirecting endpoint saw %d requests, want at most those in flight", n)
			}
			if _, err := os.Stat(filepath.Join(cfg.Output.Dir, pipeline.FileSuccess)); err == nil {
				t.Error("_SUCCESS published after a redirect")
			}
		})
	}
}
