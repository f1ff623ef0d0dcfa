package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/sinks"
)

func newCatalogCommand(g *globalFlags) *cobra.Command {
	var (
		config      string
		mappingsDir string
		products    []string
		format      string
	)
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Print the data dictionary: every output column, its type, source and meaning",
		Long: `catalog prints every output column: name, type, product, source path in the
vendor's reply, unit or range, and descriptions in Chinese and English. With
--config it describes that job's products and mappings; otherwise every product
of the embedded mappings (and of --mappings DIR).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config != "" {
				cfg, err := pipeline.LoadConfig(config)
				if err != nil {
					return err
				}
				if mappingsDir == "" {
					mappingsDir = cfg.Mappings.Dir
				}
				if len(products) == 0 {
					products = cfg.ProductCodes()
				}
			}
			entries, err := pipeline.Catalog(mappingsDir, products)
			if err != nil {
				return err
			}
			return printCatalog(g.stdout, format, entries)
		},
	}
	cmd.Flags().StringVarP(&config, "config", "c", "", "job configuration: describe its products")
	cmd.Flags().StringVar(&mappingsDir, "mappings", "", "directory of user catalogs and tables")
	cmd.Flags().StringSliceVar(&products, "products", nil, "only these products")
	cmd.Flags().StringVar(&format, "format", "table", "table, csv, json or md")
	return cmd
}

var catalogHeader = []string{"column", "type", "product", "source", "unit", "description_zh", "description_en"}

func catalogRow(e sinks.DictionaryEntry) []string {
	return []string{e.Column, e.Type, e.Product, e.Source, e.Unit, e.DescriptionZH, e.DescriptionEN}
}

func printCatalog(w io.Writer, format string, entries []sinks.DictionaryEntry) error {
	switch format {
	case "json":
		type column struct {
			Column        string `json:"column"`
			Type          string `json:"type"`
			Product       string `json:"product,omitempty"`
			Source        string `json:"source,omitempty"`
			Unit          string `json:"unit,omitempty"`
			DescriptionZH string `json:"description_zh"`
			DescriptionEN string `json:"description_en"`
		}
		out := make([]column, len(entries))
		for i, e := range entries {
			out[i] = column(e)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(catalogHeader)
		for _, e := range entries {
			_ = cw.Write(catalogRow(e))
		}
		cw.Flush()
		return cw.Error()
	case "md":
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(catalogHeader, " | "), strings.Repeat("---|", len(catalogHeader)))
		for _, e := range entries {
			cells := catalogRow(e)
			for i, c := range cells {
				cells[i] = strings.ReplaceAll(c, "|", `\|`)
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
		return nil
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(catalogHeader[:6], "\t"))
		for _, e := range entries {
			fmt.Fprintln(tw, strings.Join(catalogRow(e)[:6], "\t"))
		}
		return tw.Flush()
	}
	return &pipeline.ConfigError{Field: "--format", Msg: fmt.Sprintf("must be table, csv, json or md, got %q", format)}
}
