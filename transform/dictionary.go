package transform

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/scorepipe/scorepipe/mappings"
)

// ColumnDoc describes one output column: a row of the data dictionary.
type ColumnDoc struct {
	Column        string `json:"column"`
	Type          string `json:"type"`
	Product       string `json:"product,omitempty"`
	Source        string `json:"source,omitempty"` // the path in the vendor's reply ("P, else Q": Q when P holds nothing), or "input"
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

// Docs describes the columns of the product, for the data dictionary.
func (p *Product) Docs() []ColumnDoc {
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
		d := ColumnDoc{Column: col.Name, Type: col.Kind.String(), Product: c.Product,
			DescriptionZH: col.DescriptionZH, DescriptionEN: col.DescriptionEN}
		if f, ok := fieldOf[col.Name]; ok {
			paths := make([]string, 0, 1+len(f.Also))
			for _, path := range slices.Concat([]string{f.Path}, f.Also) {
				if f.Sub != "" {
					path = f.Sub + "." + path
				}
				paths = append(paths, path)
			}
			d.Source = strings.Join(paths, ", else ")
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
