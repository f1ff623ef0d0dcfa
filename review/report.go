package review

import "time"

// Report holds every figure of a review; it is written as review.json and
// laid out in review.xlsx.
type Report struct {
	Tool      string    `json:"tool"`
	Version   string    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	// Epsilon is the share that stands for 0 in PSI, WoE and IV.
	Epsilon float64 `json:"epsilon"`

	Run      RunFacts  `json:"run"`
	Baseline *RunFacts `json:"baseline,omitempty"`
	// Applicants compares the runs' applicant keys (with a baseline).
	Applicants *Applicants `json:"applicants,omitempty"`

	Label       string       `json:"label,omitempty"` // the label column, "" for none
	LabelCounts *LabelCounts `json:"label_counts,omitempty"`

	Products []ProductOutcome `json:"products"`
	Features []FeatureReport  `json:"features"` // in the run's column order
	Skipped  []Skipped        `json:"skipped_columns,omitempty"`

	Rules   []RuleReport   `json:"rules,omitempty"`
	Changes *ChangesReport `json:"changes,omitempty"`

	Alerts []Alert `json:"alerts"`
	// Warnings say what the review could not use (a label value other
	// than 0 and 1, say); they name columns, rows and counts, never a
	// value of the data.
	Warnings []string `json:"warnings"`
}

// labelled reports whether the review has a label with at least one 0 or
// 1: IV and KS.
func (r *Report) labelled() bool {
	return r.Label != "" && r.LabelCounts != nil && r.LabelCounts.Good+r.LabelCounts.Bad > 0
}

// RunFacts describe one run.
type RunFacts struct {
	Dir      string         `json:"dir"`
	Rows     int64          `json:"rows"` // rows reviewed
	Manifest []ManifestFact `json:"manifest,omitempty"`
}

// ManifestFact is a scalar of the run's manifest.json, by dotted path.
type ManifestFact struct {
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// Applicants counts the applicant keys of two runs.
type Applicants struct {
	Current                int64 `json:"current"`  // distinct keys in the reviewed run
	Baseline               int64 `json:"baseline"` // distinct keys in the baseline
	InBoth                 int64 `json:"in_both"`
	New                    int64 `json:"new"`  // in the reviewed run only
	Gone                   int64 `json:"gone"` // in the baseline only
	DuplicateRows          int64 `json:"duplicate_rows"`
	BaselineDuplicateRows  int64 `json:"baseline_duplicate_rows"`
	RowsWithoutKey         int64 `json:"rows_without_key,omitempty"`
	BaselineRowsWithoutKey int64 `json:"baseline_rows_without_key,omitempty"`
}

// ProductOutcome counts a product's (or sub-product's) status column.
type ProductOutcome struct {
	Product  string   `json:"product"`
	Sub      string   `json:"sub_product,omitempty"`
	Column   string   `json:"column"`
	Now      Outcome  `json:"now"`
	Baseline *Outcome `json:"baseline,omitempty"`
}

// Outcome counts rows by status. HitRate is ok / (ok + no_record): how
// often the vendor found the applicant when it answered.
type Outcome struct {
	OK       int64    `json:"ok"`
	NoRecord int64    `json:"no_record"`
	Failed   int64    `json:"failed"`
	Skipped  int64    `json:"skipped"`
	Other    int64    `json:"other,omitempty"`
	Missing  int64    `json:"missing,omitempty"`
	HitRate  *float64 `json:"hit_rate"`
}

// FeatureReport holds a feature's figures.
type FeatureReport struct {
	Name          string `json:"name"`
	Column        string `json:"column"`
	Product       string `json:"product"`
	Sub           string `json:"sub_product,omitempty"`
	Type          string `json:"type"`
	DescriptionZH string `json:"description_zh,omitempty"`
	DescriptionEN string `json:"description_en,omitempty"`

	Rows             int64    `json:"rows"`
	Coverage         *float64 `json:"coverage"` // non-null share
	InBaseline       bool     `json:"in_baseline"`
	BaselineRows     *int64   `json:"baseline_rows,omitempty"`
	BaselineCoverage *float64 `json:"baseline_coverage,omitempty"`

	PSI     *float64 `json:"psi,omitempty"`
	PSIBand string   `json:"psi_band,omitempty"`
	IV      *float64 `json:"iv,omitempty"`
	IVBand  string   `json:"iv_band,omitempty"`
	KS      *float64 `json:"ks,omitempty"`

	Bins []BinReport `json:"bins"` // missing first
}

// BinReport is one bin of a feature.
type BinReport struct {
	Label         string   `json:"label"`
	Count         int64    `json:"count"`
	Share         float64  `json:"share"`
	BaselineCount *int64   `json:"baseline_count,omitempty"`
	BaselineShare *float64 `json:"baseline_share,omitempty"`
	PSITerm       *float64 `json:"psi_term,omitempty"`
	Goods         *int64   `json:"goods,omitempty"`
	Bads          *int64   `json:"bads,omitempty"`
	BadRate       *float64 `json:"bad_rate,omitempty"`
	WoE           *float64 `json:"woe,omitempty"`
}

// RuleReport is a change rule and the applicants it listed.
type RuleReport struct {
	Rule
	Applicants    int64    `json:"applicants"`
	AbsentColumns []string `json:"absent_columns,omitempty"` // not in both runs
	Inactive      bool     `json:"inactive,omitempty"`       // no column in both runs
}

// ChangesReport says where the changes are.
type ChangesReport struct {
	File      string `json:"file"`
	Rows      int64  `json:"rows"`
	SheetRows int64  `json:"sheet_rows"` // rows on the changes sheet (the first ones)
}
