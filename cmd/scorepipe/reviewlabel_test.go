package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// labelBook writes the first n applicants of samples/applicants.csv to
// dir/applicants.csv with the label of data row badRow (1-based; 0 for
// none) set to 2, and returns the path and the input's cells.
func labelBook(t *testing.T, dir string, n, badRow int) (string, [][]string) {
	t.Helper()
	f, err := os.Open("../../samples/applicants.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1 // the sample holds malformed rows further down
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	recs = recs[:n+1]
	label := len(recs[0]) - 1
	if recs[0][label] != "label" {
		t.Fatalf("samples/applicants.csv: last column %q, want label", recs[0][label])
	}
	if badRow > 0 {
		recs[badRow][label] = "2"
	}
	path := filepath.Join(dir, "applicants.csv")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(out)
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path, recs
}

// scorepipeWith runs scorepipe against the fake vendor at endpoint and
// returns its output (stdout and stderr) and exit code.
func scorepipeWith(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := command(ctx, env, args...).CombinedOutput()
	return string(b), exitCodeOf(t, err)
}

func runArgs(input, out string, extra ...string) []string {
	return append([]string{"run", "-c", "../../samples/pipeline.yaml", "--input", input, "--out", out, "--formats", "parquet,csv",
		"--products", "JRZQ9E2A", "--set", "products.JRZQ9E2A.rate_per_second=0"}, extra...)
}

// identityValues are the values of the run's identity columns, raw and as
// written (masked or kept), and the applicant keys and application ids:
// none may appear in a message, a log line, review.json or metrics.prom.
func identityValues(t *testing.T, input [][]string, out string) []string {
	t.Helper()
	var vals []string
	for _, r := range input[1:] {
		vals = append(vals, r[:4]...) // application_id, name, ID number, mobile
	}
	f, err := os.Open(filepath.Join(out, "features.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range recs[0] {
		h = strings.TrimPrefix(h, "\ufeff")
		switch h {
		case "name", "id_card", "mobile_no", "applicant_key", "application_id":
			for _, r := range recs[1:] {
				if len(r[i]) >= 4 {
					vals = append(vals, r[i])
				}
			}
		}
	}
	return vals
}

func featureColumns(t *testing.T, out string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(out, "features.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head, err := csv.NewReader(f).Read()
	if err != nil {
		t.Fatal(err)
	}
	for i := range head {
		head[i] = strings.TrimPrefix(head[i], "\ufeff")
	}
	return head
}

func checkNoValue(t *testing.T, what, text string, values []string) {
	t.Helper()
	for _, v := range values {
		if strings.Contains(text, v) {
			t.Errorf("%s holds the value %.4s… of the data", what, v)
			return
		}
	}
}

// TestReviewNeverQuotesAValue reviews a run, identity columns kept and
// masked, with every one of its columns as the label, and writes the
// review with a run (review.label) for the identity columns: no message,
// log line, review.json, manifest.json or metrics.prom repeats a value of
// the identity columns, and a label that is not 0/1 is a warning, not a
// failure.
func TestReviewNeverQuotesAValue(t *testing.T) {
	isolateState(t)
	srv, _ := tianyuantest.NewServer(tianyuantest.Options{})
	defer srv.Close()
	env := []string{"SCOREPIPE_ENDPOINT=" + srv.URL}
	dir := t.TempDir()
	input, recs := labelBook(t, dir, 12, 0)
	for _, pii := range []string{"keep", "mask"} {
		t.Run(pii, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+pii)
			if b, code := scorepipeWith(t, env, runArgs(input, out, "--set", "output.pii="+pii)...); code != exitOK {
				t.Fatalf("run: exit %d\n%s", code, b)
			}
			values := identityValues(t, recs, out)
			for _, col := range featureColumns(t, out) {
				t.Run("review --label "+col, func(t *testing.T) {
					xlsx := filepath.Join(t.TempDir(), "review.xlsx")
					b, code := scorepipeWith(t, env, "--log-format", "json", "review", out, "--label", col, "-o", xlsx)
					if code != exitOK {
						t.Errorf("exit %d, want %d (a label that is not 0/1 is a warning)\n%s", code, exitOK, b)
					}
					checkNoValue(t, "the output", b, values)
					data, err := os.ReadFile(strings.TrimSuffix(xlsx, ".xlsx") + ".json")
					if err != nil {
						t.Fatal(err)
					}
					checkNoValue(t, "review.json", string(data), values)
				})
			}
			for _, col := range []string{"id_card", "mobile_no", "name", "applicant_key"} {
				t.Run("run --baseline review.label="+col, func(t *testing.T) {
					cur := filepath.Join(t.TempDir(), "cur")
					b, code := scorepipeWith(t, env, runArgs(input, cur, "--set", "output.pii="+pii, "--baseline", out, "--set", "review.label="+col)...)
					if code != exitOK {
						t.Errorf("exit %d, want %d\n%s", code, exitOK, b)
					}
					checkNoValue(t, "the output", b, values)
					for _, f := range []string{"review.json", "manifest.json", "metrics.prom"} {
						data, err := os.ReadFile(filepath.Join(cur, f))
						if err != nil {
							t.Fatal(err)
						}
						checkNoValue(t, f, string(data), values)
					}
					if !strings.Contains(b, "no IV and KS") {
						t.Errorf("no warning that %s gives no IV and KS:\n%s", col, b)
					}
				})
			}
		})
	}
}

// reviewJSON reads a review.json.
func reviewJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRunBaselineBadLabel runs a book whose label is 2 on CSV line 6 with
// a baseline, twice: each run publishes (exit 0), review.json counts the
// row as invalid and the warning names its source_row; a label column
// holding no 0 or 1 at all still gives the review without IV and KS.
func TestRunBaselineBadLabel(t *testing.T) {
	isolateState(t)
	srv, _ := tianyuantest.NewServer(tianyuantest.Options{})
	defer srv.Close()
	env := []string{"SCOREPIPE_ENDPOINT=" + srv.URL}
	dir := t.TempDir()
	input, _ := labelBook(t, dir, 12, 5) // data row 5: CSV line 6
	base := filepath.Join(dir, "base")
	if b, code := scorepipeWith(t, env, runArgs(input, base)...); code != exitOK {
		t.Fatalf("baseline: exit %d\n%s", code, b)
	}
	cur := filepath.Join(dir, "cur")
	for _, tc := range []struct {
		name    string
		extra   []string
		invalid float64
		warn    string
		iv      bool
	}{
		{"label 2 on line 6", nil, 1, "1 rows hold a value other than 0 (good), 1 (bad) or empty, the first at source_row 6", true},
		{"the same again", nil, 1, "the first at source_row 6", true},
		{"a label column of no 0 or 1", []string{"--set", "review.label=application_id"}, 12, "holds no 0 (good) or 1 (bad): no IV and KS", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, code := scorepipeWith(t, env, runArgs(input, cur, append([]string{"--baseline", base}, tc.extra...)...)...)
			if code != exitOK {
				t.Fatalf("exit %d, want %d\n%s", code, exitOK, b)
			}
			if !strings.Contains(b, tc.warn) {
				t.Errorf("the log does not warn %q:\n%s", tc.warn, b)
			}
			rep := reviewJSON(t, filepath.Join(cur, "review.json"))
			if got := rep["label_counts"].(map[string]any)["invalid"]; got != tc.invalid {
				t.Errorf("label_counts.invalid = %v, want %v", got, tc.invalid)
			}
			if w := rep["warnings"].([]any); len(w) == 0 || !strings.Contains(w[0].(string), tc.warn) && !strings.Contains(w[len(w)-1].(string), tc.warn) {
				t.Errorf("warnings %q, want one saying %q", w, tc.warn)
			}
			ivs := 0
			for _, f := range rep["features"].([]any) {
				if f.(map[string]any)["iv"] != nil {
					ivs++
				}
			}
			if got := ivs > 0; got != tc.iv {
				t.Errorf("features with an IV: %d, want some: %v", ivs, tc.iv)
			}
		})
	}
}

// TestBaselineOfAnotherSecret makes a baseline with one identity secret
// and reviews a run of the same applicants made with another: review
// refuses (exit 1, naming both runs), and run --baseline refuses before
// its first call.
func TestBaselineOfAnotherSecret(t *testing.T) {
	srv, v := tianyuantest.NewServer(tianyuantest.Options{})
	defer srv.Close()
	dir := t.TempDir()
	input, _ := labelBook(t, dir, 8, 0)
	envA := []string{"SCOREPIPE_ENDPOINT=" + srv.URL, "SCOREPIPE_STATE_DIR=" + filepath.Join(dir, "state-a"),
		"SCOREPIPE_IDENTITY_SECRET=identity-secret-a-0123456789abcdef"}
	envB := []string{"SCOREPIPE_ENDPOINT=" + srv.URL, "SCOREPIPE_STATE_DIR=" + filepath.Join(dir, "state-b"),
		"SCOREPIPE_IDENTITY_SECRET=identity-secret-b-0123456789abcdef"}
	envC := append(envB[:1:1], "SCOREPIPE_STATE_DIR="+filepath.Join(dir, "state-c"), envB[2]) // nothing stored: a run would call
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	a2 := filepath.Join(dir, "a2")
	for _, r := range []struct {
		env []string
		out string
	}{{envA, a}, {envB, b}, {envA, a2}} {
		if out, code := scorepipeWith(t, r.env, runArgs(input, r.out)...); code != exitOK {
			t.Fatalf("run into %s: exit %d\n%s", r.out, code, out)
		}
	}
	for _, tc := range []struct {
		name    string
		env     []string
		args    []string
		want    int
		refused bool
	}{
		{"review, another secret", envB, []string{"review", b, "--baseline", a, "-o", filepath.Join(t.TempDir(), "r.xlsx")}, exitUsage, true},
		{"review, the same secret", envA, []string{"review", a2, "--baseline", a, "-o", filepath.Join(t.TempDir(), "r.xlsx")}, exitOK, false},
		{"run --baseline, another secret", envC, runArgs(input, filepath.Join(dir, "b2"), "--baseline", a), exitUsage, true},
		{"run --baseline, the same secret", envA, runArgs(input, filepath.Join(dir, "a3"), "--baseline", a), exitOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := v.Requests("JRZQ9E2A")
			out, code := scorepipeWith(t, tc.env, tc.args...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d\n%s", code, tc.want, out)
			}
			if !tc.refused {
				return
			}
			for _, want := range []string{a, "different identity secrets", "no applicant would join"} {
				if !strings.Contains(out, want) {
					t.Errorf("the message does not say %q:\n%s", want, out)
				}
			}
			if got := v.Requests("JRZQ9E2A") - before; got != 0 {
				t.Errorf("%d calls before the refusal, want 0", got)
			}
		})
	}
}
