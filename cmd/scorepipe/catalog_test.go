package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/sinks"
	"github.com/scorepipe/scorepipe/transform"
)

// TestCatalogShowsProvenance: every format of scorepipe catalog names, per
// column, where its codes come from and every code's range exactly as
// written, brackets included, and what the documents do not state.
func TestCatalogShowsProvenance(t *testing.T) {
	docs, err := pipeline.Catalog("", nil)
	if err != nil {
		t.Fatal(err)
	}
	countCodes := "1 = (0,9) → [1,8] (seed); 2 = [9,19] (sample); 3 = [20,29] (sample); 4 = [30,49] (sample); 5 = [50,99] (sample); 6 = [100,+∞) (sample)"
	amountCodes := "1 = (0,1000) (sample); 2 = [1000,2000) (sample)"
	modelAssumed := "the field itself, its range and the sentinel -1"
	for _, format := range []string{"table", "csv", "json", "md"} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			if err := printCatalog(&out, format, docs); err != nil {
				t.Fatal(err)
			}
			text := out.String()
			switch format {
			case "csv":
				recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				rows := map[string]map[string]string{}
				for _, r := range recs[1:] {
					rows[r[0]] = map[string]string{}
					for i, h := range recs[0] {
						rows[r[0]][h] = r[i]
					}
				}
				checks := []struct{ column, header, want string }{
					{"xyp_cpl0001_low", "code_source", "jrzq9e2a_count: seed 1, sample 5"},
					{"xyp_cpl0001_low", "codes", countCodes},
					{"xyp_cpl0072_high", "code_source", "jrzq9e2a_amount: sample 8"},
					{"xyp_model_score_low", "assumed", "the field itself, its range and the sentinel -1 (the documents list xyp_model_score_high and _mid only)"},
					{"flxg0v4b_civil_n_qsbdje_code", "source", "FLXG0V4B.entout.data.civil.n_qsbdje, else FLXG0V4B.civil.n_qsbdje, else FLXG0V4B.entout.civil.n_qsbdje"},
				}
				for _, c := range checks {
					if got := rows[c.column][c.header]; got != c.want {
						t.Errorf("csv %s %s = %q, want %q", c.column, c.header, got, c.want)
					}
				}
				if !strings.HasPrefix(rows["xyp_cpl0072_high"]["codes"], amountCodes) {
					t.Errorf("csv xyp_cpl0072_high codes = %q", rows["xyp_cpl0072_high"]["codes"])
				}
			case "json":
				var cols []transform.ColumnDoc
				if err := json.Unmarshal(out.Bytes(), &cols); err != nil {
					t.Fatal(err)
				}
				byName := map[string]transform.ColumnDoc{}
				for _, c := range cols {
					byName[c.Column] = c
				}
				low := byName["xyp_cpl0001_low"]
				if low.CodeSource != "jrzq9e2a_count: seed 1, sample 5" || low.Table != "jrzq9e2a_count" || len(low.Codes) != 6 {
					t.Fatalf("json xyp_cpl0001_low = %+v", low)
				}
				c := low.Codes[0]
				if c.Code != "1" || c.Range != "(0,9)" || c.Source != "seed" || c.Low == nil || *c.Low != 1 || c.High == nil || *c.High != 8 {
					t.Errorf("json code 1 = %+v, want (0,9) seed, low 1 high 8", c)
				}
				if c := low.Codes[5]; c.Range != "[100,+∞)" || c.Source != "sample" || c.High != nil {
					t.Errorf("json code 6 = %+v, want [100,+∞) sample, no high", c)
				}
				if c := byName["xyp_cpl0072_low"].Codes[0]; c.Range != "(0,1000)" || *c.Low != 0 || *c.High != 1000 {
					t.Errorf("json amount code 1 = %+v, want (0,1000) as written", c)
				}
				if !strings.HasPrefix(byName["xyp_model_score_low"].Assumed, modelAssumed) {
					t.Errorf("json xyp_model_score_low assumed = %q", byName["xyp_model_score_low"].Assumed)
				}
			default: // table and md: read as text
				for _, want := range []string{"jrzq9e2a_count: seed 1, sample 5", "jrzq9e2a_amount: sample 8", modelAssumed,
					"(0,9) gives 1 and 8", "[1000,5000) gives 1000 and 5000"} {
					if !strings.Contains(text, want) {
						t.Errorf("%s output does not say %q", format, want)
					}
				}
				if format == "md" && !strings.Contains(text, countCodes) {
					t.Errorf("md output lacks the count codes %q", countCodes)
				}
				if format == "table" {
					for _, line := range []string{"1     (0,9)        [1,8]   seed", "6     [100,+∞)             sample", "1     (0,1000)                sample"} {
						if !strings.Contains(text, line) {
							t.Errorf("table output lacks the code line %q:\n%s", line, text)
						}
					}
				}
			}
		})
	}
}

// TestRequireOfficialExitsOne: a run asked to refuse placeholders exits 1
// with the shipped tables, naming them, before calling anything.
func TestRequireOfficialExitsOne(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "out")
	cmd := command(ctx, nil, "run", "-c", "../../samples/pipeline.yaml", "-o", out, "--set", "mappings.require_official=true")
	output, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
		t.Fatalf("exit %v, want %d\n%s", err, exitUsage, output)
	}
	for _, want := range []string{"mappings.require_official", "jrzq9e2a_count", "jrzq9e2a_amount", "check_suggest"} {
		if !strings.Contains(string(output), want) {
			t.Errorf("output does not name %s:\n%s", want, output)
		}
	}
}

// TestCatalogCSVNeutralisesFormulas: a cell of catalog --format csv that a
// spreadsheet would read as a formula (a code of a user's table starting
// with =, +, - or @) is written as text.
func TestCatalogCSVNeutralisesFormulas(t *testing.T) {
	docs, err := pipeline.Catalog("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, cell := range []string{`=HYPERLINK("http://e","x")`, "+1", "-1+1", "@SUM(A1)"} {
		t.Run(cell, func(t *testing.T) {
			d := docs[len(docs)-1]
			d.DescriptionEN = cell
			var out bytes.Buffer
			if err := printCatalog(&out, "csv", []transform.ColumnDoc{d}); err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(&out).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range recs[1] {
				if sinks.IsFormulaLike(c) {
					t.Errorf("cell %q reads as a formula", c)
				}
				if strings.HasSuffix(c, cell) && c != "'"+cell {
					t.Errorf("cell %q, want %q", c, "'"+cell)
				}
			}
		})
	}
}
