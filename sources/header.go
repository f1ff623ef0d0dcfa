package sources

import (
	"fmt"
	"strings"
)

// headerLooksLikeData refuses a header row with a cell that holds what
// looks like an ID number or a mobile number: the file has no header row
// (or its lines were not told apart), and its first applicant would
// otherwise become column names in every output. The message names the
// column, never the value.
func headerLooksLikeData(header []string) error {
	for i, h := range header {
		if what := personalNumber(h); what != "" {
			return fmt.Errorf("the header row looks like data: column %d holds what looks like %s. "+
				"The first row must name the columns (e.g. 姓名,身份证号,手机号): add a header row; "+
				"if the file has one, check its line endings and delimiter (input.delimiter)", i+1, what)
		}
	}
	return nil
}

// personalNumber tells whether s holds a run of digits shaped like a
// mainland ID number (15 digits, or 17 and a check digit or X), a mobile
// number (11 digits starting with 1, or 13 starting with 861) or another
// long number (11 digits or more: no column name has one), ignoring
// spaces, dashes and full-width forms. It returns what it found, or "".
func personalNumber(s string) string {
	if !strings.ContainsAny(s, "0123456789０１２３４５６７８９") {
		return ""
	}
	s = foldWidth(s)
	var (
		run          []byte // the digits of the current run
		mobile, long bool
	)
	// end closes the run, x telling whether an X follows it, and reports
	// whether it was an ID number.
	end := func(x bool) bool {
		n := len(run)
		id := n == 15 || n == 18 || n == 17 && x
		switch {
		case n == 11 && run[0] == '1' || n == 13 && string(run[:3]) == "861":
			mobile = true
		case n >= 11:
			long = true
		}
		run = run[:0]
		return id
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			run = append(run, c)
		case c == ' ' || c == '-':
			// inside a number written in groups: 138 0013 8000
		default:
			if end(c == 'X' || c == 'x') {
				return "an ID number"
			}
		}
	}
	if end(false) {
		return "an ID number"
	}
	switch {
	case mobile:
		return "a mobile number"
	case long:
		return "a long number"
	}
	return ""
}
