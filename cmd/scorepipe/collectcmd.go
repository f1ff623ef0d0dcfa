package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/scorepipe/scorepipe/collect"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/shards"
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
func collectAfter(log *slog.Logger, cfg *pipeline.Config, s shards.Shard) error {
	opts := collect.Options{Shards: s.Count, Logger: log, XLSXMaxRows: cfg.Output.XLSX.MaxRows}
	for _, f := range cfg.Output.Formats {
		opts.XLSX = opts.XLSX || f == pipeline.FormatXLSX
	}
	if opts.XLSX {
		dict, err := pipeline.Dictionary(cfg)
		if err != nil {
			return err
		}
		opts.Dictionary = dict
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

func newCollectCommand(g *globalFlags) *cobra.Command {
	var (
		opts   collect.Options
		config string
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

A shard that has not published, or is still running, makes collect exit 3
naming it; parts that do not make one dataset exit 1. Nothing is written then.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			opts.Logger = log
			if config != "" && opts.XLSX {
				cfg, err := pipeline.LoadConfig(config)
				if err != nil {
					return err
				}
				if opts.Dictionary, err = pipeline.Dictionary(cfg); err != nil {
					return err
				}
			}
			m, err := collect.Collect(args[0], opts)
			if m == nil {
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
	cmd.Flags().StringVarP(&config, "config", "c", "", "the shards' configuration, for the dictionary sheet of features.xlsx (default: the columns' types and descriptions from the Parquet parts)")
	return cmd
}
