package pipeline_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/audit"
	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/transform"
)

// auditConfig is the sample config over the applicants in path, with the
// reply store (and so the audit log) in a folder of its own.
func auditConfig(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg := sampleConfig(t)
	cfg.Input.Files = []string{path}
	cfg.Output.Formats = []string{config.FormatCSV}
	cfg.Cache.Path = filepath.Join(t.TempDir(), "state", "replies.db")
	return cfg
}

// auditLines reads the audit log, failing on a damaged line.
func auditLines(t *testing.T, cfg *config.Config) []audit.Entry {
	t.Helper()
	data, err := os.ReadFile(cfg.AuditPath())
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Entry
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		e, err := audit.ParseLine(line)
		if err != nil {
			t.Fatalf("audit line %d: %v", i+1, err)
		}
		out = append(out, e)
	}
	return out
}

// inputRow is an applicant of the input file, raw, with its authorization.
type inputRow struct {
	app, name, id, mobile, authCode, authURL, authDate string
}

// readInput reads an applicants file written by tianyuantest.WriteApplicants
// (or in its layout).
func readInput(t *testing.T, path string) []inputRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []inputRow
	for _, r := range recs[1:] {
		rows = append(rows, inputRow{app: r[0], name: r[1], id: r[2], mobile: r[3], authCode: r[4], authURL: r[5], authDate: r[6]})
	}
	return rows
}

// appendRows appends rows to an applicants file, in its layout.
func appendRows(t *testing.T, path string, rows []inputRow) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	for _, r := range rows {
		_ = w.Write([]string{r.app, r.name, r.id, r.mobile, r.authCode, r.authURL, r.authDate, "2026-01-02", "0"})
	}
	w.Flush()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkNoRawIdentity fails when the audit log holds any applicant's raw
// ID number, mobile or name.
func checkNoRawIdentity(t *testing.T, cfg *config.Config, rows []inputRow) {
	t.Helper()
	data, err := os.ReadFile(cfg.AuditPath())
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, r := range rows {
		for what, v := range map[string]string{"ID number": r.id, "lower-case ID number": strings.ToLower(r.id),
			"mobile": r.mobile, "name": r.name, "encoded name": url.PathEscape(r.name)} {
			if strings.Contains(text, v) {
				t.Errorf("the audit log holds the %s of %s", what, r.app)
			}
		}
	}
}

// TestAuditTrail runs the fake vendor over applicants (some of them twice,
// under another authorization), then again from the store: every request
// the vendor saw has a request line and a result with its transaction id,
// every row's reply is accounted for under the row's own authorization,
// the rerun adds one reuse line per row and product, and no raw identity
// is ever written.
func TestAuditTrail(t *testing.T) {
	path := writeApplicants(t, 120)
	rows := readInput(t, path)
	// The first three applicants again, under other authorizations: the
	// reply is shared, the authorization is the row's.
	var again []inputRow
	for i, r := range rows[:3] {
		r.app, r.authCode = fmt.Sprintf("DUP%02d", i), fmt.Sprintf("AUTH-DUP-%02d", i)
		r.authURL = "https://auth.example.com/letters/" + r.app + ".pdf"
		again = append(again, r)
	}
	appendRows(t, path, again)
	rows = append(rows, again...)
	cfg := auditConfig(t, path)
	v, client := fakeVendor(t, tianyuantest.Options{})

	m, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	lines := auditLines(t, cfg)
	if m.Audit == nil || m.Audit.Lines != int64(len(lines)) || m.Audit.Path != cfg.AuditPath() {
		t.Errorf("manifest audit = %+v, want %d lines at %s", m.Audit, len(lines), cfg.AuditPath())
	}
	info, err := os.Stat(cfg.AuditPath())
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v, want 0600", info.Mode().Perm())
	}

	// Every request has a result, and the vendor saw each request once.
	type reqID struct {
		product string
		no      int64
	}
	requests := map[reqID]audit.Entry{}
	requestsOf := map[string]int64{}
	for _, e := range lines {
		if e.RunID != m.RunID {
			t.Errorf("line of run %s, want %s", e.RunID, m.RunID)
		}
		if e.Event == audit.EventRequest {
			requests[reqID{e.Product, e.RequestNo}] = e
			requestsOf[e.Product]++
		}
	}
	for _, product := range []string{"JRZQ9E2A", "COMBTY11"} {
		if got, want := requestsOf[product], v.Requests(product); got != want {
			t.Errorf("%s: %d request lines, the vendor saw %d requests", product, got, want)
		}
	}
	results := map[string]audit.Entry{} // by product and applicant key
	for _, e := range lines {
		if e.Event != audit.EventResult {
			continue
		}
		req, ok := requests[reqID{e.Product, e.RequestNo}]
		if !ok {
			t.Errorf("result of request %d of %s without its request line", e.RequestNo, e.Product)
			continue
		}
		if req.ApplicantKey != e.ApplicantKey || req.AuthCode != e.AuthCode || req.AuthURL != e.AuthURL || req.Time.After(e.Time) {
			t.Errorf("result %+v does not follow its request %+v", e, req)
		}
		if e.Outcome != audit.OutcomeOK || e.Billed != audit.BilledYes || e.Code == nil || *e.Code != 0 || e.TransactionID == "" {
			t.Errorf("result %+v, want ok, billed, code 0, a transaction id", e)
		}
		results[e.Product+" "+e.ApplicantKey] = e
		delete(requests, reqID{e.Product, e.RequestNo})
	}
	if len(requests) > 0 {
		t.Errorf("%d requests without a result", len(requests))
	}

	// Each output row: its reply's transaction id, under its own
	// authorization; the repeated applicants' rows as shared replies.
	header, out := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
	byApp := map[string]inputRow{}
	for _, r := range rows {
		byApp[r.app] = r
	}
	reuses := map[string]audit.Entry{} // by product and application
	for _, e := range lines {
		if e.Event == audit.EventReuse {
			reuses[e.Product+" "+e.AuthCode+e.AuthURL] = e
		}
	}
	for _, row := range out {
		in := byApp[row[column(t, header, "application_id")]]
		key := row[column(t, header, "applicant_key")]
		for _, product := range []string{"JRZQ9E2A", "COMBTY11"} {
			txn := row[column(t, header, strings.ToLower(product)+"_transaction_id")]
			auth := in.authCode
			if product == "COMBTY11" {
				auth = in.authURL
			}
			e, ok := results[product+" "+key]
			if strings.HasPrefix(in.app, "DUP") {
				e, ok = reuses[product+" "+auth]
				if ok && (e.Source != audit.SourceRun || e.Billed != audit.BilledNo) {
					t.Errorf("%s %s: reuse %+v, want source run, not billed", in.app, product, e)
				}
			}
			if !ok {
				t.Errorf("%s %s: no audit line", in.app, product)
				continue
			}
			gotAuth := e.AuthCode
			if product == "COMBTY11" {
				gotAuth = e.AuthURL
				if e.AuthDate != in.authDate {
					t.Errorf("%s: auth_date %q, want %q", in.app, e.AuthDate, in.authDate)
				}
			}
			if e.ApplicantKey != key || e.TransactionID != txn || gotAuth != auth {
				t.Errorf("%s %s: line %+v, want key %s, transaction %s, authorization %s", in.app, product, e, key, txn, auth)
			}
		}
	}
	if len(reuses) != 2*len(again) {
		t.Errorf("%d reuse lines, want %d (the repeated applicants, both products)", len(reuses), 2*len(again))
	}
	checkNoRawIdentity(t, cfg, rows)

	// A rerun from the store: no request, a reuse line per row and
	// product, with the transaction ids of the first run.
	before := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11")
	m2, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	if after := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11"); after != before {
		t.Fatalf("the rerun sent %d requests, want 0", after-before)
	}
	all := auditLines(t, cfg)
	added := all[len(lines):]
	if m2.Audit.Lines != int64(len(added)) || len(added) != 2*len(out) {
		t.Errorf("rerun: %d lines added (manifest %d), want %d: one per row and product", len(added), m2.Audit.Lines, 2*len(out))
	}
	for _, e := range added {
		first, ok := results[e.Product+" "+e.ApplicantKey]
		if e.RunID != m2.RunID || e.Event != audit.EventReuse || e.Source != audit.SourceStore || e.Billed != audit.BilledNo ||
			!ok || e.TransactionID != first.TransactionID || e.RepliedAt.IsZero() || e.RepliedAt.After(first.Time) {
			t.Errorf("rerun line %+v, want a reuse from the store of run 1's reply %+v", e, first)
		}
	}
	checkNoRawIdentity(t, cfg, rows)
}

// TestAuditOutcomes checks what the result lines say when the vendor does
// not simply answer: every HTTP attempt is a request of its own, billed or
// not as the vendor billed it.
func TestAuditOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		faults   tianyuantest.Faults
		noRecord []int
		outcome  string
		billed   string
		code     *int
	}{
		{"HTTP 503, retried", tianyuantest.Faults{HTTP503: 1}, nil, audit.OutcomeFailed, audit.BilledNo, nil},
		{"a business failure", tianyuantest.Faults{Codes: map[int]float64{2001: 1}}, nil, audit.OutcomeFailed, audit.BilledNo, intp(2001)},
		{"a code meaning no record", tianyuantest.Faults{Codes: map[int]float64{2001: 1}}, []int{2001}, audit.OutcomeNoRecord, audit.BilledYes, intp(2001)},
		{"an unreadable reply", tianyuantest.Faults{Malformed: 1, MalformedKind: "no-code"}, nil, audit.OutcomeFailed, audit.BilledPossibly, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeApplicants(t, 6)
			cfg := auditConfig(t, path)
			cfg.Retry.MaxAttempts = 3
			cfg.Vendor.Codes.NoRecord = tt.noRecord
			v, client := fakeVendor(t, tianyuantest.Options{Faults: tt.faults})
			_, _ = pipeline.Run(context.Background(), cfg, env(client))
			counts := map[string]int64{}
			for _, e := range auditLines(t, cfg) {
				counts[string(e.Event)+" "+e.Product]++
				if e.Event != audit.EventResult {
					continue
				}
				if e.Outcome != tt.outcome || e.Billed != tt.billed || (e.Code == nil) != (tt.code == nil) ||
					e.Code != nil && *e.Code != *tt.code {
					t.Errorf("result %+v, want outcome %s, billed %s, code %v", e, tt.outcome, tt.billed, deref(tt.code))
				}
				if e.Outcome == audit.OutcomeFailed && e.Error == "" {
					t.Errorf("failed result %+v says nothing of what went wrong", e)
				}
			}
			for _, product := range []string{"JRZQ9E2A", "COMBTY11"} {
				n := v.Requests(product)
				if counts["request "+product] != n || counts["result "+product] != n {
					t.Errorf("%s: %d request and %d result lines, the vendor saw %d requests", product,
						counts["request "+product], counts["result "+product], n)
				}
			}
		})
	}
}

func intp(n int) *int { return &n }

func deref(p *int) any {
	if p == nil {
		return "none"
	}
	return *p
}

// TestAuditBudgetRefusalIsNoRequest: a call the budget refuses is not
// sent, and has no line. The plan fits the budget; bodies that are not
// JSON, tried again and possibly billed, take it past.
func TestAuditBudgetRefusalIsNoRequest(t *testing.T) {
	cfg := auditConfig(t, writeApplicants(t, 20))
	cfg.Limits.MaxCalls = 40
	v, client := fakeVendor(t, tianyuantest.Options{Faults: tianyuantest.Faults{Garbage: 0.5}})
	_, err := pipeline.Run(context.Background(), cfg, env(client))
	var be *pipeline.BudgetError
	if !errors.As(err, &be) {
		t.Fatalf("Run = %v, want the budget reached", err)
	}
	requests := 0
	for _, e := range auditLines(t, cfg) {
		if e.Event == audit.EventRequest {
			requests++
		}
	}
	if sent := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11"); int64(requests) != sent || sent != 40 {
		t.Errorf("%d request lines, %d requests sent; want 40 of each", requests, sent)
	}
}

// TestAuditLogUnwritableStopsTheRun: a run that cannot record its
// requests sends none.
func TestAuditLogUnwritableStopsTheRun(t *testing.T) {
	cfg := auditConfig(t, writeApplicants(t, 5))
	if err := os.MkdirAll(cfg.AuditPath(), 0o700); err != nil { // a folder where the log should be
		t.Fatal(err)
	}
	v, client := fakeVendor(t, tianyuantest.Options{})
	_, err := pipeline.Run(context.Background(), cfg, env(client))
	var ae *pipeline.AuditError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), cfg.AuditPath()) {
		t.Errorf("Run = %v, want an *AuditError naming the log", err)
	}
	if n := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11"); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// TestAuditMasksIdentityInAuthorization: an authorization reference that
// holds the applicant's ID number, mobile or name (a letter's file named
// after the person) is written with them masked.
func TestAuditMasksIdentityInAuthorization(t *testing.T) {
	path := writeApplicants(t, 4)
	rows := readInput(t, path)
	for i := range rows {
		r := &rows[i]
		r.authCode = "AUTH-" + r.id + "-" + r.mobile
		r.authURL = fmt.Sprintf("https://auth.example.com/%s/%s/%s.pdf?n=%s", r.name, strings.ToLower(r.id), r.mobile,
			url.QueryEscape(r.name))
	}
	if err := os.WriteFile(path, []byte(tianyuantest.ApplicantsHeader+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	appendRows(t, path, rows)
	cfg := auditConfig(t, path)
	_, client := fakeVendor(t, tianyuantest.Options{})
	_, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	checkNoRawIdentity(t, cfg, rows)
	masked := map[string]bool{}
	for _, r := range rows {
		_, id, mobile := transform.MaskIdentity(r.name, r.id, r.mobile)
		masked["AUTH-"+id+"-"+mobile] = true
	}
	for _, e := range auditLines(t, cfg) {
		if e.AuthCode != "" && !masked[e.AuthCode] {
			t.Errorf("authorization code %q, want one of the masked forms %v", e.AuthCode, masked)
		}
	}
	if _, err := os.Stat(cfg.AuditPath()); err != nil {
		t.Fatal(err)
	}
}
