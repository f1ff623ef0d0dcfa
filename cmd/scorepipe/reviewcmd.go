package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/review"
	"github.com/scorepipe/scorepipe/rundir"
)

// reviewFlags are the flags of the review command.
type reviewFlags struct {
	baseline     string
	label        string
	out          string
	rules        string
	mappingsDir  string
	config       string
	alertPSI     float64
	alertChanges []string
	printRules   bool
}

func newReviewCommand(g *globalFlags) *cobra.Command {
	var fl reviewFlags
	cmd := &cobra.Command{
		Use:   "review OUTDIR",
		Short: "Portfolio review of a run: coverage, distributions, IV/KS, PSI against a baseline, who got riskier",
		Long: `review reads a published run (OUTDIR: features.parquet and manifest.json) and
writes review.xlsx (sheets summary, features, distributions, and with a label iv,
with a baseline psi and changes; native charts on every sheet), review.json with
the same figures, and with a baseline changes.parquet: the applicants found in both
runs (joined on applicant_key) whose risk got worse under the change rules.

The label is --label, or the column "label" when the run has one (0 good, 1 bad).
The change rules are built in (print them with --print-rules) or come from
--rules FILE. Alerts (--alert-psi, --alert-changes RULE=N, or review.alerts in the
--config file) make the command exit 2, one log line per alert, after writing
the review.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if fl.printRules {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if fl.printRules {
				_, err := g.stdout.Write(review.DefaultRulesYAML())
				return err
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			return runReview(cmd, log, args[0], fl, cmd.Flags().Changed("alert-psi"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.baseline, "baseline", "", "output directory of an earlier run to compare with (PSI, changes)")
	f.StringVar(&fl.label, "label", "", `0/1 label column for IV and KS (default "label" when present)`)
	f.StringVarP(&fl.out, "out", "o", "", "workbook to write (default OUTDIR/review.xlsx); review.json and changes.parquet go beside it")
	f.StringVar(&fl.rules, "rules", "", "change rules file (YAML) instead of the built-in rules")
	f.StringVar(&fl.mappingsDir, "mappings", "", "mapping directory the run used (default: the one its manifest names, else the built-in tables)")
	f.StringVarP(&fl.config, "config", "c", "", "job configuration whose review: and mappings: sections to use")
	f.Float64Var(&fl.alertPSI, "alert-psi", 0, "alert when a feature's PSI is above this (0: none)")
	f.StringArrayVar(&fl.alertChanges, "alert-changes", nil, "alert when more than N applicants fall under a rule, RULE=N (repeatable)")
	f.BoolVar(&fl.printRules, "print-rules", false, "print the built-in change rules (a file to start from) and exit")
	return cmd
}

// reviewMemoryLimit is the soft limit of the review's memory (see
// docs/PERFORMANCE.md); GOMEMLIMIT overrides it. The Parquet reader makes
// garbage at every page: without a limit the heap would grow to twice what
// is live before it is collected.
const reviewMemoryLimit = 200 << 20

func runReview(cmd *cobra.Command, log *slog.Logger, dir string, fl reviewFlags, psiSet bool) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(reviewMemoryLimit)
	}
	var rc review.Config
	mapDir := fl.mappingsDir
	stateFolders := defaultStateFolders()
	if fl.config != "" {
		cfg, err := config.LoadConfig(fl.config)
		if err != nil {
			return err
		}
		stateFolders = cfg.StateFolders()
		rc = cfg.Review
		if mapDir == "" {
			mapDir = cfg.Mappings.Dir
		}
	}
	if err := checkReviewOut(dir, fl.out, stateFolders); err != nil {
		return err
	}
	if fl.baseline != "" {
		rc.Baseline = fl.baseline
	}
	if fl.label != "" {
		rc.Label = fl.label
	}
	if fl.rules != "" {
		rc.Rules = fl.rules
	}
	if psiSet {
		rc.Alerts.PSI = fl.alertPSI
	}
	for _, a := range fl.alertChanges {
		name, n, ok := strings.Cut(a, "=")
		v, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if !ok || err != nil || v < 0 {
			return &config.ConfigError{Field: "--alert-changes", Msg: fmt.Sprintf("%q is not RULE=N (N a whole number ≥ 0)", a)}
		}
		if rc.Alerts.Changes == nil {
			rc.Alerts.Changes = map[string]int64{}
		}
		rc.Alerts.Changes[strings.TrimSpace(name)] = v
	}
	if err := rc.Alerts.Validate("--alert-"); err != nil {
		return &config.ConfigError{Msg: err.Error()}
	}

	current, err := rundir.Open(dir)
	if err != nil {
		return err
	}
	logUnchecked(log, current)
	var baseline *rundir.Run
	if rc.Baseline != "" {
		if baseline, err = rundir.Open(rc.Baseline); err != nil {
			return err
		}
		logUnchecked(log, baseline)
		if same, _ := sameDir(dir, rc.Baseline); same {
			return &config.ConfigError{Field: "--baseline", Msg: "is the reviewed run itself"}
		}
	}
	rules := review.DefaultRules()
	if rc.Rules != "" {
		if rules, err = review.LoadRules(rc.Rules); err != nil {
			return err
		}
	}
	if err := rc.Alerts.CheckRules("alerts.", rules); err != nil {
		return &config.ConfigError{Msg: err.Error()}
	}
	set, err := reviewMappings(log, mapDir, current)
	if err != nil {
		return err
	}
	out := fl.out
	if out == "" {
		out = filepath.Join(dir, review.FileWorkbook)
	}
	log.Info("review started", "run", dir, "baseline", rc.Baseline, "rows", current.Rows, "out", out)
	rep, err := review.Run(cmd.Context(), review.Options{Current: current, Baseline: baseline, Label: rc.Label,
		Rules: rules, Mappings: set, Alerts: rc.Alerts, Out: out, Version: version})
	var alertErr *review.AlertError
	if err != nil && !errors.As(err, &alertErr) {
		return err
	}
	logReview(log, rep, out)
	if alertErr != nil {
		for _, a := range alertErr.Alerts {
			log.Warn("review alert: "+a.Message, "kind", a.Kind, "subject", a.Subject, "value", a.Value, "threshold", a.Threshold)
		}
		return &reported{err: alertErr}
	}
	return nil
}

// logUnchecked says when a run's data files were read without being
// checked against its manifest (one written before manifests recorded
// their hashes).
func logUnchecked(log *slog.Logger, r *rundir.Run) {
	if r.Unchecked != "" {
		log.Warn("data not checked: "+r.Unchecked, "run", r.Dir)
	}
}

// reported wraps an error whose message was already logged.
type reported struct{ err error }

func (e *reported) Error() string        { return e.err.Error() }
func (e *reported) Unwrap() error        { return e.err }
func (e *reported) Is(target error) bool { return target == errReported }

func sameDir(a, b string) (bool, error) {
	ia, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	ib, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(ia, ib), nil
}

// reviewMappings loads the mapping tables that give the bins: the
// directory asked for, else the user directory the run's manifest names,
// else the built-in ones. It warns when the run used other files.
func reviewMappings(log *slog.Logger, dir string, run *rundir.Run) (*mappings.Set, error) {
	used := usedMappings(run.Manifest)
	if dir == "" {
		for _, f := range used {
			if f.origin != "embedded" && f.origin != "" {
				d := filepath.Dir(filepath.Dir(f.origin))
				if st, err := os.Stat(d); err == nil && st.IsDir() {
					dir = d
				}
				break
			}
		}
	}
	set, err := mappings.Load(dir)
	if err != nil {
		return nil, err
	}
	loaded := map[string]string{}
	for _, f := range set.Files {
		loaded[f.Name] = f.SHA256
	}
	for _, f := range used {
		if sum, ok := loaded[f.name]; ok && sum != f.sha256 {
			log.Warn("the run used another version of a mapping file: its bins may differ (see --mappings)", "file", f.name, "run_origin", f.origin)
		}
	}
	return set, nil
}

type usedMapping struct{ name, origin, sha256 string }

// usedMappings reads the manifest's list of mapping files.
func usedMappings(m *rundir.Manifest) []usedMapping {
	if m == nil {
		return nil
	}
	list, _ := m.Raw["mappings"].([]any)
	var out []usedMapping
	for _, x := range list {
		o, _ := x.(map[string]any)
		name, _ := o["name"].(string)
		origin, _ := o["origin"].(string)
		sum, _ := o["sha256"].(string)
		if name != "" {
			out = append(out, usedMapping{name, origin, sum})
		}
	}
	return out
}

func logReview(log *slog.Logger, rep *review.Report, out string) {
	shifted, ivs := 0, 0
	for _, f := range rep.Features {
		if f.PSIBand == "shift" {
			shifted++
		}
		if f.IV != nil {
			ivs++
		}
	}
	attrs := []any{"features", len(rep.Features), "rows", rep.Run.Rows, "workbook", out, "json", review.JSONPath(out)}
	if rep.Baseline != nil {
		attrs = append(attrs, "baseline_rows", rep.Baseline.Rows, "psi_above_0.25", shifted)
	}
	if rep.Label != "" {
		attrs = append(attrs, "label", rep.Label, "features_with_iv", ivs)
	}
	if a := rep.Applicants; a != nil {
		attrs = append(attrs, "applicants_in_both", a.InBoth, "new", a.New, "gone", a.Gone)
	}
	attrs = append(attrs, "peak_rss_mb", pipeline.PeakResidentMB())
	log.Info("review written", attrs...)
	for _, r := range rep.Rules {
		log.Info("change rule", "rule", r.Name, "applicants", r.Applicants, "inactive", r.Inactive)
	}
	if rep.Changes != nil {
		log.Info("changes written", "file", review.ChangesPath(out), "rows", rep.Changes.Rows)
	}
	for _, w := range rep.Warnings {
		log.Warn("review: " + w)
	}
}
