package mappings

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles writes files (slash-separated names relative to dir) into dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func findField(t *testing.T, c *Catalog, path string) *Field {
	t.Helper()
	for i := range c.Fields {
		if c.Fields[i].Path == path {
			return &c.Fields[i]
		}
	}
	t.Fatalf("catalog %s has no field %s", c.Product, path)
	return nil
}

func findFile(t *testing.T, s *Set, name string) File {
	t.Helper()
	for _, f := range s.Files {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("Set.Files has no %s: %+v", name, s.Files)
	return File{}
}

func TestLoadEmbedded(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatalf("Load(\"\") = %v", err)
	}
	c, err := s.Catalog("JRZQ9E2A")
	if err != nil {
		t.Fatalf("Catalog(JRZQ9E2A) = %v", err)
	}
	if got, want := len(c.Fields), 17; got != want {
		t.Errorf("JRZQ9E2A has %d fields, want %d", got, want)
	}
	if got, want := strings.Join(c.Params, ","), "name,id_card,mobile_no,auth_authorize_file_code"; got != want {
		t.Errorf("JRZQ9E2A params = %s, want %s", got, want)
	}
	f := findField(t, c, "xyp_cpl0001")
	if f.Type != IntervalCode || f.Column != "xyp_cpl0001" || f.Table != "jrzq9e2a_count" {
		t.Errorf("xyp_cpl0001 = type %s column %s table %s, want interval_code xyp_cpl0001 jrzq9e2a_count", f.Type, f.Column, f.Table)
	}
	if f.Lookup() == nil {
		t.Fatal("xyp_cpl0001.Lookup() = nil, want its table")
	}
	iv, ok := f.Lookup().Interval("1")
	if want := (Interval{Low: 0, High: 9, LowOpen: true, HighOpen: true}); !ok || iv != want {
		t.Errorf("xyp_cpl0001 table Interval(\"1\") = %+v, %v, want %+v, true", iv, ok, want)
	}
	if iv, ok := f.Lookup().Interval("6"); !ok || iv.Low != 100 || iv.HighBounded() {
		t.Errorf("xyp_cpl0001 table Interval(\"6\") = %+v, %v, want [100,+∞)", iv, ok)
	}
	if iv, ok := f.Lookup().Interval("9"); ok {
		t.Errorf("xyp_cpl0001 table Interval(\"9\") = %+v, true, want not found", iv)
	}
	if v, ok := f.Lookup().Value("1"); ok {
		t.Errorf("interval table Value(\"1\") = %d, true, want not found", v)
	}
	score := findField(t, c, "xyp_model_score_high")
	if !score.IsSentinel("-1") || score.IsSentinel("0") {
		t.Errorf("xyp_model_score_high sentinels = %v, want -1 only", score.Sentinels)
	}

	for product, c := range s.Catalogs {
		for _, f := range c.Fields {
			if f.ZH == "" {
				t.Errorf("%s field %s has no zh description", product, f.Path)
			}
			if f.Type.needsTable() && f.Lookup() == nil {
				t.Errorf("%s field %s has no table after Load", product, f.Path)
			}
		}
	}

	combo, err := s.Catalog("COMBTY11")
	if err != nil {
		t.Fatalf("Catalog(COMBTY11) = %v", err)
	}
	if got := len(combo.Subs); got != 2 || combo.Subs[0].Code != "DWBG8B4D" || combo.Subs[1].Code != "FLXG0V4B" {
		t.Errorf("COMBTY11 subs = %+v, want DWBG8B4D, FLXG0V4B", combo.Subs)
	}
	suggest := findField(t, combo, "checkSuggest")
	if v, ok := suggest.Lookup().Value("建议拒绝"); !ok || v != 3 {
		t.Errorf("checkSuggest Value(建议拒绝) = %d, %v, want 3, true", v, ok)
	}
	for path, want := range map[string]string{
		"entout.data.criminal.dzzm":  "flxg0v4b_criminal_dzzm",
		"entout.data.criminal.pcjg":  "flxg0v4b_criminal_pcjg",
		"entout.data.civil.n_qsbdje": "flxg0v4b_civil_n_qsbdje",
	} {
		if got := findField(t, combo, path).Column; got != want {
			t.Errorf("%s column = %s, want %s (set in the catalog)", path, got, want)
		}
	}

	if got, want := len(s.Files), 7; got != want {
		t.Errorf("Load(\"\") read %d files, want %d: %+v", got, want, s.Files)
	}
	for i, f := range s.Files {
		if f.Origin != "embedded" || len(f.SHA256) != 64 {
			t.Errorf("Files[%d] = %+v, want origin embedded and a sha256", i, f)
		}
		if i > 0 && s.Files[i-1].Name >= f.Name {
			t.Errorf("Files not sorted: %s before %s", s.Files[i-1].Name, f.Name)
		}
	}

	if _, err := s.Catalog("NOPE0000"); err == nil || !strings.Contains(err.Error(), "JRZQ9E2A") {
		t.Errorf("Catalog(NOPE0000) error = %v, want one listing the known products", err)
	}
}

func TestFieldColumns(t *testing.T) {
	tests := []struct {
		typ  FieldType
		want []string
	}{
		{IntervalCode, []string{"x_code:string", "x_low:float64", "x_high:float64"}},
		{IntervalText, []string{"x_code:string", "x_low:float64", "x_high:float64"}},
		{Flag, []string{"x:int64"}},
		{Enum, []string{"x:int64"}},
		{Number, []string{"x:float64"}},
		{Score, []string{"x:float64"}},
		{Text, []string{"x:string"}},
		{ListCount, []string{"x_count:int64"}},
	}
	for _, tt := range tests {
		f := Field{Column: "x", Type: tt.typ, ZH: "描述"}
		var got []string
		for _, c := range f.Columns() {
			got = append(got, c.Name+":"+c.Kind.String())
			if !strings.HasPrefix(c.DescriptionZH, "描述") {
				t.Errorf("%s column %s description %q, want it to start with the field's", tt.typ, c.Name, c.DescriptionZH)
			}
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("Field{Type: %s}.Columns() = %v, want %v", tt.typ, got, tt.want)
		}
	}
}

const userCatalog = `# a product of the user
product: TEST0001
name_zh: 测试产品
name_en: Test product
params: [name, id_card]
fields:
  - {path: test_count, type: interval_code, table: jrzq9e2a_count, zh: 测试机构数}
  - {path: test_level, type: enum, table: test_level, zh: 测试等级}
`

func TestLoadUserDir(t *testing.T) {
	embeddedSet, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	embeddedSum := findFile(t, embeddedSet, "tables/jrzq9e2a_count.csv").SHA256

	dir := t.TempDir()
	count := "code,range,source\n1,\"[1,5]\",user\n2,\"(5,+∞)\",\n"
	writeFiles(t, dir, map[string]string{
		"tables/jrzq9e2a_count.csv": count,
		"tables/test_level.csv":     "\xef\xbb\xbfcode,value\n低,1\n高,2\n",
		"catalogs/TEST0001.yaml":    userCatalog,
		"README.txt":                "not a mapping file",
	})
	s, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s) = %v", dir, err)
	}

	jr := s.Catalogs["JRZQ9E2A"]
	tbl := findField(t, jr, "xyp_cpl0001").Lookup()
	if iv, ok := tbl.Interval("1"); !ok || iv != (Interval{Low: 1, High: 5}) {
		t.Errorf("user table Interval(\"1\") = %+v, %v, want [1,5]", iv, ok)
	}
	if iv, ok := tbl.Interval("6"); ok {
		t.Errorf("user table Interval(\"6\") = %+v, true, want not found (the user file replaces the embedded one)", iv)
	}
	if got := len(tbl.Entries); got != 2 {
		t.Errorf("user table has %d entries, want 2", got)
	}
	for i, e := range tbl.Entries {
		if e.Source != SourceUser {
			t.Errorf("user table Entries[%d].Source = %q, want user (written user, or empty)", i, e.Source)
		}
	}
	if !tbl.User {
		t.Error("user table User = false, want true")
	}

	f := findFile(t, s, "tables/jrzq9e2a_count.csv")
	if want := filepath.Join(dir, "tables", "jrzq9e2a_count.csv"); f.Origin != want {
		t.Errorf("Files origin = %q, want %q", f.Origin, want)
	}
	sum := sha256.Sum256([]byte(count))
	if want := hex.EncodeToString(sum[:]); f.SHA256 != want {
		t.Errorf("Files sha256 = %s, want %s", f.SHA256, want)
	}
	if f.SHA256 == embeddedSum {
		t.Errorf("user file sha256 = embedded sha256 %s, want a different one", embeddedSum)
	}
	if got := findFile(t, s, "tables/jrzq9e2a_amount.csv").Origin; got != "embedded" {
		t.Errorf("jrzq9e2a_amount.csv origin = %q, want embedded", got)
	}
	if got, want := len(s.Files), 9; got != want {
		t.Errorf("Load read %d files, want %d", got, want)
	}

	c, err := s.Catalog("TEST0001")
	if err != nil {
		t.Fatalf("Catalog(TEST0001) = %v", err)
	}
	if want := filepath.Join(dir, "catalogs", "TEST0001.yaml"); c.File != want {
		t.Errorf("TEST0001 file = %q, want %q", c.File, want)
	}
	if got := len(c.Fields); got != 2 {
		t.Fatalf("TEST0001 has %d fields, want 2", got)
	}
	if got := c.Fields[0].Line; got != 7 {
		t.Errorf("TEST0001 first field line = %d, want 7", got)
	}
	if v, ok := c.Fields[1].Lookup().Value("高"); !ok || v != 2 {
		t.Errorf("test_level Value(高) = %d, %v, want 2, true (BOM stripped)", v, ok)
	}
	if _, ok := s.Catalogs["COMBTY11"]; !ok {
		t.Error("COMBTY11 missing after loading a user dir")
	}
}

func TestLoadDirProblems(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load(missing dir) = nil error, want one")
	}
	file := filepath.Join(t.TempDir(), "file")
	writeFiles(t, filepath.Dir(file), map[string]string{"file": "x"})
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Load(a file) = %v, want a not-a-directory error", err)
	}
}

func TestLoadErrors(t *testing.T) {
	catalog := func(fields string) string {
		return "# test\nproduct: TEST0001\nname_zh: 测试\nparams: [name, id_card]\nfields:\n" + fields
	}
	tests := []struct {
		name    string
		file    string // the file at fault, relative to the user dir
		data    string
		line    int
		field   string
		message string
	}{
		{"overlapping intervals", "tables/t_overlap.csv", "# counts\ncode,range\n1,\"(0,10)\"\n2,\"[10,20)\"\n3,\"[15,30)\"\n", 5, "range", "overlaps the range on line 4"},
		{"overlap found far apart in the file", "tables/t_far.csv", "code,range\n1,\"[50,60)\"\n2,\"[0,10)\"\n3,\"[20,30)\"\n4,\"[55,56]\"\n", 5, "range", "overlaps the range on line 2"},
		{"overlap by containment", "tables/t_contain.csv", "code,range\n1,\"[0,100]\"\n2,\"[200,300]\"\n3,\"[10,20]\"\n", 4, "range", "overlaps the range on line 2"},
		{"touching closed intervals", "tables/t_touch.csv", "code,range\n1,\"[0,10]\"\n2,\"[10,20]\"\n", 3, "range", "overlaps"},
		{"same point twice", "tables/t_point.csv", "code,range\n1,42\n2,\"[42,42]\"\n", 3, "range", "overlaps the range on line 2"},
		{"inverted interval", "tables/t_inverted.csv", "code,range\n1,\"(0,9)\"\n2,\"(50,10)\"\n", 3, "range", "not an interval"},
		{"empty range", "tables/t_empty.csv", "code,range\n1,\n", 2, "range", "empty"},
		{"empty code", "tables/t_nocodeval.csv", "code,range\n,\"(0,9)\"\n", 2, "code", "empty"},
		{"duplicate code", "tables/t_dup.csv", "code,range\n1,\"(0,9)\"\n2,\"[10,20)\"\n1,\"[20,30)\"\n", 4, "code", "already listed on line 2"},
		{"enum value not an integer", "tables/t_enum.csv", "code,value\n低,1\n高,high\n", 3, "value", "not an integer"},
		{"unknown source", "tables/t_source.csv", "code,range,source\n1,\"(0,9)\",official\n", 2, "source", "must be user, seed, sample or empty"},
		{"header without range or value", "tables/t_header.csv", "# a table\n\ncode,note\n1,0\n", 3, "", "header must name the columns code and range"},
		{"header with an unknown column", "tables/t_unknown.csv", "code,range,sourse\n1,\"(0,9)\",user\n", 1, "", "header column 3 is not one of code, range, value, source, note"},
		{"header with range and value", "tables/t_both.csv", "code,range,value\n1,\"(0,9)\",1\n", 1, "", "both range and value"},
		{"header naming a column twice", "tables/t_twice.csv", "code,range,Code\n1,\"(0,9)\",2\n", 1, "", "columns 1 and 3 have the same name"},
		{"header without code", "tables/t_nocode.csv", "range,note\n\"(0,9)\",x\n", 1, "", "no code column"},
		{"table without rows", "tables/t_norows.csv", "code,range\n", 0, "", "no rows"},
		{"empty table file", "tables/t_void.csv", "", 0, "", "no header row"},
		{"bad table name", "tables/Bad-Name.csv", "code,range\n1,\"(0,9)\"\n", 0, "", "table name"},
		{"unclosed quote", "tables/t_quote.csv", "code,range\n1,\"(0,9)\n2,\"[9,10]\"\n", 3, "", "column"},
		{"bare quote", "tables/t_bare.csv", "code,range\n1,(0\"9)\n", 2, "", "bare"},
		{"invalid UTF-8", "tables/t_utf8.csv", "code,range\n1,\"(0,9)\"\n\xff,\"[9,10]\"\n", 3, "", "not valid UTF-8"},
		{"field too long", "tables/t_long.csv", "code,range,note\n1,\"(0,9)\"," + strings.Repeat("x", 2000) + "\n", 2, "", "longer than"},
		{"shipped source missing", "", "", 0, "", ""}, // see TestEmbeddedSourcesRequired
		{"unknown table", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: flag, zh: 甲}\n  - {path: b, type: interval_code, table: no_such_table, zh: 乙}\n"), 7, "table", "no table has this name (tables: check_suggest,"},
		{"enum table for interval_code", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: interval_code, table: check_suggest, zh: 甲}\n"), 6, "table", "needs an interval table, this one is an enum table"},
		{"interval table for enum", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: flag, zh: 甲}\n  - {path: b, type: flag, zh: 乙}\n  - {path: c, type: enum, table: jrzq9e2a_count, zh: 丙}\n"), 8, "table", "needs an enum table"},
		{"unknown field type", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: flag, zh: 甲}\n  - {path: b, type: intervalcode, table: jrzq9e2a_count, zh: 乙}\n"), 7, "type", "not a field type (one of interval_code,"},
		{"missing type", "catalogs/TEST0001.yaml", catalog("  - {path: a, zh: 甲}\n"), 6, "type", "missing"},
		{"missing path", "catalogs/TEST0001.yaml", catalog("  - {type: flag, zh: 甲}\n"), 6, "path", "missing"},
		{"unknown key in a field", "catalogs/TEST0001.yaml", catalog("  - path: a\n    type: interval_code\n    tabel: jrzq9e2a_count\n    zh: 甲\n"), 8, "fields", "unknown key (known keys: path, also, column,"},
		{"also not a list", "catalogs/TEST0001.yaml", catalog("  - {path: a, also: b, type: flag, zh: 甲}\n"), 6, "also", "want a list"},
		{"also an empty path", "catalogs/TEST0001.yaml", catalog("  - {path: a, also: [b, ''], type: flag, zh: 甲}\n"), 6, "also", "an empty path"},
		{"also the field's own path", "catalogs/TEST0001.yaml", catalog("  - {path: a.b, also: [a.b], type: flag, zh: 甲}\n"), 6, "also", "the field's own path"},
		{"also a path twice", "catalogs/TEST0001.yaml", catalog("  - {path: a, also: [b.c, d, b.c], type: flag, zh: 甲}\n"), 6, "also", "a path given twice"},
		{"a second document", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: flag, zh: 甲}\n") + "---\nfoo: 1\n", 8, "", "a second YAML document"},
		{"key given twice", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: flag, zh: 甲, zh: 乙}\n"), 6, "zh", "given twice"},
		{"unknown key at the top", "catalogs/TEST0001.yaml", "product: TEST0001\nparams: [name]\nfeilds:\n  - {path: a, type: flag, zh: 甲}\n", 3, "", "unknown key (known keys: product,"},
		{"unknown key in a subproduct", "catalogs/TEST0001.yaml", "product: TEST0001\nparams: [name]\nsubproducts:\n  - code: SUB00001\n    name: 子产品\n    fields: []\n", 5, "subproducts", "unknown key"},
		{"subproduct without code", "catalogs/TEST0001.yaml", "product: TEST0001\nparams: [name]\nsubproducts:\n  - name_zh: 子产品\n    fields: [{path: a, type: flag, zh: 甲}]\n", 4, "code", "missing"},
		{"subproduct twice", "catalogs/TEST0001.yaml", "product: TEST0001\nparams: [name]\nsubproducts:\n  - {code: S1, fields: [{path: a, type: flag, zh: 甲}]}\n  - {code: S1, fields: [{path: b, type: flag, zh: 乙}]}\n", 5, "code", "already listed"},
		{"table for a flag", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: flag, table: jrzq9e2a_count, zh: 甲}\n"), 6, "table", "takes no table"},
		{"interval_code without table", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: interval_code, zh: 甲}\n"), 6, "table", "missing"},
		{"integer on a score", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: score, integer: true, zh: 甲}\n"), 6, "integer", "only for interval_code and interval_text"},
		{"integer not a boolean", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: interval_text, integer: yes please, zh: 甲}\n"), 6, "integer", "want true or false"},
		{"integer over a range with no whole number", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: interval_code, table: t_frac, integer: true, zh: 甲}\n"), 6, "integer", "the range on line 3 of "},
		{"missing zh", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: flag, en: A}\n"), 6, "zh", "missing"},
		{"zh a list", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: flag, zh: [甲]}\n"), 6, "zh", "want a single value"},
		{"params not a list", "catalogs/TEST0001.yaml", "product: TEST0001\nparams: {name: 1}\nfields:\n  - {path: a, type: flag, zh: 甲}\n", 2, "params", "want a list"},
		{"bad column name", "catalogs/TEST0001.yaml", catalog("  - {path: a, column: Bad-Name, type: flag, zh: 甲}\n"), 6, "column", "lower-case letters, digits and _"},
		{"duplicate column across catalogs", "catalogs/TEST0001.yaml", catalog("  - {path: test_a, type: flag, zh: 甲}\n  - {path: xyp_cpl0044, type: flag, zh: 重复}\n"), 7, "column", "this field's column has the name of one produced by mappings/catalogs/JRZQ9E2A.yaml:"},
		{"field column takes a status column's name", "catalogs/TEST0001.yaml", catalog("  - {path: a, column: jrzq9e2a_status, type: flag, zh: 甲}\n"), 6, "column", "produced by mappings/catalogs/JRZQ9E2A.yaml (status)"},
		{"duplicate column within a catalog", "catalogs/TEST0001.yaml", catalog("  - {path: a, type: interval_code, table: jrzq9e2a_count, zh: 甲}\n  - {path: a_low, type: number, zh: 乙}\n"), 7, "column", "has the name of one produced by"},
		{"product already defined", "catalogs/OTHER.yaml", "product: JRZQ9E2A\nparams: [name]\nfields:\n  - {path: a, type: flag, zh: 甲}\n", 0, "product", "already defined in mappings/catalogs/JRZQ9E2A.yaml"},
		{"bad product code", "catalogs/TEST0001.yaml", "product: test-1\nparams: [name]\nfields:\n  - {path: a, type: flag, zh: 甲}\n", 1, "product", "upper-case letters and digits"},
		{"missing params", "catalogs/TEST0001.yaml", "product: TEST0001\nfields:\n  - {path: a, type: flag, zh: 甲}\n", 1, "params", "missing"},
		{"fields and subproducts", "catalogs/TEST0001.yaml", "product: TEST0001\nparams: [name]\nfields:\n  - {path: a, type: flag, zh: 甲}\nsubproducts:\n  - {code: S, fields: [{path: b, type: flag, zh: 乙}]}\n", 1, "", "either fields or subproducts"},
		{"no fields", "catalogs/TEST0001.yaml", "product: TEST0001\nparams: [name]\n", 1, "fields", "has no fields"},
		{"not a mapping", "catalogs/TEST0001.yaml", "- a\n- b\n", 1, "", "must be a mapping"},
		{"empty catalog", "catalogs/TEST0001.yaml", "# nothing\n", 0, "", "empty"},
		{"alias", "catalogs/TEST0001.yaml", "product: TEST0001\nparams: &p [name]\nfields:\n  - &f {path: a, type: flag, zh: 甲}\n  - *f\n", 5, "fields", "aliases"},
		{"YAML syntax", "catalogs/TEST0001.yaml", "product: TEST0001\nparams: [name\nfields: x\n", 1, "", "not valid YAML: did not find expected ',' or ']'"},
		{"YAML tab indentation", "catalogs/TEST0001.yaml", "product: TEST0001\n\tparams: [name]\n", 2, "", "not valid YAML"},
	}
	for _, tt := range tests {
		if tt.file == "" {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{tt.file: tt.data, "tables/t_frac.csv": "code,range\n1,\"[1,2]\"\n2,\"(2,3)\"\n"})
			s, err := Load(dir)
			if err == nil {
				t.Fatalf("Load() = %d catalogs, nil error, want an error", len(s.Catalogs))
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("Load() error = %T %v, want a *mappings.Error", err, err)
			}
			if want := filepath.Join(dir, filepath.FromSlash(tt.file)); me.File != want {
				t.Errorf("Load() error file = %q, want %q (%v)", me.File, want, err)
			}
			if me.Line != tt.line {
				t.Errorf("Load() error line = %d, want %d (%v)", me.Line, tt.line, err)
			}
			if me.Field != tt.field {
				t.Errorf("Load() error field = %q, want %q (%v)", me.Field, tt.field, err)
			}
			if !strings.Contains(me.Msg, tt.message) {
				t.Errorf("Load() error message = %q, want it to contain %q", me.Msg, tt.message)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "a.csv", Line: 3, Msg: "bad"}, "a.csv:3: bad"},
		{Error{File: "a.csv", Msg: "bad"}, "a.csv: bad"},
		{Error{File: "a.csv", Line: 3, Field: "range", Msg: "bad"}, "a.csv:3: range: bad"},
		{Error{File: "a.yaml", Field: "product", Msg: "bad"}, "a.yaml: product: bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}
