package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/sinks"
	"github.com/scorepipe/scorepipe/transform"
)

func newCatalogCommand(g *globalFlags) *cobra.Command {
	var (
		configFile  string
		mappingsDir string
		products    []string
		format      string
	)
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Print the data dictionary: every output column, its type, source and meaning",
		Long: `catalog prints every output column: name, type, product, source path in the
vendor's reply, unit or range, descriptions in Chinese and English, where its
codes come from (the table, and how many of its entries are seed: stated in the
vendor's documentation, sample: placeholders, user: from your mappings
directory), every code with its range exactly as written, and what the vendor's
documents do not state about the field (assumed). With --config it describes
that job's products and mappings; otherwise every product of the embedded
mappings (and of --mappings DIR).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configFile != "" {
				cfg, err := config.LoadConfig(configFile)
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
	cmd.Flags().StringVarP(&configFile, "config", "c", "", "job configuration: describe its products")
	cmd.Flags().StringVar(&mappingsDir, "mappings", "", "directory of user catalogs and tables")
	cmd.Flags().StringSliceVar(&products, "products", nil, "only these products")
	cmd.Flags().StringVar(&format, "format", "table", "table, csv, json or md")
	return cmd
}

var catalogHeader = []string{"column", "type", "product", "source", "unit", "description_zh", "description_en",
	"code_source", "codes", "assumed"}

func catalogRow(d *transform.ColumnDoc) []string {
	return []string{d.Column, d.Type, d.Product, d.Source, d.Unit, d.DescriptionZH, d.DescriptionEN,
		d.CodeSource, d.CodesText(), d.Assumed}
}

// boundsRule is how the catalog explains _low and _high.
const boundsRule = `_low and _high: for a field counting whole things (institutions), the smallest and largest
whole numbers in the code's range, an open bracket excluding its end: (0,9) gives 1 and 8; for
any other field (amounts), the ends of the range as written, the bracket saying whether the end
itself is included: [1000,5000) gives 1000 and 5000, 5000 excluded. Null when missing or unbounded.`

func printCatalog(w io.Writer, format string, docs []transform.ColumnDoc) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(docs)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(catalogHeader)
		for i := range docs {
			cells := catalogRow(&docs[i])
			for i, c := range cells {
				if sinks.IsFormulaLike(c) { // a code of a user's table may start with =
					cells[i] = "'" + c
				}
			}
			_ = cw.Write(cells)
		}
		cw.Flush()
		return cw.Error()
	case "md":
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(catalogHeader, " | "), strings.Repeat("---|", len(catalogHeader)))
		for i := range docs {
			cells := catalogRow(&docs[i])
			for i, c := range cells {
				cells[i] = strings.NewReplacer("|", `\|`, "\n", " ").Replace(c)
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
		fmt.Fprintf(w, "\n%s\n", strings.ReplaceAll(boundsRule, "\n", " "))
		return nil
	case "table":
		return printCatalogTable(w, docs)
	}
	return &config.ConfigError{Field: "--format", Msg: fmt.Sprintf("must be table, csv, json or md, got %q", format)}
}

// printCatalogTable prints the columns aligned, then the codes of every
// table in use (each code's range as written, the bounds it gives, its
// source), then what the vendor's documents do not state.
func printCatalogTable(w io.Writer, docs []transform.ColumnDoc) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "column\ttype\tproduct\tsource\tunit\tcode_source\tdescription_zh")
	for _, d := range docs {
		fmt.Fprintln(tw, strings.Join([]string{d.Column, d.Type, d.Product, d.Source, d.Unit, d.CodeSource, d.DescriptionZH}, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	type codeList struct {
		title string
		docs  *transform.ColumnDoc
		users []string
	}
	var lists []*codeList
	byText := map[string]*codeList{}
	for i := range docs {
		d := &docs[i]
		if len(d.Codes) == 0 {
			continue
		}
		key := d.CodeSource + "\x00" + d.CodesText()
		l := byText[key]
		if l == nil {
			l = &codeList{title: d.CodeSource, docs: d}
			byText[key] = l
			lists = append(lists, l)
		}
		if base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(d.Column, "_code"), "_low"), "_high"); !slices.Contains(l.users, base) {
			l.users = append(l.users, base)
		}
	}
	if len(lists) > 0 {
		fmt.Fprintln(w, "\nCodes (range or value exactly as written; bounds: what _low and _high hold, where that is not the range as written)")
	}
	for _, l := range lists {
		fmt.Fprintf(w, "\n%s, used by %s\n", l.title, strings.Join(l.users, ", "))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  code\trange/value\tbounds\tsource\tnote")
		for _, c := range l.docs.Codes {
			text, bounds := c.Value, ""
			if c.Range != "" {
				text, bounds = c.Range, c.BoundsText()
			}
			fmt.Fprintln(tw, strings.Join([]string{"  " + c.Code, text, bounds, c.Source, c.Note}, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var assumed []string
	for _, d := range docs {
		if d.Assumed == "" {
			continue
		}
		line := d.Product + " " + d.Source + ": " + d.Assumed
		if !slices.Contains(assumed, line) {
			assumed = append(assumed, line)
		}
	}
	if len(assumed) > 0 {
		fmt.Fprintln(w, "\nAssumed (not stated in the vendor's documents)")
		for _, a := range assumed {
			fmt.Fprintln(w, "  "+a)
		}
	}
	_, err := fmt.Fprintf(w, "\n%s\n", boundsRule)
	return err
}
