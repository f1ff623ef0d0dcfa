package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/review"
	"github.com/scorepipe/scorepipe/rundir"
)

// reviewPlan is the review a run writes: the baseline opened and the
// rules read before anything is paid for.
type reviewPlan struct {
	baseline *rundir.Run
	rules    *review.Rules
}

// prepareReview opens review.baseline and the rules, so that a mistake
// there stops the run before its first call (exit 1).
func (r *run) prepareReview() error {
	rc := r.cfg.Review
	if rc.Baseline == "" {
		return nil
	}
	if !slices.Contains(r.cfg.Output.Formats, config.FormatParquet) {
		return &config.ConfigError{Field: "review.baseline", Msg: "the review reads features.parquet: add parquet to output.formats"}
	}
	base, err := rundir.Open(rc.Baseline)
	if err != nil {
		return &config.ConfigError{Field: "review.baseline", Msg: err.Error()}
	}
	if base.Unchecked != "" {
		r.log.Warn("baseline not checked: "+base.Unchecked, "baseline", base.Dir)
	}
	rules := review.DefaultRules()
	if rc.Rules != "" {
		if rules, err = review.LoadRules(rc.Rules); err != nil {
			return err
		}
	}
	if err := rc.Alerts.CheckRules("review.alerts.", rules); err != nil {
		var fe *review.FieldError
		if errors.As(err, &fe) {
			return &config.ConfigError{Field: fe.Field, Msg: fe.Msg}
		}
		return err
	}
	if rc.Label != "" && r.schema.Index(rc.Label) < 0 {
		return &config.ConfigError{Field: "review.label", Msg: fmt.Sprintf("the run has no column %q", rc.Label)}
	}
	r.review = &reviewPlan{baseline: base, rules: rules}
	return nil
}

// writeReview reviews the staged features.parquet against the baseline:
// review.xlsx, review.json and changes.parquet join the new set, and the
// manifest says what the review found. An alert is a reason of the run's
// verdict (exit 2, published all the same); any other failure fails the
// publish.
func (r *run) writeReview() error {
	cur, err := rundir.OpenData(r.folder.Staging())
	if err != nil {
		return err
	}
	if data, err := json.Marshal(r.manifest); err == nil { // the facts known so far
		cur.Manifest, _ = rundir.ParseManifest(data)
	}
	rc := r.cfg.Review
	out := r.folder.Path(review.FileWorkbook)
	// Publishing is not interrupted: the review runs to its end.
	rep, err := review.Run(context.Background(), review.Options{Current: cur, Baseline: r.review.baseline, Label: rc.Label,
		Rules: r.review.rules, Mappings: r.set, Alerts: rc.Alerts, Out: out, Version: r.env.Version, Now: r.env.Now})
	var (
		alerts  *review.AlertError
		refused *review.InputError
		keys    *review.KeysError
	)
	switch {
	case errors.As(err, &refused), errors.As(err, &keys):
		// A review the runs cannot make is not a failure to publish: the
		// rest is published, and the run says why the review is missing.
		r.log.Warn("review not written: "+err.Error(), "baseline", rc.Baseline)
		r.manifest.Review = &manifest.ReviewSummary{Baseline: rc.Baseline, Files: []string{}, Changes: map[string]int64{},
			Alerts: []review.Alert{}, Warnings: []string{err.Error()}, NotWritten: true}
		r.manifest.Exit.Reasons = append(r.manifest.Exit.Reasons, "review not written: "+err.Error())
		r.manifest.Exit.Code = ExitIncomplete
		return nil
	case err != nil && !errors.As(err, &alerts):
		return err
	}
	sum := &manifest.ReviewSummary{Baseline: rc.Baseline, Changes: map[string]int64{}, Alerts: rep.Alerts, Warnings: rep.Warnings}
	for _, w := range rep.Warnings {
		r.log.Warn("review: " + w)
	}
	for _, f := range []string{review.FileWorkbook, "review.json"} {
		sum.Files = append(sum.Files, f)
		r.manifest.Outputs = append(r.manifest.Outputs, manifest.OutputFile{Name: f})
	}
	if rep.Changes != nil {
		sum.Files = append(sum.Files, review.FileChanges)
		r.manifest.Outputs = append(r.manifest.Outputs, manifest.OutputFile{Name: review.FileChanges, Rows: int(rep.Changes.Rows)})
	}
	for _, rule := range rep.Rules {
		sum.Changes[rule.Name] = rule.Applicants
	}
	if sum.Alerts == nil {
		sum.Alerts = []review.Alert{}
	}
	r.manifest.Review = sum
	for _, a := range rep.Alerts {
		r.log.Warn("review alert: "+a.Message, "kind", a.Kind, "subject", a.Subject, "value", a.Value, "threshold", a.Threshold)
		r.manifest.Exit.Reasons = append(r.manifest.Exit.Reasons, "review alert: "+a.Message)
		r.manifest.Exit.Code = ExitIncomplete
	}
	return nil
}

// PeakResidentMB returns the most memory this process has had resident
// so far, in MB (Linux; 0 elsewhere), as the manifest's peak_rss_mb.
func PeakResidentMB() float64 { return math.Round(peakResidentMB()*10) / 10 }

// checkBaselineKeys records the check of the identity secret in the
// manifest and, with review.baseline, refuses a baseline whose applicant
// keys were made with another secret: its review would find no applicant
// of this run. It runs before the first call.
func (r *run) checkBaselineKeys() error {
	if len(r.env.Secret) == 0 {
		return nil
	}
	r.manifest.KeyCheck = manifest.KeyCheck(r.env.Secret)
	if r.review == nil {
		return nil
	}
	if base := r.review.baseline.Manifest.KeyCheck(); base != "" && base != r.manifest.KeyCheck {
		return &review.KeysError{Current: r.cfg.Output.Dir, Baseline: r.review.baseline.Dir}
	}
	return nil
}
