package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/rundir"
)

// TestVendorEchoIsMasked runs against a vendor that answers every call
// with a code whose message echoes what it was sent (the access key, the
// access id, the applicant's ID number and mobile, written in the shapes
// of Faults.CodeMessage): no raw ID number, mobile, access key or access
// id appears in stderr, manifest.json, the features (CSV and Parquet),
// rejects.csv or the audit log.
func TestVendorEchoIsMasked(t *testing.T) {
	const (
		accessID = "echo-test-access-id"
		key      = "3f9a1c7be20d4f6a8b5c9e1d2a7f0b4c"
	)
	keyBytes := []byte{0x3f, 0x9a, 0x1c, 0x7b, 0xe2, 0x0d, 0x4f, 0x6a, 0x8b, 0x5c, 0x9e, 0x1d, 0x2a, 0x7f, 0x0b, 0x4c}
	recs := sampleRecords(t)[:4]
	dir := t.TempDir()
	input := filepath.Join(dir, "applicants.csv")
	var csvText strings.Builder
	csvText.WriteString("application_id,姓名,身份证号,手机号,授权书编号,authorization_url,auth_date\n")
	for _, r := range recs {
		csvText.WriteString(strings.Join(r[:7], ",") + "\n")
	}
	cfg := filepath.Join(dir, "job.yaml")
	job := "input: {files: [" + input + "]}\noutput: {formats: [parquet, csv]}\nvendor: {timeout: 10s}\n" +
		"products:\n  JRZQ9E2A: {rate_per_second: 0, concurrency: 2, price: 0.5}\n  COMBTY11: {rate_per_second: 0, concurrency: 2, price: 2}\n" +
		"retry: {max_attempts: 2, base_delay: 1ms, max_delay: 10ms}\n"
	if err := os.WriteFile(input, []byte(csvText.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"the access key": key, "the access key in upper case": strings.ToUpper(key), "the access id": accessID}
	for _, r := range recs {
		secrets["ID number "+r[2][:3]] = r[2]
		secrets["ID number "+r[2][:3]+" (17 digits)"] = r[2][:17]
		secrets["mobile "+r[3][:3]] = r[3]
		secrets["mobile "+r[3][:3]+" (last 8 digits)"] = r[3][3:]
	}
	for _, message := range []string{
		"bad key {key} for {access_id}",
		"KEY {KEY}",
		"业务失败 {id_card} {mobile}",
		"id {id_card_spaced}",
		"?id={id_card_pct}",
		"mob {mobile_dashed}",
		"mob {mobile_spaced}",
		"{mobile_spaced} {id_card_spaced} {key}",
	} {
		t.Run(message, func(t *testing.T) {
			state := isolateState(t)
			srv, v := tianyuantest.NewServer(tianyuantest.Options{AccessID: accessID, Key: keyBytes,
				Faults: tianyuantest.Faults{Codes: map[int]float64{2001: 1}, CodeMessage: message}})
			t.Cleanup(srv.Close)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out := filepath.Join(t.TempDir(), "out")
			code, stdout, stderr := exitOf(t, command(ctx, []string{"SCOREPIPE_ENDPOINT=" + srv.URL, "SCOREPIPE_ACCESS_ID=" + accessID,
				"SCOREPIPE_ACCESS_KEY=" + key}, "run", "-c", cfg, "-o", out, "--log-format", "json", "--log-level", "debug"))
			if code != exitRows {
				t.Fatalf("exit %d, want %d (every row failed at the vendor)\n%s", code, exitRows, stderr)
			}
			if v.Requests("JRZQ9E2A") == 0 || v.Requests("COMBTY11") == 0 {
				t.Fatal("no request reached the vendor")
			}
			printed := map[string]string{"stderr": stderr, "stdout": stdout, "features.parquet": parquetStrings(t, out)}
			for _, name := range []string{"manifest.json", "features.csv", "rejects.csv"} {
				b, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Fatal(err)
				}
				printed[name] = string(b)
			}
			audit, err := os.ReadFile(filepath.Join(state, "audit.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			printed["audit.jsonl"] = string(audit)
			if !strings.Contains(printed["features.csv"], "vendor message") || !strings.Contains(printed["audit.jsonl"], "vendor message") {
				t.Fatalf("the vendor's message is in neither the features nor the audit log: the check below saw too little\n%s", printed["features.csv"])
			}
			for name, text := range printed {
				for what, secret := range secrets {
					if strings.Contains(text, secret) {
						t.Errorf("%s holds %s", name, what)
					}
				}
			}
		})
	}
}

// parquetStrings returns every string value of a run's features.parquet,
// one a line.
func parquetStrings(t *testing.T, out string) string {
	t.Helper()
	run, err := rundir.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, f := range run.Schema().Fields() {
		if f.Type.ID() == arrow.STRING {
			cols = append(cols, f.Name)
		}
	}
	var b strings.Builder
	err = run.Scan(context.Background(), rundir.ScanOptions{Columns: cols}, func(rec arrow.Record) error {
		for _, col := range rec.Columns() {
			s := col.(*array.String)
			for i := range s.Len() {
				b.WriteString(s.Value(i) + "\n")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() == 0 {
		t.Fatal("no strings in features.parquet")
	}
	return b.String()
}
