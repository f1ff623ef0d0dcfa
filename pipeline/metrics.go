package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scorepipe/scorepipe/metrics"
)

// Figures returns the metrics of the run the manifest describes, ended
// with the exit code given (as the command maps its error) and the
// reason; published says whether its outputs were published.
func (m *Manifest) Figures(code int, reason string, published bool) metrics.Run {
	f := metrics.Run{
		Rows: metrics.Rows{Read: int64(m.Rows.Read), Valid: int64(m.Rows.Valid), Rejected: int64(m.Rows.Rejected),
			Written: int64(m.Rows.Written)},
		Cost: m.Cost, Started: m.StartedAt, Finished: m.FinishedAt, ExitCode: code, Reason: reason,
		Published: published, RunID: m.RunID, Version: m.Version, Fake: m.Vendor.Fake,
	}
	for _, in := range m.Inputs {
		f.Rows.Blank += int64(in.Blank)
	}
	if m.Shard != nil {
		f.Shards = m.Shard.Count
	}
	codes := make([]string, 0, len(m.Products))
	for code := range m.Products {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		p := m.Products[code]
		fp := metrics.Product{Code: code, Status: statusFigures(p.StatusCounts), Calls: p.Calls, Billed: p.Billed,
			PossiblyBilled: p.PossiblyBilled, Retries: p.Retries, FromStore: p.FromStore, Deduplicated: p.Deduplicated,
			Throttled: p.Throttled, PausedSeconds: p.PausedSeconds, RateMin: p.RateMin, RateFinal: p.RateFinal, Cost: p.Cost}
		for sub, c := range p.SubProducts {
			if fp.SubProducts == nil {
				fp.SubProducts = map[string]map[string]int64{}
			}
			fp.SubProducts[sub] = statusFigures(*c)
		}
		f.Products = append(f.Products, fp)
	}
	return f
}

func statusFigures(c StatusCounts) map[string]int64 {
	return map[string]int64{"ok": int64(c.OK), "no_record": int64(c.NoRecord), "failed": int64(c.Failed), "skipped": int64(c.Skipped)}
}

// metricsLabels are the constant labels of the run's metrics file: its
// job, and its shard. A Pushgateway gets the job and shard as its grouping
// key instead (see metricsGrouping).
func (r *run) metricsLabels() prometheus.Labels {
	l := prometheus.Labels{"scorepipe_job": r.cfg.Metrics.JobName()}
	if s := r.env.Shard; s.Sharded() {
		l["shard"] = strconv.Itoa(s.Index)
	}
	return l
}

// metricsGrouping is the grouping key of a push, besides the job.
func (r *run) metricsGrouping() map[string]string {
	if s := r.env.Shard; s.Sharded() {
		return map[string]string{"shard": strconv.Itoa(s.Index)}
	}
	return nil
}

// writePublishedMetrics writes the metrics file of a run that publishes,
// into the staging folder: it is published with the run's files.
func (r *run) writePublishedMetrics() error {
	m := r.manifest
	f := m.Figures(m.Exit.Code, strings.Join(m.Exit.Reasons, "; "), true)
	return f.WriteFile(r.folder.Path(FileMetrics), r.metricsLabels())
}

// Report ends the job's reporting, once the command knows how the run
// ended (its exit code and, when it did not end done, why): a run that
// did not publish writes its metrics file into the output folder it
// holds (the last-success time kept from the file there); every run
// pushes its figures when metrics.pushgateway is set. A failure to write
// or push is logged as a warning: the run's outcome stands.
func (j *Job) Report(ctx context.Context, code int, reason string) {
	r := j.r
	m := r.manifest
	if m.FinishedAt.IsZero() {
		m.FinishedAt = r.env.Now().UTC()
		m.Seconds = m.FinishedAt.Sub(m.StartedAt).Seconds()
	}
	f := m.Figures(code, reason, r.published)
	if !r.published && r.folder != nil {
		path := filepath.Join(r.folder.Dir(), r.folder.Name(FileMetrics))
		file := f
		file.LastSuccess = metrics.LastSuccess(path) // a push leaves the Pushgateway's own
		err := os.MkdirAll(filepath.Dir(path), 0o755)
		if err == nil {
			err = file.WriteFile(path, r.metricsLabels())
		}
		if err != nil {
			r.log.Warn("could not write the run's metrics file", "path", path, "error", err)
		}
	}
	if gateway := r.cfg.Metrics.Pushgateway; gateway != "" {
		if err := f.Push(context.WithoutCancel(ctx), gateway, r.cfg.Metrics.JobName(), r.metricsGrouping()); err != nil {
			r.log.Warn("could not push the run's metrics; the run's outcome stands", "error", err)
		} else {
			r.log.Debug("pushed the run's metrics", "pushgateway", gateway, "job", r.cfg.Metrics.JobName())
		}
	}
}
