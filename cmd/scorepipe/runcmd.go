package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

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
}

func (j *jobFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&j.config, "config", "c", "", "job configuration (YAML)")
	cmd.Flags().StringArrayVarP(&j.inputs, "input", "i", nil, "applicant file or glob, instead of the config's input.files (repeatable)")
	cmd.Flags().StringVarP(&j.out, "out", "o", "", "output directory, instead of the config's output.dir")
	cmd.Flags().StringArrayVar(&j.sets, "set", nil, "override a config value, path=value, e.g. products.JRZQ9E2A.rate_per_second=200 (repeatable)")
	cmd.Flags().StringSliceVar(&j.products, "products", nil, "run only these configured products, e.g. JRZQ9E2A,COMBTY11")
	cmd.Flags().StringSliceVar(&j.formats, "formats", nil, "output formats instead of output.formats: parquet,xlsx,csv")
	cmd.Flags().StringVar(&j.cache, "cache", "", "reply store path, instead of cache.path (default replies.db in the state directory, $SCOREPIPE_STATE_DIR)")
	_ = cmd.MarkFlagRequired("config")
}

// setup builds the logger and loads the config, for the commands that run a job.
func (j *jobFlags) setup(g *globalFlags) (*slog.Logger, *pipeline.Config, error) {
	log, err := g.logger()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := j.load()
	return log, cfg, err
}

// load reads the config and applies the command-line overrides.
func (j *jobFlags) load() (*pipeline.Config, error) {
	cfg, err := pipeline.LoadConfig(j.config, j.sets...)
	if err != nil {
		return nil, err
	}
	if len(j.products) > 0 {
		chosen := map[string]pipeline.ProductConfig{}
		for _, code := range j.products {
			p, ok := cfg.Products[code]
			if !ok {
				return nil, &pipeline.ConfigError{Field: "--products", Msg: fmt.Sprintf("%s is not configured (configured: %s)", code, strings.Join(cfg.ProductCodes(), ", "))}
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
	return cfg, cfg.Validate()
}

func newRunCommand(g *globalFlags) *cobra.Command {
	var (
		job     jobFlags
		refresh bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Score the applicants: call the vendor, write features, rejects and manifest",
		Long: `run reads the applicant files, rejects unusable rows (rejects.csv), calls the
configured products for every valid applicant under the rate limits, and writes
features.parquet / features.xlsx / features.csv, manifest.json and _SUCCESS into
the output directory, all or nothing.

Credentials come only from the environment: SCOREPIPE_ACCESS_ID and
SCOREPIPE_ACCESS_KEY; SCOREPIPE_ENDPOINT overrides vendor.base_url. With none of
them set, run starts the built-in fake vendor on loopback (synthetic data).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, cfg, err := job.setup(g)
			if err != nil {
				return err
			}
			v, err := connectVendor(cfg, log)
			if err != nil {
				return err
			}
			defer v.close()
			secret, err := identitySecret(cfg, true)
			if err != nil {
				return err
			}
			env := pipeline.Env{Caller: v.caller, Cipher: v.cipher, Secret: secret, Logger: log,
				Progress: g.stderr, Terminal: g.stderrTerminal(), Version: version, Refresh: refresh}
			log.Info("run started", "inputs", cfg.Input.Files, "out", cfg.Output.Dir, "products", cfg.ProductCodes(), "vendor", v.describe)
			m, err := pipeline.Run(cmd.Context(), cfg, env)
			if m != nil {
				logSummary(log, m)
			}
			if errors.Is(err, pipeline.ErrRowsFailed) {
				return fmt.Errorf("%w: see the <product>_status and <product>_message columns", err)
			}
			return err
		},
	}
	job.register(cmd)
	cmd.Flags().BoolVar(&refresh, "refresh", false, "call the vendor again even for replies in the reply store")
	return cmd
}

func logSummary(log *slog.Logger, m *pipeline.Manifest) {
	log.Info("run finished", "rows_read", m.Rows.Read, "valid", m.Rows.Valid, "rejected", m.Rows.Rejected,
		"written", m.Rows.Written, "seconds", fmt.Sprintf("%.1f", m.Seconds))
	for code, p := range m.Products {
		log.Info("product", "product", code, "ok", p.OK, "no_record", p.NoRecord, "failed", p.Failed,
			"skipped", p.Skipped, "calls", p.Calls, "billed", p.Billed, "from_store", p.FromStore, "deduplicated", p.Deduplicated)
	}
	if !m.Unknowns.Empty() {
		log.Warn("values the mappings could not place (counted in manifest.json)", "summary", m.Unknowns.Summary(5))
	}
}
