// Package review is the portfolio review of published runs: per feature
// its coverage and distribution, its strength against a 0/1 label (IV, KS,
// bad rate per bin), its stability against a baseline run (PSI), and the
// applicants found in both runs whose risk got worse under change rules
// that ship as data (rules.yaml). It reads runs through package rundir,
// streaming record batches, and writes review.xlsx (with native charts),
// review.json with the same figures, and changes.parquet.
//
// # Bins
//
// Every feature is a field of a product's catalog whose column is in the
// run. Interval codes are binned by the vendor's table (its codes in the
// order of their ranges, labelled with them; codes the table lacks get a
// bin each), intervals written out as text and other text by the values
// seen, flags and enums by value. Other numbers are cut at their deciles:
// those of the baseline when there is one, so that both runs share the
// bins, else those of the run; the cut points are the smallest values
// with at least k/10 of the values at or below them (k = 1..9), repeats
// and the largest value dropped, and the bins are (-∞,c1], (c1,c2], …,
// (cm,+∞). Missing (null) is a bin of its own, always the first.
//
// # Formulas
//
// With n_i the rows in bin i of N, the share is p_i = n_i / N. A share of
// 0 inside a logarithm counts as Epsilon (0.0001); a bin empty in both
// distributions is left out.
//
//	PSI  = Σ (a_i − e_i) · ln(a_i / e_i)          a: this run, e: the baseline
//	WoE_i = ln( (g_i/G) / (b_i/B) )               g: label 0 (good), b: label 1 (bad)
//	IV   = Σ (g_i/G − b_i/B) · WoE_i
//	KS   = max_k | Σ_{i≤k} b_i/B − Σ_{i≤k} g_i/G |   over the bins in their order
//
// Rows whose label is empty are counted in the distributions but not in
// G and B. IV and KS are not given when the label has one class only.
// Bands: PSI below 0.1 stable, to 0.25 watch, above shift; IV below 0.02
// useless, to 0.1 weak, to 0.3 medium, to 0.5 strong, above suspicious.
//
// # Changes
//
// With a baseline, the runs are joined on applicant_key. For every
// applicant of the baseline the review keeps a 128-bit hash of the key
// and the values the rules read (float32 each), not the rows: memory grows
// by tens of bytes per applicant and not at all with the columns. The
// first row of a key counts; later rows are counted as duplicates.
package review
