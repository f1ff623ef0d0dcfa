package review

import "math"

// Epsilon replaces a share of 0 in PSI, WoE and IV, where a logarithm of
// the share is taken: 0.0001, i.e. 0.01 %. Shares are not renormalised
// after the replacement. A bin empty in both distributions is left out.
const Epsilon = 1e-4

// share returns n/total, or 0 when total is 0.
func share(n, total int64) float64 {
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

func nonZero(p float64) float64 {
	if p == 0 {
		return Epsilon
	}
	return p
}

// PSI is the population stability index of actual against expected, two
// counts over the same bins:
//
//	PSI = Σ (a_i − e_i) · ln(a_i / e_i)
//
// where a_i and e_i are the shares of bin i in each distribution (a share
// of 0 counts as Epsilon; a bin empty in both is left out). It is NaN when
// either distribution is empty.
func PSI(expected, actual []int64) float64 {
	if len(expected) != len(actual) {
		panic("review: PSI of distributions over different bins")
	}
	if te, ta := totals(expected, actual); te == 0 || ta == 0 {
		return math.NaN()
	}
	psi := 0.0
	for _, t := range PSITerms(expected, actual) {
		psi += t
	}
	return psi
}

// totals returns the sums of two counts over the same bins.
func totals(a, b []int64) (ta, tb int64) {
	for i := range a {
		ta += a[i]
		tb += b[i]
	}
	return ta, tb
}

// PSITerms returns each bin's term of PSI (0 for a bin empty in both).
func PSITerms(expected, actual []int64) []float64 {
	te, ta := totals(expected, actual)
	out := make([]float64, len(expected))
	if te == 0 || ta == 0 {
		for i := range out {
			out[i] = math.NaN()
		}
		return out
	}
	for i := range expected {
		if expected[i] == 0 && actual[i] == 0 {
			continue
		}
		e, a := nonZero(share(expected[i], te)), nonZero(share(actual[i], ta))
		out[i] = (a - e) * math.Log(a/e)
	}
	return out
}

// WoE returns the weight of evidence of each bin, from the goods (label 0)
// and bads (label 1) in it:
//
//	WoE_i = ln( (g_i/G) / (b_i/B) )
//
// with a share of 0 counted as Epsilon. A bin without any labelled row has
// WoE NaN. All are NaN when G or B is 0.
func WoE(goods, bads []int64) []float64 {
	g, b := totals(goods, bads)
	out := make([]float64, len(goods))
	for i := range goods {
		if g == 0 || b == 0 || goods[i] == 0 && bads[i] == 0 {
			out[i] = math.NaN()
			continue
		}
		out[i] = math.Log(nonZero(share(goods[i], g)) / nonZero(share(bads[i], b)))
	}
	return out
}

// IV is the information value of a binned feature against a 0/1 label:
//
//	IV = Σ (g_i/G − b_i/B) · WoE_i
//
// over the bins that hold at least one labelled row, with the shares of
// WoE (0 counted as Epsilon) and the plain shares in the difference. It is
// NaN when G or B is 0 (the label has one class only).
func IV(goods, bads []int64) float64 {
	if len(goods) != len(bads) {
		panic("review: IV of counts over different bins")
	}
	g, b := totals(goods, bads)
	if g == 0 || b == 0 {
		return math.NaN()
	}
	woe := WoE(goods, bads)
	iv := 0.0
	for i := range goods {
		if goods[i] == 0 && bads[i] == 0 {
			continue
		}
		iv += (share(goods[i], g) - share(bads[i], b)) * woe[i]
	}
	return iv
}

// KS is the Kolmogorov–Smirnov statistic of a binned feature against a 0/1
// label: the largest gap between the cumulative shares of bads and goods
// over the bins in their order,
//
//	KS = max_k | Σ_{i≤k} b_i/B − Σ_{i≤k} g_i/G |
//
// It is NaN when G or B is 0.
func KS(goods, bads []int64) float64 {
	if len(goods) != len(bads) {
		panic("review: KS of counts over different bins")
	}
	g, b := totals(goods, bads)
	if g == 0 || b == 0 {
		return math.NaN()
	}
	var cg, cb int64
	ks := 0.0
	for i := range goods {
		cg += goods[i]
		cb += bads[i]
		ks = max(ks, math.Abs(share(cb, b)-share(cg, g)))
	}
	return ks
}

// PSIBand names the usual bands of PSI: below 0.1 stable, from 0.1 to 0.25
// a shift to watch, 0.25 and above a significant shift.
func PSIBand(psi float64) string {
	switch {
	case math.IsNaN(psi):
		return ""
	case psi < 0.1:
		return "stable"
	case psi < 0.25:
		return "watch"
	}
	return "shift"
}

// IVBand names the usual strength bands of IV: below 0.02 useless, to 0.1
// weak, to 0.3 medium, to 0.5 strong, and 0.5 or more suspicious (too good
// to be true: look for a leak of the label).
func IVBand(iv float64) string {
	switch {
	case math.IsNaN(iv):
		return ""
	case iv < 0.02:
		return "useless"
	case iv < 0.1:
		return "weak"
	case iv < 0.3:
		return "medium"
	case iv < 0.5:
		return "strong"
	}
	return "suspicious"
}
