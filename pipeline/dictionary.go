package pipeline

import (
	"slices"
	"strings"

	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/sinks"
	"github.com/scorepipe/scorepipe/transform"
)

// leadingColumn is one of the columns every output row starts with.
type leadingColumn struct {
	Name          string
	Type          sinks.Type
	DescriptionZH string
	DescriptionEN string
	Distinct      bool // most values differ (see sinks.Column)
}

// leading returns the columns every output row starts with, in order (see
// the col* constants).
func leading(masked bool) []leadingColumn {
	zh, en := "", ""
	if masked {
		zh, en = "(脱敏)", " (masked)"
	}
	return []leadingColumn{
		{"source_file", sinks.String, "输入文件", "Input file", false},
		{"source_row", sinks.Int64, "输入行号(表头为第1行)", "Row in the input file (the header is row 1)", true},
		{"applicant_key", sinks.String, "申请人标识(HMAC-SHA256), 用于关联", "Applicant key (HMAC-SHA256 of the identity), for joins", true},
		{"name", sinks.String, "姓名" + zh, "Name" + en, !masked}, // a masked name keeps the surname only: few values
		{"id_card", sinks.String, "身份证号" + zh, "ID number" + en, true},
		{"mobile_no", sinks.String, "手机号" + zh, "Mobile number" + en, true},
	}
}

// dictionary describes every output column of the run, for the xlsx
// dictionary sheet.
func (r *run) dictionary() []sinks.DictionaryEntry {
	var entries []sinks.DictionaryEntry
	for _, c := range leading(r.cfg.Output.PII != "keep") {
		entries = append(entries, sinks.DictionaryEntry{Column: c.Name, Type: c.Type.String(), DescriptionZH: c.DescriptionZH, DescriptionEN: c.DescriptionEN})
	}
	for _, c := range r.schema[leadingColumns:r.prods[0].base] {
		entries = append(entries, sinks.DictionaryEntry{Column: c.Name, Type: c.Type.String(), Source: "input",
			DescriptionZH: c.Description, DescriptionEN: "Input column " + c.Name})
	}
	for _, p := range r.prods {
		entries = append(entries, productEntries(p.fill)...)
	}
	return entries
}

// productEntries describes the columns of one product.
func productEntries(p *transform.Product) []sinks.DictionaryEntry {
	c := p.Catalog()
	fieldOf := map[string]*mappings.Field{}
	for i := range c.Fields {
		for _, col := range c.Fields[i].Columns() {
			fieldOf[col.Name] = &c.Fields[i]
		}
	}
	var entries []sinks.DictionaryEntry
	for _, col := range p.Columns() {
		e := sinks.DictionaryEntry{Column: col.Name, Type: sinkType(col.Kind).String(), Product: c.Product,
			DescriptionZH: col.DescriptionZH, DescriptionEN: col.DescriptionEN}
		if f, ok := fieldOf[col.Name]; ok {
			e.Source = f.Path
			if f.Sub != "" {
				e.Source = f.Sub + "." + f.Path
			}
			e.Unit = strings.TrimSpace(f.Unit + " " + f.Range)
			if f.Type == mappings.IntervalCode || f.Type == mappings.Enum {
				e.Unit = strings.TrimSpace(e.Unit + " table " + f.Table)
			}
		}
		entries = append(entries, e)
	}
	return entries
}

// Catalog describes the output columns of the given products (all products
// of the mappings when none is given): the leading columns, then each
// product's. The mappings directory may be empty.
func Catalog(mappingsDir string, products []string) ([]sinks.DictionaryEntry, error) {
	set, err := mappings.Load(mappingsDir)
	if err != nil {
		return nil, err
	}
	if len(products) == 0 {
		for code := range set.Catalogs {
			products = append(products, code)
		}
	}
	var entries []sinks.DictionaryEntry
	for _, c := range leading(true) {
		entries = append(entries, sinks.DictionaryEntry{Column: c.Name, Type: c.Type.String(), DescriptionZH: c.DescriptionZH, DescriptionEN: c.DescriptionEN})
	}
	slices.Sort(products)
	for _, code := range products {
		c, err := set.Catalog(code)
		if err != nil {
			return nil, &ConfigError{Field: "products", Msg: err.Error()}
		}
		entries = append(entries, productEntries(transform.NewProduct(c))...)
	}
	return entries, nil
}
