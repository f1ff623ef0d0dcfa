// Package metrics reports the figures of a finished run to Prometheus: in
// the text exposition format, as the metrics.prom file that the node
// exporter's textfile collector reads, and pushed to a Pushgateway. The
// figures are the last run's, so every metric is a gauge; the run gives
// them as a Run, built by whoever knows them (the pipeline's manifest,
// collect's combined one).
package metrics

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/scorepipe/scorepipe/sinks"
)

// Run is what a run reports: its rows, each product's outcomes and calls,
// its cost and duration, how it ended.
type Run struct {
	Rows     Rows
	Products []Product
	Cost     float64 // money spent by the run, all products
	Started  time.Time
	Finished time.Time
	ExitCode int // the process's exit code: 0 done, 2 done but incomplete, 3 stopped, 1 usage
	// Reason is why the run ended as it did: one of the Reason phrases
	// (ReasonDone for a run that is done). Any other text is replaced by
	// the phrase of the exit code.
	Reason string
	// Published says the run published its outputs (exit 0 or 2): the
	// last-success time is its end. Otherwise LastSuccess, when not zero,
	// is that of the last run that did.
	Published   bool
	LastSuccess time.Time
	RunID       string
	Version     string
	Fake        bool // the built-in fake vendor answered: the figures are of synthetic data
	Shards      int  // the shard count, for a shard's run or a collected dataset; 0 otherwise
}

// Rows are the run's row counts.
type Rows struct {
	Read, Valid, Rejected, Written, Blank int64
}

// Product is one product's figures.
type Product struct {
	Code           string
	Status         map[string]int64            // rows by status: ok, no_record, failed, skipped
	SubProducts    map[string]map[string]int64 // sub-product → status → rows
	Calls          int64                       // HTTP requests sent, retries included
	Billed         int64
	PossiblyBilled int64
	Retries        int64
	FromStore      int64
	Deduplicated   int64
	Throttled      int64   // throttling answers
	PausedSeconds  float64 // time paused for the vendor's Retry-After
	RateMin        float64 // the lowest rate the product was slowed to, calls a second (0: unlimited)
	RateFinal      float64 // the rate at the end of the run
	Cost           float64
}

// Statuses are the row statuses every product reports, 0 when none.
var Statuses = []string{"ok", "no_record", "failed", "skipped"}

// Metric names.
const (
	NameRows           = "scorepipe_run_rows"
	NameProductRows    = "scorepipe_run_product_rows"
	NameSubProductRows = "scorepipe_run_sub_product_rows"
	NameCalls          = "scorepipe_run_calls"
	NameBilled         = "scorepipe_run_billed"
	NamePossiblyBilled = "scorepipe_run_possibly_billed"
	NameRetries        = "scorepipe_run_retries"
	NameFromStore      = "scorepipe_run_from_store"
	NameDeduplicated   = "scorepipe_run_deduplicated"
	NameThrottled      = "scorepipe_run_throttled"
	NamePaused         = "scorepipe_run_paused_seconds"
	NameRateMin        = "scorepipe_run_rate_min"
	NameRateFinal      = "scorepipe_run_rate_final"
	NameProductCost    = "scorepipe_run_product_cost"
	NameCost           = "scorepipe_run_cost"
	NameDuration       = "scorepipe_run_duration_seconds"
	NameStart          = "scorepipe_run_start_timestamp_seconds"
	NameEnd            = "scorepipe_run_end_timestamp_seconds"
	NameExitCode       = "scorepipe_run_exit_code"
	NameInfo           = "scorepipe_run_info"
	NameShards         = "scorepipe_run_shards"
	NameLastSuccess    = "scorepipe_last_success_timestamp_seconds"
)

// Registry returns a registry holding the run's figures, every metric with
// the constant labels given (none for a push, whose grouping key labels
// them instead). The last-success time is left out when it is not known,
// so that a push does not overwrite the one the Pushgateway holds.
func (r *Run) Registry(labels prometheus.Labels) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels})
		g.Set(v)
		reg.MustRegister(g)
	}
	vec := func(name, help string, names ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, names)
		reg.MustRegister(g)
		return g
	}
	rows := vec(NameRows, "Rows of the last run: read (valid + rejected), valid, rejected, written, blank lines skipped.", "kind")
	for kind, n := range map[string]int64{"read": r.Rows.Read, "valid": r.Rows.Valid, "rejected": r.Rows.Rejected, "written": r.Rows.Written, "blank_skipped": r.Rows.Blank} {
		rows.WithLabelValues(kind).Set(float64(n))
	}
	status := vec(NameProductRows, "Written rows of the last run by product and status (ok, no_record, failed, skipped).", "product", "status")
	sub := vec(NameSubProductRows, "Written rows of the last run by sub-product and status.", "product", "sub_product", "status")
	perProduct := []struct {
		name, help string
		value      func(p *Product) float64
	}{
		{NameCalls, "HTTP requests the last run sent, retries included.", func(p *Product) float64 { return float64(p.Calls) }},
		{NameBilled, "Replies the last run was billed for (code 0).", func(p *Product) float64 { return float64(p.Billed) }},
		{NamePossiblyBilled, "Calls of the last run that got no readable answer after they were sent and may have been billed.", func(p *Product) float64 { return float64(p.PossiblyBilled) }},
		{NameRetries, "Attempts of the last run after the first.", func(p *Product) float64 { return float64(p.Retries) }},
		{NameFromStore, "Replies the last run reused from the reply store (paid by earlier runs).", func(p *Product) float64 { return float64(p.FromStore) }},
		{NameDeduplicated, "Calls the last run saved on identical applicants.", func(p *Product) float64 { return float64(p.Deduplicated) }},
		{NameThrottled, "Throttling answers the last run received (429, 503 with Retry-After, throttling codes).", func(p *Product) float64 { return float64(p.Throttled) }},
		{NamePaused, "Seconds the last run paused the product's calls for the vendor's Retry-After.", func(p *Product) float64 { return p.PausedSeconds }},
		{NameRateMin, "The lowest rate, calls a second, the last run slowed the product to on throttling (0: unlimited).", func(p *Product) float64 { return p.RateMin }},
		{NameRateFinal, "The product's rate, calls a second, at the end of the last run (0: unlimited).", func(p *Product) float64 { return p.RateFinal }},
		{NameProductCost, "Money the last run spent on the product: billed replies × price.", func(p *Product) float64 { return p.Cost }},
	}
	vecs := make([]*prometheus.GaugeVec, len(perProduct))
	for i, m := range perProduct {
		vecs[i] = vec(m.name, m.help, "product")
	}
	for i := range r.Products {
		p := &r.Products[i]
		for _, s := range Statuses {
			status.WithLabelValues(p.Code, s).Set(float64(p.Status[s]))
		}
		for code, counts := range p.SubProducts {
			for _, s := range Statuses {
				sub.WithLabelValues(p.Code, code, s).Set(float64(counts[s]))
			}
		}
		for j, m := range perProduct {
			vecs[j].WithLabelValues(p.Code).Set(m.value(p))
		}
	}
	gauge(NameCost, "Money the last run spent, all products.", r.Cost)
	gauge(NameDuration, "How long the last run took.", r.Finished.Sub(r.Started).Seconds())
	gauge(NameStart, "When the last run started (Unix time).", unix(r.Started))
	gauge(NameEnd, "When the last run ended (Unix time).", unix(r.Finished))
	gauge(NameExitCode, "Exit code of the last run: 0 done, 1 usage or configuration error, 2 done but incomplete, 3 stopped early (resumable).", float64(r.ExitCode))
	vendor := "real"
	if r.Fake {
		vendor = "fake"
	}
	info := vec(NameInfo, "The last run: its id, version, vendor (fake: synthetic data) and why it ended as it did.", "run_id", "version", "vendor", "reason")
	info.WithLabelValues(r.RunID, r.Version, vendor, r.reasonLabel()).Set(1)
	if r.Shards > 0 {
		gauge(NameShards, "The shard count of the sharded run.", float64(r.Shards))
	}
	switch {
	case r.Published:
		gauge(NameLastSuccess, "When the last run that published its outputs (exit 0 or 2) ended (Unix time).", unix(r.Finished))
	case !r.LastSuccess.IsZero():
		gauge(NameLastSuccess, "When the last run that published its outputs (exit 0 or 2) ended (Unix time).", unix(r.LastSuccess))
	}
	return reg
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// Text returns the run's figures in the text exposition format, with the
// constant labels given.
func (r *Run) Text(labels prometheus.Labels) ([]byte, error) {
	families, err := r.Registry(labels).Gather()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// WriteFile writes the run's figures to path in the text format, with the
// constant labels given, through a temporary file in the same folder that
// is synced and renamed: the textfile collector never reads half a file.
// The file has the mode of every output file (0640, lowered by the umask).
func (r *Run) WriteFile(path string, labels prometheus.Labels) error {
	data, err := r.Text(labels)
	if err != nil {
		return err
	}
	f, err := sinks.CreateAtomic(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// PushTimeout bounds a push: a Pushgateway that does not answer must not
// hold up the end of a run.
const PushTimeout = 10 * time.Second

// Push sends the run's figures to the Pushgateway at url, under job and the
// grouping labels given. The figures of a run that published replace the
// group's (PUT); those of one that did not are added to it (POST), so that
// the group keeps the last-success time of the last run that did.
func (r *Run) Push(ctx context.Context, url, job string, grouping map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, PushTimeout)
	defer cancel()
	// The text format: what a person reads at the Pushgateway's /metrics
	// is what was sent.
	p := push.New(url, job).Gatherer(r.Registry(nil)).Client(&http.Client{Timeout: PushTimeout}).
		Format(expfmt.NewFormat(expfmt.TypeTextPlain))
	keys := make([]string, 0, len(grouping))
	for k := range grouping {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p = p.Grouping(k, grouping[k])
	}
	var err error
	if r.Published {
		err = p.PushContext(ctx)
	} else {
		err = p.AddContext(ctx)
	}
	if err != nil {
		return fmt.Errorf("push to %s (job %s): %w", url, job, err)
	}
	return nil
}

// Parse reads figures in the text exposition format with Prometheus's own
// parser, by metric name.
func Parse(data []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(bytes.NewReader(data))
}

// LastSuccess reads the last-success time from a metrics file written by
// WriteFile; zero when the file does not exist or holds none.
func LastSuccess(path string) time.Time {
	data, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}
	}
	families, err := Parse(data)
	if err != nil {
		return time.Time{}
	}
	f := families[NameLastSuccess]
	if f == nil || len(f.Metric) == 0 || f.Metric[0].Gauge == nil {
		return time.Time{}
	}
	sec := f.Metric[0].Gauge.GetValue()
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(sec*1e9)).UTC()
}

// ExitCode reads the exit code and reason of the run a metrics file
// describes; ok is false when the file does not exist or holds none.
func ExitCode(path string) (code int, reason string, ended time.Time, ok bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, "", time.Time{}, false
	}
	families, err := Parse(data)
	if err != nil {
		return 0, "", time.Time{}, false
	}
	f := families[NameExitCode]
	if f == nil || len(f.Metric) == 0 {
		return 0, "", time.Time{}, false
	}
	code = int(f.Metric[0].GetGauge().GetValue())
	if info := families[NameInfo]; info != nil && len(info.Metric) > 0 {
		for _, l := range info.Metric[0].Label {
			if l.GetName() == "reason" {
				reason = l.GetValue()
			}
		}
	}
	if end := families[NameEnd]; end != nil && len(end.Metric) > 0 {
		ended = time.Unix(0, int64(end.Metric[0].GetGauge().GetValue()*1e9)).UTC()
	}
	return code, reason, ended, true
}
