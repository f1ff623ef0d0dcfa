package pipeline

import (
	"slices"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/inputs"
	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/sinks"
	"github.com/scorepipe/scorepipe/transform"
)

// dictionary describes every output column of the run, for the xlsx
// dictionary sheet.
func (r *run) dictionary() []sinks.DictionaryEntry {
	var docs []transform.ColumnDoc
	for _, c := range inputs.Leading(r.cfg.Output.PII != "keep") {
		docs = append(docs, transform.ColumnDoc{Column: c.Name, Type: c.Type.String(), DescriptionZH: c.DescriptionZH, DescriptionEN: c.DescriptionEN})
	}
	for _, c := range r.schema[inputs.NumLeading:r.prods[0].base] {
		docs = append(docs, transform.ColumnDoc{Column: c.Name, Type: c.Type.String(), Source: "input",
			DescriptionZH: c.Description, DescriptionEN: "Input column " + c.Name})
	}
	for _, p := range r.prods {
		docs = append(docs, p.fill.Docs()...)
	}
	entries := make([]sinks.DictionaryEntry, len(docs))
	for i := range docs {
		entries[i] = dictionaryEntry(&docs[i])
	}
	return entries
}

// dictionaryEntry is the column as a row of the workbook's dictionary
// sheet, its codes written out as text: "1 = (0,9) → [1,8] (seed); …".
func dictionaryEntry(d *transform.ColumnDoc) sinks.DictionaryEntry {
	return sinks.DictionaryEntry{Column: d.Column, Type: d.Type, Product: d.Product, Source: d.Source, Unit: d.Unit,
		DescriptionZH: d.DescriptionZH, DescriptionEN: d.DescriptionEN,
		CodeSource: d.CodeSource, Codes: d.CodesText(), Assumed: d.Assumed}
}

// Catalog describes the output columns of the given products (all products
// of the mappings when none is given): the leading columns, then each
// product's. The mappings directory may be empty.
func Catalog(mappingsDir string, products []string) ([]transform.ColumnDoc, error) {
	set, err := mappings.Load(mappingsDir)
	if err != nil {
		return nil, err
	}
	if len(products) == 0 {
		for code := range set.Catalogs {
			products = append(products, code)
		}
	}
	var docs []transform.ColumnDoc
	for _, c := range inputs.Leading(true) {
		docs = append(docs, transform.ColumnDoc{Column: c.Name, Type: c.Type.String(), DescriptionZH: c.DescriptionZH, DescriptionEN: c.DescriptionEN})
	}
	slices.Sort(products)
	for _, code := range products {
		c, err := set.Catalog(code)
		if err != nil {
			return nil, &config.ConfigError{Field: "products", Msg: err.Error()}
		}
		docs = append(docs, transform.NewProduct(c).Docs()...)
	}
	return docs, nil
}
