package transform

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// The kinds of text a typed value can be found to hold instead of its
// type. A reason names one of them, never the text itself: a cell may
// hold an ID number or a mobile number, and one reason per kind keeps the
// reasons of a run few.
const (
	kindNotFinite = "NaN or an infinity"
	kindTooLarge  = "a number out of range"
	kindFraction  = "a number with a fraction"
	kindExponent  = "a number in exponent notation"
	kindWhole     = "a whole number"
	kindLetters   = "text with letters"
	kindMarked    = "digits with other characters (dashes, slashes, brackets)"
	kindOther     = "text without digits"
)

// valueKind says what s holds, in words that do not repeat it.
func valueKind(s string) string {
	clean := cleanNumber(s)
	f, err := strconv.ParseFloat(clean, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return kindTooLarge
	case err != nil:
	case math.IsNaN(f) || math.IsInf(f, 0):
		return kindNotFinite
	case f != math.Trunc(f):
		return kindFraction
	case math.Abs(f) >= 1<<63:
		return kindTooLarge
	case strings.ContainsAny(clean, "eE"):
		return kindExponent
	default:
		return kindWhole
	}
	digits := false
	for _, r := range clean {
		switch {
		case unicode.IsLetter(r):
			return kindLetters
		case r >= '0' && r <= '9':
			digits = true
		}
	}
	if digits {
		return kindMarked
	}
	return kindOther
}

// The reasons a typed value is refused, by the kind of what it holds.
func notInteger(s string) error { return errors.New("not an integer: holds " + valueKind(s)) }
func notNumber(s string) error  { return errors.New("not a number: holds " + valueKind(s)) }

func notDate(s string) error {
	kind := valueKind(s)
	if kind == kindWhole || kind == kindFraction {
		kind += " (an Excel date serial? format the cells as dates, or as text YYYY-MM-DD)"
	}
	return errors.New("not a date (YYYY-MM-DD): holds " + kind)
}
