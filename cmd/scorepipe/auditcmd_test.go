package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/audit"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// auditRun runs scorepipe run over the applicants in input against the
// vendor at endpoint, the reply store (and the audit log) in state.
func auditRun(ctx context.Context, endpoint, input, state, out string, extra ...string) *exec.Cmd {
	args := append([]string{"run", "--config", "../../samples/pipeline.yaml", "--input", input, "--out", out,
		"--cache", filepath.Join(state, "replies.db"), "--formats", "csv",
		"--set", "products.JRZQ9E2A.rate_per_second=0", "--set", "products.COMBTY11.rate_per_second=0",
		"--set", "retry.base_delay=1ms"}, extra...)
	return command(ctx, []string{"SCOREPIPE_ENDPOINT=" + endpoint}, args...)
}

// auditQuery runs scorepipe audit with args on the log in state; it
// returns stdout and stderr.
func auditQuery(t *testing.T, ctx context.Context, state, stdin string, args ...string) (string, string) {
	t.Helper()
	cmd := command(ctx, nil, append([]string{"audit", "--log", filepath.Join(state, audit.FileName)}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("audit %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// writeApplicantsFile writes n made-up applicants and returns the file and
// its rows (application_id, name, ID number, mobile, authorization code,
// URL, dates…).
func writeApplicantsFile(t *testing.T, n int) (string, [][]string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "applicants.csv")
	var b bytes.Buffer
	if err := tianyuantest.WriteApplicants(&b, n, 7); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return path, recs[1:]
}

func jsonQueries(t *testing.T, out string) []audit.Query {
	t.Helper()
	var qs []audit.Query
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var q audit.Query
		if err := dec.Decode(&q); err != nil {
			t.Fatalf("audit --json: %v\n%s", err, out)
		}
		qs = append(qs, q)
	}
	return qs
}

func runIDOf(t *testing.T, out string) string {
	t.Helper()
	var m struct {
		RunID string `json:"run_id"`
	}
	data, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m.RunID
}

// TestAuditCommand: after a run over N applicants, audit lists for one of
// them (given by flags or on stdin) the requests with their authorization
// reference and transaction id; a rerun from the store adds reused lines;
// the run and time selections find what they should; nothing raw is
// printed or written.
func TestAuditCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, v := tianyuantest.NewServer(tianyuantest.Options{})
	t.Cleanup(srv.Close)
	const n = 500
	input, rows := writeApplicantsFile(t, n)
	state, out := t.TempDir(), t.TempDir()
	if msg, err := auditRun(ctx, srv.URL, input, state, out).CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, msg)
	}
	run1 := runIDOf(t, out)
	between := time.Now()
	time.Sleep(5 * time.Millisecond) // the log's times are to the millisecond
	if msg, err := auditRun(ctx, srv.URL, input, state, out).CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, msg)
	}
	run2 := runIDOf(t, out)
	if got := v.Requests("JRZQ9E2A"); got != n {
		t.Fatalf("the vendor saw %d JRZQ9E2A requests, want %d (the rerun from the store)", got, n)
	}

	// The log holds no applicant's raw ID number, mobile or name.
	logData, err := os.ReadFile(filepath.Join(state, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		for _, raw := range []string{r[1], r[2], r[3]} {
			if bytes.Contains(logData, []byte(raw)) {
				t.Fatalf("the audit log holds a raw identity value of %s", r[0])
			}
		}
	}

	one := rows[17] // application_id, name, ID number, mobile, auth code, auth URL, auth date
	byFlags, stderr := auditQuery(t, ctx, state, "", "--id-card", one[2], "--mobile", one[3], "--name", one[1])
	byStdin, _ := auditQuery(t, ctx, state, "# id,mobile,name\n"+one[2]+","+one[3]+","+one[1]+"\n", "--stdin")
	if byFlags != byStdin {
		t.Errorf("by flags:\n%s\nby stdin:\n%s", byFlags, byStdin)
	}
	for _, raw := range []string{one[1], one[2], one[3]} {
		if strings.Contains(byFlags+stderr, raw) {
			t.Errorf("audit printed a raw identity value:\n%s%s", byFlags, stderr)
		}
	}
	lines := strings.Split(strings.TrimSpace(byFlags), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("audit of one applicant:\n%s\nwant a header and 4 rows: 2 requests, 2 reuses", byFlags)
	}
	asJSON, _ := auditQuery(t, ctx, state, "", "--id-card", one[2], "--mobile", one[3], "--name", one[1], "--json")
	qs := jsonQueries(t, asJSON)
	if len(qs) != 4 {
		t.Fatalf("audit --json: %d queries, want 4\n%s", len(qs), asJSON)
	}
	txn := map[string]string{}
	for _, q := range qs {
		auth := q.AuthCode
		if q.Product == "COMBTY11" {
			auth = q.AuthURL + " " + q.AuthDate
		}
		wantAuth := one[4]
		if q.Product == "COMBTY11" {
			wantAuth = one[5] + " " + one[6]
		}
		if auth != wantAuth {
			t.Errorf("%s query of run %s: authorization %q, want %q", q.Product, q.RunID, auth, wantAuth)
		}
		switch q.RunID {
		case run1:
			if q.Source != audit.SourceVendor || q.Outcome != audit.OutcomeOK || q.Billed != audit.BilledYes || q.TransactionID == "" {
				t.Errorf("first run: %+v, want a request answered ok, billed, with a transaction id", q)
			}
			txn[q.Product] = q.TransactionID
		case run2:
			if q.Source != audit.SourceStore || q.Billed != audit.BilledNo {
				t.Errorf("rerun: %+v, want a reply reused from the store, not billed", q)
			}
		default:
			t.Errorf("query of run %q, want %s or %s", q.RunID, run1, run2)
		}
		if !strings.Contains(byFlags, q.TransactionID) || !strings.Contains(byFlags, wantAuth[:10]) {
			t.Errorf("the table lacks the transaction id %s or the authorization %s:\n%s", q.TransactionID, wantAuth, byFlags)
		}
	}
	for _, q := range qs {
		if q.RunID == run2 && q.TransactionID != txn[q.Product] {
			t.Errorf("reuse of %s: transaction %s, want the first run's %s", q.Product, q.TransactionID, txn[q.Product])
		}
	}

	// By run, and by time range.
	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"the first run", []string{"--run", run1}, 2 * n},
		{"the rerun", []string{"--run", run2}, 2 * n},
		{"since the rerun", []string{"--since", between.UTC().Format(time.RFC3339Nano)}, 2 * n},
		{"until the rerun", []string{"--until", between.UTC().Format(time.RFC3339Nano)}, 2 * n},
		{"the last hour", []string{"--since", "1h"}, 4 * n},
		{"an applicant in the rerun", []string{"--run", run2, "--id-card", one[2], "--mobile", one[3], "--name", one[1]}, 2},
		{"nobody", []string{"--run", "no-such-run"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr := auditQuery(t, ctx, state, "", append(tt.args, "--json")...)
			if got := len(jsonQueries(t, out)); got != tt.want {
				t.Errorf("%d queries, want %d\n%s", got, tt.want, stderr)
			}
		})
	}
}

// TestAuditCommandErrors: what audit refuses, with a message that names
// the flag and never the value.
func TestAuditCommandErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, audit.FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const badID = "110101199003076631" // wrong check character
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  []string
	}{
		{"part of an identity", []string{"--id-card", "110101199003076632"}, "", []string{"--mobile, --name", "all three"}},
		{"a wrong ID number", []string{"--id-card", badID, "--mobile", "13800138000", "--name", "张三"}, "", []string{"id_card", "check character"}},
		{"flags and stdin", []string{"--stdin", "--name", "张三"}, "", []string{"--stdin", "not both"}},
		{"a line of stdin", []string{"--stdin"}, "110101199003076632,13800138000,张三\n" + badID + ",13800138000,李四\n",
			[]string{"--stdin", "line 2", "id_card"}},
		{"fields of stdin", []string{"--stdin"}, "110101199003076632,13800138000\n", []string{"line 1", "2 fields, want 3"}},
		{"empty stdin", []string{"--stdin"}, "\n# nobody\n", []string{"no applicant"}},
		{"a time", []string{"--since", "last tuesday"}, "", []string{"--since", "not a time"}},
		{"a negative duration", []string{"--until", "-1h"}, "", []string{"--until", "negative"}},
		{"no log", []string{"--log", filepath.Join(state, "none.jsonl")}, "", []string{"no audit log at", "none.jsonl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"audit", "--log", filepath.Join(state, audit.FileName)}, tt.args...)
			cmd := command(ctx, nil, args...)
			cmd.Stdin = strings.NewReader(tt.stdin)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if code := codeOf(t, err); code != exitUsage {
				t.Errorf("exit %d, want %d\n%s", code, exitUsage, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("message %q, want it to contain %q", stderr.String(), w)
				}
			}
			if strings.Contains(stderr.String(), badID) || strings.Contains(stderr.String(), "13800138000") {
				t.Errorf("message %q repeats a raw identity value", stderr.String())
			}
		})
	}
}

// TestAuditSurvivesAKill kills a run (SIGKILL) while requests are in
// flight at the vendor, which has received them and may bill them: each
// must have its line in the audit log. A log written only at the end of a
// run, or a line written only once the reply is in, fails this test.
func TestAuditSurvivesAKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fake := tianyuantest.New(tianyuantest.Options{})
	const answered, concurrency = 12, 4
	var arrived, stalled atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The vendor has the request: from here on it may bill it.
		if arrived.Add(1) > answered {
			stalled.Add(1)
			select { // never answered while the run lives
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	input, _ := writeApplicantsFile(t, 100)
	state, out := t.TempDir(), t.TempDir()
	cmd := auditRun(ctx, srv.URL, input, state, out, "--products", "JRZQ9E2A",
		"--set", "products.JRZQ9E2A.concurrency=4", "--set", "vendor.timeout=10m")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "requests in flight at the vendor", func() bool { return stalled.Load() == concurrency })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the run was not killed: %v", err)
	}

	var qs []audit.Query
	f, err := os.Open(filepath.Join(state, audit.FileName))
	if err != nil {
		t.Fatalf("no audit log after the kill: %v", err)
	}
	defer f.Close()
	st, err := audit.Scan(f, audit.Filter{}, func(q *audit.Query) error { qs = append(qs, *q); return nil })
	if err != nil {
		t.Fatal(err)
	}
	unknown := 0
	for _, q := range qs {
		if q.Outcome == audit.OutcomeUnknown {
			unknown++
			if q.Billed != audit.BilledPossibly || q.TransactionID != "" {
				t.Errorf("request in flight at the kill: %+v, want billed possibly, no transaction", q)
			}
		}
	}
	if got := arrived.Load(); st.Requests < got {
		t.Errorf("%d requests in the audit log, the vendor received %d", st.Requests, got)
	}
	if unknown < concurrency {
		t.Errorf("%d requests without a result, want at least the %d in flight at the vendor when the run was killed",
			unknown, concurrency)
	}
	if billed := fake.Billed("JRZQ9E2A"); st.Billed+int64(unknown) < billed {
		t.Errorf("%d billed and %d possibly billed in the log, the vendor billed %d", st.Billed, unknown, billed)
	}
}

// TestRetentionPrunesAuditLines: a run with cache.retain removes the audit
// lines older than it at start (and says how many in its manifest), and
// scorepipe store prune removes them with the replies.
func TestRetentionPrunesAuditLines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, _ := tianyuantest.NewServer(tianyuantest.Options{})
	t.Cleanup(srv.Close)
	input, _ := writeApplicantsFile(t, 30)
	state, out := t.TempDir(), t.TempDir()
	if msg, err := auditRun(ctx, srv.URL, input, state, out, "--products", "JRZQ9E2A").CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, msg)
	}
	// Three lines of long ago, before the run's.
	path := filepath.Join(state, audit.FileName)
	recent, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var old []byte
	for i := range 3 {
		e := audit.Entry{Time: time.Date(2020, 1, 1+i, 0, 0, 0, 0, time.UTC), RunID: "old-run", Event: audit.EventReuse,
			Product: "JRZQ9E2A", ApplicantKey: "old", Source: audit.SourceStore, Billed: audit.BilledNo}
		old = e.AppendJSON(old)
	}
	if err := os.WriteFile(path, append(old, recent...), 0o600); err != nil {
		t.Fatal(err)
	}

	if msg, err := auditRun(ctx, srv.URL, input, state, out, "--products", "JRZQ9E2A", "--set", "cache.retain=720h").CombinedOutput(); err != nil {
		t.Fatalf("run with cache.retain: %v\n%s", err, msg)
	}
	var m struct {
		Audit struct {
			Lines  int64 `json:"lines"`
			Pruned int   `json:"pruned"`
		} `json:"audit"`
	}
	data, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Audit.Pruned != 3 || m.Audit.Lines != 30 {
		t.Errorf("manifest audit = %+v, want 3 lines pruned, 30 written (a reuse per row)", m.Audit)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(after, []byte("old-run")) || !bytes.HasPrefix(after, recent) {
		t.Errorf("after the run: the old lines are still there, or the recent ones are not")
	}

	// store prune with the replies: every line is older than 1 ms.
	lines := bytes.Count(after, []byte("\n"))
	cmd := command(ctx, nil, "store", "prune", "--cache", filepath.Join(state, "replies.db"), "--retain", "1ms", "--json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("store prune: %v\n%s", err, stderr.String())
	}
	var rep struct {
		AuditLog    string `json:"audit_log"`
		AuditPruned int    `json:"audit_pruned"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("store prune --json: %v\n%s", err, b)
	}
	if rep.AuditPruned != lines || rep.AuditLog != path {
		t.Errorf("store prune: %+v, want %d audit lines of %s removed", rep, lines, path)
	}
	if left, _ := os.ReadFile(path); len(left) != 0 {
		t.Errorf("after store prune: %d bytes left in the audit log, want none", len(left))
	}
}

// TestAuditFindsTheLogInTheStateDir: without --config or --log, audit
// reads the log a run wrote in the state directory.
func TestAuditFindsTheLogInTheStateDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, _ := tianyuantest.NewServer(tianyuantest.Options{})
	t.Cleanup(srv.Close)
	input, rows := writeApplicantsFile(t, 5)
	state := t.TempDir()
	env := []string{"SCOREPIPE_STATE_DIR=" + state}
	run := command(ctx, append(env, "SCOREPIPE_ENDPOINT="+srv.URL), "run", "--config", "../../samples/pipeline.yaml",
		"--input", input, "--out", t.TempDir(), "--formats", "csv", "--products", "JRZQ9E2A")
	if msg, err := run.CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, msg)
	}
	if _, err := os.Stat(filepath.Join(state, audit.FileName)); err != nil {
		t.Fatalf("no audit log in the state directory: %v", err)
	}
	cmd := command(ctx, env, "audit", "--json", "--stdin")
	cmd.Stdin = strings.NewReader(rows[2][2] + "\t" + rows[2][3] + "\t" + rows[2][1] + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, stderr.String())
	}
	if qs := jsonQueries(t, string(b)); len(qs) != 1 || qs[0].AuthCode != rows[2][4] {
		t.Errorf("audit of the state directory's log: %+v, want the one JRZQ9E2A request under %s\n%s", qs, rows[2][4], stderr.String())
	}
}

// TestRunStopsWhenTheAuditLogIsUnusable: a run whose audit log is held by
// another process, or cannot be written, fails at once (exit 3), naming
// the log, before any request.
func TestRunStopsWhenTheAuditLogIsUnusable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, v := tianyuantest.NewServer(tianyuantest.Options{})
	t.Cleanup(srv.Close)
	input, _ := writeApplicantsFile(t, 5)
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{
		{"held by another process", func(t *testing.T, path string) {
			l, err := audit.Open(path, audit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}, "in use"},
		{"a folder in its place", func(t *testing.T, path string) {
			if err := os.MkdirAll(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "audit log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			path := filepath.Join(state, audit.FileName)
			tt.setup(t, path)
			before := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11")
			cmd := auditRun(ctx, srv.URL, input, state, t.TempDir())
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if code := codeOf(t, cmd.Run()); code != exitAborted {
				t.Errorf("exit %d, want %d\n%s", code, exitAborted, stderr.String())
			}
			last := lastLine(stderr.String())
			if !strings.Contains(last, path) || !strings.Contains(last, tt.want) {
				t.Errorf("last line %q, want it to name %s and say %q", last, path, tt.want)
			}
			if sent := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11") - before; sent != 0 {
				t.Errorf("%d requests sent, want none", sent)
			}
		})
	}
}
