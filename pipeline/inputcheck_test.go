package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/sources"
)

// piiRows returns a header and rows whose every cell is a value of its own
// (an ID number, a dashed mobile, an e-mail, a reference, a date in another
// order…), each row spoiling one typed or validated column in its own way,
// so that every reason a row is rejected or a product skipped for is
// built from a cell.
func piiRows() (header []string, rows [][]string) {
	header = []string{"application_id", "姓名", "身份证号", "手机号", "授权书编号", "authorization_url", "auth_date",
		"ref_no", "contact", "apply_date", "note"}
	ids := cleanIDs()
	for i := 0; i < 60; i++ {
		n := 7919 * (i + 13)
		r := []string{
			fmt.Sprintf("APP-%07d-Q", n),
			fmt.Sprintf("欧阳%c%c", '娜'+rune(i), '华'+rune(i)),
			ids[i%len(ids)],
			fmt.Sprintf("1%02d%08d", 30+i%60, n),
			fmt.Sprintf("AUTH-%06d-%d", n, i),
			fmt.Sprintf("https://auth.example.com/letters/%d-%07d.pdf", i, n),
			"20250101-20351231",
			fmt.Sprintf("%d", n),
			fmt.Sprintf("%d.25", n),
			"2026-03-04",
			fmt.Sprintf("zhang.san%d@example.com", n),
		}
		switch i % 9 {
		case 0:
			r[7] = fmt.Sprintf("33010619%06d736X", n%1000000) // an ID number in an int column
		case 1:
			r[8] = fmt.Sprintf("1%02d-%08d", 30+i%60, n) // a dashed mobile in a float column
		case 2:
			r[9] = fmt.Sprintf("%02d/%02d/19%02d", 13+i%15, 1+i%12, 40+i%50) // a date in another order
		case 3:
			r[2] = r[2][:17] + fmt.Sprint((int(r[2][17]-'0')+1)%10) // a wrong check character
			if r[2][17] == 'X' {
				r[2] = r[2][:17] + "0"
			}
		case 4:
			r[3] = fmt.Sprintf("2%02d%08d", 30+i%60, n) // no mobile
		case 5:
			r[6] = fmt.Sprintf("2025%04d-AUTH%06d", n%10000, n) // an auth_date that is no range
		case 6:
			r[6] = fmt.Sprintf("2036%02d01-2037%02d28", 1+i%12, 1+i%12) // one that starts later
		case 7:
			r[7] = fmt.Sprintf("%d.%d", n, i+1) // a fraction in an int column
		}
		rows = append(rows, r)
	}
	return header, rows
}

// cleanIDs returns the valid ID numbers of the sample applicants.
func cleanIDs() []string {
	data, err := os.ReadFile("../samples/applicants.csv")
	if err != nil {
		panic(err)
	}
	var ids []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Split(line, ",")
		if len(f) == 9 && strings.HasPrefix(f[4], "AUTH2026000") {
			ids = append(ids, f[2])
		}
	}
	return ids
}

// TestReasonsRepeatNoCell runs a file whose every cell is a value of its
// own through every typed and validated column, on the fake vendor, and
// through validate: no cell is repeated in the reasons of rejects.csv, in
// manifest.json, in validate's report or in the log, and the reasons
// counted in the manifest are one per kind of fault, not one per value.
func TestReasonsRepeatNoCell(t *testing.T) {
	t.Setenv("SCOREPIPE_STATE_DIR", t.TempDir())
	header, rows := piiRows()
	path := writeRows(t, "pii.csv", append([][]string{header}, rows...))
	_, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	cfg.Input.Files = []string{path}
	cfg.Input.Passthrough = map[string]string{"application_id": "string", "ref_no": "int", "contact": "float", "apply_date": "date", "note": "string"}
	cfg.Output.PII = "mask"
	var logs bytes.Buffer
	e := env(client)
	e.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, err := pipeline.Run(context.Background(), cfg, e)
	if err != nil && !errors.Is(err, pipeline.ErrRowsFailed) {
		t.Fatalf("Run: %v", err)
	}
	rejHeader, rejects := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileRejects))
	if len(rejects) < 40 {
		t.Fatalf("%d rows rejected, want the 6 in 9 spoiled ones", len(rejects))
	}
	reasonCol := column(t, rejHeader, "reason")
	var reasons []string
	for _, r := range rejects {
		reasons = append(reasons, r[reasonCol])
	}
	manifestJSON, err := os.ReadFile(filepath.Join(cfg.Output.Dir, pipeline.FileManifest))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Rejects) > 8 {
		t.Errorf("manifest reject_reasons has %d reasons, want one per kind: %v", len(m.Rejects), m.Rejects)
	}
	vcfg := sampleConfig(t)
	vcfg.Input = cfg.Input
	rep, err := pipeline.Validate(context.Background(), vcfg, pipeline.Env{Now: e.Now})
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	report, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{
		"rejects.csv reasons": strings.Join(reasons, "\n"),
		"manifest.json":       string(manifestJSON),
		"validate report":     string(report),
		"log":                 logs.String(),
	}
	for _, r := range rows {
		for j, cell := range r {
			if j == 6 && cell == "20250101-20351231" || j == 9 && cell == "2026-03-04" {
				continue // the values every row shares
			}
			for what, text := range texts {
				if strings.Contains(text, cell) {
					t.Errorf("%s repeats the cell %q of column %s", what, cell, header[j])
				}
			}
		}
	}
}

// TestMissingColumnRefused refuses, in run and in validate, before any
// call, a file without a column of the applicant's identity a configured
// product takes, naming the file and the column; a column only an
// unconfigured product takes may be missing, and so may an authorization
// column.
func TestMissingColumnRefused(t *testing.T) {
	rows := cleanSampleRows(t)[:20]
	without := func(names ...string) [][]string {
		var out [][]string
		for _, r := range rows {
			var kept []string
			for j, c := range r {
				drop := false
				for _, n := range names {
					drop = drop || rows[0][j] == n
				}
				if !drop {
					kept = append(kept, c)
				}
			}
			out = append(out, kept)
		}
		return out
	}
	jrzq := map[string]config.ProductConfig{"JRZQ9E2A": unlimited}
	combo := map[string]config.ProductConfig{"COMBTY11": unlimited}
	both := map[string]config.ProductConfig{"JRZQ9E2A": unlimited, "COMBTY11": unlimited}
	tests := []struct {
		name     string
		rows     [][]string
		products map[string]config.ProductConfig
		says     string // "" for a file the run takes; "no column…" for one refused; else the verdict of a run that read it
	}{
		{"no mobile", without("手机号"), both, "no column mobile_no"},
		{"no name", without("姓名"), jrzq, "no column name"},
		{"no name nor mobile", without("姓名", "手机号"), combo, "no columns name (looked for"},
		// An authorization column is the rows' own: without it the product is
		// skipped for every row (exit 2, see TestVerdict), not refused here.
		{"no authorization code, JRZQ9E2A configured", without("授权书编号"), both, "skipped for every row: missing auth_authorize_file_code"},
		{"no authorization URL, COMBTY11 configured", without("authorization_url"), combo, "no valid row"},
		{"no COMBTY11 columns, JRZQ9E2A only", without("authorization_url", "auth_date"), jrzq, ""},
		{"no authorization code, COMBTY11 only", without("授权书编号"), combo, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SCOREPIPE_STATE_DIR", t.TempDir())
			v, client := fakeVendor(t, tianyuantest.Options{})
			cfg := sampleConfig(t)
			path := writeRows(t, "in.csv", tt.rows)
			cfg.Input.Files = []string{path}
			cfg.Products = tt.products
			_, vErr := pipeline.Validate(context.Background(), cfg, pipeline.Env{Now: env(client).Now})
			_, err := pipeline.Run(context.Background(), cfg, env(client))
			if tt.says == "" {
				if err != nil || vErr != nil {
					t.Fatalf("Run: %v, Validate: %v; want both to take the file", err, vErr)
				}
				return
			}
			if !strings.HasPrefix(tt.says, "no column") {
				// A verdict of the run, after the rows were read: exit 2.
				var fe *sources.FileError
				if vErr != nil || err == nil || errors.As(err, &fe) || !strings.Contains(err.Error(), tt.says) {
					t.Errorf("Run: %v, Validate: %v; want the run's verdict saying %q and no error of the file", err, vErr, tt.says)
				}
				return
			}
			for what, err := range map[string]error{"Run": err, "Validate": vErr} {
				var fe *sources.FileError
				if !errors.As(err, &fe) || fe.File != path || !strings.Contains(err.Error(), tt.says) {
					t.Errorf("%s: %T %v, want a *sources.FileError for %s saying %q", what, err, err, path, tt.says)
				}
			}
			if n := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11"); n != 0 {
				t.Errorf("%d requests at the vendor, want none", n)
			}
			if _, err := os.Stat(filepath.Join(cfg.Output.Dir, pipeline.FileManifest)); err == nil {
				t.Error("manifest.json written")
			}
		})
	}
}
