package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pipeline"
)

func newPlanCommand(g *globalFlags) *cobra.Command {
	var (
		job    jobFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Dry run: the calls a run would pay for, their cost and duration; call nothing",
		Long: `plan reads and validates every input row as run would, looks each applicant up
in the reply store, and prints per product the calls that would be paid (after
duplicates in the input and replies already stored under the access key
of SCOREPIPE_ACCESS_KEY, or the fake's), their cost from
products.<CODE>.price, and their duration at products.<CODE>.rate_per_second.
It makes no vendor call and writes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, cfg, err := job.setup(g)
			if err != nil {
				return err
			}
			secret, err := identitySecret(cfg, false)
			if err != nil {
				return err
			}
			cipher, err := planCipher(cfg)
			if err != nil {
				// Without the key, a reply stored under another one is counted
				// as stored, though a run would pay for it again.
				log.Warn("plan cannot tell the stored replies encrypted with another access key: a run pays for those again", "reason", err.Error())
			}
			rep, err := pipeline.Plan(cmd.Context(), cfg, pipeline.Env{Logger: log, Secret: secret, Cipher: cipher})
			if err != nil {
				return err
			}
			if cmd.Context().Err() != nil {
				return &interrupted{what: "the plan"}
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printPlan(g.stdout, cfg, rep)
			return nil
		},
	}
	job.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}

func printPlan(w io.Writer, cfg *config.Config, rep *pipeline.Report) {
	fmt.Fprintf(w, "rows: %d read, %d valid, %d rejected (scorepipe validate lists why)\n\n", rep.Rows.Read, rep.Rows.Valid, rep.Rows.Rejected)
	codes := make([]string, 0, len(rep.Products))
	for code := range rep.Products {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	var cost, longest float64
	fmt.Fprintf(w, "%-10s %8s %8s %10s %8s %9s %12s %10s\n", "product", "rows", "skipped", "duplicates", "stored", "billable", "cost", "duration")
	for _, code := range codes {
		p := rep.Products[code]
		dur := "unlimited"
		if cfg.Products[code].RatePerSecond > 0 {
			dur = (time.Duration(p.Seconds * float64(time.Second))).Round(time.Second).String()
		}
		fmt.Fprintf(w, "%-10s %8d %8d %10d %8d %9d %12.2f %10s\n", code, p.Rows, p.Skipped, p.Duplicates, p.Stored, p.Billable, p.Cost, dur)
		cost += p.Cost
		longest = max(longest, p.Seconds)
	}
	fmt.Fprintf(w, "\ntotal cost %.2f; products run side by side, about %s at the configured rates\n",
		cost, time.Duration(longest*float64(time.Second)).Round(time.Second))
	if l := cfg.Limits; l.MaxCalls > 0 || l.MaxCost > 0 {
		fmt.Fprintf(w, "limits: max_calls %d, max_cost %.2f (0 = none): a run stops before going past them\n", l.MaxCalls, l.MaxCost)
	}
}
