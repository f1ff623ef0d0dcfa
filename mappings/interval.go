package mappings

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Interval is a numeric range such as "(0,9)" or "[1000,5000)". An
// unbounded side is ±Inf; Low and High are kept as written, whether the
// bracket is open or closed, because that is what the tables state.
type Interval struct {
	Low, High         float64
	LowOpen, HighOpen bool
}

// LowBounded reports whether the interval has a finite lower end.
func (iv Interval) LowBounded() bool { return !math.IsInf(iv.Low, -1) }

// HighBounded reports whether the interval has a finite upper end.
func (iv Interval) HighBounded() bool { return !math.IsInf(iv.High, 1) }

// Overlaps reports whether two intervals share at least one point.
func (iv Interval) Overlaps(o Interval) bool {
	return iv.below(o) == false && o.below(iv) == false
}

// below reports whether every point of iv lies before every point of o.
func (iv Interval) below(o Interval) bool {
	if iv.High < o.Low {
		return true
	}
	return iv.High == o.Low && (iv.HighOpen || o.LowOpen)
}

func (iv Interval) String() string {
	l, r := "[", "]"
	if iv.LowOpen {
		l = "("
	}
	if iv.HighOpen {
		r = ")"
	}
	return l + formatBound(iv.Low) + "," + formatBound(iv.High) + r
}

func formatBound(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+∞"
	case math.IsInf(f, -1):
		return "-∞"
	}
	// Very large or very small bounds in exponent form, so that String stays
	// short enough for ParseInterval to read back.
	if s := strconv.FormatFloat(f, 'f', -1, 64); len(s) <= 24 {
		return s
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// ParseInterval reads the interval notations vendors use:
//
//	(0,1000)  [1000,5000)  (1,3]  [350,950]   bracketed, open or closed
//	(100,+∞)  (100,inf)  (100,)  (-∞,5]       an unbounded side
//	100+                                      100 and above
//	42                                        a single value, [42,42]
//
// Full-width brackets, commas and plus signs are accepted. ok is false for
// an empty string, which means missing; anything else unreadable is an error.
func ParseInterval(s string) (iv Interval, ok bool, err error) {
	s = strings.TrimSpace(fullWidthReplacer.Replace(s))
	if s == "" {
		return Interval{}, false, nil
	}
	bad := func() (Interval, bool, error) {
		return Interval{}, false, fmt.Errorf("%q is not an interval", s)
	}
	if len(s) > 64 {
		return bad()
	}
	if rest, found := strings.CutSuffix(s, "+"); found {
		lo, err := parseBound(rest, false)
		if err != nil || math.IsInf(lo, 0) {
			return bad()
		}
		return Interval{Low: lo, High: math.Inf(1), HighOpen: true}, true, nil
	}
	if v, err := parseBound(s, false); err == nil {
		if math.IsInf(v, 0) {
			return bad()
		}
		return Interval{Low: v, High: v}, true, nil
	}
	if len(s) < 3 {
		return bad()
	}
	open, closing := s[0], s[len(s)-1]
	if (open != '(' && open != '[') || (closing != ')' && closing != ']') {
		return bad()
	}
	lowText, highText, found := strings.Cut(s[1:len(s)-1], ",")
	if !found || strings.Contains(highText, ",") {
		return bad()
	}
	iv.LowOpen, iv.HighOpen = open == '(', closing == ')'
	if iv.Low, err = parseBound(lowText, true); err != nil {
		return bad()
	}
	if iv.High, err = parseBound(highText, true); err != nil {
		return bad()
	}
	if math.IsInf(iv.Low, 0) && iv.Low > 0 || math.IsInf(iv.High, 0) && iv.High < 0 {
		return bad()
	}
	if strings.TrimSpace(lowText) == "" {
		iv.Low = math.Inf(-1)
	}
	if strings.TrimSpace(highText) == "" {
		iv.High = math.Inf(1)
	}
	if math.IsInf(iv.Low, -1) {
		iv.LowOpen = true
	}
	if math.IsInf(iv.High, 1) {
		iv.HighOpen = true
	}
	if iv.Low > iv.High || iv.Low == iv.High && (iv.LowOpen || iv.HighOpen) {
		return bad()
	}
	return iv, true, nil
}

var fullWidthReplacer = strings.NewReplacer("（", "(", "）", ")", "［", "[", "］", "]", "，", ",", "＋", "+", "－", "-", "∞", "inf")

// parseBound reads one end of an interval: a decimal number, or ±inf.
// An empty bound is allowed only inside brackets, where it means unbounded.
func parseBound(s string, allowEmpty bool) (float64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		if allowEmpty {
			return 0, nil
		}
	case "inf", "+inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	default:
		if strings.ContainsAny(s, "xXpP_") { // reject hex floats and digit separators
			break
		}
		f, err := strconv.ParseFloat(s, 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("%q is not a bound", s)
}

// Integers returns the whole numbers iv holds, as a closed interval: an open
// end moves to the nearest whole number inside, a fractional end rounds
// inwards, an unbounded side stays unbounded. "(0,9)" gives [1,8], "[1,5)"
// [1,4], "(3,+∞)" [4,+∞). ok is false when iv holds no whole number, as
// "(1,2)" or "[0.2,0.8]".
func (iv Interval) Integers() (out Interval, ok bool) {
	out = iv
	if iv.LowBounded() {
		out.Low, out.LowOpen = math.Ceil(iv.Low), false
		if iv.LowOpen && out.Low == iv.Low {
			out.Low = nextWhole(iv.Low, 1)
		}
	}
	if iv.HighBounded() {
		out.High, out.HighOpen = math.Floor(iv.High), false
		if iv.HighOpen && out.High == iv.High {
			out.High = nextWhole(iv.High, -1)
		}
	}
	if out.Low > out.High || math.IsInf(out.Low, 1) || math.IsInf(out.High, -1) {
		return Interval{}, false
	}
	return out, true
}

// nextWhole returns the whole number after x (dir 1) or before it (dir -1);
// past 2^53, where every float64 is whole and x±1 is x, the next float64.
func nextWhole(x float64, dir float64) float64 {
	if y := x + dir; y != x {
		return y
	}
	return math.Nextafter(x, math.Inf(int(dir)))
}
