package main

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pipeline"
)

// jobFlags locate a job: its config and what the command line overrides.
type jobFlags struct {
	config   string
	inputs   []string
	out      string
	sets     []string
	products []string
	formats  []string
	cache    string
	fake     bool
}

func (j *jobFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&j.config, "config", "c", "", "job configuration (YAML)")
	cmd.Flags().StringArrayVarP(&j.inputs, "input", "i", nil, "applicant file or glob, instead of the config's input.files (repeatable)")
	cmd.Flags().StringVarP(&j.out, "out", "o", "", "output directory, instead of the config's output.dir")
	cmd.Flags().StringArrayVar(&j.sets, "set", nil, "override a config value, path=value, e.g. products.JRZQ9E2A.rate_per_second=200 (repeatable)")
	cmd.Flags().StringSliceVar(&j.products, "products", nil, "run only these configured products, e.g. JRZQ9E2A,COMBTY11")
	cmd.Flags().StringSliceVar(&j.formats, "formats", nil, "output formats instead of output.formats: parquet,xlsx,csv")
	cmd.Flags().StringVar(&j.cache, "cache", "", "reply store path, instead of cache.path (default replies.db in the state directory, $SCOREPIPE_STATE_DIR)")
	cmd.Flags().BoolVar(&j.fake, "fake-vendor", false, "use the built-in fake vendor (synthetic data), as vendor.fake: true does")
	_ = cmd.MarkFlagRequired("config")
}

// setup builds the logger and loads the config, for the commands that run a job.
func (j *jobFlags) setup(g *globalFlags) (*slog.Logger, *config.Config, error) {
	log, err := g.logger()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := j.load()
	return log, cfg, err
}

// load reads the config and applies the command-line overrides.
func (j *jobFlags) load() (*config.Config, error) {
	cfg, err := config.LoadConfig(j.config, j.sets...)
	if err != nil {
		return nil, err
	}
	if len(j.products) > 0 {
		chosen := map[string]config.ProductConfig{}
		for _, code := range j.products {
			p, ok := cfg.Products[code]
			if !ok {
				return nil, &config.ConfigError{Field: "--products", Msg: fmt.Sprintf("%s is not configured (configured: %s)", code, strings.Join(cfg.ProductCodes(), ", "))}
			}
			chosen[code] = p
		}
		cfg.Products = chosen
	}
	if len(j.formats) > 0 {
		cfg.Output.Formats = j.formats
	}
	if j.cache != "" {
		cfg.Cache.Path = j.cache
	}
	if len(j.inputs) > 0 {
		cfg.Input.Files = j.inputs
	}
	if j.out != "" {
		cfg.Output.Dir = j.out
	}
	if j.fake {
		cfg.Vendor.Fake = true
	}
	err = cfg.Validate()
	var ce *config.ConfigError
	if errors.As(err, &ce) && ce.Flag == "" {
		// The file and --set passed above: the mistake is a flag's.
		ce.File, ce.Line, ce.Flag = "", 0, j.flagOf(ce.Field)
	}
	return cfg, err
}

// flagOf names the flag, as given, that set a config field, or "".
func (j *jobFlags) flagOf(field string) string {
	switch {
	case field == "output.formats" && len(j.formats) > 0:
		return "--formats " + strings.Join(j.formats, ",")
	case field == "cache.path" && j.cache != "":
		return "--cache " + j.cache
	case field == "input.files" && len(j.inputs) > 0:
		return "--input " + strings.Join(j.inputs, " --input ")
	case field == "output.dir" && j.out != "":
		return "--out " + j.out
	}
	return ""
}

func newRunCommand(g *globalFlags) *cobra.Command {
	var (
		job      jobFlags
		refresh  bool
		baseline string
		shard    shardFlags
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Score the applicants: call the vendor, write features, rejects and manifest",
		Long: `run reads the applicant files, rejects unusable rows (rejects.csv), calls the
configured products for every valid applicant under the rate limits, and writes
features.parquet / features.xlsx / features.csv, manifest.json and _SUCCESS into
the output directory, all or nothing.

Credentials come only from the environment: SCOREPIPE_ACCESS_ID and
SCOREPIPE_ACCESS_KEY; SCOREPIPE_ENDPOINT overrides vendor.base_url. Without
them a run stops (exit 1) unless the config asks for the built-in fake vendor
(vendor.fake: true, or --fake-vendor): synthetic data, said so in the log,
manifest.json, the Parquet metadata and the workbook's about sheet.

Before anything starts, run checks the config, the mappings, every input file
and header, and, when limits.max_calls or limits.max_cost is set, what the run
would pay (as plan does): a plan over a limit exits 3 before any call.

Exit codes: 0 done; 1 usage, config, input or mapping error; 2 done but not
complete (rows failed at the vendor, a sub-product failed for some rows, a
product skipped for every row, no valid row): the last line says why and
manifest.json lists it under exit.reasons; 3 stopped early, nothing published,
rerun to resume.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			log, cfg, err := job.setup(g)
			if err != nil {
				return err
			}
			if baseline != "" {
				cfg.Review.Baseline = baseline
			}
			sh, err := shard.resolve()
			if err != nil {
				return err
			}
			creds, err := vendorCredentials(cfg)
			if err != nil {
				return err
			}
			// The cipher is known before anything starts: the budget check
			// counts the replies stored under another access key as billable.
			cipher, err := planCipher(cfg)
			if err != nil {
				return err
			}
			env := pipeline.Env{Logger: log, Progress: g.stderr, Terminal: g.progressBar(), Version: g.build.Version,
				Build: g.build, Command: redactArgs(append([]string{"scorepipe"}, g.args...)), Refresh: refresh, Shard: sh, Cipher: cipher}
			j, err := pipeline.Prepare(cfg, env)
			if err != nil {
				return err
			}
			defer j.Close()
			// However the run ends from here, its figures are reported:
			// metrics.prom and the Pushgateway (metrics.pushgateway).
			reported := false
			report := func(err error) {
				if !reported {
					reported = true
					j.Report(cmd.Context(), exitCode(err), reasonOf(err))
				}
			}
			defer func() { report(err) }()
			secret, err := identitySecret(cfg, true)
			if err != nil {
				return err
			}
			j.SetSecret(secret)
			if err := j.Lock(); err != nil {
				return err
			}
			if _, err := j.CheckBudget(cmd.Context()); err != nil {
				return err
			}
			v, err := connectVendor(cfg, creds, log)
			if err != nil {
				return err
			}
			defer v.close()
			log.Info("run started", "run_id", j.RunID(), "inputs", j.Inputs(), "rows_estimated", j.EstimatedRows(),
				"out", cfg.Output.Dir, "products", cfg.ProductCodes(), "vendor", v.info.Endpoint, "fake_vendor", v.info.Fake)
			m, err := j.Run(cmd.Context(), pipeline.Vendor{Caller: v.caller, Cipher: v.cipher, VendorInfo: v.info})
			if m != nil {
				logSummary(log, m)
			}
			if v.info.Fake {
				log.Warn("the features of this run are synthetic: they come from the fake vendor", "endpoint", v.info.Endpoint)
			}
			report(err)
			if m != nil && shard.collect {
				j.Close() // lets go of the shard's part before collecting
				if cerr := collectAfter(log, cfg, sh); cerr != nil {
					return cerr
				}
			}
			return err
		},
	}
	job.register(cmd)
	cmd.Flags().BoolVar(&refresh, "refresh", false, "call the vendor again even for replies in the reply store")
	cmd.Flags().StringVar(&baseline, "baseline", "", "write the portfolio review against this earlier run's output directory with the outputs (review.baseline)")
	shard.register(cmd)
	return cmd
}

func logSummary(log *slog.Logger, m *manifest.Manifest) {
	log.Info("run finished", "run_id", m.RunID, "rows_read", m.Rows.Read, "valid", m.Rows.Valid, "rejected", m.Rows.Rejected,
		"written", m.Rows.Written, "seconds", fmt.Sprintf("%.1f", m.Seconds), "cost", m.Cost)
	for _, code := range slices.Sorted(maps.Keys(m.Products)) {
		p := m.Products[code]
		log.Info("product", "product", code, "ok", p.OK, "no_record", p.NoRecord, "failed", p.Failed,
			"skipped", p.Skipped, "calls", p.Calls, "billed", p.Billed, "possibly_billed", p.PossiblyBilled, "from_store", p.FromStore, "deduplicated", p.Deduplicated,
			"cost", p.Cost)
	}
	if !m.Unknowns.Empty() {
		log.Warn("values the mappings could not place (counted in manifest.json)", "summary", m.Unknowns.Summary(5))
	}
}

// redactArgs returns the command line with secrets replaced: the values of
// the credential and secret variables wherever they appear, and the value
// of a --set whose key names a secret, key, password or token.
func redactArgs(args []string) []string {
	var secrets []string
	for _, name := range []string{envKey, envAccessID, envSecret} {
		if v := os.Getenv(name); len(v) >= 4 {
			secrets = append(secrets, v)
		}
	}
	out := make([]string, len(args))
	for i, a := range args {
		for _, s := range secrets {
			a = strings.ReplaceAll(a, s, "REDACTED")
		}
		if k, _, ok := strings.Cut(a, "="); ok && secretKey.MatchString(k) {
			a = k + "=REDACTED"
		}
		out[i] = a
	}
	return out
}

// secretKey matches the key of a --set value (or of a flag) that names a
// secret; "secret_file" names a path, not a secret.
var secretKey = regexp.MustCompile(`(?i)(secret|password|passwd|token|access_key|credential)$`)
