package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scorepipe/scorepipe/metrics"
)

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
