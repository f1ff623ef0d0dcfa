// Package manifest is what a run records about itself: manifest.json (its
// provenance, counts and verdict), the marks every output file carries (the
// Parquet metadata, the workbook's about sheet), and the run's figures for
// Prometheus.
package manifest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/review"
	"github.com/scorepipe/scorepipe/transform"
)

// Manifest describes a finished run; it is written as manifest.json, after
// every data file. It is the run's provenance: which build ran which
// command with which configuration on which input files against which
// vendor, what that cost, and whether the result is complete (Exit).
type Manifest struct {
	Tool         string                    `json:"tool"`
	Version      string                    `json:"version"`
	RunID        string                    `json:"run_id"`
	Build        Build                     `json:"build"`
	Command      []string                  `json:"command,omitempty"` // secrets redacted
	StartedAt    time.Time                 `json:"started_at"`
	FinishedAt   time.Time                 `json:"finished_at"`
	Seconds      float64                   `json:"seconds"`
	Exit         Exit                      `json:"exit"`
	Vendor       VendorInfo                `json:"vendor"`
	Cost         float64                   `json:"cost"` // money spent by this run: billed × price, all products
	Config       map[string]any            `json:"config"`
	ConfigSHA256 string                    `json:"config_sha256"`
	Mappings     []mappings.File           `json:"mappings"`
	Inputs       []InputCounts             `json:"inputs"`
	Rows         RowCounts                 `json:"rows"`
	Products     map[string]*ProductCounts `json:"products"`
	Unknowns     transform.Unknowns        `json:"unknowns"`
	Outputs      []OutputFile              `json:"outputs"`
	Rejects      map[string]int            `json:"reject_reasons,omitempty"` // by column
	Store        *StoreCounts              `json:"store,omitempty"`
	// PeakRSSMB is the most memory the run had resident, once every data
	// file was written (Linux only).
	PeakRSSMB float64        `json:"peak_rss_mb,omitempty"`
	Review    *ReviewSummary `json:"review,omitempty"` // the review written with the outputs (review.baseline)
	Audit     *AuditCounts   `json:"audit,omitempty"`  // the consent audit trail: where, lines written, lines pruned

	// PlaceholderTables lists the tables in use that hold placeholder
	// entries (source sample), and PlaceholderValues counts, by output
	// column, the values written from them (see transform.Unknowns).
	PlaceholderTables []mappings.Placeholder `json:"placeholder_tables"`
	PlaceholderValues map[string]int64       `json:"placeholder_values"`

	// KeyCheck is the check of the identity secret the applicant keys
	// were made with (see the function KeyCheck): runs whose checks differ
	// have keys that do not join.
	KeyCheck string `json:"key_check,omitempty"`

	// Shard says which shard of a sharded run wrote this manifest (run
	// --shard); absent for a whole run. Its counts are the shard's own.
	Shard *ShardInfo `json:"shard,omitempty"`
}

// Exit is the run's verdict: code 0 when every row is complete, 2 when the
// run finished but something a scheduler should look at happened, each
// reason in one line.
type Exit struct {
	Code    int      `json:"code"`
	Reasons []string `json:"reasons"`
}

// VendorInfo says which vendor answered.
type VendorInfo struct {
	Endpoint string `json:"endpoint"`
	Fake     bool   `json:"fake"` // the built-in fake vendor: the features are synthetic
}

// InputCounts are the counts of one input file: read = valid + rejected.
type InputCounts struct {
	File     string `json:"file"`
	Size     int64  `json:"size,omitempty"`   // bytes (manifest only)
	SHA256   string `json:"sha256,omitempty"` // of the file's bytes (manifest only)
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

	Calls        int64   `json:"calls"`        // HTTP requests sent, retries included
	Billed       int64   `json:"billed"`       // code-0 replies received in this run
	Retries      int64   `json:"retries"`      // attempts after the first
	FromStore    int64   `json:"from_store"`   // replies reused from the reply store, paid by earlier runs
	Deduplicated int64   `json:"deduplicated"` // calls saved: rows answered by an identical applicant's call in this run
	Price        float64 `json:"price"`        // products.<CODE>.price
	Cost         float64 `json:"cost"`         // money spent by this run: billed × price

	// PossiblyBilled counts the calls of this run that got no readable
	// answer after their request was sent: a reply that could not be read
	// (not JSON, malformed, over the size cap, cut off, a failure status
	// carrying a success) or no reply at all (no headers before the
	// timeout, the connection reset or closed). The vendor may have
	// billed them; they are not in Cost.
	PossiblyBilled int64 `json:"possibly_billed"`

	UndecryptableStored int64 `json:"undecryptable_stored"` // stored replies paid for again: encrypted with another access key
	DamagedStored       int64 `json:"damaged_stored"`       // stored replies paid for again: their record in the store was damaged

	// Pacing (see package pacing). Rates are calls per second, 0 meaning
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

// Add counts an outcome.
func (c *StatusCounts) Add(s transform.Status) {
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

// OutputFile is one published file. A run's data files and rejects.csv
// record their size and SHA-256, so that a reader can tell the file is
// still the one published (a shard's part records them in its marker
// instead, and collect in shards.parts[].files).
type OutputFile struct {
	Name   string `json:"name"`
	Rows   int    `json:"rows"`
	Bytes  int64  `json:"bytes,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Build says which build of scorepipe ran: from the binary's build
// information (runtime/debug.ReadBuildInfo) or the version stamped at link
// time.
type Build struct {
	Version  string `json:"version"`            // module version, the stamped version, or "(devel)"
	Revision string `json:"revision,omitempty"` // VCS revision the binary was built from
	Time     string `json:"time,omitempty"`     // time of that revision
	Modified bool   `json:"modified"`           // built from a tree with uncommitted changes
	Go       string `json:"go"`                 // Go version
}

// String is the build on one line: "v1.2.0 (revision 3f2a…, modified, go1.26.8)".
func (b Build) String() string {
	s := b.Version
	var parts []string
	if b.Revision != "" {
		parts = append(parts, "revision "+b.Revision)
	} else {
		parts = append(parts, "revision unknown")
	}
	if b.Time != "" {
		parts = append(parts, b.Time)
	}
	if b.Modified {
		parts = append(parts, "modified")
	}
	if b.Go != "" {
		parts = append(parts, b.Go)
	}
	return s + " (" + strings.Join(parts, ", ") + ")"
}

// StoreCounts are what the run found in the reply store, for the manifest.
type StoreCounts struct {
	Path      string `json:"path"`
	Replies   int    `json:"replies"`             // in the store when the run started, after pruning
	Pruned    int    `json:"pruned"`              // replies older than cache.retain, removed at start
	Reindexed int    `json:"reindexed,omitempty"` // replies in the log but not the index (a run stopped between the two), indexed at start
	Rebuilt   string `json:"rebuilt,omitempty"`   // why the index was rebuilt from the log at start
	Lost      int    `json:"lost,omitempty"`      // replies the rebuilt index could not keep: paid for again when asked for
}

// AuditCounts say what a run wrote to the audit log, for the manifest.
type AuditCounts struct {
	Path  string `json:"path"`
	Lines int64  `json:"lines"` // lines written by this run
	// Pruned is how many lines older than cache.retain were removed at
	// the start of the run.
	Pruned int `json:"pruned"`
}

// ReviewSummary is what the manifest says of the portfolio review a run
// wrote with its outputs (review.baseline).
type ReviewSummary struct {
	Baseline string           `json:"baseline"`
	Files    []string         `json:"files"`
	Changes  map[string]int64 `json:"changes"` // applicants per change rule
	Alerts   []review.Alert   `json:"alerts"`
	// Warnings say what the review could not use (review.json's
	// warnings), or why it was not written.
	Warnings   []string `json:"warnings"`
	NotWritten bool     `json:"not_written,omitempty"` // the runs could not be reviewed: the rest is published
}

// ShardInfo is what a shard's manifest says of its shard: which part of
// the dataset it is, what it left to the other shards, and what all the
// shards of a dataset must agree on.
type ShardInfo struct {
	Index int    `json:"index"`
	Count int    `json:"count"`
	Part  string `json:"part"` // part-00003-of-00008: the name of its files
	// RowsOtherShards counts the input rows read and left to the other
	// shards: rows.read + rows_other_shards is every row of the inputs,
	// in every shard.
	RowsOtherShards int `json:"rows_other_shards"`
	// KeyCheck is an HMAC of a fixed text with the identity secret (not
	// the secret): shards that agree on it shard by the same keys.
	KeyCheck string `json:"key_check"`
	// Share is the share of each product's rate, burst and concurrency,
	// and of limits.max_calls and max_cost, that the shard took: 1/count.
	Share float64 `json:"share"`
	// Store is the reply store the shard used (one per shard index).
	Store string `json:"store"`
}

// keyCheckText is what KeyCheck is an HMAC of.
const keyCheckText = "scorepipe shard key check"

// KeyCheck returns the check of an identity secret that a shard's
// manifest holds: 16 hex characters of an HMAC of a fixed text.
func KeyCheck(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(keyCheckText))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// ErrRowsFailed matches an Incomplete: the run completed but is not
// complete.
var ErrRowsFailed = errors.New("some rows failed at the vendor")

// Incomplete is the verdict of a run (or of a collected dataset) that
// finished and published but is not complete: some valid rows failed at
// the vendor, a sub-product failed for some rows, a product was skipped for
// every row, or no valid row was left. It matches ErrRowsFailed; the
// manifest's exit holds the same reasons.
type Incomplete struct {
	Reasons []string
}

func (e *Incomplete) Error() string { return "done, but " + strings.Join(e.Reasons, "; ") }

// Is makes an Incomplete match ErrRowsFailed.
func (e *Incomplete) Is(target error) bool { return target == ErrRowsFailed }
