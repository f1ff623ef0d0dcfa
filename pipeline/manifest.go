package pipeline

import (
	"sort"
	"time"

	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/transform"
)

// Manifest describes a finished run; it is written as manifest.json, after
// every data file.
type Manifest struct {
	Tool         string                    `json:"tool"`
	Version      string                    `json:"version"`
	StartedAt    time.Time                 `json:"started_at"`
	FinishedAt   time.Time                 `json:"finished_at"`
	Seconds      float64                   `json:"seconds"`
	ConfigSHA256 string                    `json:"config_sha256"`
	Mappings     []mappings.File           `json:"mappings"`
	Inputs       []InputCounts             `json:"inputs"`
	Rows         RowCounts                 `json:"rows"`
	Products     map[string]*ProductCounts `json:"products"`
	Unknowns     transform.Unknowns        `json:"unknowns"`
	Outputs      []OutputFile              `json:"outputs"`
	Rejects      map[string]int            `json:"reject_reasons,omitempty"` // by column
	// PeakRSSMB is the most memory the run had resident, once every data
	// file was written (Linux only).
	PeakRSSMB float64 `json:"peak_rss_mb,omitempty"`
}

// InputCounts are the counts of one input file: read = valid + rejected.
type InputCounts struct {
	File     string `json:"file"`
	Read     int    `json:"read"`
	Valid    int    `json:"valid"`
	Rejected int    `json:"rejected"`
	Blank    int    `json:"blank_skipped"`
}

// RowCounts are the counts over all input files.
type RowCounts struct {
	Read     int `json:"read"`
	Valid    int `json:"valid"`
	Rejected int `json:"rejected"`
	Written  int `json:"written"`
}

// ProductCounts are the outcome of one product.
type ProductCounts struct {
	StatusCounts

	Calls        int64 `json:"calls"`        // HTTP requests sent, retries included
	Billed       int64 `json:"billed"`       // code-0 replies received in this run
	Retries      int64 `json:"retries"`      // attempts after the first
	FromStore    int64 `json:"from_store"`   // replies reused from the reply store, paid by earlier runs
	Deduplicated int64 `json:"deduplicated"` // calls saved: rows answered by an identical applicant's call in this run

	// Pacing (see pacing.go). Rates are calls per second, 0 meaning
	// unlimited.
	Throttled     int64   `json:"throttled"`              // throttling answers (HTTP 429, 503 with Retry-After, vendor.codes.throttle), each retried
	PausedSeconds float64 `json:"paused_seconds"`         // time the product's calls were paused for the vendor's Retry-After
	RateMin       float64 `json:"rate_min"`               // the lowest rate the product was slowed to
	RateFinal     float64 `json:"rate_final"`             // the rate at the end of the run
	RateSettled   float64 `json:"rate_settled,omitempty"` // the rate settled at after the last throttling answer: just below what the vendor then let through

	LatencyMS Percentiles `json:"latency_ms"`

	SubProducts map[string]*StatusCounts `json:"sub_products,omitempty"`
}

// StatusCounts are the outcomes of a sub-product.
type StatusCounts struct {
	OK       int `json:"ok"`
	NoRecord int `json:"no_record"`
	Failed   int `json:"failed"`
	Skipped  int `json:"skipped"`
}

func (c *StatusCounts) add(s transform.Status) {
	switch s {
	case transform.StatusOK:
		c.OK++
	case transform.StatusNoRecord:
		c.NoRecord++
	case transform.StatusFailed:
		c.Failed++
	case transform.StatusSkipped:
		c.Skipped++
	}
}

// Percentiles of call latency.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

// OutputFile is one published file.
type OutputFile struct {
	Name string `json:"name"`
	Rows int    `json:"rows"`
}

func (s *productStats) percentiles() Percentiles {
	s.mu.Lock()
	d := append([]time.Duration(nil), s.latencies...)
	s.mu.Unlock()
	if len(d) == 0 {
		return Percentiles{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	return Percentiles{P50: ms(d[len(d)/2]), P95: ms(d[len(d)*95/100]), Max: ms(d[len(d)-1])}
}
