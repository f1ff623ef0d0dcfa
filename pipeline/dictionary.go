package pipeline

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/scorepipe/scorepipe/config"
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

// ColumnDoc describes one output column: a row of the data dictionary.
type ColumnDoc struct {
	Column        string `json:"column"`
	Type          string `json:"type"`
	Product       string `json:"product,omitempty"`
	Source        string `json:"source,omitempty"` // the path in the vendor's reply, or "input"
	Unit          string `json:"unit,omitempty"`
	DescriptionZH string `json:"description_zh"`
	DescriptionEN string `json:"description_en"`
	// Table is the table the field's codes map through; CodeSource says
	// where the values of the column come from: the sources of the
	// table's entries ("jrzq9e2a_count: seed 1, sample 5"), or the interval
	// text received. Codes lists every code with its range or value
	// exactly as written and its source.
	Table      string    `json:"table,omitempty"`
	CodeSource string    `json:"code_source,omitempty"`
	Codes      []CodeDoc `json:"codes,omitempty"`
	// Assumed says what about the field the vendor's documents do not state.
	Assumed string `json:"assumed,omitempty"`
}

// CodeDoc is one code of a table, as the dictionary shows it.
type CodeDoc struct {
	Code   string   `json:"code"`
	Range  string   `json:"range,omitempty"` // interval tables: as written, brackets included
	Value  string   `json:"value,omitempty"` // enum tables: as written
	Low    *float64 `json:"low,omitempty"`   // what <column>_low holds for the code; absent when unbounded
	High   *float64 `json:"high,omitempty"`  // what <column>_high holds
	Source string   `json:"source"`          // seed, sample or user
	Note   string   `json:"note,omitempty"`

	iv mappings.Interval // the range, read
}

// maxListedCodes is how many codes the flat text of a column lists.
const maxListedCodes = 100

// Entry is the column as a row of the workbook's dictionary sheet, its
// codes written out as text: "1 = (0,9) → [1,8] (seed); …".
func (d *ColumnDoc) Entry() sinks.DictionaryEntry {
	return sinks.DictionaryEntry{Column: d.Column, Type: d.Type, Product: d.Product, Source: d.Source, Unit: d.Unit,
		DescriptionZH: d.DescriptionZH, DescriptionEN: d.DescriptionEN,
		CodeSource: d.CodeSource, Codes: d.CodesText(), Assumed: d.Assumed}
}

// CodesText lists the codes in one line: for an interval table each code's
// range as written, then, when the bounds are not its ends as written (an
// integer field), the bounds the code gives; the source of each code.
func (d *ColumnDoc) CodesText() string {
	var b strings.Builder
	for i, c := range d.Codes {
		if i == maxListedCodes {
			fmt.Fprintf(&b, "; … and %d more codes", len(d.Codes)-maxListedCodes)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Code + " = ")
		if c.Range == "" {
			b.WriteString(c.Value)
		} else {
			b.WriteString(c.Range)
			if bounds := c.BoundsText(); bounds != "" {
				b.WriteString(" → " + bounds)
			}
		}
		b.WriteString(" (" + c.Source + ")")
	}
	return b.String()
}

// BoundsText writes the code's bounds as a closed interval when they are
// not the ends of its range as written (an integer field's open or
// fractional ends), "" when they are.
func (c *CodeDoc) BoundsText() string {
	asWritten := func(p *float64, bounded bool, end float64) bool {
		return (p != nil) == bounded && (p == nil || *p == end)
	}
	if asWritten(c.Low, c.iv.LowBounded(), c.iv.Low) && asWritten(c.High, c.iv.HighBounded(), c.iv.High) {
		return ""
	}
	lo, hi := "(-∞", "+∞)"
	if c.Low != nil {
		lo = "[" + strconv.FormatFloat(*c.Low, 'f', -1, 64)
	}
	if c.High != nil {
		hi = strconv.FormatFloat(*c.High, 'f', -1, 64) + "]"
	}
	return lo + "," + hi
}

// dictionary describes every output column of the run, for the xlsx
// dictionary sheet.
func (r *run) dictionary() []sinks.DictionaryEntry {
	var docs []ColumnDoc
	for _, c := range leading(r.cfg.Output.PII != "keep") {
		docs = append(docs, ColumnDoc{Column: c.Name, Type: c.Type.String(), DescriptionZH: c.DescriptionZH, DescriptionEN: c.DescriptionEN})
	}
	for _, c := range r.schema[leadingColumns:r.prods[0].base] {
		docs = append(docs, ColumnDoc{Column: c.Name, Type: c.Type.String(), Source: "input",
			DescriptionZH: c.Description, DescriptionEN: "Input column " + c.Name})
	}
	for _, p := range r.prods {
		docs = append(docs, productDocs(p.fill)...)
	}
	entries := make([]sinks.DictionaryEntry, len(docs))
	for i := range docs {
		entries[i] = docs[i].Entry()
	}
	return entries
}

// productDocs describes the columns of one product.
func productDocs(p *transform.Product) []ColumnDoc {
	c := p.Catalog()
	fieldOf := map[string]*mappings.Field{}
	for i := range c.Fields {
		for _, col := range c.Fields[i].Columns() {
			fieldOf[col.Name] = &c.Fields[i]
		}
	}
	codes := map[*mappings.Field][]CodeDoc{} // the same for each column of a field
	var docs []ColumnDoc
	for _, col := range p.Columns() {
		d := ColumnDoc{Column: col.Name, Type: sinkType(col.Kind).String(), Product: c.Product,
			DescriptionZH: col.DescriptionZH, DescriptionEN: col.DescriptionEN}
		if f, ok := fieldOf[col.Name]; ok {
			d.Source = f.Path
			if f.Sub != "" {
				d.Source = f.Sub + "." + f.Path
			}
			d.Unit = strings.TrimSpace(f.Unit + " " + f.Range)
			d.Assumed = f.Assumed
			switch t := f.Lookup(); {
			case t != nil:
				if _, done := codes[f]; !done {
					codes[f] = codeDocs(f, t)
				}
				d.Table, d.Codes, d.CodeSource = t.Name, codes[f], codeSource(t)
			case f.Type == mappings.IntervalText:
				d.CodeSource = "received (the reply writes the interval)"
			}
		}
		docs = append(docs, d)
	}
	return docs
}

// codeDocs lists the codes of field f's table.
func codeDocs(f *mappings.Field, t *mappings.Table) []CodeDoc {
	out := make([]CodeDoc, len(t.Entries))
	for i, e := range t.Entries {
		c := CodeDoc{Code: e.Code, Source: string(e.Source), Note: e.Note}
		if t.Kind == mappings.EnumTable {
			c.Value = e.Text
		} else {
			c.Range, c.iv = e.Text, e.Interval
			if low, high, hasLow, hasHigh, ok := f.Bounds(e.Interval); ok {
				if hasLow {
					c.Low = &low
				}
				if hasHigh {
					c.High = &high
				}
			}
		}
		out[i] = c
	}
	return out
}

// codeSource sums up where a table's entries come from: its name and the
// number of entries of each source, "jrzq9e2a_count: seed 1, sample 5",
// and the file when it is the user's.
func codeSource(t *mappings.Table) string {
	var parts []string
	for _, s := range []mappings.Source{mappings.SourceSeed, mappings.SourceSample, mappings.SourceUser} {
		if n := t.Count(s); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	out := t.Name + ": " + strings.Join(parts, ", ")
	if t.User {
		out += " (" + t.File + ")"
	}
	return out
}

// Catalog describes the output columns of the given products (all products
// of the mappings when none is given): the leading columns, then each
// product's. The mappings directory may be empty.
func Catalog(mappingsDir string, products []string) ([]ColumnDoc, error) {
	set, err := mappings.Load(mappingsDir)
	if err != nil {
		return nil, err
	}
	if len(products) == 0 {
		for code := range set.Catalogs {
			products = append(products, code)
		}
	}
	var docs []ColumnDoc
	for _, c := range leading(true) {
		docs = append(docs, ColumnDoc{Column: c.Name, Type: c.Type.String(), DescriptionZH: c.DescriptionZH, DescriptionEN: c.DescriptionEN})
	}
	slices.Sort(products)
	for _, code := range products {
		c, err := set.Catalog(code)
		if err != nil {
			return nil, &config.ConfigError{Field: "products", Msg: err.Error()}
		}
		docs = append(docs, productDocs(transform.NewProduct(c))...)
	}
	return docs, nil
}
