package transform

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Types a passed-through input column can be given.
const (
	TypeString = "string"
	TypeInt    = "int"
	TypeFloat  = "float"
	TypeDate   = "date"
)

// ParseInt reads an integer as spreadsheets write it: spaces, thousands
// separators and full-width digits allowed, and a decimal part of zeros
// ("1.0"). Its error says what s holds instead, never s itself.
func ParseInt(s string) (int64, error) {
	clean := cleanNumber(s)
	if whole, frac, ok := strings.Cut(clean, "."); ok && strings.Trim(frac, "0") == "" {
		clean = whole
	}
	v, err := strconv.ParseInt(clean, 10, 64)
	if err != nil {
		return 0, notInteger(s)
	}
	return v, nil
}

// ParseFloat reads a decimal number; NaN and infinities are refused. Its
// error says what s holds instead, never s itself.
func ParseFloat(s string) (float64, error) {
	v, err := strconv.ParseFloat(cleanNumber(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, notNumber(s)
	}
	return v, nil
}

var numberNoise = strings.NewReplacer(",", "", " ", "", "_", "")

func cleanNumber(s string) string {
	return numberNoise.Replace(strings.TrimSpace(toHalfWidth(s)))
}

// dateLayouts are the ways applicant files write dates. "01-02-06" is how
// Excel's default date format reads back.
var dateLayouts = []string{
	"2006-01-02", "2006/01/02", "2006.01.02", "20060102", "2006年01月02日",
	"2006-1-2", "2006/1/2", "2006.1.2", "2006年1月2日", "01-02-06",
}

// ParseDate reads a calendar date; a time of day after it is ignored. Its
// error says what s holds instead, never s itself.
func ParseDate(s string) (time.Time, error) {
	clean := strings.TrimSpace(toHalfWidth(s))
	if day, _, ok := strings.Cut(clean, " "); ok {
		clean = day
	}
	if day, _, ok := strings.Cut(clean, "T"); ok && len(day) >= 8 {
		clean = day
	}
	if d, ok := parseDashedDay(clean); ok {
		return d.time(), nil // what the first layout gives, without time.Parse
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, clean); err == nil {
			return t, nil
		}
	}
	return time.Time{}, notDate(s)
}
