package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/xuri/excelize/v2"

	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// goWords are Go type and function names no message may show.
var goWords = regexp.MustCompile(`float64|float32|\bu?int(8|16|32|64)\b|time\.Duration|\[\][a-z]|map\[|pipeline\.|strconv\.|reflect\.|!!(str|int|float|bool|seq|map)|unmarshal`)

// exitOf runs cmd and returns its exit code and its stdout and stderr.
func exitOf(t *testing.T, cmd *exec.Cmd) (code int, stdout, stderr string) {
	t.Helper()
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, o.String(), e.String()
}

// jsonLines decodes every line of stderr, failing on one that is not a
// JSON object.
func jsonLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for line := range strings.Lines(stderr) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] == nil || m["level"] == nil {
			t.Errorf("a stderr line is not a JSON log line (%v): %q", err, line)
			continue
		}
		lines = append(lines, m)
	}
	return lines
}

// countingServer counts the requests it receives.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestNoCredentialsWritesAndSendsNothing runs a config that does not ask
// for the fake vendor without credentials: exit 1 naming the variables,
// no file written, no request sent (SCOREPIPE_ENDPOINT points at a server
// that counts them).
func TestNoCredentialsWritesAndSendsNothing(t *testing.T) {
	srv, requests := countingServer(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "job.yaml")
	sample, _ := filepath.Abs("../../samples/applicants.csv")
	if err := os.WriteFile(config, []byte("input: {files: ["+sample+"]}\nproducts: {JRZQ9E2A: {}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  []string
		args []string
	}{
		{"no credentials", nil, []string{"run", "-c", config}},
		{"an endpoint but no credentials", []string{"SCOREPIPE_ENDPOINT=" + srv.URL}, []string{"run", "-c", config}},
		{"the sample told not to use the fake", []string{"SCOREPIPE_ENDPOINT=" + srv.URL}, []string{"run", "-c", "../../samples/pipeline.yaml", "--set", "vendor.fake=false"}},
		{"JSON logs", nil, []string{"run", "-c", config, "--log-format", "json"}},
		{"text logs", nil, []string{"run", "-c", config, "--log-format", "text"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(c.name, " ", "-"))
			code, _, stderr := exitOf(t, command(ctx, append(c.env, "SCOREPIPE_IDENTITY_SECRET="), append(c.args, "-o", out)...))
			if code != exitUsage {
				t.Errorf("exit %d, want %d\n%s", code, exitUsage, stderr)
			}
			for _, want := range []string{"SCOREPIPE_ACCESS_ID", "SCOREPIPE_ACCESS_KEY", "--fake-vendor"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not name %s:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "run started") {
				t.Errorf("the run started:\n%s", stderr)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the output directory exists (%v): something was written", err)
			}
			if n := requests.Load(); n != 0 {
				t.Errorf("%d requests sent", n)
			}
			if c.name == "text logs" && !strings.HasPrefix(lastLine(stderr), "scorepipe: ") {
				t.Errorf("text: the last line is %q", lastLine(stderr))
			} else if c.name != "text logs" {
				jsonLines(t, stderr)
			}
		})
	}
}

// TestInputCheckedBeforeAnythingStarts gives runs input mistakes: each
// exits 1 naming the file before the vendor starts, before "run started",
// and before anything is written.
func TestInputCheckedBeforeAnythingStarts(t *testing.T) {
	dir := t.TempDir()
	noHeader := filepath.Join(dir, "renamed.csv")
	if err := os.WriteFile(noHeader, []byte("who,id,phone\nx,y,z\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noLabel := filepath.Join(dir, "nolabel.csv")
	if err := os.WriteFile(noLabel, []byte("姓名,身份证号,手机号,授权书编号\n张三,320102196709283870,15098778580,AUTH1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Files without a column of the applicant's identity.
	without := func(name, header string) string {
		path := filepath.Join(dir, name)
		row := map[string]string{"application_id": "A1", "姓名": "张三", "身份证号": "320102196709283870", "手机号": "15098778580",
			"授权书编号": "AUTH1", "authorization_url": "https://auth.example.com/1.pdf", "auth_date": "20250101-20351231",
			"apply_date": "2026-10-21", "label": "0"}
		var cells []string
		for _, h := range strings.Split(header, ",") {
			cells = append(cells, row[h])
		}
		if err := os.WriteFile(path, []byte(header+"\n"+strings.Join(cells, ",")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	noMobile := without("nomobile.csv", "application_id,姓名,身份证号,授权书编号,authorization_url,auth_date,apply_date,label")
	noName := without("noname.csv", "application_id,身份证号,手机号,授权书编号,authorization_url,auth_date,apply_date,label")
	cases := []struct {
		name string
		args []string
		says string
	}{
		{"missing input file", []string{"-i", filepath.Join(dir, "no-such.csv")}, "no-such.csv"},
		{"no ID column", []string{"-i", noHeader}, "no ID number column"},
		{"no mobile column", []string{"-i", noMobile}, "nomobile.csv: no column mobile_no"},
		{"no name column", []string{"-i", noName}, "noname.csv: no column name"},
		{"passthrough column missing", []string{"-i", noLabel}, "input.passthrough"},
		{"missing mappings directory", []string{"--set", "mappings.dir=" + filepath.Join(dir, "nope")}, "nope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out := filepath.Join(dir, "out")
			args := append([]string{"run", "-c", "../../samples/pipeline.yaml", "-o", out}, c.args...)
			code, _, stderr := exitOf(t, command(ctx, nil, args...))
			if code != exitUsage || !strings.Contains(stderr, c.says) {
				t.Errorf("exit %d, want %d naming %s\n%s", code, exitUsage, c.says, stderr)
			}
			for _, started := range []string{"run started", "fake vendor"} {
				if strings.Contains(stderr, started) {
					t.Errorf("stderr says %q: something started before the input was checked\n%s", started, stderr)
				}
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the output directory exists (%v)", err)
			}
		})
	}
}

// TestBudgetExitsBeforeAnyCall sets limits below the plan: exit 3 with the
// plan's figures, and no request at the vendor.
func TestBudgetExitsBeforeAnyCall(t *testing.T) {
	srv, v := tianyuantest.NewServer(tianyuantest.Options{})
	t.Cleanup(srv.Close)
	for _, limit := range []string{"limits.max_cost=10", "limits.max_calls=400"} {
		t.Run(limit, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out := filepath.Join(t.TempDir(), "out")
			code, _, stderr := exitOf(t, command(ctx, []string{"SCOREPIPE_ENDPOINT=" + srv.URL}, "run", "-c", "../../samples/pipeline.yaml",
				"-o", out, "--set", limit))
			if code != exitAborted {
				t.Errorf("exit %d, want %d\n%s", code, exitAborted, stderr)
			}
			// 213 valid rows, 3 repeated: 210 calls a product, 105.00 and 420.00.
			for _, want := range []string{strings.Split(limit, "=")[0], "420 billable calls costing 525.00", "JRZQ9E2A: 213 rows, 3 duplicates, 0 stored, 210 billable, 105.00"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, stderr)
				}
			}
			if n := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11"); n != 0 {
				t.Errorf("%d requests at the vendor, want 0", n)
			}
			if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err == nil {
				t.Error("_SUCCESS written")
			}
		})
	}
}

// TestExitTwo runs jobs that finish but are not complete: exit 2, the last
// line says why, and manifest.json lists the same reasons.
func TestExitTwo(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../samples/applicants.csv")
	if err != nil {
		t.Fatal(err)
	}
	renamed := filepath.Join(dir, "renamed.csv")
	if err := os.WriteFile(renamed, []byte(strings.Replace(string(data), "授权书编号", "授权编号", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		faults tianyuantest.Faults
		args   []string
		want   string
	}{
		{"rows failed at the vendor", tianyuantest.Faults{Code1001: 1}, []string{"--products", "JRZQ9E2A", "--set", "retry.max_attempts=2"},
			"JRZQ9E2A failed at the vendor for 213 of 213 rows"},
		{"some rows failed at the vendor", tianyuantest.Faults{Code1001: 0.2}, []string{"--products", "JRZQ9E2A", "--set", "retry.max_attempts=1"},
			"JRZQ9E2A failed at the vendor for "},
		{"no valid row left", tianyuantest.Faults{}, []string{"--products", "JRZQ9E2A", "-i", renamed},
			"no valid row: all 225 input rows were rejected"},
		{"a sub-product failed for some rows", tianyuantest.Faults{}, []string{"--products", "COMBTY11"},
			"FLXG0V4B (in COMBTY11) failed for "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := tianyuantest.Options{Seed: 7, Faults: c.faults}
			if c.name == "a sub-product failed for some rows" {
				opts.Shapes.SubFailure = 0.05
			}
			srv, _ := tianyuantest.NewServer(opts)
			t.Cleanup(srv.Close)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"run", "-c", "../../samples/pipeline.yaml", "-o", out, "--set", "retry.base_delay=1ms",
				"--set", "products.JRZQ9E2A.rate_per_second=0", "--set", "products.COMBTY11.rate_per_second=0"}, c.args...)
			code, _, stderr := exitOf(t, command(ctx, []string{"SCOREPIPE_ENDPOINT=" + srv.URL}, args...))
			if code != exitRows {
				t.Fatalf("exit %d, want %d\n%s", code, exitRows, stderr)
			}
			lines := jsonLines(t, stderr)
			last := lines[len(lines)-1]
			if msg, _ := last["msg"].(string); !strings.Contains(msg, c.want) || last["exit_code"] != float64(exitRows) {
				t.Errorf("last line %v, want it to say %q with exit_code 2", last, c.want)
			}
			var m manifest.Manifest
			b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m.Exit.Code != exitRows || !slices.ContainsFunc(m.Exit.Reasons, func(r string) bool { return strings.HasPrefix(r, c.want) }) {
				t.Errorf("manifest exit %+v, want code 2 and %q", m.Exit, c.want)
			}
		})
	}
}

// TestSampleRun is the README's first command, as a scheduler sees it: it
// says in every file it writes that the data is synthetic (the sample asks
// for the fake vendor), logs only JSON lines off a terminal with a
// progress line of sensible figures, and records its provenance.
func TestSampleRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "out")
	// COMBTY11 at 30 calls a second: about 7 s, so that a progress line
	// (every 5 s) is logged.
	cmd := command(ctx, nil, "run", "--config", "../../samples/pipeline.yaml", "--out", out, "--set", "products.COMBTY11.rate_per_second=30")
	code, _, stderr := exitOf(t, cmd)
	wantComplete(t, code, stderr)
	lines := jsonLines(t, stderr)

	t.Run("the log says the data is synthetic, at the start and at the end", func(t *testing.T) {
		var warns []int
		started := -1
		for i, l := range lines {
			msg, _ := l["msg"].(string)
			if l["level"] == "WARN" && strings.Contains(msg, "synthetic") {
				warns = append(warns, i)
			}
			if msg == "run started" {
				started = i
			}
		}
		if len(warns) < 2 || warns[0] > started || warns[len(warns)-1] < len(lines)-2 {
			t.Errorf("WARN lines saying synthetic at %v (run started at %d, %d lines), want one before the start and one just before the end", warns, started, len(lines))
		}
	})

	t.Run("progress figures", func(t *testing.T) {
		n := 0
		for _, l := range lines {
			if l["msg"] != "progress" {
				continue
			}
			n++
			rate, _ := l["rows_per_second"].(float64)
			if rate <= 0 || rate > 2*30 {
				t.Errorf("rows_per_second %v on a run paced at 30 calls a second", rate)
			}
			if l["rows_total"] != float64(225) || l["eta"] == nil || l["rows_done"] == nil {
				t.Errorf("progress line %v, want rows_done, rows_total 225 and eta", l)
			}
		}
		if n == 0 {
			t.Error("no progress line")
		}
	})

	var m manifest.Manifest
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	t.Run("manifest", func(t *testing.T) {
		if !m.Vendor.Fake || !strings.HasPrefix(m.Vendor.Endpoint, "http://127.0.0.1:") {
			t.Errorf("vendor %+v, want the built-in fake on loopback", m.Vendor)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, version, _ := exitOf(t, command(ctx, nil, "version", "--json"))
		var build manifest.Build
		if err := json.Unmarshal([]byte(version), &build); err != nil {
			t.Fatal(err)
		}
		if m.Build != build || m.Build.Go == "" {
			t.Errorf("build %+v, want what scorepipe version says: %+v", m.Build, build)
		}
		wantCmd := []string{"scorepipe", "run", "--config", "../../samples/pipeline.yaml", "--out", out, "--set", "products.COMBTY11.rate_per_second=30"}
		if !slices.Equal(m.Command, wantCmd) {
			t.Errorf("command %q, want %q", m.Command, wantCmd)
		}
		if m.RunID == "" || m.Cost != 525 || len(m.Inputs) != 1 || len(m.Inputs[0].SHA256) != 64 || m.Config == nil {
			t.Errorf("run_id %q, cost %v, inputs %+v, config %v", m.RunID, m.Cost, m.Inputs, m.Config != nil)
		}
	})

	t.Run("parquet: synthetic, and an integer label", func(t *testing.T) {
		pf, err := file.OpenParquetFile(filepath.Join(out, "features.parquet"), false)
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		if v := pf.MetaData().KeyValueMetadata().FindValue("scorepipe.vendor_fake"); v == nil || *v != "true" {
			t.Errorf("scorepipe.vendor_fake = %v, want true", v)
		}
		if v := pf.MetaData().KeyValueMetadata().FindValue("scorepipe.synthetic"); v == nil || !strings.Contains(*v, "SYNTHETIC") {
			t.Errorf("scorepipe.synthetic = %v", v)
		}
		schema, err := pqarrow.FromParquet(pf.MetaData().Schema, nil, pf.MetaData().KeyValueMetadata())
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]arrow.Type{"label": arrow.INT64, "apply_date": arrow.DATE32, "application_id": arrow.STRING} {
			if i := schema.FieldIndices(name); len(i) != 1 || schema.Field(i[0]).Type.ID() != want {
				t.Errorf("column %s: %v, want %s", name, i, want)
			}
		}
	})

	t.Run("workbook: about sheet", func(t *testing.T) {
		x, err := excelize.OpenFile(filepath.Join(out, "features.xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		rows, err := x.GetRows("about")
		if err != nil || len(rows) < 2 || rows[1][0] != "synthetic" || !strings.Contains(rows[1][1], "SYNTHETIC") {
			t.Errorf("about sheet %q (%v), want synthetic first", rows, err)
		}
	})
}

// TestEveryLineJSON runs commands that fail in each way a command line,
// a config or a run can: off a terminal (and with --log-format json) every
// line on stderr is a JSON log line, the last one included, and no message
// names a Go type.
func TestEveryLineJSON(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"unknown flag", []string{"run", "--nope"}, exitUsage},
		{"unknown command", []string{"runn"}, exitUsage},
		{"bad flag value", []string{"mock-vendor", "--fail-503", "lots"}, exitUsage},
		{"bad log level", []string{"validate", "-c", "../../samples/pipeline.yaml", "--log-level", "loud"}, exitUsage},
		{"misspelt --set key", []string{"validate", "-c", "../../samples/pipeline.yaml", "--set", "products.JRZQ9E2A.rate_per_secnd=5"}, exitUsage},
		{"--set value of the wrong kind", []string{"plan", "-c", "../../samples/pipeline.yaml", "--set", "limits.max_cost=ten"}, exitUsage},
		{"missing config", []string{"plan", "-c", "no-such.yaml"}, exitUsage},
		{"rows rejected", []string{"validate", "-c", "../../samples/pipeline.yaml"}, exitRows},
		{"explicit json", []string{"run", "-c", "../../samples/pipeline.yaml", "--set", "vendor.fake=false", "--log-format", "json"}, exitUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			code, _, stderr := exitOf(t, command(ctx, nil, c.args...))
			if code != c.code {
				t.Errorf("exit %d, want %d\n%s", code, c.code, stderr)
			}
			lines := jsonLines(t, stderr)
			if len(lines) == 0 {
				t.Fatalf("nothing on stderr")
			}
			last := lines[len(lines)-1]
			if last["level"] != "ERROR" || last["exit_code"] != float64(c.code) {
				t.Errorf("last line %v, want an ERROR with exit_code %d", last, c.code)
			}
			if w := goWords.FindString(stderr); w != "" {
				t.Errorf("stderr names %q:\n%s", w, stderr)
			}
		})
	}
}

// TestSetErrorNamesTheFlag gives --set a misspelt key: the message names
// the flag, the key and the key that was meant.
func TestSetErrorNamesTheFlag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, _, stderr := exitOf(t, command(ctx, nil, "run", "-c", "../../samples/pipeline.yaml", "--log-format", "text",
		"--set", "limits.max_cots=10"))
	want := `scorepipe: --set limits.max_cots=10: unknown key "max_cots" in limits (did you mean max_cost?)`
	if code != exitUsage || strings.TrimSpace(stderr) != want {
		t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, want)
	}
}

// TestSecretsAndPIIAbsentFromLogs runs with real credentials at debug
// level, through retries, a wrong key and a malformed key, in JSON and in
// text: neither the access key nor a raw ID number or mobile of the
// applicants appears in anything the run prints or writes beside the data.
func TestSecretsAndPIIAbsentFromLogs(t *testing.T) {
	const (
		id  = "scorepipe-test-access-id"
		key = "5b1f0c9e2d7a4b8c9d0e1f2a3b4c5d6e"
	)
	keyBytes := []byte{0x5b, 0x1f, 0x0c, 0x9e, 0x2d, 0x7a, 0x4b, 0x8c, 0x9d, 0x0e, 0x1f, 0x2a, 0x3b, 0x4c, 0x5d, 0x6e}
	srv, v := tianyuantest.NewServer(tianyuantest.Options{AccessID: id, Key: keyBytes, Seed: 9,
		Faults: tianyuantest.Faults{HTTP503: 0.1, Code1001: 0.1, Garbage: 0.05},
		Shapes: tianyuantest.Shapes{SubFailure: 0.05}}) // some sub-products fail whatever the faults drawn: exit 2
	t.Cleanup(srv.Close)
	var pii []string
	seen := map[string]bool{}
	for _, rec := range sampleRecords(t) {
		for _, f := range rec[2:4] { // ID number, mobile
			if len(f) >= 11 && !seen[f] {
				seen[f] = true
				pii = append(pii, f)
			}
		}
	}
	cases := []struct {
		name, format, key string
		code              int
	}{
		{"json", "json", key, exitRows},
		{"text", "text", key, exitRows},
		{"wrong key", "json", strings.Repeat("0", 32), exitAborted},
		{"malformed key", "text", key[:31] + "g", exitUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out := filepath.Join(t.TempDir(), "out")
			code, stdout, stderr := exitOf(t, command(ctx, []string{"SCOREPIPE_ENDPOINT=" + srv.URL, "SCOREPIPE_ACCESS_ID=" + id, "SCOREPIPE_ACCESS_KEY=" + c.key},
				"run", "-c", "../../samples/pipeline.yaml", "--set", "vendor.fake=false", "-o", out, "--log-level", "debug", "--log-format", c.format,
				"--set", "retry.base_delay=1ms", "--set", "products.JRZQ9E2A.rate_per_second=0", "--set", "products.COMBTY11.rate_per_second=0"))
			if code != c.code {
				t.Errorf("exit %d, want %d\n%s", code, c.code, stderr)
			}
			manifest, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
			rejects, _ := os.ReadFile(filepath.Join(out, "rejects.csv"))
			printed := map[string]string{"stderr": stderr, "stdout": stdout, "manifest.json": string(manifest), "rejects.csv": string(rejects)}
			if c.code == exitRows && (len(manifest) == 0 || !strings.Contains(stderr, "retrying")) {
				t.Errorf("no manifest, or no retry logged at debug level: the check below saw too little\n%s", stderr)
			}
			for name, text := range printed {
				for _, secret := range []string{c.key, strings.ToUpper(c.key)} {
					if strings.Contains(text, secret) {
						t.Errorf("%s holds the access key", name)
					}
				}
				for _, p := range pii {
					if strings.Contains(text, p) {
						t.Errorf("%s holds %s… raw", name, p[:3])
					}
				}
			}
		})
	}
	if v.Requests("JRZQ9E2A") == 0 {
		t.Error("no request reached the vendor")
	}
}

// sampleRecords reads the sample applicants' data rows.
func sampleRecords(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile("../../samples/applicants.csv")
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]string
	for line := range strings.Lines(string(data)) {
		recs = append(recs, strings.Split(strings.TrimSpace(line), ","))
	}
	return recs[1:]
}

// TestReportsUseSnakeCase checks the JSON of validate and plan: every
// name is snake_case, like the manifest's, except the keys that are data
// (product codes, reasons).
func TestReportsUseSnakeCase(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	dataKeys := map[string]bool{"products": true, "skip_reasons": true, "sub_products": true}
	var walk func(t *testing.T, path string, v any)
	walk = func(t *testing.T, path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !dataKeys[path[strings.LastIndex(path, ".")+1:]] && !snake.MatchString(k) {
					t.Errorf("%s.%s is not snake_case", path, k)
				}
				walk(t, path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(t, path+"[]", x)
			}
		}
	}
	for _, verb := range []string{"validate", "plan"} {
		t.Run(verb, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, stdout, stderr := exitOf(t, command(ctx, nil, verb, "-c", "../../samples/pipeline.yaml", "--json", "-o", t.TempDir()))
			var rep map[string]any
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatalf("%v\n%s\n%s", err, stdout, stderr)
			}
			walk(t, "", rep)
			reasons, _ := rep["reject_reasons"].([]any)
			if len(reasons) == 0 {
				t.Fatal("no reject reasons: the examples were not checked")
			}
			ex := reasons[0].(map[string]any)["examples"].([]any)[0].(map[string]any)
			for _, k := range []string{"file", "row", "reason", "id_card", "mobile_no"} {
				if _, ok := ex[k]; !ok {
					t.Errorf("example %v has no %s", ex, k)
				}
			}
		})
	}
}

// TestVersion checks that "scorepipe version" and "scorepipe --version"
// print the same build facts, and that a revision stamped at link time
// fills in for a build without VCS information.
func TestVersion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, a, _ := exitOf(t, command(ctx, nil, "version"))
	_, b, _ := exitOf(t, command(ctx, nil, "--version"))
	if a != b || !strings.Contains(a, "revision: ") || !strings.Contains(a, "go:       go1.") {
		t.Errorf("version:\n%s\n--version:\n%s", a, b)
	}
	defer func(v, r string) { version, revision = v, r }(version, revision)
	version, revision = "v9.9.9", "abcdef0123456789"
	got := readBuild()
	if got.Version != "v9.9.9" || got.Revision == "" {
		t.Errorf("readBuild with stamps = %+v", got)
	}
	if !strings.Contains(buildText(got), "revision: "+got.Revision) {
		t.Errorf("buildText = %q", buildText(got))
	}
}

// TestRedactArgs checks the command line the manifest records.
func TestRedactArgs(t *testing.T) {
	t.Setenv(envKey, "5b1f0c9e2d7a4b8c9d0e1f2a3b4c5d6e")
	t.Setenv(envSecret, "")
	cases := []struct {
		in, want []string
	}{
		{[]string{"scorepipe", "run", "-c", "a.yaml"}, []string{"scorepipe", "run", "-c", "a.yaml"}},
		{[]string{"scorepipe", "run", "--set", "vendor.base_url=https://x/?k=5b1f0c9e2d7a4b8c9d0e1f2a3b4c5d6e"},
			[]string{"scorepipe", "run", "--set", "vendor.base_url=https://x/?k=REDACTED"}},
		{[]string{"scorepipe", "run", "--set", "vendor.api_token=abc"}, []string{"scorepipe", "run", "--set", "vendor.api_token=REDACTED"}},
		{[]string{"scorepipe", "run", "--set", "identity.secret_file=/s"}, []string{"scorepipe", "run", "--set", "identity.secret_file=/s"}},
	}
	for _, c := range cases {
		if got := redactArgs(c.in); !slices.Equal(got, c.want) {
			t.Errorf("redactArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
