package review

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/zeebo/xxh3"
)

const tolerance = 1e-9

func near(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= tolerance
}

// The expected values below are worked out from the formulas of doc.go;
// the arithmetic is in each case's comment.
func TestPSI(t *testing.T) {
	tests := []struct {
		name             string
		expected, actual []int64
		want             float64
	}{
		// e = .2 .3 .5, a = .25 .25 .5:
		// .05·ln(.25/.2) + (−.05)·ln(.25/.3) + 0 = .05·ln 1.25 + .05·ln 1.2
		{"shares move", []int64{20, 30, 50}, []int64{25, 25, 50}, 0.05*math.Log(1.25) + 0.05*math.Log(1.2)},
		{"same shares, other totals", []int64{1, 2, 7}, []int64{10, 20, 70}, 0},
		// e = 0 .4 .6, a = .1 .3 .6: the empty share counts as ε = .0001:
		// (.1−.0001)·ln(.1/.0001) + (−.1)·ln(.3/.4) = .0999·ln 1000 + .1·ln(4/3)
		{"empty bin in the baseline", []int64{0, 40, 60}, []int64{10, 30, 60}, 0.0999*math.Log(1000) + 0.1*math.Log(4.0/3)},
		{"bin empty in both is left out", []int64{0, 40, 60, 0}, []int64{10, 30, 60, 0}, 0.0999*math.Log(1000) + 0.1*math.Log(4.0/3)},
		// e = .5 .5 0, a = 0 .5 .5: (.0001−.5)·ln(.0001/.5) + (.5−.0001)·ln(.5/.0001) = 2·.4999·ln 5000
		{"empty on both sides", []int64{5, 5, 0}, []int64{0, 5, 5}, 2 * 0.4999 * math.Log(5000)},
		{"empty baseline", []int64{0, 0}, []int64{1, 2}, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PSI(tt.expected, tt.actual); !near(got, tt.want) {
				t.Errorf("PSI = %.12f, want %.12f", got, tt.want)
			}
			terms := PSITerms(tt.expected, tt.actual)
			sum := 0.0
			for _, x := range terms {
				sum += x
			}
			if !near(sum, tt.want) {
				t.Errorf("sum of PSITerms = %.12f, want %.12f", sum, tt.want)
			}
		})
	}
	if got, want := PSI([]int64{20, 30, 50}, []int64{25, 25, 50}), 0.020273255405408218; !near(got, want) {
		t.Errorf("PSI = %.15f, want %.15f (decimal)", got, want)
	}
}

func TestIVAndKS(t *testing.T) {
	tests := []struct {
		name        string
		goods, bads []int64
		iv, ks      float64
		woe         []float64
	}{
		// g = .4 .3 .3 (G 100), b = .1 .2 .7 (B 50): WoE = ln 4, ln 1.5, ln(3/7);
		// IV = .3·ln 4 + .1·ln 1.5 + (−.4)·ln(3/7) = 0.7953539633016651;
		// cumulative b .1 .3 1, g .4 .7 1: KS = max(.3, .4, 0) = .4
		{"three bins", []int64{40, 30, 30}, []int64{5, 10, 35}, 0.7953539633016651, 0.4,
			[]float64{math.Log(4), math.Log(1.5), math.Log(3.0 / 7)}},
		// g = .1 .9, b = 0 1: the empty share counts as ε: WoE = ln(.1/.0001) = ln 1000, ln .9;
		// IV = .1·ln 1000 + (−.1)·ln .9 = 0.7013115794639964; KS = max(.1, 0) = .1
		{"a bin without bads", []int64{10, 90}, []int64{0, 50}, 0.7013115794639964, 0.1,
			[]float64{math.Log(1000), math.Log(0.9)}},
		// A bin without any labelled row adds nothing and has no WoE.
		{"a bin without labelled rows", []int64{40, 0, 30, 30}, []int64{5, 0, 10, 35}, 0.7953539633016651, 0.4,
			[]float64{math.Log(4), math.NaN(), math.Log(1.5), math.Log(3.0 / 7)}},
		{"same shares", []int64{10, 20}, []int64{1, 2}, 0, 0, []float64{0, 0}},
		{"one class only", []int64{10, 20}, []int64{0, 0}, math.NaN(), math.NaN(), []float64{math.NaN(), math.NaN()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IV(tt.goods, tt.bads); !near(got, tt.iv) {
				t.Errorf("IV = %.12f, want %.12f", got, tt.iv)
			}
			if got := KS(tt.goods, tt.bads); !near(got, tt.ks) {
				t.Errorf("KS = %.12f, want %.12f", got, tt.ks)
			}
			woe := WoE(tt.goods, tt.bads)
			for i := range woe {
				if !near(woe[i], tt.woe[i]) {
					t.Errorf("WoE[%d] = %.12f, want %.12f", i, woe[i], tt.woe[i])
				}
			}
		})
	}
}

func TestBands(t *testing.T) {
	psi := []struct {
		v    float64
		want string
	}{{0, "stable"}, {0.0999, "stable"}, {0.1, "watch"}, {0.2499, "watch"}, {0.25, "shift"}, {3, "shift"}, {math.NaN(), ""}}
	for _, tt := range psi {
		if got := PSIBand(tt.v); got != tt.want {
			t.Errorf("PSIBand(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
	iv := []struct {
		v    float64
		want string
	}{{0.01, "useless"}, {0.02, "weak"}, {0.1, "medium"}, {0.3, "strong"}, {0.5, "suspicious"}, {math.NaN(), ""}}
	for _, tt := range iv {
		if got := IVBand(tt.v); got != tt.want {
			t.Errorf("IVBand(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func hist(values ...float64) []valueCount {
	h := newNumHist()
	for _, v := range values {
		h.add(v, unlabelled)
	}
	return h.sorted()
}

func TestDeciles(t *testing.T) {
	seq := func(from, to int) []float64 {
		var out []float64
		for i := from; i <= to; i++ {
			out = append(out, float64(i))
		}
		return out
	}
	repeat := func(v float64, n int) []float64 { return slices.Repeat([]float64{v}, n) }
	tests := []struct {
		name   string
		values []float64
		want   []float64
	}{
		{"1 to 100", seq(1, 100), []float64{10, 20, 30, 40, 50, 60, 70, 80, 90}},
		{"mostly zeros", append(repeat(0, 90), repeat(1, 10)...), []float64{0}},
		{"the largest value is no cut", append(repeat(0, 85), repeat(1, 15)...), []float64{0}},
		{"a constant", repeat(7, 20), nil},
		{"fractions, negative", []float64{-1.5, -0.5, 0.25, 0.5, 0.75, 1.5, 2.5, 3.5, 4.5, 5.5}, []float64{-1.5, -0.5, 0.25, 0.5, 0.75, 1.5, 2.5, 3.5, 4.5}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := deciles(hist(tt.values...)); !slices.Equal(got, tt.want) {
				t.Errorf("deciles = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBinOf(t *testing.T) {
	cuts := []float64{0, 10, 20}
	for _, tt := range []struct {
		v    float64
		want int
	}{{-5, 0}, {0, 0}, {0.1, 1}, {10, 1}, {15, 2}, {20, 2}, {20.5, 3}, {1e9, 3}} {
		if got := binOf(cuts, tt.v); got != tt.want {
			t.Errorf("binOf(%v) = %d, want %d", tt.v, got, tt.want)
		}
	}
	if got := binOf(nil, 3); got != 0 {
		t.Errorf("binOf without cuts = %d, want 0", got)
	}
}

func TestNumHistStaysBounded(t *testing.T) {
	h := newNumHist()
	const n = 200_000
	for i := range n {
		h.add(float64(i)*1.000001+0.123456789, bad)
	}
	if len(h.values) > maxDistinct {
		t.Fatalf("%d distinct values kept, want at most %d", len(h.values), maxDistinct)
	}
	var total, bads int64
	for _, vc := range h.sorted() {
		total += vc.c.n
		bads += vc.c.bad
	}
	if total != n || bads != n {
		t.Errorf("rows counted %d (bad %d), want %d", total, bads, n)
	}
	cuts := deciles(h.sorted())
	if len(cuts) != 9 {
		t.Fatalf("cuts = %v, want 9", cuts)
	}
	for k, c := range cuts { // the k-th decile of 0.12…200,000.32 is near k·20,000
		if want := float64(k+1) * n / 10; math.Abs(c-want)/want > 0.01 {
			t.Errorf("cut %d = %v, want about %v", k+1, c, want)
		}
	}
}

func TestKeyTable(t *testing.T) {
	slots := []*slot{
		{feat: &Feature{Type: "flag", Status: "a_status"}},
		{feat: &Feature{Type: "score", Status: "b_status"}},
	}
	layout, err := newLayout(slots)
	if err != nil {
		t.Fatal(err)
	}
	if layout.narrow != 1 || layout.wide != 1 {
		t.Fatalf("layout %+v, want the flag narrow and the score wide", layout)
	}
	tab := newKeyTable(layout, 4) // announced 4 rows (room for 16); fill past it
	const n = 1000
	key := func(i int) xxh3.Uint128 { return xxh3.HashString128(fmt.Sprint("key-", i)) }
	for i := range n {
		flag := float32(i % 2)
		if i%7 == 0 {
			flag = missingValue
		}
		tab.add(key(i), []float32{flag, float32(i) + 0.5}, uint64(i%4))
	}
	tab.add(key(3), []float32{1, 1}, 0)
	if tab.len() != n || tab.dups != 1 {
		t.Fatalf("len %d, dups %d; want %d and 1", tab.len(), tab.dups, n)
	}
	for i := range n {
		r, ok := tab.find(key(i))
		if !ok {
			t.Fatalf("key %d not found", i)
		}
		vals, ans := tab.row(r)
		wantFlag := float32(i % 2)
		if (i%7 == 0) != isMissing(vals[0]) || i%7 != 0 && vals[0] != wantFlag || vals[1] != float32(i)+0.5 || ans != uint64(i%4) {
			t.Fatalf("key %d: %v %b, want flag %v (missing %v), %v, %b", i, vals, ans, wantFlag, i%7 == 0, float32(i)+0.5, i%4)
		}
	}
	if _, ok := tab.find(key(n)); ok {
		t.Error("found a key never added")
	}
	// A flag value a narrow slot cannot hold counts as missing.
	tab.add(key(-1), []float32{70000, 0}, 0)
	r, _ := tab.find(key(-1))
	if vals, _ := tab.row(r); !isMissing(vals[0]) {
		t.Errorf("70000 in a narrow slot reads back as %v, want missing", vals[0])
	}
}
