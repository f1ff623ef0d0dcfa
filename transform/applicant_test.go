package transform_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/transform"
)

func TestNormalize(t *testing.T) {
	id := withCheck("11010119900307123")
	tests := []struct {
		name     string
		in       transform.Applicant
		want     transform.Applicant
		problems []string // columns at fault, in order
	}{
		{
			name: "clean",
			in:   transform.Applicant{Name: "张三", IDCard: id, Mobile: "13800138000", AuthCode: "A1"},
			want: transform.Applicant{Name: "张三", IDCard: id, Mobile: "13800138000", AuthCode: "A1"},
		},
		{
			name: "white space and line breaks in the name",
			in:   transform.Applicant{Name: "  Li\r\n   Lei \t", IDCard: id, Mobile: "13800138000"},
			want: transform.Applicant{Name: "Li Lei", IDCard: id, Mobile: "13800138000"},
		},
		{
			name: "ideographic space in the name",
			in:   transform.Applicant{Name: "\u3000欧阳\u3000\u3000娜娜\n", IDCard: id, Mobile: "13800138000"},
			want: transform.Applicant{Name: "欧阳 娜娜", IDCard: id, Mobile: "13800138000"},
		},
		{
			name: "authorization fields trimmed and folded",
			in: transform.Applicant{Name: "张三", IDCard: " " + strings.ToLower(id) + " ", Mobile: "+86 138 0013 8000",
				AuthCode: " ＡＵＴＨ１ ", AuthURL: " https://example.com/a.pdf\n", AuthDate: "２０２４０１０１－２０２４１２３１"},
			want: transform.Applicant{Name: "张三", IDCard: id, Mobile: "13800138000",
				AuthCode: "AUTH1", AuthURL: "https://example.com/a.pdf", AuthDate: "20240101-20241231"},
		},
		{
			name:     "empty name",
			in:       transform.Applicant{Name: " \n ", IDCard: id, Mobile: "13800138000"},
			want:     transform.Applicant{IDCard: id, Mobile: "13800138000"},
			problems: []string{"name"},
		},
		{
			name:     "every identity field wrong",
			in:       transform.Applicant{Name: "", IDCard: id[:17], Mobile: "12345"},
			want:     transform.Applicant{IDCard: id[:17], Mobile: "12345"},
			problems: []string{"name", "id_card", "mobile_no"},
		},
		{
			name:     "ID and mobile missing",
			in:       transform.Applicant{Name: "张三"},
			want:     transform.Applicant{Name: "张三"},
			problems: []string{"id_card", "mobile_no"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := transform.Normalize(tt.in, runDate)
			if got != tt.want {
				t.Errorf("Normalize(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
			var cols []string
			for _, p := range problems {
				cols = append(cols, p.Column)
				if p.Reason == "" {
					t.Errorf("Normalize(%+v) problem %+v has no reason", tt.in, p)
				}
			}
			if !reflect.DeepEqual(cols, tt.problems) {
				t.Errorf("Normalize(%+v) problems = %v, want columns %v", tt.in, problems, tt.problems)
			}
		})
	}
}

func TestNormalizeProblemReasons(t *testing.T) {
	_, problems := transform.Normalize(transform.Applicant{Name: "", IDCard: "1.10101199003071E+17", Mobile: ""}, runDate)
	want := []transform.Problem{
		{Column: "name", Reason: "empty name"},
		{Column: "id_card", Reason: transform.ErrIDAsNumber.Error()},
		{Column: "mobile_no", Reason: transform.ErrMobileEmpty.Error()},
	}
	if !reflect.DeepEqual(problems, want) {
		t.Errorf("Normalize problems = %+v, want %+v", problems, want)
	}
}

func TestProblems(t *testing.T) {
	tests := []struct {
		in             []transform.Problem
		columns, rules string
	}{
		{[]transform.Problem{{Column: "name", Reason: "empty name"}}, "name", "empty name"},
		{
			[]transform.Problem{{Column: "name", Reason: "empty name"}, {Column: "mobile_no", Reason: "bad"}},
			"name;mobile_no", "name: empty name; mobile_no: bad",
		},
		{
			[]transform.Problem{{Reason: "no product may be called"}, {Column: "id_card", Reason: "bad"}},
			";id_card", "no product may be called; id_card: bad",
		},
	}
	for _, tt := range tests {
		columns, reasons := transform.Problems(tt.in)
		if columns != tt.columns || reasons != tt.rules {
			t.Errorf("Problems(%+v) = %q, %q, want %q, %q", tt.in, columns, reasons, tt.columns, tt.rules)
		}
	}
}

func TestApplicantParams(t *testing.T) {
	a := transform.Applicant{Name: "张三", IDCard: "id", Mobile: "m", AuthCode: "c", AuthURL: "u", AuthDate: "d"}
	got := a.Params([]string{"name", "id_card", "mobile_no", "auth_authorize_file_code", "authorization_url", "auth_date", "other"})
	want := map[string]string{"name": "张三", "id_card": "id", "mobile_no": "m", "auth_authorize_file_code": "c",
		"authorization_url": "u", "auth_date": "d", "other": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Params() = %v, want %v", got, want)
	}
	if v, ok := a.Param("other"); ok || v != "" {
		t.Errorf("Param(other) = %q, %v, want \"\", false", v, ok)
	}
}

func TestAuthorization(t *testing.T) {
	jrzq := []string{"name", "id_card", "mobile_no", "auth_authorize_file_code"}
	combo := []string{"name", "id_card", "mobile_no", "authorization_url", "auth_date"}
	id := withCheck("11010119900307123")
	base := transform.Applicant{Name: "张三", IDCard: id, Mobile: "13800138000"}
	with := func(f func(*transform.Applicant)) transform.Applicant {
		a := base
		f(&a)
		return a
	}
	late := time.Date(2024, 6, 1, 23, 30, 0, 0, time.UTC)
	beijing := time.Date(2024, 6, 1, 7, 0, 0, 0, time.FixedZone("CST", 8*3600)) // 2024-05-31 in UTC
	tests := []struct {
		name   string
		a      transform.Applicant
		params []string
		today  time.Time
		want   string // "" or a substring of the reason
	}{
		{"JRZQ9E2A with auth code", with(func(a *transform.Applicant) { a.AuthCode = "AUTH-1" }), jrzq, runDate, ""},
		{"JRZQ9E2A without auth code", base, jrzq, runDate, "missing auth_authorize_file_code"},
		{"JRZQ9E2A blank auth code", with(func(a *transform.Applicant) { a.AuthCode = "  " }), jrzq, runDate, "missing auth_authorize_file_code"},
		{"JRZQ9E2A ignores auth_date", with(func(a *transform.Applicant) { a.AuthCode = "A"; a.AuthDate = "garbage" }), jrzq, runDate, ""},
		{"JRZQ9E2A without name and code", with(func(a *transform.Applicant) { a.Name = "" }), jrzq, runDate, "missing name, auth_authorize_file_code"},
		{"COMBTY11 covering today", with(func(a *transform.Applicant) { a.AuthURL = "https://x/a.pdf"; a.AuthDate = "20240101-20241231" }), combo, runDate, ""},
		{"COMBTY11 one-day range at the end of the day", with(func(a *transform.Applicant) { a.AuthURL = "u"; a.AuthDate = "20240601-20240601" }), combo, late, ""},
		{"COMBTY11 date of today in its own zone", with(func(a *transform.Applicant) { a.AuthURL = "u"; a.AuthDate = "20240601-20240601" }), combo, beijing, ""},
		{"COMBTY11 range starts tomorrow", with(func(a *transform.Applicant) { a.AuthURL = "u"; a.AuthDate = "20240602-20241231" }), combo, runDate, "does not cover the run date 20240601"},
		{"COMBTY11 range ended", with(func(a *transform.Applicant) { a.AuthURL = "u"; a.AuthDate = "20230101-20231231" }), combo, runDate, "does not cover the run date 20240601"},
		{"COMBTY11 malformed dates", with(func(a *transform.Applicant) { a.AuthURL = "u"; a.AuthDate = "2024-01-01" }), combo, runDate, "is not a range YYYYMMDD-YYYYMMDD"},
		{"COMBTY11 no range", with(func(a *transform.Applicant) { a.AuthURL = "u"; a.AuthDate = "20240101" }), combo, runDate, "is not a range YYYYMMDD-YYYYMMDD"},
		{"COMBTY11 impossible date", with(func(a *transform.Applicant) { a.AuthURL = "u"; a.AuthDate = "20240101-20241301" }), combo, runDate, "is not a range"},
		{"COMBTY11 reversed range", with(func(a *transform.Applicant) { a.AuthURL = "u"; a.AuthDate = "20241231-20240101" }), combo, runDate, "ends before it starts"},
		{"COMBTY11 spaces around the dash", with(func(a *transform.Applicant) { a.AuthURL = "u"; a.AuthDate = "20240101 - 20241231" }), combo, runDate, ""},
		{"COMBTY11 missing url", with(func(a *transform.Applicant) { a.AuthDate = "20240101-20241231" }), combo, runDate, "missing authorization_url"},
		{"COMBTY11 missing url and date", base, combo, runDate, "missing authorization_url, auth_date"},
		{"unknown parameter names are ignored", base, []string{"name", "other"}, runDate, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := transform.Authorization(&tt.a, tt.params, tt.today)
			if tt.want == "" {
				if got != "" {
					t.Errorf("Authorization(%+v, %v) = %q, want \"\"", tt.a, tt.params, got)
				}
				return
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("Authorization(%+v, %v) = %q, want it to contain %q", tt.a, tt.params, got, tt.want)
			}
		})
	}
}
