package transform

import (
	"fmt"
	"testing"
	"time"
)

// checkParseDay compares parseDay with time.Parse("20060102", s), which it
// stands for.
func checkParseDay(t *testing.T, s string) {
	t.Helper()
	got, ok := parseDay(s)
	tm, err := time.Parse("20060102", s)
	if want := err == nil; ok != want {
		t.Fatalf("parseDay(%q) ok = %v, time.Parse error = %v", s, ok, err)
	}
	if ok && got != dayOf(tm) {
		t.Fatalf("parseDay(%q) = %d, want %d", s, got, dayOf(tm))
	}
	if ok && !got.time().Equal(tm) {
		t.Fatalf("parseDay(%q).time() = %v, want %v", s, got.time(), tm)
	}
}

// checkParseDashedDay compares parseDashedDay with time.Parse("2006-01-02",
// s): it may leave a date to time.Parse, but not read one otherwise.
func checkParseDashedDay(t *testing.T, s string) {
	t.Helper()
	got, ok := parseDashedDay(s)
	tm, err := time.Parse("2006-01-02", s)
	if ok && (err != nil || !got.time().Equal(tm) || got.time().Location() != tm.Location()) {
		t.Fatalf("parseDashedDay(%q) = %d, want time.Parse's %v, %v", s, got, tm, err)
	}
	if !ok && err == nil && len(s) == 10 {
		t.Fatalf("parseDashedDay(%q) = false, time.Parse reads %v", s, tm)
	}
}

func TestParseDay(t *testing.T) {
	for _, y := range []int{0, 1, 1899, 1900, 1999, 2000, 2023, 2024, 2100, 2400, 9999} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				checkParseDay(t, fmt.Sprintf("%04d%02d%02d", y, m, d))
				checkParseDashedDay(t, fmt.Sprintf("%04d-%02d-%02d", y, m, d))
			}
		}
	}
	for _, s := range []string{"", "2024", "2024010", "202401011", "2024-1-1", "2024 101", "+2024101", "2024０101", "abcdefgh"} {
		checkParseDay(t, s)
		checkParseDashedDay(t, s)
	}
	for _, s := range []string{"2024-01-1 ", "2024/01/01", "2024-1-01", "2024-01-+1", "+024-01-01", "2024-01-01T", "20240-1-01"} {
		checkParseDashedDay(t, s)
	}
}

func FuzzParseDashedDay(f *testing.F) {
	for _, s := range []string{"2024-02-29", "2023-02-29", "1900-01-01", "0000-00-00", "2024/1/1", "9999-12-31"} {
		f.Add(s)
	}
	f.Fuzz(checkParseDashedDay)
}

func FuzzParseDay(f *testing.F) {
	for _, s := range []string{"20240229", "20230229", "19000101", "00000000", "2024-1-1", "99991231"} {
		f.Add(s)
	}
	f.Fuzz(checkParseDay)
}

func TestDayOrder(t *testing.T) {
	days := []string{"00010101", "18991231", "19000101", "19991231", "20000101", "20240228", "20240229", "20240301"}
	for i := 1; i < len(days); i++ {
		a, _ := parseDay(days[i-1])
		b, _ := parseDay(days[i])
		if !(a < b) || !a.time().Before(b.time()) {
			t.Errorf("%s < %s: got %v", days[i-1], days[i], a < b)
		}
	}
}
