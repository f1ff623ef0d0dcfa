package pipeline_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/transform"
)

// cleanSampleRows returns the sample applicants whose rows have every field.
func cleanSampleRows(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open("../samples/applicants.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(recs, func(rec []string) bool { return len(rec) != len(recs[0]) })
}

func writeDelimited(t *testing.T, path string, rows [][]string, comma rune, bom, gbk bool) {
	t.Helper()
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Comma = comma
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	data := []byte(b.String())
	if gbk {
		var err error
		if data, err = simplifiedchinese.GBK.NewEncoder().Bytes(data); err != nil {
			t.Fatal(err)
		}
	}
	if bom {
		data = append([]byte("\xef\xbb\xbf"), data...)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeXLSX writes rows as text cells; cell(row, col, value) may give a
// cell another value (a number, say).
func writeXLSX(t *testing.T, path string, rows [][]string, cell func(r, c int, v string) any) {
	t.Helper()
	x := excelize.NewFile()
	defer x.Close()
	for r, rec := range rows {
		for c, v := range rec {
			name, _ := excelize.CoordinatesToCellName(c+1, r+1)
			var val any = v
			if cell != nil {
				val = cell(r, c, v)
			}
			if err := x.SetCellValue("Sheet1", name, val); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := x.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}

// featureRows runs a config and returns features.csv without the columns
// that differ between runs or inputs (file name, call time, transaction).
func featureRows(t *testing.T, cfg *config.Config) []string {
	t.Helper()
	_, client := fakeVendor(t, tianyuantest.Options{})
	if _, err := pipeline.Run(context.Background(), cfg, env(client)); err != nil && !errors.Is(err, pipeline.ErrRowsFailed) {
		t.Fatalf("Run: %v", err)
	}
	header, rows := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
	var out []string
	for _, r := range rows {
		var keep []string
		for i, v := range r {
			h := header[i]
			if h == "source_file" || strings.HasSuffix(h, "_transaction_id") || strings.HasSuffix(h, "_queried_at") {
				continue
			}
			keep = append(keep, h+"="+v)
		}
		out = append(out, strings.Join(keep, ","))
	}
	return out
}

func TestInputFormatsGiveIdenticalFeatures(t *testing.T) {
	rows := cleanSampleRows(t)
	dir := t.TempDir()
	variants := []struct {
		name  string
		write func(path string)
	}{
		{"utf8.csv", func(p string) { writeDelimited(t, p, rows, ',', false, false) }},
		{"bom.csv", func(p string) { writeDelimited(t, p, rows, ',', true, false) }},
		{"gbk.csv", func(p string) { writeDelimited(t, p, rows, ',', false, true) }},
		{"tab.tsv", func(p string) { writeDelimited(t, p, rows, '\t', false, false) }},
		{"semicolon.csv", func(p string) { writeDelimited(t, p, rows, ';', false, false) }},
		{"sheet.xlsx", func(p string) { writeXLSX(t, p, rows, nil) }},
	}
	var want []string
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			path := filepath.Join(dir, v.name)
			v.write(path)
			cfg := sampleConfig(t)
			cfg.Input.Files = []string{path}
			got := featureRows(t, cfg)
			if len(got) < 200 {
				t.Fatalf("%d feature rows, want the ≥ 200 valid samples", len(got))
			}
			if want == nil {
				want = got
				return
			}
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d as from %s", len(got), len(want), variants[0].name)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("row %d differs from %s:\n got %s\nwant %s", i, variants[0].name, got[i], want[i])
				}
			}
		})
	}
}

func TestNumericIDColumnInXLSXIsRejectedWithoutCalls(t *testing.T) {
	rows := cleanSampleRows(t)[:41] // header and 40 applicants
	idCol := slices.Index(rows[0], "身份证号")
	path := filepath.Join(t.TempDir(), "numeric.xlsx")
	numeric := 0
	writeXLSX(t, path, rows, func(r, c int, v string) any {
		if r > 0 && c == idCol && r%2 == 0 && !strings.HasSuffix(v, "X") {
			numeric++
			var f float64
			for _, d := range v {
				f = f*10 + float64(d-'0')
			}
			return f // what Excel does to an 18-digit number typed into a General cell
		}
		return v
	})
	v, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	cfg.Input.Files = []string{path}
	m, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	_, rejects := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileRejects))
	asNumber := 0
	for _, r := range rejects {
		if strings.Contains(r[3], "format the column as text") {
			asNumber++
		}
	}
	if asNumber != numeric {
		t.Errorf("%d rows rejected as numbers, want the %d numeric ID cells", asNumber, numeric)
	}
	if got, want := v.Requests("JRZQ9E2A"), int64(m.Rows.Valid); got > want {
		t.Errorf("%d vendor requests for %d valid rows", got, want)
	}
	if m.Rows.Valid+numeric != len(rows)-1 {
		t.Errorf("valid %d + numeric %d != %d rows", m.Rows.Valid, numeric, len(rows)-1)
	}
}

func TestAwkwardInputFile(t *testing.T) {
	id := func(first17 string) string { return first17 + string(transform.IDCheckChar(first17)) }
	xID := "" // an ID whose check character is X, written with a lower-case x
	for n := 100; xID == ""; n++ {
		p := fmt.Sprintf("11010119850612%03d", n)
		if transform.IDCheckChar(p) == 'X' {
			xID = p + "x"
		}
	}
	legacy15 := "310104850612123" // upgrades to 31010419850612123 + check
	header := "application_id,姓名,身份证号,手机号,授权书编号,label\n"
	lines := []struct {
		line   string
		accept bool
	}{
		{"A01,张三," + id("11010119900307123") + ",13800138000,AUTH1,0", true},
		{"A02, 李四 ," + toFullWidth(id("11010519880101456")) + ",+86 139-0000-1111,AUTH2,1", true}, // spaces, full-width ID, +86 mobile
		{"A03,王五," + xID + ",138 0013 8001,AUTH3,0", true},                                        // lower-case x
		{"A04,赵六," + legacy15 + ",0086 13800138002,AUTH4,0", true},                                // 15-digit legacy ID
		{"A05,\"欧阳\n娜娜\"," + id("44030519920202789") + ",13800138003,AUTH5,1", true},              // line break in a quoted name
		{"A06,张三," + id("11010119900307123") + ",13800138000,AUTH6,0", true},                      // duplicate of A01
		{"A07,张三," + toFullWidth(id("11010119900307123")) + ",+8613800138000,AUTH7,1", true},      // duplicate of A01, written otherwise
		{"A08,钱七," + id("11010119900307124")[:17] + "0,13800138004,AUTH8,0", false},               // bad checksum (unless it is 0)
		{"A09,孙八,1.10101199003071E+17,13800138005,AUTH9,0", false},                                // Excel number
		{"A10,," + id("11010119900307125") + ",13800138006,AUTH10,0", false},                      // empty name
		{"A11,周九," + id("11010119900307126") + ",1380013800,AUTH11,0", false},                     // 10-digit mobile
		{"A12,吴十," + id("11010119900307127") + ",13800138008,,0", false},                          // no authorization
		{"A13,郑一," + id("11010120990307128") + ",13800138009,AUTH13,0", false},                    // born in the future
		{"A14,冯二," + id("11010119900307129") + ",13800138010,AUTH14", false},                      // a field short
	}
	if strings.HasSuffix(lines[7].line, "0,13800138004,AUTH8,0") && transform.IDCheckChar(id("11010119900307124")[:17]) == '0' {
		t.Fatal("test data: A08 is meant to have a wrong check character")
	}
	var b strings.Builder
	b.WriteString(header)
	for _, l := range lines {
		b.WriteString(l.line + "\n")
	}
	path := filepath.Join(t.TempDir(), "awkward.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	v, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	cfg.Input.Files = []string{path}
	cfg.Input.Passthrough = map[string]string{"application_id": "string", "label": "int"}
	cfg.Products = map[string]config.ProductConfig{"JRZQ9E2A": unlimited} // no authorization for COMBTY11
	m, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	header2, feats := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
	appCol, keyCol := column(t, header2, "application_id"), column(t, header2, "applicant_key")
	var accepted []string
	keys := map[string]string{}
	for _, r := range feats {
		accepted = append(accepted, r[appCol])
		keys[r[appCol]] = r[keyCol]
	}
	var want []string
	for _, l := range lines {
		if l.accept {
			want = append(want, strings.SplitN(l.line, ",", 2)[0])
		}
	}
	if !slices.Equal(accepted, want) {
		t.Errorf("accepted %v, want %v", accepted, want)
	}
	if keys["A01"] != keys["A06"] || keys["A01"] != keys["A07"] {
		t.Errorf("duplicates got different keys: %s %s %s", keys["A01"], keys["A06"], keys["A07"])
	}
	if got, want := m.Rows.Rejected, len(lines)-len(want); got != want {
		t.Errorf("rejected %d, want %d", got, want)
	}
	if got := v.BilledFor("JRZQ9E2A", id("11010119900307123")); got != 1 {
		t.Errorf("the applicant in three rows was billed %d times, want 1", got)
	}
	if got, want := m.Products["JRZQ9E2A"].Deduplicated, int64(2); got != want {
		t.Errorf("deduplicated = %d, want %d", got, want)
	}
	if got, want := v.Billed("JRZQ9E2A"), int64(len(want)-2); got != want {
		t.Errorf("billed %d, want %d", got, want)
	}
}

func toFullWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '!' && r <= '~' {
			return r + 0xFEE0
		}
		return r
	}, s)
}

func TestPassthroughTypes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typed.csv")
	data := "application_id,姓名,身份证号,手机号,授权书编号,apply_date,label,income,branch\n" +
		"A1,张三," + withCheck("11010119900307123") + ",13800138000,AUTH1,2026-10-21,1,1234.5,north\n" +
		"A2,李四," + withCheck("11010519880101456") + ",13800138001,AUTH2,2026/9/3,0,,south\n" +
		"A3,王五," + withCheck("44030519920202789") + ",13800138002,AUTH3,yesterday,1,10,east\n" +
		"A4,赵六," + withCheck("44030519920202790") + ",13800138003,AUTH4,2026-10-01,yes,10,west\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	_, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	cfg.Input.Files = []string{path}
	cfg.Input.Passthrough = map[string]string{"application_id": "string", "apply_date": "date", "label": "int", "income": "float"}
	cfg.Products = map[string]config.ProductConfig{"JRZQ9E2A": unlimited} // no authorization for COMBTY11
	m, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	tbl := readParquet(t, filepath.Join(cfg.Output.Dir, pipeline.FileParquet))
	for name, want := range map[string]arrow.Type{"application_id": arrow.STRING, "apply_date": arrow.DATE32, "label": arrow.INT64, "income": arrow.FLOAT64} {
		idx := tbl.Schema().FieldIndices(name)
		if len(idx) != 1 || tbl.Schema().Field(idx[0]).Type.ID() != want {
			t.Errorf("column %s: %v, want %s", name, idx, want)
		}
	}
	if len(tbl.Schema().FieldIndices("branch")) != 0 {
		t.Error("branch passed through though passthrough does not list it")
	}
	if m.Rows.Valid != 2 || m.Rows.Rejected != 2 {
		t.Errorf("valid %d rejected %d, want 2 and 2", m.Rows.Valid, m.Rows.Rejected)
	}
	_, rejects := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileRejects))
	wantReasons := []string{"apply_date", "label"}
	for i, r := range rejects {
		if r[2] != wantReasons[i] {
			t.Errorf("reject %d column %q (%s), want %q", i, r[2], r[3], wantReasons[i])
		}
	}
	header, rows := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
	dateCol, incomeCol := column(t, header, "apply_date"), column(t, header, "income")
	if got := rows[1][dateCol]; got != "2026-09-03" {
		t.Errorf("apply_date %q, want 2026-09-03", got)
	}
	if got := rows[1][incomeCol]; got != "" {
		t.Errorf("empty income %q, want empty (null)", got)
	}
}

func withCheck(first17 string) string { return first17 + string(transform.IDCheckChar(first17)) }

func TestSeveralInputFilesByGlob(t *testing.T) {
	rows := cleanSampleRows(t)
	dir := t.TempDir()
	writeDelimited(t, filepath.Join(dir, "part-1.csv"), rows[:21], ',', false, false)
	writeXLSX(t, filepath.Join(dir, "part-2.xlsx"), append([][]string{rows[0]}, rows[21:41]...), nil)
	_, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	cfg.Input.Files = []string{filepath.Join(dir, "part-*")}
	m, err := pipeline.Run(context.Background(), cfg, env(client))
	requireComplete(t, err)
	if len(m.Inputs) != 2 || m.Inputs[0].Read != 20 || m.Inputs[1].Read != 20 {
		t.Fatalf("inputs %+v, want two files of 20 rows", m.Inputs)
	}
	header, out := readCSV(t, filepath.Join(cfg.Output.Dir, pipeline.FileCSV))
	fileCol := column(t, header, "source_file")
	if len(out) != m.Rows.Valid || filepath.Base(out[0][fileCol]) != "part-1.csv" || filepath.Base(out[len(out)-1][fileCol]) != "part-2.xlsx" {
		t.Errorf("%d rows from %s to %s, want %d from part-1.csv to part-2.xlsx", len(out), out[0][fileCol], out[len(out)-1][fileCol], m.Rows.Valid)
	}
}
