package mappings

import (
	"math"
	"strings"
	"testing"
)

var (
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
)

func TestParseInterval(t *testing.T) {
	tests := []struct {
		in   string
		want Interval
	}{
		{"(0,1000)", Interval{Low: 0, High: 1000, LowOpen: true, HighOpen: true}},
		{"[1000,5000)", Interval{Low: 1000, High: 5000, HighOpen: true}},
		{"(1,3]", Interval{Low: 1, High: 3, LowOpen: true}},
		{"[350,950]", Interval{Low: 350, High: 950}},
		{"[0.5,1]", Interval{Low: 0.5, High: 1}},
		{"[-10,-2)", Interval{Low: -10, High: -2, HighOpen: true}},
		{"42", Interval{Low: 42, High: 42}},
		{"-3.5", Interval{Low: -3.5, High: -3.5}},
		{"[42,42]", Interval{Low: 42, High: 42}},
		{"100+", Interval{Low: 100, High: posInf, HighOpen: true}},
		{"10+", Interval{Low: 10, High: posInf, HighOpen: true}},
		{"(100,+∞)", Interval{Low: 100, High: posInf, LowOpen: true, HighOpen: true}},
		{"[100,+∞)", Interval{Low: 100, High: posInf, HighOpen: true}},
		{"(100,∞)", Interval{Low: 100, High: posInf, LowOpen: true, HighOpen: true}},
		{"(100,inf)", Interval{Low: 100, High: posInf, LowOpen: true, HighOpen: true}},
		{"(100,+INF)", Interval{Low: 100, High: posInf, LowOpen: true, HighOpen: true}},
		{"(100,)", Interval{Low: 100, High: posInf, LowOpen: true, HighOpen: true}},
		{"[100,]", Interval{Low: 100, High: posInf, HighOpen: true}}, // an unbounded side is always open
		{"(-∞,5]", Interval{Low: negInf, High: 5, LowOpen: true}},
		{"[-inf,5]", Interval{Low: negInf, High: 5, LowOpen: true}},
		{"(,5]", Interval{Low: negInf, High: 5, LowOpen: true}},
		{"（0，9）", Interval{Low: 0, High: 9, LowOpen: true, HighOpen: true}},
		{"［10，19］", Interval{Low: 10, High: 19}},
		{"(100，＋∞)", Interval{Low: 100, High: posInf, LowOpen: true, HighOpen: true}},
		{"100＋", Interval{Low: 100, High: posInf, HighOpen: true}},
		{"（－∞，0）", Interval{Low: negInf, High: 0, LowOpen: true, HighOpen: true}},
		{"  ( 0 , 9 )  ", Interval{Low: 0, High: 9, LowOpen: true, HighOpen: true}},
		{"\t[1000, 5000)\n", Interval{Low: 1000, High: 5000, HighOpen: true}},
		{" 42 ", Interval{Low: 42, High: 42}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok, err := ParseInterval(tt.in)
			if err != nil || !ok {
				t.Fatalf("ParseInterval(%q) = %v, %v, %v, want %v, true, nil", tt.in, got, ok, err, tt.want)
			}
			if got != tt.want {
				t.Errorf("ParseInterval(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if lb, want := got.LowBounded(), !math.IsInf(tt.want.Low, -1); lb != want {
				t.Errorf("ParseInterval(%q).LowBounded() = %v, want %v", tt.in, lb, want)
			}
			if hb, want := got.HighBounded(), !math.IsInf(tt.want.High, 1); hb != want {
				t.Errorf("ParseInterval(%q).HighBounded() = %v, want %v", tt.in, hb, want)
			}
		})
	}
}

func TestParseIntervalBounded(t *testing.T) {
	tests := []struct {
		in                      string
		lowBounded, highBounded bool
	}{
		{"(0,9)", true, true},
		{"100+", true, false},
		{"(100,+∞)", true, false},
		{"(-∞,5]", false, true},
		{"(,)", false, false},
		{"42", true, true},
	}
	for _, tt := range tests {
		iv, ok, err := ParseInterval(tt.in)
		if err != nil || !ok {
			t.Fatalf("ParseInterval(%q) = %v, %v, %v, want an interval", tt.in, iv, ok, err)
		}
		if got := iv.LowBounded(); got != tt.lowBounded {
			t.Errorf("ParseInterval(%q).LowBounded() = %v, want %v", tt.in, got, tt.lowBounded)
		}
		if got := iv.HighBounded(); got != tt.highBounded {
			t.Errorf("ParseInterval(%q).HighBounded() = %v, want %v", tt.in, got, tt.highBounded)
		}
	}
}

func TestParseIntervalEmpty(t *testing.T) {
	for _, in := range []string{"", "   ", "\t\n", "\u3000"} {
		got, ok, err := ParseInterval(in)
		if ok || err != nil {
			t.Errorf("ParseInterval(%q) = %v, %v, %v, want ok=false and no error", in, got, ok, err)
		}
	}
}

func TestParseIntervalBad(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"word", "abc"},
		{"inverted", "(5,1)"},
		{"inverted closed", "[5,1]"},
		{"empty open", "(1,1)"},
		{"empty half open", "[1,1)"},
		{"empty half open left", "(1,1]"},
		{"unclosed", "[1,2"},
		{"unopened", "1,2]"},
		{"no brackets", "1,2"},
		{"letters", "(a,b)"},
		{"one letter", "(1,b)"},
		{"NaN", "NaN"},
		{"NaN bound", "(NaN,1)"},
		{"inf alone", "inf"},
		{"infinity sign alone", "∞"},
		{"plus inf alone", "+inf"},
		{"inf plus", "inf+"},
		{"hex", "0x10"},
		{"hex bound", "(0x10,20)"},
		{"hex float", "0x1p-2"},
		{"digit separator", "1_000"},
		{"three bounds", "(1,2,3)"},
		{"no comma", "(1 2)"},
		{"brackets only", "()"},
		{"plus only", "+"},
		{"double plus", "100++"},
		{"interval plus", "(0,5]+"},
		{"low +inf", "(+∞,5)"},
		{"high -inf", "(0,-∞)"},
		{"both -inf", "(-inf,-inf)"},
		{"wrong brackets", "{1,2}"},
		{"too long", "[" + strings.Repeat("1", 40) + "," + strings.Repeat("2", 40) + "]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ParseInterval(tt.in)
			if err == nil {
				t.Fatalf("ParseInterval(%q) = %+v, %v, nil, want an error", tt.in, got, ok)
			}
			if ok {
				t.Errorf("ParseInterval(%q) ok = true with error %v, want false", tt.in, err)
			}
			if !strings.Contains(err.Error(), "not an interval") {
				t.Errorf("ParseInterval(%q) error = %q, want it to say %q", tt.in, err, "not an interval")
			}
		})
	}
}

func TestIntervalString(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"(0,1000)", "(0,1000)"},
		{"[1000,5000)", "[1000,5000)"},
		{"100+", "[100,+∞)"},
		{"(-inf,5]", "(-∞,5]"},
		{"42", "[42,42]"},
		{"[0.25,0.5]", "[0.25,0.5]"},
		{"[1000000,2000000)", "[1000000,2000000)"},
	}
	for _, tt := range tests {
		iv, _, err := ParseInterval(tt.in)
		if err != nil {
			t.Fatalf("ParseInterval(%q): %v", tt.in, err)
		}
		if got := iv.String(); got != tt.want {
			t.Errorf("ParseInterval(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIntervalOverlaps(t *testing.T) {
	iv := func(s string) Interval {
		t.Helper()
		v, ok, err := ParseInterval(s)
		if err != nil || !ok {
			t.Fatalf("ParseInterval(%q) = %v, %v, %v", s, v, ok, err)
		}
		return v
	}
	tests := []struct {
		a, b string
		want bool
	}{
		{"(0,9)", "[10,19]", false},
		{"(0,9)", "[9,10]", false},   // touching, open on the left side
		{"(0,9]", "(9,10]", false},   // touching, open on the right side
		{"(0,9)", "(9,10)", false},   // touching, both open
		{"(0,9]", "[9,10]", true},    // touching, both closed: 9 is shared
		{"[0,5]", "[3,8]", true},     // crossing
		{"[0,100]", "[10,20]", true}, // containment
		{"[42,42]", "[42,42]", true},
		{"[42,42]", "(42,50]", false},
		{"[42,42]", "[40,42]", true},
		{"[100,+∞)", "[1000,5000)", true},
		{"[100,+∞)", "[200,+∞)", true},
		{"(-∞,5]", "[5,+∞)", true},
		{"(-∞,5)", "[5,+∞)", false},
		{"(-∞,5]", "(5,+∞)", false},
		{"(-∞,0)", "(-∞,-10]", true},
		{"(0,1000)", "[1000,2000)", false},
		{"[1000,2000)", "[2000,5000)", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" "+tt.b, func(t *testing.T) {
			a, b := iv(tt.a), iv(tt.b)
			if got := a.Overlaps(b); got != tt.want {
				t.Errorf("%s.Overlaps(%s) = %v, want %v", a, b, got, tt.want)
			}
			if got := b.Overlaps(a); got != tt.want {
				t.Errorf("%s.Overlaps(%s) = %v, want %v", b, a, got, tt.want)
			}
		})
	}
}

func FuzzParseInterval(f *testing.F) {
	for _, s := range []string{
		"(0,1000)", "[1000,5000)", "(1,3]", "[350,950]", "42", "100+", "(100,+∞)", "(100,inf)",
		"(100,)", "(-∞,5]", "（0，9）", " ( 0 , 9 ) ", "", "abc", "(5,1)", "(1,1)", "[1,2", "1,2",
		"(a,b)", "NaN", "inf", "0x10", "(1,2,3)", "(,)", "[1e5,2e5)", "-0", "(-0,0]",
		"1e300", "[5e-324,1]", "(-1.7976931348623157e308,0)", "0.1+", "１２３", "(1,\x80)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iv, ok, err := ParseInterval(s)
		if err != nil {
			if ok {
				t.Fatalf("ParseInterval(%q) ok = true with error %v", s, err)
			}
			return
		}
		if !ok {
			if rest := strings.TrimSpace(fullWidthReplacer.Replace(s)); rest != "" {
				t.Fatalf("ParseInterval(%q) = ok false, no error, for non-blank input", s)
			}
			return
		}
		if math.IsNaN(iv.Low) || math.IsNaN(iv.High) {
			t.Fatalf("ParseInterval(%q) = %+v, holds NaN", s, iv)
		}
		if iv.Low > iv.High {
			t.Fatalf("ParseInterval(%q) = %+v, low above high", s, iv)
		}
		if iv.Low == iv.High && (iv.LowOpen || iv.HighOpen) {
			t.Fatalf("ParseInterval(%q) = %+v, an empty interval", s, iv)
		}
		if !iv.Overlaps(iv) {
			t.Fatalf("ParseInterval(%q) = %+v, does not overlap itself", s, iv)
		}
		checkIntegers(t, s, iv)
		again, ok, err := ParseInterval(iv.String())
		if err != nil || !ok {
			t.Fatalf("ParseInterval(%q) = %+v; its String %q does not parse: ok=%v err=%v", s, iv, iv.String(), ok, err)
		}
		if again != iv {
			t.Fatalf("ParseInterval(%q) = %+v; ParseInterval(%q) = %+v, want the same", s, iv, iv.String(), again)
		}
	})
}

// contains reports whether x lies in iv.
func contains(iv Interval, x float64) bool {
	above := x > iv.Low || x == iv.Low && !iv.LowOpen
	below := x < iv.High || x == iv.High && !iv.HighOpen
	return above && below
}

// checkIntegers checks iv.Integers against the definition: the whole
// numbers of iv, as a closed interval, or none.
func checkIntegers(t *testing.T, s string, iv Interval) {
	w, ok := iv.Integers()
	if !ok {
		for _, n := range []float64{math.Ceil(iv.Low), math.Ceil(iv.Low) + 1, math.Floor(iv.High), math.Floor(iv.High) - 1, 0} {
			if !math.IsInf(n, 0) && contains(iv, n) {
				t.Fatalf("ParseInterval(%q) = %v: Integers says none, but %v is in it", s, iv, n)
			}
		}
		return
	}
	if w.LowOpen != math.IsInf(w.Low, -1) || w.HighOpen != math.IsInf(w.High, 1) || w.Low > w.High {
		t.Fatalf("ParseInterval(%q).Integers() = %+v: want closed finite ends, low ≤ high", s, w)
	}
	for _, end := range []struct {
		x       float64
		bounded bool
		step    float64
	}{{w.Low, w.LowBounded(), -1}, {w.High, w.HighBounded(), 1}} {
		if !end.bounded {
			continue
		}
		if end.x != math.Trunc(end.x) || !contains(iv, end.x) {
			t.Fatalf("ParseInterval(%q).Integers() = %+v: end %v is not a whole number of %v", s, w, end.x, iv)
		}
		if next := end.x + end.step; next != end.x && contains(iv, next) {
			t.Fatalf("ParseInterval(%q).Integers() = %+v: %v is in %v too", s, w, next, iv)
		}
	}
}

func TestIntegers(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for none
	}{
		{"(0,9)", "[1,8]"}, {"[0,9]", "[0,9]"}, {"(0,9]", "[1,9]"}, {"[0,9)", "[0,8]"},
		{"[1,5)", "[1,4]"}, {"(3,+∞)", "[4,+∞)"}, {"100+", "[100,+∞)"}, {"(-∞,0)", "(-∞,-1]"},
		{"(0.5,2.5)", "[1,2]"}, {"[0.5,0.9]", ""}, {"(1,2)", ""}, {"42", "[42,42]"}, {"42.5", ""},
		{"(-2.5,-0.5)", "[-2,-1]"}, {"(,)", "(-∞,+∞)"},
	}
	for _, tt := range tests {
		iv, ok, err := ParseInterval(tt.in)
		if err != nil || !ok {
			t.Fatalf("ParseInterval(%q): %v", tt.in, err)
		}
		checkIntegers(t, tt.in, iv)
		w, ok := iv.Integers()
		got := ""
		if ok {
			got = w.String()
		}
		if got != tt.want {
			t.Errorf("ParseInterval(%q).Integers() = %q, want %q", tt.in, got, tt.want)
		}
	}
}
