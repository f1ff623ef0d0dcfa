// Package transform validates and normalises applicants, derives their
// identity keys and masked forms, and turns vendor payloads into feature
// rows through the field catalogs.
package transform

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Applicant is the identity and authorization of one input row, in the
// vendor's parameter names.
type Applicant struct {
	Name     string
	IDCard   string
	Mobile   string
	AuthCode string // auth_authorize_file_code
	AuthURL  string // authorization_url
	AuthDate string // auth_date, YYYYMMDD-YYYYMMDD
}

// Parameter names of the vendor, which are also the canonical input columns.
const (
	ParamName     = "name"
	ParamIDCard   = "id_card"
	ParamMobile   = "mobile_no"
	ParamAuthCode = "auth_authorize_file_code"
	ParamAuthURL  = "authorization_url"
	ParamAuthDate = "auth_date"
)

// IsAuthorization reports whether a vendor parameter proves the
// applicant's consent rather than says who the applicant is. It does not
// change the vendor's answer, so replies are shared across it.
func IsAuthorization(param string) bool {
	return param == ParamAuthCode || param == ParamAuthURL || param == ParamAuthDate
}

// Param returns the value of a vendor parameter, and whether the name is one.
func (a *Applicant) Param(name string) (string, bool) {
	switch name {
	case ParamName:
		return a.Name, true
	case ParamIDCard:
		return a.IDCard, true
	case ParamMobile:
		return a.Mobile, true
	case ParamAuthCode:
		return a.AuthCode, true
	case ParamAuthURL:
		return a.AuthURL, true
	case ParamAuthDate:
		return a.AuthDate, true
	}
	return "", false
}

// Params returns the named vendor parameters of the applicant.
func (a *Applicant) Params(names []string) map[string]string {
	m := make(map[string]string, len(names))
	a.FillParams(m, names)
	return m
}

// FillParams makes m hold the named vendor parameters of the applicant and
// nothing else.
func (a *Applicant) FillParams(m map[string]string, names []string) {
	clear(m)
	for _, n := range names {
		m[n], _ = a.Param(n)
	}
}

// Problem is one reason an input row cannot be used.
type Problem struct {
	Column string // the canonical column at fault
	Reason string
}

func (p Problem) String() string {
	if p.Column == "" {
		return p.Reason
	}
	return p.Column + ": " + p.Reason
}

// Problems joins the problems of a row for the rejects file: the columns
// at fault, and the reason (each prefixed by its column when there are
// several).
func Problems(ps []Problem) (columns, reasons string) {
	if len(ps) == 1 {
		return ps[0].Column, ps[0].Reason
	}
	cols := make([]string, 0, len(ps))
	rs := make([]string, 0, len(ps))
	for _, p := range ps {
		cols = append(cols, p.Column)
		rs = append(rs, p.String())
	}
	return strings.Join(cols, ";"), strings.Join(rs, "; ")
}

// Normalize cleans the identity fields of an applicant and checks them:
// the ID number (GB 11643, 18 digits with its check character; a 15-digit
// legacy number is upgraded), the mobile number (11 digits starting with 1,
// after removing +86, spaces and dashes) and the name (not empty). The
// authorization fields are trimmed; whether they suffice is a question per
// product (see Authorization). A name (once its white space is folded) or
// an authorization field holding a control character is a problem: the
// vendor would receive it. today is the run date, against which birth
// dates are checked.
func Normalize(a Applicant, today time.Time) (Applicant, []Problem) {
	var problems []Problem
	a.Name = normalizeName(a.Name)
	if a.Name == "" {
		problems = append(problems, Problem{ParamName, "empty name"})
	}
	id, err := NormalizeIDCard(a.IDCard, today)
	if err != nil {
		problems = append(problems, Problem{ParamIDCard, err.Error()})
	}
	a.IDCard = id
	mobile, err := NormalizeMobile(a.Mobile)
	if err != nil {
		problems = append(problems, Problem{ParamMobile, err.Error()})
	}
	a.Mobile = mobile
	a.AuthCode = strings.TrimSpace(toHalfWidth(a.AuthCode))
	a.AuthURL = strings.TrimSpace(a.AuthURL)
	a.AuthDate = strings.TrimSpace(toHalfWidth(a.AuthDate))
	for _, f := range [...]struct{ param, value string }{
		{ParamName, a.Name}, {ParamAuthCode, a.AuthCode}, {ParamAuthURL, a.AuthURL}, {ParamAuthDate, a.AuthDate},
	} {
		if hasControl(f.value) {
			problems = append(problems, Problem{f.param, f.param + " holds a control character (a tab, a line break, NUL…), which the vendor would receive"})
		}
	}
	return a, problems
}

// hasControl reports whether s holds a control character: C0 (tab and
// line breaks included), DEL or C1. A byte loop: in UTF-8, C1 is 0xC2
// then 0x80 to 0x9F.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == 0x7f:
			return true
		case c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f:
			return true
		}
	}
	return false
}

// normalizeName trims a name and collapses inner runs of white space, which
// includes line breaks from Excel cells and ideographic spaces.
func normalizeName(s string) string {
	if nameIsNormal(s) {
		return s // the usual case, without the slice strings.Fields makes
	}
	return strings.Join(strings.Fields(s), " ")
}

// nameIsNormal reports whether normalizeName would return s as it is: no
// white space (as unicode.IsSpace has it) but single ASCII spaces between
// words.
func nameIsNormal(s string) bool {
	space := true // a space here would be leading
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch c {
			case ' ':
				if space {
					return false
				}
				space = true
				continue
			case '\t', '\n', '\v', '\f', '\r':
				return false
			}
			space = false
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			return false
		}
		i += size
		space = false
	}
	return !space || s == ""
}

// Authorization returns why the applicant may not be queried for a product
// that takes the given parameters, or "" when every parameter it needs is
// present: the authorization code, or the authorization URL with an
// auth_date range that covers today.
func Authorization(a *Applicant, params []string, today time.Time) string {
	var missing []string
	for _, p := range params {
		v, ok := a.Param(p)
		if !ok {
			continue
		}
		if strings.TrimSpace(v) == "" {
			missing = append(missing, p)
			continue
		}
		if p == ParamAuthDate {
			if reason := checkAuthDate(v, today); reason != "" {
				return reason
			}
		}
	}
	if len(missing) > 0 {
		return "missing " + strings.Join(missing, ", ")
	}
	return ""
}

// checkAuthDate checks an authorization period YYYYMMDD-YYYYMMDD against
// today. Its reasons never repeat the period: a reason is counted per
// text, and a period may be written with anything in it.
func checkAuthDate(s string, today time.Time) string {
	const notRange = "auth_date is not a range YYYYMMDD-YYYYMMDD"
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return notRange
	}
	start, ok1 := parseDay(strings.TrimSpace(from))
	end, ok2 := parseDay(strings.TrimSpace(to))
	if !ok1 || !ok2 {
		return notRange
	}
	if end < start {
		return "auth_date ends before it starts"
	}
	day := dayOf(today)
	switch {
	case day < start:
		return fmt.Sprintf("auth_date does not cover the run date %s: it starts later", day.time().Format("20060102"))
	case day > end:
		return fmt.Sprintf("auth_date does not cover the run date %s: it has ended", day.time().Format("20060102"))
	}
	return ""
}
