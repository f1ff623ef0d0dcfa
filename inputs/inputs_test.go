package inputs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/inputs"
	"github.com/scorepipe/scorepipe/sinks"
	"github.com/scorepipe/scorepipe/sources"
)

// file is an input file with the given header (canonical names).
func file(path string, header ...string) inputs.File {
	f := inputs.File{Path: path, Header: header, Identity: map[string]int{}}
	for i, h := range header {
		if inputs.IsIdentity(h) {
			f.Identity[h] = i
		}
	}
	return f
}

func TestCheckRequired(t *testing.T) {
	jrzq := []string{"name", "id_card", "mobile_no", "auth_authorize_file_code"}
	combo := []string{"name", "id_card", "mobile_no", "authorization_url", "auth_date"}
	full := file("a.csv", "name", "id_card", "mobile_no", "auth_authorize_file_code", "authorization_url", "auth_date", "label")
	tests := []struct {
		name    string
		files   []inputs.File
		needs   map[string][]string
		aliases map[string][]string
		want    []string // substrings of the error; none for no error
	}{
		{"every column", []inputs.File{full}, map[string][]string{"JRZQ9E2A": jrzq, "COMBTY11": combo}, nil, nil},
		{"no mobile", []inputs.File{file("b.csv", "name", "id_card", "auth_authorize_file_code")}, map[string][]string{"JRZQ9E2A": jrzq}, nil,
			[]string{"b.csv: no column mobile_no (looked for mobile_no, 手机号", "which JRZQ9E2A needs"}},
		{"no name, both products", []inputs.File{file("b.csv", "id_card", "mobile_no", "auth_authorize_file_code", "authorization_url", "auth_date")},
			map[string][]string{"JRZQ9E2A": jrzq, "COMBTY11": combo}, nil, []string{"no column name", "which COMBTY11 and JRZQ9E2A need"}},
		{"aliases of the config named", []inputs.File{file("b.csv", "id_card", "name", "auth_authorize_file_code")}, map[string][]string{"JRZQ9E2A": jrzq},
			map[string][]string{"mobile_no": {"联系电话"}}, []string{"phone, 联系电话; set input.columns.mobile_no"}},
		{"every missing column named", []inputs.File{file("b.csv", "id_card")}, map[string][]string{"COMBTY11": combo}, nil,
			[]string{"no columns name (", "; mobile_no ("}},
		{"authorization columns left to the rows", []inputs.File{file("b.csv", "name", "id_card", "mobile_no")},
			map[string][]string{"JRZQ9E2A": jrzq, "COMBTY11": combo}, nil, nil},
		{"a column of a product not configured", []inputs.File{file("b.csv", "name", "id_card", "mobile_no", "auth_authorize_file_code")},
			map[string][]string{"JRZQ9E2A": jrzq}, nil, nil},
		{"the second file", []inputs.File{full, file("c.csv", "name", "id_card", "auth_date")}, map[string][]string{"COMBTY11": combo}, nil,
			[]string{"c.csv: no column mobile_no"}},
		{"a parameter that is no input column", []inputs.File{full}, map[string][]string{"X": {"name", "id_card", "other"}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := inputs.CheckRequired(tt.files, tt.needs, tt.aliases)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckRequired: %v, want nil", err)
				}
				return
			}
			var fe *sources.FileError
			if !errors.As(err, &fe) {
				t.Fatalf("CheckRequired: %T %v, want a *sources.FileError", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CheckRequired: %q, want it to say %q", err, w)
				}
			}
		})
	}
}

// TestValuesReasonsNameNoValue reads cells that are not of their column's
// type: each is a problem of its column whose reason does not repeat it.
func TestValuesReasonsNameNoValue(t *testing.T) {
	f := file("a.csv", "id_card", "ref_no", "contact", "apply_date")
	schema := sinks.Schema{{Name: "ref_no", Type: sinks.Int64}, {Name: "contact", Type: sinks.Float64}, {Name: "apply_date", Type: sinks.Date}}
	f.Columns = []int{-1, 0, 1, 2}
	for _, cells := range [][]string{
		{"x", "33010619840917736X", "150-18793472", "17/09/1984"},
		{"x", "13800138000.5", "(138) 0013-8000", "330106198409177361"},
		{"x", "1.10101199003071E+17", "zhang.san@example.com", "46027"},
	} {
		t.Run(strings.Join(cells[1:], " "), func(t *testing.T) {
			_, problems := f.Values(sources.Record{Fields: cells}, schema, nil)
			if len(problems) != 3 {
				t.Fatalf("got %d problems %v, want 3", len(problems), problems)
			}
			for i, p := range problems {
				if p.Column != f.Header[i+1] {
					t.Errorf("problem %d names %q, want %q", i, p.Column, f.Header[i+1])
				}
				for _, c := range cells[1:] {
					if strings.Contains(p.Reason, c) {
						t.Errorf("reason %q repeats the cell %q", p.Reason, c)
					}
				}
			}
		})
	}
}
