package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var (
	started  = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	finished = started.Add(95 * time.Second)
)

func sampleRun() *Run {
	return &Run{
		Rows: Rows{Read: 225, Valid: 212, Rejected: 13, Written: 212, Blank: 2},
		Products: []Product{
			{Code: "JRZQ9E2A", Status: map[string]int64{"ok": 190, "no_record": 20, "failed": 2}, Calls: 215, Billed: 210,
				PossiblyBilled: 1, Retries: 4, FromStore: 1, Deduplicated: 1, Throttled: 3, PausedSeconds: 1.5, RateMin: 12.5, RateFinal: 40, Cost: 105},
			{Code: "COMBTY11", Status: map[string]int64{"ok": 200, "skipped": 12}, Calls: 200, Billed: 200, Cost: 400,
				SubProducts: map[string]map[string]int64{"DWBG8B4D": {"ok": 199, "failed": 1}, "FLXG0V4B": {"ok": 200}}},
		},
		Cost: 505, Started: started, Finished: finished, ExitCode: 2, Reason: ReasonIncomplete,
		Published: true, RunID: "0192-run", Version: "v1.2.3", Shards: 4,
	}
}

// value returns the gauge of family name whose labels include want, and
// whether there is exactly one.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	t.Helper()
	f := families[name]
	if f == nil {
		return 0, false
	}
	if f.GetType() != dto.MetricType_GAUGE {
		t.Errorf("%s is a %s, want a gauge", name, f.GetType())
	}
	found, n := 0.0, 0
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if match {
			found = m.GetGauge().GetValue()
			n++
		}
	}
	return found, n == 1
}

// checkFigures checks that families hold exactly the figures of r, each
// metric with the labels given.
func checkFigures(t *testing.T, families map[string]*dto.MetricFamily, r *Run, labels map[string]string) {
	t.Helper()
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range labels {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	check := func(name string, l map[string]string, want float64) {
		t.Helper()
		got, ok := value(t, families, name, with(l))
		if !ok || got != want {
			t.Errorf("%s%v = %v (found %v), want %v", name, with(l), got, ok, want)
		}
	}
	for kind, n := range map[string]int64{"read": r.Rows.Read, "valid": r.Rows.Valid, "rejected": r.Rows.Rejected, "written": r.Rows.Written, "blank_skipped": r.Rows.Blank} {
		check(NameRows, map[string]string{"kind": kind}, float64(n))
	}
	for _, p := range r.Products {
		for _, s := range Statuses {
			check(NameProductRows, map[string]string{"product": p.Code, "status": s}, float64(p.Status[s]))
		}
		for sub, counts := range p.SubProducts {
			for _, s := range Statuses {
				check(NameSubProductRows, map[string]string{"product": p.Code, "sub_product": sub, "status": s}, float64(counts[s]))
			}
		}
		l := map[string]string{"product": p.Code}
		check(NameCalls, l, float64(p.Calls))
		check(NameBilled, l, float64(p.Billed))
		check(NamePossiblyBilled, l, float64(p.PossiblyBilled))
		check(NameRetries, l, float64(p.Retries))
		check(NameFromStore, l, float64(p.FromStore))
		check(NameDeduplicated, l, float64(p.Deduplicated))
		check(NameThrottled, l, float64(p.Throttled))
		check(NamePaused, l, p.PausedSeconds)
		check(NameRateMin, l, p.RateMin)
		check(NameRateFinal, l, p.RateFinal)
		check(NameProductCost, l, p.Cost)
	}
	check(NameCost, nil, r.Cost)
	check(NameDuration, nil, r.Finished.Sub(r.Started).Seconds())
	check(NameStart, nil, float64(r.Started.Unix()))
	check(NameEnd, nil, float64(r.Finished.Unix()))
	check(NameExitCode, nil, float64(r.ExitCode))
	check(NameInfo, map[string]string{"run_id": r.RunID, "version": r.Version, "reason": r.Reason}, 1)
	if r.Shards > 0 {
		check(NameShards, nil, float64(r.Shards))
	}
	switch {
	case r.Published:
		check(NameLastSuccess, nil, float64(r.Finished.Unix()))
	case !r.LastSuccess.IsZero():
		check(NameLastSuccess, nil, float64(r.LastSuccess.Unix()))
	default:
		if _, ok := families[NameLastSuccess]; ok {
			t.Errorf("%s written with no success known", NameLastSuccess)
		}
	}
}

func TestTextParsesToTheFigures(t *testing.T) {
	failed := sampleRun()
	failed.Published, failed.ExitCode, failed.Reason = false, 3, ReasonInterrupted
	failed.LastSuccess = started.Add(-24 * time.Hour)
	never := sampleRun()
	never.Published, never.ExitCode, never.Shards = false, 3, 0
	tests := []struct {
		name   string
		run    *Run
		labels prometheus.Labels
	}{
		{"published", sampleRun(), prometheus.Labels{"scorepipe_job": "nightly"}},
		{"published shard", sampleRun(), prometheus.Labels{"scorepipe_job": "book", "shard": "3"}},
		{"stopped, an earlier success", failed, prometheus.Labels{"scorepipe_job": "nightly"}},
		{"stopped, no success known", never, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := tt.run.Text(tt.labels)
			if err != nil {
				t.Fatal(err)
			}
			families, err := Parse(data)
			if err != nil {
				t.Fatalf("Prometheus's parser refuses the text: %v\n%s", err, data)
			}
			checkFigures(t, families, tt.run, tt.labels)
		})
	}
}

// TestReasonIsAFixedPhrase checks that the reason label holds one of the
// fixed phrases whatever text a run gives: a message may quote a value of
// the data (an ID number), and a label value is kept in every sample.
func TestReasonIsAFixedPhrase(t *testing.T) {
	const id = "440305199005090561"
	for _, tc := range []struct {
		name   string
		code   int
		reason string
		want   string
	}{
		{"a phrase", 3, ReasonBudget, ReasonBudget},
		{"done", 0, "", ReasonDone},
		{"a message quoting a value, exit 1", 1, `label column id_card: row 1 holds "` + id + `"`, ReasonUsage},
		{"a message quoting a value, exit 2", 2, "JRZQ9E2A was skipped for every row: " + id, ReasonIncomplete},
		{"a message quoting a value, exit 3", 3, "could not publish: " + id, ReasonStopped},
		{"lines and tabs", 3, "line one\nline two\ttabbed", ReasonStopped},
		{"long", 2, strings.Repeat("很长的原因", 200), ReasonIncomplete},
		{"done with text", 0, id, ReasonDone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleRun()
			r.ExitCode, r.Reason = tc.code, tc.reason
			data, err := r.Text(nil)
			if err != nil {
				t.Fatal(err)
			}
			families, err := Parse(data)
			if err != nil {
				t.Fatalf("Prometheus's parser refuses the text: %v", err)
			}
			var got string
			for _, l := range families[NameInfo].Metric[0].Label {
				if l.GetName() == "reason" {
					got = l.GetValue()
				}
			}
			if got != tc.want {
				t.Errorf("reason label %q, want %q", got, tc.want)
			}
			if strings.Contains(string(data), id) {
				t.Errorf("the metrics text holds the ID number:\n%s", data)
			}
		})
	}
}

func TestWriteFileAndReadBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.prom")
	if got := LastSuccess(path); !got.IsZero() {
		t.Errorf("LastSuccess of no file = %v", got)
	}
	r := sampleRun()
	if err := r.WriteFile(path, prometheus.Labels{"scorepipe_job": "nightly"}); err != nil {
		t.Fatal(err)
	}
	if got := LastSuccess(path); !got.Equal(finished) {
		t.Errorf("LastSuccess = %v, want %v", got, finished)
	}
	if code, reason, ended, ok := ExitCode(path); !ok || code != 2 || reason != r.Reason || !ended.Equal(finished) {
		t.Errorf("ExitCode = %d, %q, %v, %v", code, reason, ended, ok)
	}
	// A stopped run keeps the earlier success.
	stopped := sampleRun()
	stopped.Published, stopped.ExitCode, stopped.Reason = false, 3, "interrupted"
	stopped.Finished = finished.Add(time.Hour)
	stopped.LastSuccess = LastSuccess(path)
	if err := stopped.WriteFile(path, nil); err != nil {
		t.Fatal(err)
	}
	if got := LastSuccess(path); !got.Equal(finished) {
		t.Errorf("LastSuccess after a stopped run = %v, want the earlier %v", got, finished)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the folder holds %d entries, want metrics.prom alone (no temporary file)", len(entries))
	}
	if err := r.WriteFile(filepath.Join(t.TempDir(), "missing", "metrics.prom"), nil); err == nil {
		t.Error("WriteFile into a folder that does not exist succeeded")
	}
}

// pushgateway records what is pushed to it.
type pushgateway struct {
	mu     sync.Mutex
	method string
	path   string
	body   []byte
	status int
}

func (g *pushgateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	g.method, g.path, g.body = r.Method, r.URL.Path, body
	status := g.status
	g.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}

func TestPush(t *testing.T) {
	gw := &pushgateway{}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	stopped := sampleRun()
	stopped.Published, stopped.ExitCode, stopped.Reason = false, 3, ReasonBudget
	tests := []struct {
		name       string
		run        *Run
		grouping   map[string]string
		wantMethod string
		wantPath   string
	}{
		{"published replaces the group", sampleRun(), nil, http.MethodPut, "/metrics/job/scorepipe-nightly"},
		{"a shard's group", sampleRun(), map[string]string{"shard": "3"}, http.MethodPut, "/metrics/job/scorepipe-nightly/shard/3"},
		{"stopped adds to the group", stopped, nil, http.MethodPost, "/metrics/job/scorepipe-nightly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run.Push(context.Background(), srv.URL, "scorepipe-nightly", tt.grouping); err != nil {
				t.Fatal(err)
			}
			gw.mu.Lock()
			method, path, body := gw.method, gw.path, gw.body
			gw.mu.Unlock()
			if method != tt.wantMethod || path != tt.wantPath {
				t.Errorf("pushed %s %s, want %s %s", method, path, tt.wantMethod, tt.wantPath)
			}
			families, err := Parse(body)
			if err != nil {
				t.Fatalf("Prometheus's parser refuses what was pushed: %v\n%s", err, body)
			}
			checkFigures(t, families, tt.run, nil)
		})
	}
	gw.status = http.StatusInternalServerError
	if err := sampleRun().Push(context.Background(), srv.URL, "scorepipe", nil); err == nil || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("a push the Pushgateway refuses: %v, want an error naming it", err)
	}
	srv.Close()
	if err := sampleRun().Push(context.Background(), srv.URL, "scorepipe", nil); err == nil {
		t.Error("a push to nothing succeeded")
	}
}
