package transform_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/transform"
)

// digitRuns finds the runs of four digits or more of a text: what of a
// value a reason could give away.
var digitRuns = regexp.MustCompile(`[0-9]{4,}`)

// leaks reports whether reason repeats value, or a run of four digits or
// more of it, or a word of four letters or more of it.
func leaks(reason, value string) bool {
	if v := strings.TrimSpace(value); len(v) >= 3 && strings.Contains(reason, v) {
		return true
	}
	for _, run := range digitRuns.FindAllString(value, -1) {
		if strings.Contains(reason, run) {
			return true
		}
	}
	for _, w := range strings.FieldsFunc(value, func(r rune) bool { return r < 'A' || r > 'z' }) {
		if len(w) >= 5 && strings.Contains(strings.ToLower(reason), strings.ToLower(w)) {
			return true
		}
	}
	return false
}

// piiShaped returns values of each class a cell holding personal data or
// a unique reference takes, many of each.
func piiShaped() map[string][]string {
	classes := map[string][]string{}
	for i := 0; i < 40; i++ {
		n := 1000003 * (i + 7)
		classes["ID number"] = append(classes["ID number"], fmt.Sprintf("3301061984%07dX", n%10000000), fmt.Sprintf("44030519900509%04d", n%10000))
		classes["mobile, dashed or spaced"] = append(classes["mobile, dashed or spaced"], fmt.Sprintf("1%02d-%08d", 30+i, n%100000000), fmt.Sprintf("+86 1%02d %04d %04d", 50+i, n%10000, (n/7)%10000))
		classes["email"] = append(classes["email"], fmt.Sprintf("zhang.san%d@example%d.com", n, i))
		classes["reference"] = append(classes["reference"], fmt.Sprintf("APP-%d-Q%d", n, i), fmt.Sprintf("合同%d号", n))
		classes["bank card"] = append(classes["bank card"], fmt.Sprintf("6222 %04d %04d %04d", n%10000, (n/3)%10000, (n/11)%10000))
		classes["number out of range"] = append(classes["number out of range"], fmt.Sprintf("%d%d%d", n, n, n), fmt.Sprintf("1e40%d", i%10))
		classes["number with a fraction"] = append(classes["number with a fraction"], fmt.Sprintf("%d.%d7", n, i))
		classes["ID stored as a number"] = append(classes["ID stored as a number"], fmt.Sprintf("3.301061984%05dE+17", n%100000))
		classes["date in another order"] = append(classes["date in another order"], fmt.Sprintf("%02d/%02d/19%02d", 13+i%15, 1+i%12, 40+i), fmt.Sprintf("%d月%d日", 1+i%12, 1+i%28))
		classes["name"] = append(classes["name"], fmt.Sprintf("Zhang San%c%c", 'a'+i%26, 'a'+(i/26)), fmt.Sprintf("欧阳%c", '娜'+rune(i)))
	}
	return classes
}

// TestTypedValueReasonsNameNoValue reads values of every class a cell may
// hold as int, float and date: a value refused is refused with a reason
// that repeats nothing of it, and the reasons over all values are few (one
// per kind of value, not one per value).
func TestTypedValueReasonsNameNoValue(t *testing.T) {
	parsers := map[string]func(string) error{
		"int":   func(s string) error { _, err := transform.ParseInt(s); return err },
		"float": func(s string) error { _, err := transform.ParseFloat(s); return err },
		"date":  func(s string) error { _, err := transform.ParseDate(s); return err },
	}
	reasons := map[string]map[string]bool{}
	for class, values := range piiShaped() {
		t.Run(class, func(t *testing.T) {
			for typ, parse := range parsers {
				if reasons[typ] == nil {
					reasons[typ] = map[string]bool{}
				}
				for _, v := range values {
					err := parse(v)
					if err == nil {
						continue
					}
					if leaks(err.Error(), v) {
						t.Errorf("as %s: reason %q repeats the value %q", typ, err, v)
					}
					reasons[typ][err.Error()] = true
				}
			}
		})
	}
	for typ, set := range reasons {
		if len(set) > 8 {
			t.Errorf("as %s: %d reasons, want a few, one per kind: %v", typ, len(set), set)
		}
	}
}

// TestTypedValueReasons checks what a reason says of each kind of value.
func TestTypedValueReasons(t *testing.T) {
	tests := []struct {
		typ, value, want string
	}{
		{"int", "33010619840917736X", "not an integer: holds text with letters"},
		{"int", "1.5", "not an integer: holds a number with a fraction"},
		{"int", "1.10101E+17", "not an integer: holds a number in exponent notation"},
		{"int", "99999999999999999999", "not an integer: holds a number out of range"},
		{"int", "150-18793472", "not an integer: holds digits with other characters"},
		{"float", "150-18793472", "not a number: holds digits with other characters"},
		{"float", "NaN", "not a number: holds NaN or an infinity"},
		{"float", "n/a", "not a number: holds text with letters"},
		{"float", "—", "not a number: holds text without digits"},
		{"date", "46027", "not a date (YYYY-MM-DD): holds a whole number (an Excel date serial?"},
		{"date", "13/31/2026", "not a date (YYYY-MM-DD): holds digits with other characters"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.value, func(t *testing.T) {
			var err error
			switch tt.typ {
			case "int":
				_, err = transform.ParseInt(tt.value)
			case "float":
				_, err = transform.ParseFloat(tt.value)
			case "date":
				_, err = transform.ParseDate(tt.value)
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("reading %q as %s: got %v, want %q…", tt.value, tt.typ, err, tt.want)
			}
		})
	}
}

// TestAuthorizationReasonsNameNoValue checks that no reason a row's
// authorization is refused for repeats its auth_date.
func TestAuthorizationReasonsNameNoValue(t *testing.T) {
	combo := []string{"name", "id_card", "mobile_no", "authorization_url", "auth_date"}
	today := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	for _, date := range []string{"33010619840917736X", "20250101", "2025-01-01", "20270101-20271231", "20200101-20201231",
		"20261231-20250101", "20250101-20251399", "AUTH 13800138000 - 20351231", "zhangsan@example.com-20351231"} {
		t.Run(date, func(t *testing.T) {
			a := transform.Applicant{Name: "张三", AuthURL: "https://auth.example.com/1.pdf", AuthDate: date}
			reason := transform.Authorization(&a, combo, today)
			if reason == "" {
				t.Fatalf("Authorization accepts auth_date %q", date)
			}
			if leaks(reason, date) {
				t.Errorf("reason %q repeats auth_date %q", reason, date)
			}
		})
	}
}

// TestNormalizeControlCharacters rejects a name or an authorization field
// holding a control character of each class, naming the field; white
// space in a name is folded, as before.
func TestNormalizeControlCharacters(t *testing.T) {
	base := transform.Applicant{Name: "张三", IDCard: withCheck("11010119900307123"), Mobile: "13800138000",
		AuthCode: "AUTH1", AuthURL: "https://auth.example.com/1.pdf", AuthDate: "20250101-20351231"}
	controls := map[string]string{"NUL": "\x00", "ESC": "\x1b", "BEL": "\a", "DEL": "\x7f", "C1 CSI": "\u009b", "C1 NEL": "\u0085",
		"tab": "\t", "line feed": "\n", "carriage return": "\r"}
	fields := map[string]func(*transform.Applicant, string){
		"name":                     func(a *transform.Applicant, c string) { a.Name = "张" + c + "三" },
		"auth_authorize_file_code": func(a *transform.Applicant, c string) { a.AuthCode = "AU" + c + "TH1" },
		"authorization_url":        func(a *transform.Applicant, c string) { a.AuthURL = "https://auth.example.com/" + c + "1.pdf" },
		"auth_date":                func(a *transform.Applicant, c string) { a.AuthDate = "20250101-" + c + "20351231" },
	}
	for class, c := range controls {
		for field, set := range fields {
			t.Run(class+" in "+field, func(t *testing.T) {
				a := base
				set(&a, c)
				got, problems := transform.Normalize(a, runDate)
				space := c == "\t" || c == "\n" || c == "\r" || c == "\u0085"
				if field == "name" && space {
					if len(problems) != 0 || got.Name != "张 三" {
						t.Errorf("name %q: got %q, problems %v, want \"张 三\" and none", a.Name, got.Name, problems)
					}
					return
				}
				if len(problems) != 1 || problems[0].Column != field || !strings.Contains(problems[0].Reason, "control character") {
					t.Errorf("got problems %v, want one of %s naming a control character", problems, field)
				}
			})
		}
	}
}
