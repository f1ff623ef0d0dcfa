package transform

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// Reasons for rejecting an ID number, also used by tests.
var (
	ErrIDEmpty     = errors.New("empty ID number")
	ErrIDAsNumber  = errors.New("the ID number was stored as a number and lost digits: format the column as text in Excel and export again")
	ErrIDLength    = errors.New("ID number must have 18 characters (or 15 digits for a legacy number)")
	ErrIDChars     = errors.New("ID number must be digits, with X allowed only as the last character")
	ErrIDChecksum  = errors.New("ID number check character does not match (GB 11643)")
	ErrIDBirthDate = errors.New("ID number holds no valid birth date")
	ErrIDFuture    = errors.New("ID number birth date is in the future")
)

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheckChars = "10X98765432"

// IDCheckChar returns the GB 11643 check character of the first 17 digits.
func IDCheckChar(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

// toHalfWidth folds full-width digits, letters and punctuation to ASCII.
func toHalfWidth(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return width.Narrow.String(s)
		}
	}
	return s // ASCII already: the common case, without the transformer's cost
}

// NormalizeIDCard returns the 18-character form of a resident ID number:
// spaces trimmed, full-width characters folded, a lower-case x upper-cased,
// a 15-digit legacy number upgraded. It checks the characters, the birth
// date (valid, not before 1900, not after today) and the check character.
// An ID that Excel turned into a number is recognised and named as such.
func NormalizeIDCard(s string, today time.Time) (string, error) {
	if isIDForm(s) {
		// The usual case: nothing to trim, fold or upper-case, and not an
		// Excel number. Checked at once, without the cleaning calls.
		return checkIDCard(s, today)
	}
	s = strings.TrimSpace(toHalfWidth(s))
	if hasIDSpace(s) {
		s = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\u00a0' {
				return -1
			}
			return r
		}, s)
	}
	if s == "" {
		return "", ErrIDEmpty
	}
	if looksLikeExcelNumber(s) {
		return s, ErrIDAsNumber
	}
	s = strings.ToUpper(s)
	switch len(s) {
	case 15:
		if !allDigits(s) {
			return s, ErrIDChars
		}
		s = s[:6] + "19" + s[6:]
		s += string(IDCheckChar(s))
	case 18:
	default:
		return s, fmt.Errorf("%w, got %d", ErrIDLength, len(s))
	}
	if !isIDForm(s) {
		return s, ErrIDChars
	}
	return checkIDCard(s, today)
}

// isIDForm reports whether s has the form of an 18-character ID number:
// 17 digits and a digit or X.
func isIDForm(s string) bool {
	return len(s) == 18 && allDigits(s[:17]) && (s[17] == 'X' || s[17] >= '0' && s[17] <= '9')
}

// checkIDCard checks the birth date and the check character of an ID
// number of the right form.
func checkIDCard(s string, today time.Time) (string, error) {
	birth, ok := parseDay(s[6:14])
	if !ok || birth < 1900_00_00 {
		return s, ErrIDBirthDate
	}
	if birth > dayOf(today) {
		return s, ErrIDFuture
	}
	if IDCheckChar(s) != s[17] {
		if strings.HasSuffix(s, "000") {
			// Excel keeps 15 significant digits and pads with zeros.
			return s, ErrIDAsNumber
		}
		return s, ErrIDChecksum
	}
	return s, nil
}

// looksLikeExcelNumber recognises the forms an ID takes after Excel stored it
// as a number: scientific notation (1.10101E+17) or a decimal tail (….0).
func looksLikeExcelNumber(s string) bool {
	// One pass over the bytes rather than strings.ContainsAny twice and
	// strings.Cut: this runs for every ID number and mobile.
	exp, plusOrDot := false, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 'e', 'E':
			exp = true
		case '+', '.':
			plusOrDot = true
		}
	}
	switch {
	case !plusOrDot:
		return false
	case exp:
		return true
	}
	head, tail, ok := strings.Cut(s, ".")
	return ok && allDigits(head) && allDigits(tail)
}

// hasIDSpace reports whether s may have a rune NormalizeIDCard removes: a
// space, a tab, or any non-ASCII byte (a no-break space). A byte loop, as
// strings.Map costs more than the rest of the check when there is nothing
// to remove, the usual case.
func hasIDSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ' ' || c == '\t' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// hasMobileNoise is hasIDSpace for the runes NormalizeMobile removes.
func hasMobileNoise(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ', c == '-', c == '.', c == '(', c == ')', c == '\t', c >= utf8.RuneSelf:
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Reasons for rejecting a mobile number.
var (
	ErrMobileEmpty  = errors.New("empty mobile number")
	ErrMobileFormat = errors.New("mobile number must be 11 digits starting with 1")
)

// NormalizeMobile returns an 11-digit mainland mobile number: full-width
// digits folded, +86 / 0086 / 86 country prefixes, spaces, dashes, dots
// and parentheses removed.
func NormalizeMobile(s string) (string, error) {
	if len(s) == 11 && s[0] == '1' && allDigits(s) {
		return s, nil // the usual case, with nothing to remove
	}
	s = toHalfWidth(s)
	if hasMobileNoise(s) {
		s = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '-', '.', '(', ')', '\t', '\u00a0':
				return -1
			}
			return r
		}, s)
	}
	if s == "" {
		return "", ErrMobileEmpty
	}
	if looksLikeExcelNumber(s) {
		return s, ErrMobileFormat
	}
	for _, prefix := range []string{"+86", "0086"} {
		s = strings.TrimPrefix(s, prefix)
	}
	if len(s) == 13 && strings.HasPrefix(s, "86") {
		s = s[2:]
	}
	if len(s) != 11 || s[0] != '1' || !allDigits(s) {
		return s, ErrMobileFormat
	}
	return s, nil
}
