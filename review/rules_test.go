package review

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/mappings"
)

// countLabel is how the review shows a code of the institution-count
// table: the code and its range, as the table says.
func countLabel(set *mappings.Set, code string) string {
	iv, ok := set.Tables["jrzq9e2a_count"].Interval(code)
	if !ok {
		panic("no code " + code)
	}
	return code + " " + iv.String()
}

// change is what a test expects of one row of the changes.
type change struct{ rule, column, old, new string }

func (c change) String() string { return fmt.Sprintf("%s %s %q→%q", c.rule, c.column, c.old, c.new) }

// TestChangeRules checks every built-in rule on an applicant whose values
// move from the baseline to the reviewed run, next to a control applicant
// who does not change.
func TestChangeRules(t *testing.T) {
	set := testMappings(t)
	type row = map[string]any
	tests := []struct {
		name      string
		old, cur  row
		want      []change
		wantRules map[string]int64 // applicants per rule, for the rules named
	}{
		// became_overdue
		{"became overdue 0 → 1", row{"xyp_cpl0044": 0}, row{"xyp_cpl0044": 1},
			[]change{{"became_overdue", "xyp_cpl0044", "0", "1"}}, nil},
		{"became overdue: missing in an answer → 1", row{"xyp_cpl0044": nil, "jrzq9e2a_status": "no_record"}, row{"xyp_cpl0044": 1},
			[]change{{"became_overdue", "xyp_cpl0044", "", "1"}}, nil},
		{"became overdue through the report", row{"dwbg8b4d_risk_warning_hit_current_overdue": 0, "dwbg8b4d_overdue_risk_product_has_unsettled_overdue": 0},
			row{"dwbg8b4d_risk_warning_hit_current_overdue": 1, "dwbg8b4d_overdue_risk_product_has_unsettled_overdue": 1},
			[]change{{"became_overdue", "dwbg8b4d_risk_warning_hit_current_overdue", "0", "1"}}, nil},
		{"overdue both times", row{"xyp_cpl0044": 1}, row{"xyp_cpl0044": 1}, nil, nil},
		{"overdue: the old call failed", row{"xyp_cpl0044": nil, "jrzq9e2a_status": "failed"}, row{"xyp_cpl0044": 1}, nil, nil},
		{"overdue: the new value is missing", row{"xyp_cpl0044": 0}, row{"xyp_cpl0044": nil}, nil, nil},
		{"no longer overdue", row{"xyp_cpl0044": 1}, row{"xyp_cpl0044": 0}, nil, nil},

		// more_lending_institutions
		{"lending institutions code up", row{"xyp_cpl0001_code": "1"}, row{"xyp_cpl0001_code": "2"},
			[]change{{"more_lending_institutions", "xyp_cpl0001", countLabel(set, "1"), countLabel(set, "2")}}, nil},
		{"lending institutions code down", row{"xyp_cpl0001_code": "3"}, row{"xyp_cpl0001_code": "2"}, nil, nil},
		{"lending institutions: none found before", row{"xyp_cpl0001_code": nil, "jrzq9e2a_status": "no_record"}, row{"xyp_cpl0001_code": "1"},
			[]change{{"more_lending_institutions", "xyp_cpl0001", "", countLabel(set, "1")}}, nil},
		{"lending institutions: old call skipped", row{"xyp_cpl0001_code": nil, "jrzq9e2a_status": "skipped"}, row{"xyp_cpl0001_code": "4"}, nil, nil},
		{"lending institutions: code not in the table", row{"xyp_cpl0001_code": "1"}, row{"xyp_cpl0001_code": "99"}, nil, nil},
		{"lending institutions in the report, ranges written out", row{"dwbg8b4d_overdue_risk_product_total_loan_institutions_code": "[1,5)"},
			row{"dwbg8b4d_overdue_risk_product_total_loan_institutions_code": "[5,10)"},
			[]change{{"more_lending_institutions", "dwbg8b4d_overdue_risk_product_total_loan_institutions", "[1,5)", "[5,10)"}}, nil},
		{"lending institutions in the report go down", row{"dwbg8b4d_overdue_risk_product_total_loan_institutions_code": "10+"},
			row{"dwbg8b4d_overdue_risk_product_total_loan_institutions_code": "[5,10)"}, nil, nil},

		// fraud_score_up
		{"fraud score up by 10", row{"dwbg8b4d_fraud_score": 30.0}, row{"dwbg8b4d_fraud_score": 40.0},
			[]change{{"fraud_score_up", "dwbg8b4d_fraud_score", "30", "40"}}, nil},
		{"fraud score up by 9.5", row{"dwbg8b4d_fraud_score": 30.0}, row{"dwbg8b4d_fraud_score": 39.5}, nil, nil},
		{"fraud score appears", row{"dwbg8b4d_fraud_score": nil}, row{"dwbg8b4d_fraud_score": 90.0}, nil, nil},

		// credit_score_down
		{"credit score down by 50", row{"dwbg8b4d_credit_score": 700.0}, row{"dwbg8b4d_credit_score": 650.0},
			[]change{{"credit_score_down", "dwbg8b4d_credit_score", "700", "650"}}, nil},
		{"credit score down by 49", row{"dwbg8b4d_credit_score": 700.0}, row{"dwbg8b4d_credit_score": 651.0}, nil, nil},
		{"credit score up", row{"dwbg8b4d_credit_score": 500.0}, row{"dwbg8b4d_credit_score": 900.0}, nil, nil},

		// new_court_execution
		{"a new dishonest-debtor record", row{"flxg0v4b_sxbzxr_count": 0}, row{"flxg0v4b_sxbzxr_count": 1},
			[]change{{"new_court_execution", "flxg0v4b_sxbzxr", "0", "1"}}, nil},
		{"a new restriction record, none found before", row{"flxg0v4b_xgbzxr_count": nil, "flxg0v4b_status": "no_record"}, row{"flxg0v4b_xgbzxr_count": 2},
			[]change{{"new_court_execution", "flxg0v4b_xgbzxr", "", "2"}}, nil},
		{"court records: the old sub-product failed", row{"flxg0v4b_sxbzxr_count": nil, "flxg0v4b_status": "failed"}, row{"flxg0v4b_sxbzxr_count": 3}, nil, nil},
		{"execution case flag", row{"dwbg8b4d_risk_warning_hit_execution_case": 0}, row{"dwbg8b4d_risk_warning_hit_execution_case": 1},
			[]change{{"new_court_execution", "dwbg8b4d_risk_warning_hit_execution_case", "0", "1"}}, nil},
		{"court records go away", row{"flxg0v4b_sxbzxr_count": 2}, row{"flxg0v4b_sxbzxr_count": 0}, nil, nil},

		// check_suggestion_worse
		{"suggestion approve → review", row{"dwbg8b4d_check_suggest": 1}, row{"dwbg8b4d_check_suggest": 2},
			[]change{{"check_suggestion_worse", "dwbg8b4d_check_suggest", "1 建议通过", "2 建议复审"}}, nil},
		{"suggestion reject → approve", row{"dwbg8b4d_check_suggest": 3}, row{"dwbg8b4d_check_suggest": 1}, nil, nil},

		// several rules at once: one row per rule, the first column that fires
		{"several rules", row{"xyp_cpl0044": 0, "dwbg8b4d_risk_warning_hit_current_overdue": 0, "dwbg8b4d_fraud_score": 10.0},
			row{"xyp_cpl0044": 1, "dwbg8b4d_risk_warning_hit_current_overdue": 1, "dwbg8b4d_fraud_score": 80.0},
			[]change{{"became_overdue", "xyp_cpl0044", "0", "1"}, {"fraud_score_up", "dwbg8b4d_fraud_score", "10", "80"}},
			map[string]int64{"became_overdue": 1, "fraud_score_up": 1, "credit_score_down": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			control := row{"xyp_cpl0044": 0, "xyp_cpl0001_code": "2", "dwbg8b4d_fraud_score": 50.0, "dwbg8b4d_check_suggest": 2}
			withKey := func(r row, key string) row {
				out := row{"applicant_key": key}
				for k, v := range r {
					out[k] = v
				}
				return out
			}
			// The applicant is first in the baseline and second in the run.
			base := writeRun(t, filepath.Join(dir, "old"), set, []row{withKey(tt.old, "k-applicant"), withKey(control, "k-control")})
			cur := writeRun(t, filepath.Join(dir, "new"), set, []row{withKey(control, "k-control"), withKey(tt.cur, "k-applicant")})
			rep, changes, err := review(t, cur, base, set, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []change
			for _, c := range changes {
				if c.ApplicantKey != "k-applicant" {
					t.Errorf("the control applicant is listed: %+v", c)
					continue
				}
				if c.SourceRow != 3 {
					t.Errorf("source_row = %d, want 3 (the applicant's row in the reviewed run)", c.SourceRow)
				}
				got = append(got, change{c.Rule, c.Column, c.Old, c.New})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("changes:\ngot  %v\nwant %v", got, tt.want)
			}
			for rule, n := range tt.wantRules {
				i := slices.IndexFunc(rep.Rules, func(r RuleReport) bool { return r.Name == rule })
				if i < 0 || rep.Rules[i].Applicants != n {
					t.Errorf("rule %s: report %+v, want %d applicants", rule, rep.Rules, n)
				}
			}
			if a := rep.Applicants; a.InBoth != 2 || a.New != 0 || a.Gone != 0 {
				t.Errorf("applicants = %+v, want 2 in both", a)
			}
		})
	}
}

func TestApplicantsNewGoneAndDuplicates(t *testing.T) {
	set := testMappings(t)
	dir := t.TempDir()
	rows := func(keys ...string) []map[string]any {
		var out []map[string]any
		for _, k := range keys {
			out = append(out, map[string]any{"applicant_key": k, "xyp_cpl0044": 0})
		}
		return out
	}
	base := writeRun(t, filepath.Join(dir, "old"), set, rows("a", "b", "c", "c", "d"))
	cur := writeRun(t, filepath.Join(dir, "new"), set, rows("b", "c", "e", "e", "f", "b"))
	rep, _, err := review(t, cur, base, set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := Applicants{Current: 4, Baseline: 4, InBoth: 2, New: 2, Gone: 2, DuplicateRows: 2, BaselineDuplicateRows: 1}
	if *rep.Applicants != want {
		t.Errorf("applicants = %+v, want %+v", *rep.Applicants, want)
	}
}

func TestParseRules(t *testing.T) {
	if len(DefaultRules().Rules) != 6 {
		t.Fatalf("built-in rules: %d, want 6", len(DefaultRules().Rules))
	}
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"ok", "rules:\n  - {name: a, columns: [x], when: up, by: 2, missing_as: 0}\n", ""},
		{"unknown key", "rules:\n  - {name: a, columns: [x], when: up, by: 2, treshold: 1}\n", `x.yaml:2: unknown key "treshold"`},
		{"unknown top key", "rule:\n  - {name: a}\n", `x.yaml:1: unknown key "rule"`},
		{"no by", "rules:\n  - {name: a, columns: [x], when: down}\n", "x.yaml:2: rule a: when: down needs by"},
		{"negative by", "rules:\n  - {name: a, columns: [x], when: up, by: -1}\n", "needs by, a positive number"},
		{"by not a number", "rules:\n  - {name: a, columns: [x], when: up, by: ten}\n", `by: "ten" is not a number`},
		{"became without values", "rules:\n  - {name: a, columns: [x], when: became}\n", "when: became needs values"},
		{"values with up", "rules:\n  - {name: a, columns: [x], when: up, by: 1, values: [1]}\n", "values are for when: became"},
		{"unknown when", "rules:\n  - {name: a, columns: [x], when: rises}\n", `when: "rises" is not one of`},
		{"no columns", "rules:\n  - {name: a, when: up, by: 1}\n", "rule a: no columns"},
		{"bad name", "rules:\n  - {name: A-1, columns: [x], when: up, by: 1}\n", "a name is made of"},
		{"duplicate", "rules:\n  - {name: a, columns: [x], when: up, by: 1}\n  - {name: a, columns: [y], when: up, by: 1}\n", "x.yaml:3: rule a is already defined on line 2"},
		{"not a list", "rules: {name: a}\n", "want a list"},
		{"empty", "", "empty file"},
		{"not yaml", "rules: [", "x.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules("x.yaml", []byte(tt.yaml))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzParseRules(f *testing.F) {
	f.Add(DefaultRulesYAML())
	f.Add([]byte("rules:\n  - {name: a, columns: [x], when: became, values: [1, 2]}\n"))
	f.Add([]byte("rules: [[], {}, 3]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRules("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, rule := range r.Rules {
			if !validName(rule.Name) || len(rule.Columns) == 0 {
				t.Fatalf("accepted rule %+v", rule)
			}
			switch rule.When {
			case WhenBecame:
				if len(rule.Values) == 0 {
					t.Fatalf("became without values accepted: %+v", rule)
				}
			case WhenUp, WhenDown:
				if !(rule.By > 0) {
					t.Fatalf("%s without a positive by accepted: %+v", rule.When, rule)
				}
			default:
				t.Fatalf("when %q accepted", rule.When)
			}
		}
	})
}
