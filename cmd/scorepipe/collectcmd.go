package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scorepipe/scorepipe/collect"
	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/metrics"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/shards"
	"github.com/scorepipe/scorepipe/sinks"
)

// shardFlags make a run one shard of a sharded run.
type shardFlags struct {
	shard   string
	collect bool
}

func (s *shardFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.shard, "shard", "", "run shard INDEX/COUNT of a sharded run (e.g. 3/8; the index counts from 0), "+
		"instead of "+shards.EnvIndex+" and "+shards.EnvCount+" from the environment")
	cmd.Flags().BoolVar(&s.collect, "collect", false, "with --shard: once this shard has published, collect the dataset if every other shard has too "+
		"(the last shard to finish collects it)")
}

// resolve returns the shard the flags or the environment ask for: --shard
// wins over JOB_COMPLETION_INDEX and SCOREPIPE_SHARDS.
func (s *shardFlags) resolve() (shards.Shard, error) {
	if s.shard != "" {
		return shards.Parse(s.shard)
	}
	sh, err := shards.FromEnv(os.Getenv)
	if err != nil {
		return shards.Shard{}, err
	}
	if s.collect && !sh.Sharded() {
		return shards.Shard{}, &shards.Error{Source: "--collect", Value: "true", Msg: "collects a sharded run: give --shard INDEX/COUNT (or run as a Kubernetes Indexed Job)"}
	}
	return sh, nil
}

// collectAfter collects the dataset after shard s published, when every
// shard has: a missing shard is no error here, the last one to publish
// collects.
func collectAfter(log *slog.Logger, cfg *config.Config, s shards.Shard) error {
	opts := collect.Options{Shards: s.Count, Logger: log, XLSXMaxRows: cfg.Output.XLSX.MaxRows,
		MetricsJob: cfg.Metrics.JobName(), Pushgateway: cfg.Metrics.Pushgateway}
	for _, f := range cfg.Output.Formats {
		opts.XLSX = opts.XLSX || f == config.FormatXLSX
	}
	if opts.XLSX {
		opts.Dictionary = dictionary(log, cfg)
	}
	m, err := collect.Collect(cfg.Output.Dir, opts)
	var np *collect.NotPublishedError
	if errors.As(err, &np) {
		log.Info("not collected yet: the last shard to publish collects the dataset", "shard", s.String(), "waiting_for", len(np.Missing))
		return nil
	}
	if errors.Is(err, pipeline.ErrRowsFailed) { // published; this shard's exit code is its own
		log.Warn("collected the dataset, which is not complete", "dir", cfg.Output.Dir, "reasons", err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("collect %s: %w", cfg.Output.Dir, err)
	}
	log.Info("collected the dataset", "dir", cfg.Output.Dir, "shards", m.Shards.Count, "rows_written", m.Rows.Written, "rows_rejected", m.Rows.Rejected)
	return nil
}

// dictionary returns the dictionary sheet of the combined workbook, or nil
// (the columns' descriptions from the Parquet parts) when the inputs are
// gone.
func dictionary(log *slog.Logger, cfg *config.Config) []sinks.DictionaryEntry {
	dict, err := pipeline.Dictionary(cfg)
	if err != nil {
		log.Warn("the workbook's dictionary sheet describes the columns by the Parquet parts alone", "error", err)
		return nil
	}
	return dict
}

func newCollectCommand(g *globalFlags) *cobra.Command {
	var (
		opts       collect.Options
		configFile string
	)
	cmd := &cobra.Command{
		Use:   "collect DIR",
		Short: "Publish a sharded run: check every shard's part, write the combined manifest and _SUCCESS",
		Long: `collect publishes the dataset that the shards of a run (run --shard INDEX/COUNT)
wrote into the output folder DIR: it checks that every shard of COUNT has
published its part (its _SUCCESS.part-… marker) and that the parts agree (one
configuration, one identity secret, the same inputs, the same columns), then
writes manifest.json (the shards' counts added up, and the list of parts),
metrics.prom, with --xlsx one features.xlsx holding every row in input order,
and _SUCCESS last.

With --config (the shards' configuration) the workbook's dictionary sheet is
the run's, and metrics.job and metrics.pushgateway apply: the dataset's figures
are pushed once published, a failure's exit code and reason otherwise.

Exit codes: 0 published; 2 published, but its parts are not complete (rows
failed at the vendor…: the reasons are in manifest.json's exit); 3 a shard
has not published or is still running (named), or the folder is in use;
1 the parts do not make one dataset, or a part is not what its shard wrote
(a file whose size or SHA-256 differs from what the part's marker recorded:
rerun that shard), or DIR is, is inside or holds the state directory. Nothing
is written but on 0 and 2.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			log, err := g.logger()
			if err != nil {
				return err
			}
			opts.Logger = log
			opts.Command = redactArgs(append([]string{"scorepipe"}, g.args...))
			stateFolders := defaultStateFolders()
			if configFile != "" {
				cfg, err := config.LoadConfig(configFile)
				if err != nil {
					return err
				}
				stateFolders = cfg.StateFolders()
				opts.MetricsJob, opts.Pushgateway = cfg.Metrics.JobName(), cfg.Metrics.Pushgateway
				if opts.XLSX {
					opts.Dictionary = dictionary(log, cfg)
				}
			}
			if err := config.CheckOutputFolder("collect DIR", args[0], stateFolders); err != nil {
				return err
			}
			started := time.Now()
			m, err := collect.Collect(args[0], opts)
			if m == nil {
				if opts.Pushgateway != "" { // a failure: its exit code and reason, the last success kept
					f := metrics.Run{Started: started, Finished: time.Now(), ExitCode: exitCode(err), Reason: reasonOf(err), Shards: opts.Shards}
					if perr := f.Push(cmd.Context(), opts.Pushgateway, opts.MetricsJob, nil); perr != nil {
						log.Warn("could not push collect's metrics", "error", perr)
					}
				}
				return err
			}
			log.Info("collected", "dir", args[0], "shards", m.Shards.Count, "rows_read", m.Rows.Read, "rows_written", m.Rows.Written,
				"rows_rejected", m.Rows.Rejected)
			return err // with the dataset's verdict: *pipeline.Incomplete, exit 2
		},
	}
	cmd.Flags().IntVar(&opts.Shards, "shards", 0, "the shard count to collect (default: the count of the parts in DIR); parts of other counts are removed")
	cmd.Flags().BoolVar(&opts.XLSX, "xlsx", false, "also write features.xlsx: every row, in input order, and a dictionary sheet")
	cmd.Flags().IntVar(&opts.XLSXMaxRows, "xlsx-max-rows", 0, "cap the rows of features.xlsx (0: no cap)")
	cmd.Flags().StringVarP(&configFile, "config", "c", "", "the shards' configuration: the dictionary sheet of features.xlsx (default: the columns' types and descriptions from the Parquet parts), metrics.job and metrics.pushgateway")
	return cmd
}

// withShardLogs returns the audit log at path and, beside it, the logs the
// shards of sharded runs wrote (audit.shard-3.jsonl: a log has one writer,
// and shards run at once), in shard order.
func withShardLogs(path string) []string {
	ext := filepath.Ext(path)
	matches, _ := filepath.Glob(strings.TrimSuffix(path, ext) + ".shard-*" + ext)
	sort.Slice(matches, func(i, j int) bool {
		return shardOfLog(matches[i]) < shardOfLog(matches[j])
	})
	return append([]string{path}, matches...)
}

func shardOfLog(path string) int {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	_, index, _ := strings.Cut(base, ".shard-")
	n, err := strconv.Atoi(index)
	if err != nil {
		return -1
	}
	return n
}
