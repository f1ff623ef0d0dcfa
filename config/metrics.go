package config

import (
	"fmt"
	"net/url"
	"regexp"
)

// MetricsConfig says where a run reports its figures besides the
// metrics.prom file it publishes with its outputs.
type MetricsConfig struct {
	// Pushgateway is the URL of a Prometheus Pushgateway the figures are
	// pushed to at the end of every run; "" pushes nothing.
	Pushgateway string `yaml:"pushgateway" json:"pushgateway"`
	// Job is the job label of the push (and of metrics.prom's figures);
	// "" is "scorepipe".
	Job string `yaml:"job" json:"job"`
}

// DefaultMetricsJob is the job label when metrics.job is not set.
const DefaultMetricsJob = "scorepipe"

// jobName is what Prometheus accepts as a label value that a Pushgateway
// URL can carry: a plain name.
var jobName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:-]*$`)

func (m *MetricsConfig) validate() error {
	if m.Pushgateway != "" {
		u, err := url.Parse(m.Pushgateway)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &ConfigError{Field: "metrics.pushgateway", Msg: fmt.Sprintf("want the URL of a Pushgateway, e.g. http://pushgateway:9091, got %q", m.Pushgateway)}
		}
	}
	if m.Job != "" && !jobName.MatchString(m.Job) {
		return &ConfigError{Field: "metrics.job", Msg: fmt.Sprintf("want a name of letters, digits and _ . : - (e.g. scorepipe-nightly), got %q", m.Job)}
	}
	return nil
}

// JobName returns metrics.job, or DefaultMetricsJob.
func (m MetricsConfig) JobName() string {
	if m.Job == "" {
		return DefaultMetricsJob
	}
	return m.Job
}
