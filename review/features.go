package review

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/scorepipe/scorepipe/mappings"
)

// Feature is one reviewed column: a field of a product's catalog whose
// column is in the run.
type Feature struct {
	Name    string             // the field's column base name: xyp_cpl0001, dwbg8b4d_fraud_score
	Column  string             // the column read: xyp_cpl0001_code, flxg0v4b_sxbzxr_count
	Product string             // JRZQ9E2A
	Sub     string             // sub-product, "" for a flat product
	Type    mappings.FieldType // how the vendor's value became the column
	Status  string             // the column saying whether the vendor answered for this field; "" when the run has none
	ZH, EN  string             // descriptions

	field *mappings.Field
}

// codes reports whether the feature's column holds codes (text) rather
// than numbers.
func (f *Feature) codes() bool {
	switch f.Type {
	case mappings.IntervalCode, mappings.IntervalText, mappings.Text:
		return true
	}
	return false
}

// categorical reports whether every distinct value is a bin of its own
// (codes, flags, enums) rather than numbers cut at deciles.
func (f *Feature) categorical() bool {
	return f.codes() || f.Type == mappings.Flag || f.Type == mappings.Enum
}

// Skipped is a catalog field the review could not use, and why.
type Skipped struct {
	Column string `json:"column"`
	Reason string `json:"reason"`
}

// discoverFeatures lists, in the order of the run's columns, every catalog
// field whose column the run has with the type the catalog gives it.
func discoverFeatures(s *arrow.Schema, set *mappings.Set) ([]*Feature, []Skipped) {
	type source struct {
		catalog *mappings.Catalog
		field   *mappings.Field
	}
	byColumn := map[string]source{}
	for _, c := range set.Catalogs {
		for i := range c.Fields {
			f := &c.Fields[i]
			byColumn[f.Columns()[0].Name] = source{c, f}
		}
	}
	var (
		out     []*Feature
		skipped []Skipped
	)
	for _, fld := range s.Fields() {
		src, ok := byColumn[fld.Name]
		if !ok {
			continue
		}
		f := src.field
		if !typeFits(f.Type, fld.Type) {
			skipped = append(skipped, Skipped{fld.Name, "column type " + fld.Type.String() + " does not fit catalog type " + string(f.Type)})
			continue
		}
		feat := &Feature{Name: f.Column, Column: fld.Name, Product: src.catalog.Product, Sub: f.Sub,
			Type: f.Type, ZH: f.ZH, EN: f.EN, field: f}
		for _, st := range []string{strings.ToLower(f.Sub) + "_status", strings.ToLower(src.catalog.Product) + "_status"} {
			if st != "_status" && s.HasField(st) {
				feat.Status = st
				break
			}
		}
		out = append(out, feat)
	}
	return out, skipped
}

func typeFits(t mappings.FieldType, a arrow.DataType) bool {
	switch t {
	case mappings.IntervalCode, mappings.IntervalText, mappings.Text:
		return a.ID() == arrow.STRING
	}
	return a.ID() == arrow.INT64 || a.ID() == arrow.FLOAT64
}

// statusColumns returns the product and sub-product status columns of the
// run, in schema order.
func statusColumns(s *arrow.Schema, set *mappings.Set) []statusColumn {
	known := map[string]statusColumn{}
	for _, c := range set.Catalogs {
		known[strings.ToLower(c.Product)+"_status"] = statusColumn{Product: c.Product}
		for _, sub := range c.Subs {
			known[strings.ToLower(sub.Code)+"_status"] = statusColumn{Product: c.Product, Sub: sub.Code}
		}
	}
	var out []statusColumn
	for _, f := range s.Fields() {
		if st, ok := known[f.Name]; ok && f.Type.ID() == arrow.STRING {
			st.Column = f.Name
			out = append(out, st)
		}
	}
	return out
}

// statusColumn is a <product>_status or <sub-product>_status column.
type statusColumn struct {
	Column  string
	Product string
	Sub     string
}

// Name is the product, or product/sub-product.
func (s statusColumn) Name() string {
	if s.Sub == "" {
		return s.Product
	}
	return s.Product + "/" + s.Sub
}
