package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/scorepipe/scorepipe/pipeline"
)

func newValidateCommand(g *globalFlags) *cobra.Command {
	var (
		job    jobFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the config, the mappings and every input row; call nothing",
		Long: `validate reads the config, the mapping files and every input row exactly as run
would, and reports how many rows would be rejected and why, with the first
examples (identity masked). It makes no vendor call and writes nothing.
Exit code 0 when every row is usable, 2 when some would be rejected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, cfg, err := job.setup(g)
			if err != nil {
				return err
			}
			rep, err := pipeline.Validate(cmd.Context(), cfg, pipeline.Env{Logger: log})
			if err != nil {
				return err
			}
			if cmd.Context().Err() != nil {
				return &interrupted{what: "the report"}
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printReport(g.stdout, rep)
			}
			if rep.Rows.Rejected > 0 {
				return &rowsRejected{n: rep.Rows.Rejected}
			}
			return nil
		},
	}
	job.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printReport(w io.Writer, rep *pipeline.Report) {
	for _, in := range rep.Inputs {
		fmt.Fprintf(w, "%s: %d rows read, %d valid, %d rejected", in.File, in.Read, in.Valid, in.Rejected)
		if in.Blank > 0 {
			fmt.Fprintf(w, ", %d blank rows skipped", in.Blank)
		}
		fmt.Fprintln(w)
	}
	if len(rep.Inputs) > 1 {
		fmt.Fprintf(w, "all files: %d rows read, %d valid, %d rejected\n", rep.Rows.Read, rep.Rows.Valid, rep.Rows.Rejected)
	}
	if len(rep.Reasons) > 0 {
		fmt.Fprintln(w, "\nrejected rows by reason:")
		for _, rc := range rep.Reasons {
			fmt.Fprintf(w, "%6d  %s\n", rc.Count, rc.Reason)
			for _, ex := range rc.Examples {
				fmt.Fprintf(w, "        e.g. %s row %d: %s %s %s\n", ex.File, ex.Row, orDash(ex.Name), orDash(ex.IDCard), orDash(ex.Mobile))
			}
		}
	}
	codes := make([]string, 0, len(rep.Products))
	for code := range rep.Products {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	fmt.Fprintln(w, "\nproducts:")
	for _, code := range codes {
		p := rep.Products[code]
		fmt.Fprintf(w, "  %s: would be called for %d rows, skipped for %d\n", code, p.Rows, p.Skipped)
		for reason, n := range p.SkipReasons {
			fmt.Fprintf(w, "%10d skipped: %s\n", n, reason)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
