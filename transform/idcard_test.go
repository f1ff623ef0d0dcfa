package transform_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/transform"
)

// runDate is the fixed run date of the tests.
var runDate = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// withCheck appends the GB 11643 check character to 17 digits.
func withCheck(first17 string) string {
	return first17 + string(transform.IDCheckChar(first17))
}

// idEndingX returns a valid ID number whose check character is X.
func idEndingX(t testing.TB) string {
	t.Helper()
	for n := range 1000 {
		first17 := fmt.Sprintf("11010119900307%03d", n)
		if transform.IDCheckChar(first17) == 'X' {
			return first17 + "X"
		}
	}
	t.Fatal("no 17-digit prefix with check character X")
	return ""
}

// excelPadded returns an 18-digit number ending in 000, as Excel leaves an
// ID it held as a number, whose check character does not match.
func excelPadded(t testing.TB) string {
	t.Helper()
	for n := range 10 {
		id := fmt.Sprintf("11010119900307%d000", n)
		if transform.IDCheckChar(id) != '0' {
			return id
		}
	}
	t.Fatal("no padded ID with a wrong check character")
	return ""
}

// fullWidth turns ASCII digits and letters into their full-width forms.
func fullWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			return r - '!' + '！'
		}
		return r
	}, s)
}

func TestIDCheckChar(t *testing.T) {
	tests := []struct {
		first17 string
		want    byte
	}{
		// Published examples of GB 11643 check characters.
		{"11010519491231002", 'X'},
		{"44052418800101001", '4'},
		{"34052419800101001", 'X'},
	}
	for _, tt := range tests {
		if got := transform.IDCheckChar(tt.first17); got != tt.want {
			t.Errorf("IDCheckChar(%q) = %c, want %c", tt.first17, got, tt.want)
		}
	}
}

func TestNormalizeIDCard(t *testing.T) {
	valid := withCheck("11010119900307123")
	x := idEndingX(t)
	wrong := valid[:17] + string("0123456789"[(strings.IndexByte("0123456789X", valid[17])+1)%10])
	if wrong == valid || strings.HasSuffix(wrong, "000") {
		t.Fatalf("bad test data: %s", wrong)
	}
	padded := excelPadded(t)
	tests := []struct {
		name string
		in   string
		want string // when err is nil
		err  error
	}{
		{"valid", valid, valid, nil},
		{"valid ending X", x, x, nil},
		{"lower-case x", strings.ToLower(x), x, nil},
		{"full-width", fullWidth(valid), valid, nil},
		{"full-width x", fullWidth(strings.ToLower(x)), x, nil},
		{"spaces around", "  " + valid + "\t", valid, nil},
		{"ideographic and no-break spaces", "\u3000" + valid + "\u00a0", valid, nil},
		{"spaces inside", valid[:6] + " " + valid[6:14] + " " + valid[14:], valid, nil},
		{"born on the run date", withCheck("11010120240601123"), withCheck("11010120240601123"), nil},
		{"born 1900-01-01", withCheck("11010119000101123"), withCheck("11010119000101123"), nil},
		{"legacy 15 digits", "110101900307123", withCheck("11010119900307123"), nil},
		{"legacy 15 digits with spaces", " 110101900307123 ", withCheck("11010119900307123"), nil},
		{"bad checksum", wrong, "", transform.ErrIDChecksum},
		{"empty", "", "", transform.ErrIDEmpty},
		{"blank", "   ", "", transform.ErrIDEmpty},
		{"17 characters", valid[:17], "", transform.ErrIDLength},
		{"19 characters", valid + "1", "", transform.ErrIDLength},
		{"16 digits", valid[:16], "", transform.ErrIDLength},
		{"letter inside", valid[:10] + "A" + valid[11:], "", transform.ErrIDChars},
		{"X inside", valid[:10] + "X" + valid[11:], "", transform.ErrIDChars},
		{"letter at the end", valid[:17] + "Y", "", transform.ErrIDChars},
		{"legacy with letter", "11010190030712X", "", transform.ErrIDChars},
		{"Chinese characters", "一二三四五六", "", transform.ErrIDChars},
		{"month 13", withCheck("11010119901307123"), "", transform.ErrIDBirthDate},
		{"February 30", withCheck("11010119900230123"), "", transform.ErrIDBirthDate},
		{"day 00", withCheck("11010119900300123"), "", transform.ErrIDBirthDate},
		{"year 1899", withCheck("11010118991231123"), "", transform.ErrIDBirthDate},
		{"future birth date", withCheck("11010120300101123"), "", transform.ErrIDFuture},
		{"born the day after the run date", withCheck("11010120240602123"), "", transform.ErrIDFuture},
		{"Excel scientific", "1.10101199003071E+17", "", transform.ErrIDAsNumber},
		{"Excel scientific lower-case", "1.10101199003071e+17", "", transform.ErrIDAsNumber},
		{"Excel decimal tail", "110101199003071234.0", "", transform.ErrIDAsNumber},
		{"Excel zero padding", padded, "", transform.ErrIDAsNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := transform.NormalizeIDCard(tt.in, runDate)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("NormalizeIDCard(%q) = %q, %v, want error %v", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeIDCard(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestNormalizeIDCardRunDateZone checks that the birth date is compared
// with the calendar date of the run, in the run's own time zone.
func TestNormalizeIDCardRunDateZone(t *testing.T) {
	beijing := time.FixedZone("CST", 8*3600)
	tests := []struct {
		name  string
		today time.Time
		id    string
		err   error
	}{
		{"born today, early morning in Beijing", time.Date(2024, 6, 1, 7, 0, 0, 0, beijing), withCheck("11010120240601123"), nil},
		{"born today, late evening UTC", time.Date(2024, 6, 1, 23, 59, 0, 0, time.UTC), withCheck("11010120240601123"), nil},
		{"born tomorrow, late evening in Beijing", time.Date(2024, 6, 1, 23, 59, 0, 0, beijing), withCheck("11010120240602123"), transform.ErrIDFuture},
		{"born tomorrow, midnight UTC", time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), withCheck("11010120240602123"), transform.ErrIDFuture},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := transform.NormalizeIDCard(tt.id, tt.today)
			if !errors.Is(err, tt.err) || tt.err == nil && got != tt.id {
				t.Errorf("NormalizeIDCard(%q, %s) = %q, %v, want error %v", tt.id, tt.today, got, err, tt.err)
			}
		})
	}
}

func FuzzNormalizeIDCard(f *testing.F) {
	for _, s := range []string{
		withCheck("11010119900307123"), "110101900307123", "11010519491231002x", "１１０１０５１９４９１２３１００２Ｘ",
		" 110101199003071234 ", "1.10101199003071E+17", "110101199003071234.0", "110101199003071000",
		"11010119901307123", "", "X", "110101190001011230", "11010120300101123X", "一二三四五六",
		"\xff\xfe110101199003071234", "11010119900307123\u0131",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := transform.NormalizeIDCard(s, runDate)
		if err != nil {
			return
		}
		if len(got) != 18 {
			t.Fatalf("NormalizeIDCard(%q) = %q, want 18 characters", s, got)
		}
		for i := 0; i < 17; i++ {
			if got[i] < '0' || got[i] > '9' {
				t.Fatalf("NormalizeIDCard(%q) = %q, want 17 digits first", s, got)
			}
		}
		if c := transform.IDCheckChar(got[:17]); c != got[17] {
			t.Fatalf("NormalizeIDCard(%q) = %q, check character %c, want %c", s, got, got[17], c)
		}
		birth, err := time.Parse("20060102", got[6:14])
		if err != nil || birth.After(runDate) || birth.Year() < 1900 {
			t.Fatalf("NormalizeIDCard(%q) = %q, birth date %s not in [1900, run date]", s, got, got[6:14])
		}
		again, err := transform.NormalizeIDCard(got, runDate)
		if err != nil || again != got {
			t.Fatalf("NormalizeIDCard(%q) = %q, %v, want %q unchanged", got, again, err, got)
		}
	})
}

func TestNormalizeMobile(t *testing.T) {
	tests := []struct {
		in   string
		want string // when err is nil
		err  error
	}{
		{"13800138000", "13800138000", nil},
		{"+86 138-0013-8000", "13800138000", nil},
		{"+8613800138000", "13800138000", nil},
		{"0086 13800138000", "13800138000", nil},
		{"8613800138000", "13800138000", nil},
		{"１３８００１３８０００", "13800138000", nil},
		{"＋８６ １３８００１３８０００", "13800138000", nil},
		{"(138) 0013 8000", "13800138000", nil},
		{"138.0013.8000", "13800138000", nil},
		{" 13800138000\t", "13800138000", nil},
		{"1380013800", "", transform.ErrMobileFormat},
		{"138001380001", "", transform.ErrMobileFormat},
		{"23800138000", "", transform.ErrMobileFormat},
		{"1380013800a", "", transform.ErrMobileFormat},
		{"8623800138000", "", transform.ErrMobileFormat},
		{"1.38E+10", "", transform.ErrMobileFormat},
		{"1.3800138E+10", "", transform.ErrMobileFormat},
		{"", "", transform.ErrMobileEmpty},
		{" - ", "", transform.ErrMobileEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := transform.NormalizeMobile(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("NormalizeMobile(%q) = %q, %v, want error %v", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeMobile(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}
