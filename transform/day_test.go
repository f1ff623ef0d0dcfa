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

func TestParseDay(t *testing.T) {
	for _, y := range []int{0, 1, 1899, 1900, 1999, 2000, 2023, 2024, 2100, 2400, 9999} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				checkParseDay(t, fmt.Sprintf("%04d%02d%02d", y, m, d))
			}
		}
	}
	for _, s := range []string{"", "2024", "2024010", "202401011", "2024-1-1", "2024 101", "+2024101", "2024０101", "abcdefgh"} {
		checkParseDay(t, s)
	}
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
