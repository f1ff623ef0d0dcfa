package mappings

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// FieldType says how a payload value becomes output columns.
type FieldType string

// Field types.
const (
	IntervalCode FieldType = "interval_code" // a code expanded through an interval table: _code, _low, _high
	IntervalText FieldType = "interval_text" // an interval written out, "(0,1000)": _code, _low, _high
	Flag         FieldType = "flag"          // "1"/"0" or 1/0 → integer 1/0
	Enum         FieldType = "enum"          // a code or label through an enum table → integer
	Number       FieldType = "number"        // a number → float
	Score        FieldType = "score"         // a number whose sentinel values mean "no score" → float or null
	Text         FieldType = "text"          // kept as text
	ListCount    FieldType = "list_count"    // a list → its length, _count
)

var fieldTypes = []FieldType{IntervalCode, IntervalText, Flag, Enum, Number, Score, Text, ListCount}

func (t FieldType) needsTable() bool { return t == IntervalCode || t == Enum }

func (t FieldType) tableKind() TableKind {
	if t == Enum {
		return EnumTable
	}
	return IntervalTable
}

// ColumnKind is the type of an output column.
type ColumnKind int

// Column kinds.
const (
	KindString ColumnKind = iota
	KindInt
	KindFloat
	KindTime
)

func (k ColumnKind) String() string {
	return [...]string{"string", "int64", "float64", "timestamp"}[k]
}

// Column is one output column a field produces.
type Column struct {
	Name          string
	Kind          ColumnKind
	DescriptionZH string
	DescriptionEN string
	Distinct      bool // most values differ from row to row (an id)
}

// Catalog lists the fields of one product's reply.
type Catalog struct {
	Product string
	NameZH  string
	NameEN  string
	Params  []string // request parameters the product takes
	Subs    []Sub    // sub-products of a combo product, in catalog order; empty for a flat product
	Fields  []Field  // every field, in output order
	File    string
}

// StatusColumns returns the columns that say how the product's call went:
// <product>_status, _code, _message, _transaction_id, _queried_at, then
// <sub-product>_status for each sub-product. The fields' columns follow them.
func (c *Catalog) StatusColumns() []Column {
	prefix := strings.ToLower(c.Product)
	cols := []Column{
		{prefix + "_status", KindString, c.NameZH + " 查询状态(ok, no_record, failed, skipped)", c.NameEN + " status (ok, no_record, failed, skipped)", false},
		{prefix + "_code", KindInt, c.NameZH + " 返回码", c.NameEN + " vendor reply code", false},
		{prefix + "_message", KindString, c.NameZH + " 失败或跳过原因", c.NameEN + " why the call failed or was skipped", false},
		{prefix + "_transaction_id", KindString, c.NameZH + " 业务流水号", c.NameEN + " vendor transaction id", true},
		{prefix + "_queried_at", KindTime, c.NameZH + " 查询时间(UTC)", c.NameEN + " when the vendor answered (UTC)", false},
	}
	for _, s := range c.Subs {
		cols = append(cols, Column{strings.ToLower(s.Code) + "_status", KindString,
			s.NameZH + " 子产品状态(ok, no_record, failed)", s.NameEN + " sub-product status (ok, no_record, failed)", false})
	}
	return cols
}

// Sub is a sub-product of a combo product, answered inside its reply.
type Sub struct {
	Code   string
	NameZH string
	NameEN string
}

// Field is one value of a product's reply and how it becomes columns.
type Field struct {
	Sub       string    // sub-product code; "" for a flat product
	Path      string    // dot-separated path in the payload (in the sub-product's data)
	Column    string    // base name of the output columns
	Type      FieldType //
	Table     string    // table name, for interval_code and enum
	Sentinels []string  // raw values that mean "no value"
	Unit      string
	Range     string // documented range, e.g. [350,950]
	ZH, EN    string // descriptions
	Line      int    // line in the catalog file
	table     *Table
}

// Lookup returns the table of an interval_code or enum field.
func (f *Field) Lookup() *Table { return f.table }

// IsSentinel reports whether a raw value means "no value" for this field.
func (f *Field) IsSentinel(raw string) bool {
	for _, s := range f.Sentinels {
		if s == raw {
			return true
		}
	}
	return false
}

// Columns returns the output columns of the field, in order.
func (f *Field) Columns() []Column {
	zh, en := f.ZH, f.EN
	switch f.Type {
	case IntervalCode, IntervalText:
		return []Column{
			{f.Column + "_code", KindString, zh + "(原始代码)", en + " (code as received)", false},
			{f.Column + "_low", KindFloat, zh + "(下限)", en + " (lower bound)", false},
			{f.Column + "_high", KindFloat, zh + "(上限)", en + " (upper bound)", false},
		}
	case Flag, Enum:
		return []Column{{f.Column, KindInt, zh, en, false}}
	case Number, Score:
		return []Column{{f.Column, KindFloat, zh, en, false}}
	case ListCount:
		return []Column{{f.Column + "_count", KindInt, zh + "(条数)", en + " (count)", false}}
	default:
		return []Column{{f.Column, KindString, zh, en, false}}
	}
}

// catalogFile is the YAML form of a catalog.
type catalogFile struct {
	Product     string      `yaml:"product"`
	NameZH      string      `yaml:"name_zh"`
	NameEN      string      `yaml:"name_en"`
	Params      []string    `yaml:"params"`
	Fields      []fieldFile `yaml:"fields"`
	Subproducts []subFile   `yaml:"subproducts"`
}

type subFile struct {
	Code   string      `yaml:"code"`
	NameZH string      `yaml:"name_zh"`
	NameEN string      `yaml:"name_en"`
	Fields []fieldFile `yaml:"fields"`
	line   int
}

type fieldFile struct {
	Path      string   `yaml:"path"`
	Column    string   `yaml:"column"`
	Type      string   `yaml:"type"`
	Table     string   `yaml:"table"`
	Sentinels []string `yaml:"sentinels"`
	Unit      string   `yaml:"unit"`
	Range     string   `yaml:"range"`
	ZH        string   `yaml:"zh"`
	EN        string   `yaml:"en"`
	line      int
}

func (c *catalogFile) UnmarshalYAML(n *yaml.Node) error {
	type plain catalogFile // without this method, so that Decode does not recurse
	if err := checkKeys(n, reflect.TypeFor[plain]()); err != nil {
		return err
	}
	return n.Decode((*plain)(c))
}

func (s *subFile) UnmarshalYAML(n *yaml.Node) error {
	type plain subFile
	if err := checkKeys(n, reflect.TypeFor[plain]()); err != nil {
		return err
	}
	err := n.Decode((*plain)(s))
	s.line = n.Line
	return err
}

func (f *fieldFile) UnmarshalYAML(n *yaml.Node) error {
	type plain fieldFile
	if err := checkKeys(n, reflect.TypeFor[plain]()); err != nil {
		return err
	}
	err := n.Decode((*plain)(f))
	f.line = n.Line
	return err
}

// lineError is a problem checkKeys found, with the line it is on.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// checkKeys refuses mapping keys that the struct type does not name, so that
// a typo in a catalog is an error with its line rather than a silent default.
func checkKeys(n *yaml.Node, rt reflect.Type) error {
	if n.Kind != yaml.MappingNode {
		return &lineError{n.Line, "expected a mapping"}
	}
	known := map[string]bool{}
	for i := 0; i < rt.NumField(); i++ {
		if tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ","); tag != "" {
			known[tag] = true
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !known[k.Value] {
			return &lineError{k.Line, fmt.Sprintf("unknown key %q", k.Value)}
		}
	}
	return nil
}

func parseCatalog(file string, data []byte) (*Catalog, error) {
	fail := func(line int, format string, args ...any) error {
		return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	var cf catalogFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cf); err != nil {
		if le := (*lineError)(nil); errors.As(err, &le) {
			return nil, fail(le.line, "%s", le.msg)
		}
		return nil, fail(0, "%v", err)
	}
	if cf.Product == "" {
		return nil, fail(0, "missing product")
	}
	c := &Catalog{Product: cf.Product, NameZH: cf.NameZH, NameEN: cf.NameEN, Params: cf.Params, File: file}
	if len(cf.Params) == 0 {
		return nil, fail(0, "product %s: missing params (the request parameters it takes)", cf.Product)
	}
	if len(cf.Fields) > 0 && len(cf.Subproducts) > 0 {
		return nil, fail(0, "product %s: give either fields or subproducts, not both", cf.Product)
	}
	add := func(sub string, ff fieldFile) error {
		f := Field{Sub: sub, Path: ff.Path, Column: ff.Column, Type: FieldType(ff.Type), Table: ff.Table,
			Sentinels: ff.Sentinels, Unit: ff.Unit, Range: ff.Range, ZH: ff.ZH, EN: ff.EN, Line: ff.line}
		if f.Path == "" {
			return fail(f.Line, "field without path")
		}
		if !knownType(f.Type) {
			return fail(f.Line, "field %s: unknown type %q (one of %s)", f.Path, ff.Type, typeList())
		}
		if f.Type.needsTable() && f.Table == "" {
			return fail(f.Line, "field %s: type %s needs a table", f.Path, f.Type)
		}
		if !f.Type.needsTable() && f.Table != "" {
			return fail(f.Line, "field %s: type %s takes no table", f.Path, f.Type)
		}
		if f.ZH == "" {
			return fail(f.Line, "field %s: missing zh description", f.Path)
		}
		if f.Column == "" {
			f.Column = columnName(sub, f.Path)
		}
		if !validName(f.Column) {
			return fail(f.Line, "field %s: column %q: use lower-case letters, digits and _", f.Path, f.Column)
		}
		c.Fields = append(c.Fields, f)
		return nil
	}
	for _, ff := range cf.Fields {
		if err := add("", ff); err != nil {
			return nil, err
		}
	}
	for _, sf := range cf.Subproducts {
		if sf.Code == "" {
			return nil, fail(sf.line, "subproduct without code")
		}
		c.Subs = append(c.Subs, Sub{Code: sf.Code, NameZH: sf.NameZH, NameEN: sf.NameEN})
		for _, ff := range sf.Fields {
			if err := add(sf.Code, ff); err != nil {
				return nil, err
			}
		}
	}
	if len(c.Fields) == 0 {
		return nil, fail(0, "product %s has no fields", cf.Product)
	}
	return c, nil
}

// columnName derives a column name: a flat product keeps the vendor's
// names; a sub-product's field is <sub-product code>_<path in snake_case>.
func columnName(sub, path string) string {
	if sub == "" {
		return snake(path)
	}
	return strings.ToLower(sub) + "_" + snake(path)
}

// snake turns "overdueRiskProduct.currentOverdueAmount" into
// "overdue_risk_product_current_overdue_amount".
func snake(path string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range path {
		switch {
		case r == '.' || r == '-' || r == ' ' || r == '_':
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			prevLower = false
		case unicode.IsUpper(r):
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			prevLower = false
		default:
			b.WriteRune(r)
			prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
		}
	}
	return strings.Trim(b.String(), "_")
}

func knownType(t FieldType) bool {
	for _, k := range fieldTypes {
		if k == t {
			return true
		}
	}
	return false
}

func typeList() string {
	s := make([]string, len(fieldTypes))
	for i, t := range fieldTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}
