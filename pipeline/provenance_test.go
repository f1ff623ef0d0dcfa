package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"log/slog"

	"github.com/xuri/excelize/v2"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// logTo returns an env that logs JSON lines into buf.
func logTo(e pipeline.Env, buf *bytes.Buffer) pipeline.Env {
	e.Logger = slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return e
}

// placeholderWarnings returns the WARN lines of a JSON log that speak of
// placeholder entries.
func placeholderWarnings(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] == "WARN" && strings.Contains(rec["msg"].(string), "placeholder") {
			out = append(out, rec)
		}
	}
	return out
}

// TestPlaceholderValuesCounted: the manifest's count of values mapped
// through placeholder entries equals a count made by hand over the
// features the run wrote, with the placeholder codes written out here.
func TestPlaceholderValuesCounted(t *testing.T) {
	_, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	var log bytes.Buffer
	m, err := pipeline.Run(context.Background(), cfg, logTo(env(client), &log))
	requireComplete(t, err)
	header, rows := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
	// By hand: the shipped tables' sample codes.
	countFields := []string{"xyp_cpl0001", "xyp_cpl0002", "xyp_cpl0007", "xyp_cpl0008", "xyp_cpl0070", "xyp_cpl0009", "xyp_cpl0011", "xyp_cpl0071"}
	amountFields := []string{"xyp_cpl0072", "xyp_cpl0039"}
	sampleCodes := map[string]map[string]bool{}
	for _, f := range countFields {
		sampleCodes[f] = map[string]bool{"2": true, "3": true, "4": true, "5": true, "6": true} // 1 is the seed's (0,9)
	}
	for _, f := range amountFields {
		sampleCodes[f] = map[string]bool{"1": true, "2": true, "3": true, "4": true, "5": true, "6": true, "7": true, "8": true}
	}
	want := map[string]int64{}
	for _, r := range rows {
		for f, codes := range sampleCodes {
			if !codes[r[column(t, header, f+"_code")]] {
				continue
			}
			for _, end := range []string{"_low", "_high"} {
				if r[column(t, header, f+end)] != "" {
					want[f+end]++
				}
			}
		}
		if r[column(t, header, "dwbg8b4d_check_suggest")] == "1" { // 建议通过, the guess
			want["dwbg8b4d_check_suggest"]++
		}
	}
	if len(want) < 15 {
		t.Fatalf("the hand count found only %v: the sample run should reach most placeholder columns", want)
	}
	if !mapsEqual(m.PlaceholderValues, want) {
		t.Errorf("manifest placeholder_values = %v\nhand count               = %v", m.PlaceholderValues, want)
	}
	var onDisk struct {
		Tables []struct {
			Table   string `json:"table"`
			Samples int    `json:"sample_entries"`
		} `json:"placeholder_tables"`
		Values map[string]int64 `json:"placeholder_values"`
	}
	data, err := os.ReadFile(filepath.Join(cfg.Output.Dir, pipeline.FileManifest))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &onDisk); err != nil {
		t.Fatal(err)
	}
	if !mapsEqual(onDisk.Values, want) {
		t.Errorf("manifest.json placeholder_values = %v, want %v", onDisk.Values, want)
	}
	var tables []string
	for _, tb := range onDisk.Tables {
		tables = append(tables, tb.Table+":"+strconv.Itoa(tb.Samples))
	}
	if got := strings.Join(tables, " "); got != "check_suggest:1 jrzq9e2a_amount:8 jrzq9e2a_count:5" {
		t.Errorf("manifest.json placeholder_tables = %s", got)
	}

	warnings := placeholderWarnings(t, log.String())
	if len(warnings) != 1 {
		t.Fatalf("%d placeholder warnings, want 1:\n%s", len(warnings), log.String())
	}
	for _, name := range []string{"check_suggest", "jrzq9e2a_amount", "jrzq9e2a_count"} {
		if !strings.Contains(warnings[0]["tables"].(string), name) {
			t.Errorf("warning %v does not name %s", warnings[0], name)
		}
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRequireOfficial: with mappings.require_official, the shipped
// placeholders refuse the run before any call, naming the tables; the
// user's official tables let it run, with no warning and no placeholder
// value.
func TestRequireOfficial(t *testing.T) {
	t.Run("shipped tables", func(t *testing.T) {
		v, client := fakeVendor(t, tianyuantest.Options{})
		cfg := sampleConfig(t)
		cfg.Mappings.RequireOfficial = true
		for _, run := range []struct {
			name string
			call func() error
		}{
			{"run", func() error { _, err := pipeline.Run(context.Background(), cfg, env(client)); return err }},
			{"validate", func() error { _, err := pipeline.Validate(context.Background(), cfg, env(client)); return err }},
		} {
			err := run.call()
			var ce *config.ConfigError
			if !errors.As(err, &ce) || ce.Field != "mappings.require_official" {
				t.Fatalf("%s: %v, want a ConfigError on mappings.require_official", run.name, err)
			}
			for _, name := range []string{"jrzq9e2a_count (5 of 6", "jrzq9e2a_amount (8 of 8", "check_suggest (1 of 3"} {
				if !strings.Contains(ce.Msg, name) {
					t.Errorf("%s: %q does not name %s", run.name, ce.Msg, name)
				}
			}
		}
		if n := v.Requests("JRZQ9E2A") + v.Requests("COMBTY11"); n != 0 {
			t.Errorf("%d requests, want none", n)
		}
		if _, err := os.Stat(filepath.Join(cfg.Output.Dir, pipeline.FileSuccess)); err == nil {
			t.Error("_SUCCESS written by a refused run")
		}
	})

	t.Run("only the product in use counts", func(t *testing.T) {
		_, client := fakeVendor(t, tianyuantest.Options{})
		cfg := sampleConfig(t)
		cfg.Mappings.RequireOfficial = true
		cfg.Mappings.Dir = officialTables(t, "jrzq9e2a_count", "jrzq9e2a_amount")
		delete(cfg.Products, "COMBTY11")
		if _, err := pipeline.Run(context.Background(), cfg, env(client)); err != nil {
			t.Fatalf("JRZQ9E2A alone with official tables: %v (check_suggest belongs to COMBTY11)", err)
		}
	})

	t.Run("official tables", func(t *testing.T) {
		_, client := fakeVendor(t, tianyuantest.Options{})
		cfg := sampleConfig(t)
		cfg.Mappings.RequireOfficial = true
		cfg.Mappings.Dir = officialTables(t, "jrzq9e2a_count", "jrzq9e2a_amount", "check_suggest")
		var log bytes.Buffer
		m, err := pipeline.Run(context.Background(), cfg, logTo(env(client), &log))
		requireComplete(t, err)
		if len(m.PlaceholderValues) != 0 || len(m.PlaceholderTables) != 0 {
			t.Errorf("placeholder_values %v, placeholder_tables %v, want none", m.PlaceholderValues, m.PlaceholderTables)
		}
		if w := placeholderWarnings(t, log.String()); len(w) != 0 {
			t.Errorf("placeholder warnings %v, want none", w)
		}
		dict := dictionarySheet(t, filepath.Join(cfg.Output.Dir, pipeline.FileXLSX))
		if got := dict["xyp_cpl0001_low"]["code_source"]; !strings.HasPrefix(got, "jrzq9e2a_count: user 6 (") {
			t.Errorf("xyp_cpl0001_low code_source = %q, want the user's 6 entries and file", got)
		}
		if got := dict["xyp_cpl0001_low"]["codes"]; !strings.HasPrefix(got, "1 = [1,9] (user); 2 = [10,19] (user);") {
			t.Errorf("xyp_cpl0001_low codes = %q", got)
		}
	})
}

// officialTables writes tables standing in for the vendor's official
// ones, one row without a source (which means user), and returns their
// mappings directory.
func officialTables(t *testing.T, names ...string) string {
	t.Helper()
	files := map[string]string{
		"jrzq9e2a_count":  "code,range,source\n1,\"[1,9]\",\n2,\"[10,19]\",user\n3,\"[20,29]\",user\n4,\"[30,49]\",user\n5,\"[50,99]\",user\n6,\"[100,+∞)\",user\n",
		"jrzq9e2a_amount": "code,range\n1,\"(0,1000)\"\n2,\"[1000,2000)\"\n3,\"[2000,5000)\"\n4,\"[5000,10000)\"\n5,\"[10000,20000)\"\n6,\"[20000,50000)\"\n7,\"[50000,100000)\"\n8,\"[100000,+∞)\"\n",
		"check_suggest":   "code,value,source\n建议通过,1,user\n建议复审,2,seed\n建议拒绝,3,seed\n",
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tables"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, "tables", n+".csv"), []byte(files[n]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dictionarySheet reads the workbook's dictionary sheet: column name →
// header → cell.
func dictionarySheet(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	x, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows, err := x.GetRows("dictionary")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, r := range rows[1:] {
		cells := map[string]string{}
		for i, h := range rows[0] {
			if i < len(r) {
				cells[h] = r[i]
			}
		}
		out[r[0]] = cells
	}
	return out
}

// TestDictionarySheetShowsProvenance: the workbook's dictionary names, per
// column, the source of its codes and every code's range as written,
// brackets included, and what the documents do not state.
func TestDictionarySheetShowsProvenance(t *testing.T) {
	_, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	_, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	dict := dictionarySheet(t, filepath.Join(cfg.Output.Dir, pipeline.FileXLSX))
	tests := []struct {
		column, header, want string
	}{
		{"xyp_cpl0001_code", "code_source", "jrzq9e2a_count: seed 1, sample 5"},
		{"xyp_cpl0001_low", "code_source", "jrzq9e2a_count: seed 1, sample 5"},
		{"xyp_cpl0001_low", "codes", "1 = (0,9) → [1,8] (seed); 2 = [9,19] (sample); 3 = [20,29] (sample); 4 = [30,49] (sample); 5 = [50,99] (sample); 6 = [100,+∞) (sample)"},
		{"xyp_cpl0072_high", "code_source", "jrzq9e2a_amount: sample 8"},
		{"xyp_cpl0072_high", "codes", "1 = (0,1000) (sample); 2 = [1000,2000) (sample); 3 = [2000,5000) (sample); 4 = [5000,10000) (sample); 5 = [10000,20000) (sample); 6 = [20000,50000) (sample); 7 = [50000,100000) (sample); 8 = [100000,+∞) (sample)"},
		{"dwbg8b4d_check_suggest", "codes", "建议通过 = 1 (sample); 建议复审 = 2 (seed); 建议拒绝 = 3 (seed)"},
		{"dwbg8b4d_fraud_rule", "code_source", "fraud_rule: seed 3"},
		{"flxg0v4b_civil_n_qsbdje_low", "code_source", "received (the reply writes the interval)"},
		{"flxg0v4b_civil_n_qsbdje_low", "source", "FLXG0V4B.entout.data.civil.n_qsbdje, else FLXG0V4B.civil.n_qsbdje, else FLXG0V4B.entout.civil.n_qsbdje"},
		{"flxg0v4b_criminal_dzzm", "source", "FLXG0V4B.entout.data.criminal.dzzm, else FLXG0V4B.criminal.dzzm, else FLXG0V4B.entout.criminal.dzzm"},
		{"xyp_cpl0081", "codes", ""},
	}
	for _, tt := range tests {
		if got := dict[tt.column][tt.header]; got != tt.want {
			t.Errorf("dictionary %s %s = %q, want %q", tt.column, tt.header, got, tt.want)
		}
	}
	for column, rule := range map[string]string{
		"xyp_cpl0001_low":  "smallest whole number",
		"xyp_cpl0001_high": "largest whole number",
		"xyp_cpl0072_low":  "lower end as written; with '(' the end itself is excluded",
		"xyp_cpl0072_high": "upper end as written; with ')' the end itself is excluded",
	} {
		if got := dict[column]["description_en"]; !strings.Contains(got, rule) {
			t.Errorf("dictionary %s description_en = %q, want the bracket rule %q", column, got, rule)
		}
	}
	for _, column := range []string{"xyp_model_score_low", "xyp_model_score_high", "dwbg8b4d_credit_score", "flxg0v4b_civil_n_qsbdje_code"} {
		if dict[column]["assumed"] == "" {
			t.Errorf("dictionary %s: assumed is empty, want what the documents do not state", column)
		}
	}
	if got := dict["xyp_cpl0001_low"]["assumed"]; got != "" {
		t.Errorf("dictionary xyp_cpl0001_low assumed = %q, want empty: the documents state it", got)
	}
}

// TestJudicialFieldsAsDocumented: FLXG0V4B answered in the documented
// shape (criminal {dzzm, pcjg}, civil {n_qsbdje}, sxbzxr and xgbzxr lists)
// through the fake vendor gives those values in their columns, for every
// row as the vendor's payload for that applicant holds them, wherever the
// reply places criminal and civil among the places the documents allow.
func TestJudicialFieldsAsDocumented(t *testing.T) {
	for _, shape := range []string{tianyuantest.JudicialEntoutData, tianyuantest.JudicialData, tianyuantest.JudicialEntout} {
		t.Run(shape, func(t *testing.T) {
			_, client := fakeVendor(t, tianyuantest.Options{Shapes: tianyuantest.Shapes{Judicial: shape}})
			cfg := sampleConfig(t)
			cfg.Output.PII = "keep" // to recompute each applicant's payload
			m, err := pipeline.Run(context.Background(), cfg, env(client))
			requireComplete(t, err)
			for field := range m.Unknowns.Fields {
				if strings.Contains(field, "FLXG0V4B") {
					t.Errorf("unknown field %s: the catalog should know the documented shape", field)
				}
			}
			header, rows := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
			col := func(name string) int { return column(t, header, name) }
			seen := map[string]int{}
			for _, r := range rows {
				if r[col("flxg0v4b_status")] != "ok" {
					continue
				}
				payload, err := tianyuantest.SyntheticPayload(tianyuantest.ProductRiskReport, map[string]string{
					"name": r[col("name")], "id_card": r[col("id_card")], "mobile_no": r[col("mobile_no")]}, 0)
				if err != nil {
					t.Fatal(err)
				}
				want := judicialCells(t, payload)
				for name, w := range want {
					if got := r[col(name)]; got != w {
						t.Errorf("row %s: %s = %q, want %q from the vendor's payload", r[col("source_row")], name, got, w)
					}
					if w != "" {
						seen[name]++
					}
				}
			}
			for _, name := range []string{"flxg0v4b_criminal_dzzm", "flxg0v4b_criminal_pcjg", "flxg0v4b_civil_n_qsbdje_code",
				"flxg0v4b_civil_n_qsbdje_low", "flxg0v4b_civil_n_qsbdje_high", "flxg0v4b_sxbzxr_count"} {
				if seen[name] == 0 {
					t.Errorf("no row has a value in %s (seen %v)", name, seen)
				}
			}
		})
	}
}

// judicialCells reads the FLXG0V4B data of a combo payload by hand and
// returns the cells its columns should hold.
func judicialCells(t *testing.T, payload []byte) map[string]string {
	t.Helper()
	var reply struct {
		Responses []struct {
			APICode string `json:"api_code"`
			Data    struct {
				Sxbzxr []any `json:"sxbzxr"`
				Xgbzxr []any `json:"xgbzxr"`
				Entout struct {
					Data struct {
						Criminal struct {
							Dzzm any    `json:"dzzm"`
							Pcjg string `json:"pcjg"`
						} `json:"criminal"`
						Civil struct {
							Qsbdje any `json:"n_qsbdje"`
						} `json:"civil"`
					} `json:"data"`
				} `json:"entout"`
			} `json:"data"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(payload, &reply); err != nil {
		t.Fatal(err)
	}
	for _, r := range reply.Responses {
		if r.APICode != "FLXG0V4B" {
			continue
		}
		d := r.Data
		out := map[string]string{
			"flxg0v4b_sxbzxr_count": strconv.Itoa(len(d.Sxbzxr)), "flxg0v4b_xgbzxr_count": strconv.Itoa(len(d.Xgbzxr)),
			"flxg0v4b_criminal_pcjg": d.Entout.Data.Criminal.Pcjg,
		}
		switch z := d.Entout.Data.Criminal.Dzzm.(type) {
		case string:
			out["flxg0v4b_criminal_dzzm"] = z
		case []any:
			var parts []string
			for _, p := range z {
				parts = append(parts, p.(string))
			}
			out["flxg0v4b_criminal_dzzm"] = strings.Join(parts, "; ")
		default:
			out["flxg0v4b_criminal_dzzm"] = ""
		}
		code, low, high := "", "", ""
		switch a := d.Entout.Data.Civil.Qsbdje.(type) {
		case float64:
			code = strconv.FormatFloat(a, 'f', -1, 64)
			low, high = code, code
		case string:
			code = a
			ends := map[string][2]string{"(0,1000)": {"0", "1000"}, "[1000,5000)": {"1000", "5000"},
				"[5000,10000)": {"5000", "10000"}, "[10000,50000)": {"10000", "50000"}, "[50000,+∞)": {"50000", ""}}
			e, ok := ends[a]
			if !ok {
				t.Fatalf("the fake sent n_qsbdje %q, which the test does not know", a)
			}
			low, high = e[0], e[1]
		}
		out["flxg0v4b_civil_n_qsbdje_code"], out["flxg0v4b_civil_n_qsbdje_low"], out["flxg0v4b_civil_n_qsbdje_high"] = code, low, high
		return out
	}
	t.Fatal("no FLXG0V4B in the payload")
	return nil
}
