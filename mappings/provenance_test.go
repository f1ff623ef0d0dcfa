package mappings

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
)

// TestShippedTableSources: every row of a shipped table says where it comes
// from, keeps its range as written, and the placeholders are the ones the
// documents do not state.
func TestShippedTableSources(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		table           string
		seed, sample    int
		firstCode, text string
	}{
		{"jrzq9e2a_count", 1, 5, "1", "(0,9)"},
		{"jrzq9e2a_amount", 0, 8, "1", "(0,1000)"},
		{"check_suggest", 2, 1, "建议通过", "1"},
		{"fraud_rule", 3, 0, "低风险", "1"},
		{"overdue_status", 2, 0, "逾期", "1"},
	}
	if len(s.Tables) != len(tests) {
		t.Errorf("%d shipped tables, the test knows %d", len(s.Tables), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			tbl := s.Tables[tt.table]
			if tbl == nil {
				t.Fatalf("no table %s", tt.table)
			}
			if tbl.User {
				t.Errorf("User = true for a shipped table")
			}
			if got := tbl.Count(SourceSeed); got != tt.seed {
				t.Errorf("%d seed entries, want %d", got, tt.seed)
			}
			if got := tbl.Count(SourceSample); got != tt.sample {
				t.Errorf("%d sample entries, want %d", got, tt.sample)
			}
			if got := tbl.Count(SourceSeed) + tbl.Count(SourceSample); got != len(tbl.Entries) {
				t.Errorf("%d entries are seed or sample, want all %d", got, len(tbl.Entries))
			}
			e, ok := tbl.Entry(tt.firstCode)
			if !ok || e.Text != tt.text {
				t.Errorf("Entry(%q) = %+v, %v, want text %q", tt.firstCode, e, ok, tt.text)
			}
		})
	}
	count := s.Tables["jrzq9e2a_count"]
	if e, _ := count.Entry("6"); e.Text != "[100,+∞)" {
		t.Errorf("jrzq9e2a_count code 6 text = %q, want [100,+∞) as written", e.Text)
	}
}

// TestShippedTablesTileTheCounts: read by the bracket rule, the codes of
// the count table leave no whole number from 1 up uncovered, and none twice.
func TestShippedTablesTileTheCounts(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	f := findField(t, s.Catalogs["JRZQ9E2A"], "xyp_cpl0001")
	covered := map[int]int{}
	for _, e := range f.Lookup().Entries {
		lo, hi, hasLo, hasHi, ok := f.Bounds(e.Interval)
		if !ok || !hasLo {
			t.Fatalf("code %s %s: bounds %v %v %v %v %v", e.Code, e.Text, lo, hi, hasLo, hasHi, ok)
		}
		if !hasHi {
			hi = 1000
		}
		for n := int(lo); n <= int(hi); n++ {
			covered[n]++
		}
	}
	for n := 1; n <= 1000; n++ {
		if covered[n] != 1 {
			t.Errorf("%d institutions fall in %d codes, want 1", n, covered[n])
		}
	}
}

// TestShippedCatalogsAgainstTheDocuments pins what the catalogs mark as
// assumed: what the vendor's documents (the seeds) do not state.
func TestShippedCatalogsAgainstTheDocuments(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	assumed := map[string]bool{
		"xyp_cpl0002": true, "xyp_cpl0007": true, "xyp_cpl0008": true, "xyp_cpl0070": true, "xyp_cpl0009": true,
		"xyp_cpl0011": true, "xyp_cpl0071": true, "xyp_cpl0039": true,
		"xyp_model_score_high": true, "xyp_model_score_mid": true, "xyp_model_score_low": true,
		"dwbg8b4d_credit_score": true, "dwbg8b4d_overdue_risk_product_current_overdue_institution_count": true,
		"dwbg8b4d_overdue_risk_product_total_loan_institutions": true, "flxg0v4b_civil_n_qsbdje": true,
	}
	integer := map[string]bool{
		"xyp_cpl0001": true, "xyp_cpl0002": true, "xyp_cpl0007": true, "xyp_cpl0008": true, "xyp_cpl0070": true,
		"xyp_cpl0009": true, "xyp_cpl0011": true, "xyp_cpl0071": true,
		"dwbg8b4d_overdue_risk_product_current_overdue_institution_count": true,
		"dwbg8b4d_overdue_risk_product_total_loan_institutions":           true,
	}
	for _, product := range []string{"JRZQ9E2A", "COMBTY11"} {
		for _, f := range s.Catalogs[product].Fields {
			if got := f.Assumed != ""; got != assumed[f.Column] {
				t.Errorf("%s %s: assumed %q, want assumed = %v", product, f.Column, f.Assumed, assumed[f.Column])
			}
			if f.Integer != integer[f.Column] {
				t.Errorf("%s %s: integer = %v, want %v", product, f.Column, f.Integer, integer[f.Column])
			}
			if len(f.Sentinels) > 0 && !strings.Contains(f.Assumed, "sentinel") && !strings.Contains(f.Assumed, "-1") {
				t.Errorf("%s %s: sentinels %v not marked as assumed (%q)", product, f.Column, f.Sentinels, f.Assumed)
			}
		}
	}
	judicial := map[string]FieldType{}
	for _, f := range s.Catalogs["COMBTY11"].Fields {
		if f.Sub == "FLXG0V4B" {
			judicial[f.Path] = f.Type
		}
	}
	want := map[string]FieldType{
		"sxbzxr": ListCount, "xgbzxr": ListCount, "entout.data.criminal.dzzm": Text,
		"entout.data.criminal.pcjg": Text, "entout.data.civil.n_qsbdje": IntervalText,
	}
	if fmt.Sprint(judicial) != fmt.Sprint(want) {
		t.Errorf("FLXG0V4B fields %v, want the documented ones %v", judicial, want)
	}
}

// TestSourcesInUserAndShippedTables: a shipped table must say seed or sample
// on every row; in a user's table an empty or missing source means user.
func TestSourcesInUserAndShippedTables(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		user   bool
		want   []Source
		errMsg string
	}{
		{"user, no source column", "code,range\n1,\"[0,5]\"\n2,\"(5,+∞)\"\n", true, []Source{SourceUser, SourceUser}, ""},
		{"user, empty and user", "code,range,source\n1,\"[0,5]\",\n2,\"(5,+∞)\",USER\n", true, []Source{SourceUser, SourceUser}, ""},
		{"user keeps sample and seed", "code,range,source\n1,\"[0,5]\",sample\n2,\"(5,+∞)\",seed\n", true, []Source{SourceSample, SourceSeed}, ""},
		{"user, unknown source", "code,range,source\n1,\"[0,5]\",vendor\n", true, nil, "must be user, seed, sample or empty"},
		{"shipped, empty source", "code,range,source\n1,\"[0,5]\",seed\n2,\"(5,+∞)\",\n", false, nil, "must be seed or sample"},
		{"shipped, no source column", "code,range\n1,\"[0,5]\"\n", false, nil, "must be seed or sample"},
		{"shipped, user source", "code,range,source\n1,\"[0,5]\",user\n", false, nil, "must be seed or sample"},
		{"shipped, seed and sample", "code,value,source\na,1,seed\nb,2,Sample\n", false, []Source{SourceSeed, SourceSample}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl, err := parseTable("t.csv", "t", []byte(tt.data), tt.user)
			if tt.errMsg != "" {
				var me *Error
				if !errors.As(err, &me) || me.Field != "source" || !strings.Contains(me.Msg, tt.errMsg) {
					t.Fatalf("parseTable = %v, want a source error saying %q", err, tt.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []Source
			for _, e := range tbl.Entries {
				got = append(got, e.Source)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("sources %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFieldBounds is the bracket rule over a table of cases: an integer
// field gives the smallest and largest whole numbers in the range, any
// other field the ends as written.
func TestFieldBounds(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		in              string
		integer         bool
		low, high       float64 // inf: no value
		wantOK, wantLow bool
	}{
		{"(0,9)", true, 1, 8, true, true},
		{"(0,9)", false, 0, 9, true, true},
		{"[1000,5000)", false, 1000, 5000, true, true},
		{"[1000,5000)", true, 1000, 4999, true, true},
		{"[1,5)", true, 1, 4, true, true},
		{"[5,10)", true, 5, 9, true, true},
		{"(0,1]", true, 1, 1, true, true},
		{"(1,3]", true, 2, 3, true, true},
		{"(3,+∞)", true, 4, inf, true, true},
		{"(3,+∞)", false, 3, inf, true, true},
		{"10+", true, 10, inf, true, true},
		{"[100,+∞)", true, 100, inf, true, true},
		{"(-∞,5)", true, 0, 4, true, false},
		{"(-∞,5]", false, 0, 5, true, false},
		{"0", true, 0, 0, true, true},
		{"42", false, 42, 42, true, true},
		{"[0.5,2.5]", true, 1, 2, true, true},
		{"(0.5,2.5)", true, 1, 2, true, true},
		{"(0.5,2.5)", false, 0.5, 2.5, true, true},
		{"(1,2)", true, 0, 0, false, false},
		{"[0.2,0.8]", true, 0, 0, false, false},
		{"12000.5", true, 0, 0, false, false},
		{"12000.5", false, 12000.5, 12000.5, true, true},
		{"(-3,-1)", true, -2, -2, true, true},
		{"(9007199254740992,9007199254740996)", true, 9007199254740994, 9007199254740994, true, true},
		{"(1.7976931348623157e308,+∞)", true, 0, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s integer=%v", tt.in, tt.integer), func(t *testing.T) {
			iv, ok, err := ParseInterval(tt.in)
			if err != nil || !ok {
				t.Fatalf("ParseInterval(%q) = %v, %v", tt.in, ok, err)
			}
			f := Field{Integer: tt.integer}
			low, high, hasLow, hasHigh, ok := f.Bounds(iv)
			if ok != tt.wantOK {
				t.Fatalf("Bounds ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if hasLow != tt.wantLow || hasLow && low != tt.low {
				t.Errorf("low = %v (has %v), want %v (has %v)", low, hasLow, tt.low, tt.wantLow)
			}
			if wantHigh := !math.IsInf(tt.high, 1); hasHigh != wantHigh || hasHigh && high != tt.high {
				t.Errorf("high = %v (has %v), want %v", high, hasHigh, tt.high)
			}
			if hasLow && hasHigh && low > high {
				t.Errorf("low %v above high %v", low, high)
			}
		})
	}
}

// marker stands for the contents of a file that must never appear in an
// error: a secret the file happened to hold.
const marker = "ZQXJsecret"

// hostileFiles are mapping files with marker in every place a value can be,
// each with a fault somewhere, so that loading fails.
func hostileFiles() []fstest.MapFS {
	m := marker
	tables := []string{
		m + "\n",
		m + "," + m + "\n1,2\n",
		"code,range," + m + "\n1,\"(0,9)\"\n",
		"code,range,code\n1,\"(0,9)\"," + m + "\n",
		"code,range\n" + m + ",\"(0,9)\"\n" + m + ",\"[9,10]\"\n",
		"code,range\n1," + m + "\n",
		"code,range\n1,\"(" + m + ",9)\"\n",
		"code,range\n1,\"(9," + m + ")\"\n",
		"code,range\n1,\"(90,9)\"," + m + "\n",
		"code,range,source\n1,\"(0,9)\"," + m + "\n",
		"code,range,note\n1,\"(0,9)\"," + m + "\n2,\"[5,6]\"," + m + "\n",
		"code,value\n" + m + "," + m + "\n",
		"code,value\n" + m + ",1\n" + m + ",2\n",
		"code,range\n" + m + ",\"(0,9)\n",
		"code,range\n1,(0\"" + m + ")\n",
		"code,range\n1,\"(0,9)\"\n" + m + "\xff,\"[9,10]\"\n",
		"code,range,note\n1,\"(0,9)\"," + strings.Repeat(m, 200) + "\n",
		"code,range\n",
		"root:x:0:0:" + m + ":/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
	}
	catalog := func(fields string) string {
		return "product: TEST0001\nparams: [name]\nfields:\n" + fields
	}
	catalogs := []string{
		m + "\n",
		m + ": " + m + "\n",
		"product: " + m + "\nparams: [name]\nfields: [{path: a, type: flag, zh: 甲}]\n",
		"product: JRZQ9E2A\nparams: [" + m + "]\nfields: [{path: a, type: flag, zh: 甲}]\n",
		"product: TEST0001\nparams: [name]\n" + m + ": 1\n",
		"product: TEST0001\nparams: " + m + "\nfields: [{path: a, type: flag, zh: 甲}]\n",
		"product: TEST0001\nname_zh: [" + m + "]\nparams: [name]\n",
		catalog("  - {path: " + m + ", type: " + m + ", zh: 甲}\n"),
		catalog("  - {path: " + m + ", type: flag, zh: 甲, " + m + ": 1}\n"),
		catalog("  - {path: a, type: interval_code, table: " + m + ", zh: 甲}\n"),
		catalog("  - {path: a, type: flag, table: " + m + ", zh: 甲}\n"),
		catalog("  - {path: a, column: " + m + ", type: flag, zh: 甲}\n"),
		catalog("  - {path: a, type: flag, integer: " + m + ", zh: 甲}\n"),
		catalog("  - {path: a, type: flag, sentinels: {" + m + ": 1}, zh: 甲}\n"),
		catalog("  - {path: " + strings.ToLower(m) + ", type: flag, zh: 甲}\n  - {path: x, column: " + strings.ToLower(m) + ", type: flag, zh: 乙}\n"),
		catalog("  - {path: xyp_cpl0044, column: xyp_cpl0044, type: flag, zh: " + m + "}\n"),
		catalog("  - {path: a, type: interval_code, table: frac, integer: true, zh: " + m + "}\n"),
		"product: TEST0001\nparams: [name]\nsubproducts:\n  - {code: " + m + ", fields: []}\n",
		"product: TEST0001\nparams: [name]\nsubproducts:\n  - {code: S1, " + m + ": x}\n",
		"product: TEST0001\nparams: [name]\nfields: *" + m + "\n",
		"product: TEST0001\nparams: [name]\nfields: [{path: a, type: flag, zh: \"\\" + m + "\"}]\n",
		"product: TEST0001\nparams: [name]\nfields: [{path: a, type: flag, zh: '" + m + "}]\n",
		"product: TEST0001\nparams: [name]\nfields: !!" + m + " [{path: a, type: flag, zh: 甲}]\n",
		"product: TEST0001\nparams: [name]\n\t" + m + ": 1\n",
		"%" + m + " 1\n---\nproduct: TEST0001\n",
		"product: TEST0001\n" + m + "\xff: 1\n",
		"[" + m + ", {" + m + ": " + m + "}]\n",
	}
	var out []fstest.MapFS
	frac := &fstest.MapFile{Data: []byte("code,range,source\n1,\"(1,2)\",user\n")}
	for _, data := range tables {
		out = append(out, fstest.MapFS{"tables/t.csv": {Data: []byte(data)}})
	}
	for _, data := range catalogs {
		out = append(out, fstest.MapFS{"catalogs/TEST0001.yaml": {Data: []byte(data)}, "tables/frac.csv": frac})
	}
	return out
}

// TestErrorsNeverQuoteTheFile: whatever is wrong with a mapping file, and
// wherever its contents sit, the error names file, line and field but
// quotes none of it (a mapping file may be a link to any file).
func TestErrorsNeverQuoteTheFile(t *testing.T) {
	for i, fsys := range hostileFiles() {
		_, err := load(fsys, "userdir")
		if err == nil {
			t.Errorf("case %d: loaded without error, want one", i)
			continue
		}
		var me *Error
		if !errors.As(err, &me) {
			t.Errorf("case %d: error %T %v, want a *mappings.Error", i, err, err)
		}
		if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(marker)) {
			t.Errorf("case %d: error quotes the file: %v", i, err)
		}
	}
}

// TestLinksAndSpecialFiles: a mapping file that is a link to another file
// is read as that file (and its errors quote nothing of it); one that is not
// a regular file, or is a broken link, is an error naming it, not a hang.
func TestLinksAndSpecialFiles(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret.txt")
	writeFiles(t, filepath.Dir(secret), map[string]string{"secret.txt": "password=" + marker + "\n" + marker + "\n"})
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the file at fault
		msg   string
	}{
		{"link to a secret as a table", func(t *testing.T, dir string) string {
			return link(t, secret, filepath.Join(dir, "tables", "jrzq9e2a_count.csv"))
		}, "header column 1 is not one of"},
		{"link to a secret as a catalog", func(t *testing.T, dir string) string {
			return link(t, secret, filepath.Join(dir, "catalogs", "X.yaml"))
		}, "must be a mapping"},
		{"broken link", func(t *testing.T, dir string) string {
			return link(t, filepath.Join(dir, "nowhere"), filepath.Join(dir, "tables", "t.csv"))
		}, "no such file"},
		{"directory named like a table", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "tables", "t.csv")
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not a regular file"},
		{"FIFO", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "tables", "t.csv")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			return p
		}, "not a regular file"},
		{"link to a device", func(t *testing.T, dir string) string {
			if _, err := os.Stat("/dev/zero"); err != nil {
				t.Skip("no /dev/zero")
			}
			return link(t, "/dev/zero", filepath.Join(dir, "tables", "t.csv"))
		}, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := tt.setup(t, dir)
			_, err := Load(dir)
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("Load = %v, want a *mappings.Error", err)
			}
			if me.File != file || !strings.Contains(me.Msg, tt.msg) {
				t.Errorf("Load = %v, want file %s and %q", err, file, tt.msg)
			}
			if strings.Contains(err.Error(), marker) {
				t.Errorf("error quotes the linked file: %v", err)
			}
		})
	}
}

func link(t *testing.T, target, name string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, name); err != nil {
		t.Skipf("symlink: %v", err)
	}
	return name
}

// TestPlaceholders lists the tables in use that hold sample entries, once
// each, by name.
func TestPlaceholders(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	got := Placeholders(s.Catalogs["JRZQ9E2A"], s.Catalogs["COMBTY11"], s.Catalogs["JRZQ9E2A"])
	want := []Placeholder{
		{Table: "check_suggest", File: "mappings/tables/check_suggest.csv", Samples: 1, Entries: 3},
		{Table: "jrzq9e2a_amount", File: "mappings/tables/jrzq9e2a_amount.csv", Samples: 8, Entries: 8},
		{Table: "jrzq9e2a_count", File: "mappings/tables/jrzq9e2a_count.csv", Samples: 5, Entries: 6},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Placeholders = %+v, want %+v", got, want)
	}

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"tables/jrzq9e2a_count.csv":  "code,range\n1,\"[1,9]\"\n2,\"[10,+∞)\"\n",
		"tables/jrzq9e2a_amount.csv": "code,range,source\n1,\"(0,1000)\",user\n2,\"[1000,+∞)\",\n",
	})
	s, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := Placeholders(s.Catalogs["JRZQ9E2A"]); len(got) != 0 {
		t.Errorf("with the user's tables, Placeholders(JRZQ9E2A) = %+v, want none", got)
	}
	if got := Placeholders(s.Catalogs["COMBTY11"]); len(got) != 1 || got[0].Table != "check_suggest" {
		t.Errorf("Placeholders(COMBTY11) = %+v, want check_suggest", got)
	}
}

// FuzzLoadTable loads arbitrary bytes as a user's table, used by an
// integer field of a user catalog: no panic, a *mappings.Error on failure
// that quotes nothing of the file, and a table that keeps what it promises.
func FuzzLoadTable(f *testing.F) {
	for _, fsys := range hostileFiles() {
		if d, ok := fsys["tables/t.csv"]; ok {
			f.Add(d.Data)
		}
	}
	for _, name := range []string{"jrzq9e2a_count", "jrzq9e2a_amount", "check_suggest"} {
		data, err := embedded.ReadFile("tables/" + name + ".csv")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("\xef\xbb\xbfcode,range,source,note\n1,\"（0，9）\",sample,x\n2,9,,\n3,\"(9,+inf)\",user,\"a,b\"\n"))
	catalog := []byte("product: FUZZ0001\nparams: [name]\nfields:\n  - {path: a, type: interval_code, table: t, integer: true, zh: 甲}\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := load(fstest.MapFS{"tables/t.csv": {Data: data}, "catalogs/FUZZ0001.yaml": {Data: catalog}}, "userdir")
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T %v, want a *mappings.Error", err, err)
			}
			if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(marker)) {
				t.Fatalf("error quotes the file: %v", err)
			}
			return
		}
		tbl := s.Tables["t"]
		f := &s.Catalogs["FUZZ0001"].Fields[0]
		for i, e := range tbl.Entries {
			if got, ok := tbl.Entry(e.Code); !ok || got != &tbl.Entries[i] {
				t.Fatalf("Entry(%q) does not find row %d", e.Code, i)
			}
			if e.Source != SourceSeed && e.Source != SourceSample && e.Source != SourceUser {
				t.Fatalf("row %d source %q", i, e.Source)
			}
			if _, _, _, _, ok := f.Bounds(e.Interval); tbl.Kind == IntervalTable && !ok {
				t.Fatalf("row %d range %q holds no whole number, yet the integer field loaded", i, e.Text)
			}
			for j := range i {
				if tbl.Kind == IntervalTable && e.Interval.Overlaps(tbl.Entries[j].Interval) {
					t.Fatalf("rows %d and %d overlap: %s %s", j, i, tbl.Entries[j].Text, e.Text)
				}
			}
		}
	})
}

// FuzzLoadCatalog loads arbitrary bytes as a user's catalog: no panic, a
// *mappings.Error on failure that quotes nothing of the file.
func FuzzLoadCatalog(f *testing.F) {
	for _, fsys := range hostileFiles() {
		if d, ok := fsys["catalogs/TEST0001.yaml"]; ok {
			f.Add(d.Data)
		}
	}
	for _, name := range []string{"JRZQ9E2A", "COMBTY11"} {
		data, err := embedded.ReadFile("catalogs/" + name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(strings.Replace(string(data), "product: "+name, "product: FUZZ0001", 1)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := load(fstest.MapFS{"catalogs/FUZZ0001.yaml": {Data: data}}, "userdir")
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T %v, want a *mappings.Error", err, err)
			}
			if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(marker)) {
				t.Fatalf("error quotes the file: %v", err)
			}
			return
		}
		for _, c := range s.Catalogs {
			for _, f := range c.Fields {
				if f.Type.needsTable() && f.Lookup() == nil {
					t.Fatalf("%s field at line %d has no table", c.Product, f.Line)
				}
				for _, col := range f.Columns() {
					if !validName(col.Name) {
						t.Fatalf("%s: column name %q", c.Product, col.Name)
					}
				}
			}
		}
	})
}

// largeTable writes an interval table of n codes, in shuffled order, and
// returns its directory.
func largeTable(tb testing.TB, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("code,range,source,note\n")
	for i := range n {
		k := (i * 7919) % n // a permutation of 0..n-1 (7919 is prime, n is not a multiple)
		fmt.Fprintf(&b, "c%d,\"[%d,%d)\",user,row %d\n", k, 10*k, 10*k+10, i)
	}
	dir := tb.TempDir()
	writeFiles(tb, dir, map[string]string{"tables/big.csv": b.String()})
	return dir
}

// BenchmarkLoadLargeTable loads a 200,000-code interval table (about 8 MB).
func BenchmarkLoadLargeTable(b *testing.B) {
	dir := largeTable(b, 200_000)
	b.ResetTimer()
	for b.Loop() {
		s, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Tables["big"].Entries) != 200_000 {
			b.Fatal("wrong size")
		}
	}
}
