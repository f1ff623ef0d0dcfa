package mappings

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

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
	Sub  string // sub-product code; "" for a flat product
	Path string // dot-separated path in the payload (in the sub-product's data)
	// Also lists other paths the value may be found at, tried in order
	// when Path holds nothing: the vendor's documents place some fields in
	// more than one way.
	Also      []string
	Column    string    // base name of the output columns
	Type      FieldType //
	Table     string    // table name, for interval_code and enum
	Sentinels []string  // raw values that mean "no value"
	Unit      string
	Range     string // documented range, e.g. [350,950]
	ZH, EN    string // descriptions
	// Integer: the field counts whole things (institutions, cases), so an
	// interval's _low and _high are the smallest and largest whole numbers
	// in it: "(0,9)" gives 1 and 8. Otherwise they are its ends as written.
	Integer bool
	// Assumed says what about the field the vendor's documents do not
	// state (the field itself, its format, a sentinel); "" when they state
	// all of it.
	Assumed string
	Line    int // line in the catalog file
	table   *Table
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

// Bounds returns what the _low and _high columns of an interval field hold
// for the interval iv: its ends as written, or for an Integer field the
// smallest and largest whole numbers in it. An unbounded side has no value
// (hasLow or hasHigh false); ok is false when an Integer field's interval
// holds no whole number.
func (f *Field) Bounds(iv Interval) (low, high float64, hasLow, hasHigh, ok bool) {
	if f.Integer {
		if iv, ok = iv.Integers(); !ok {
			return 0, 0, false, false, false
		}
	}
	return iv.Low, iv.High, iv.LowBounded(), iv.HighBounded(), true
}

// Columns returns the output columns of the field, in order.
func (f *Field) Columns() []Column {
	zh, en := f.ZH, f.EN
	switch f.Type {
	case IntervalCode, IntervalText:
		codeZH, codeEN := "(原始代码)", " (code as received)"
		if f.Type == IntervalText {
			codeZH, codeEN = "(原始区间文本)", " (interval as received)"
		}
		lowZH, lowEN := "(下限: 区间下端原值; 开括号时端点本身不含)", " (lower bound: the range's lower end as written; with '(' the end itself is excluded)"
		highZH, highEN := "(上限: 区间上端原值; 开括号时端点本身不含; 无上限为空)", " (upper bound: the range's upper end as written; with ')' the end itself is excluded; null when unbounded)"
		if f.Integer {
			lowZH, lowEN = "(下限: 区间内最小整数, 开区间端点不含)", " (lower bound: the smallest whole number in the range; an open end is excluded)"
			highZH, highEN = "(上限: 区间内最大整数, 开区间端点不含; 无上限为空)", " (upper bound: the largest whole number in the range; an open end is excluded; null when unbounded)"
		}
		return []Column{
			{f.Column + "_code", KindString, zh + codeZH, en + codeEN, false},
			{f.Column + "_low", KindFloat, zh + lowZH, en + lowEN, false},
			{f.Column + "_high", KindFloat, zh + highZH, en + highEN, false},
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

// parseCatalog reads a catalog file. The YAML is walked node by node, so
// that every problem is reported by line and key in words of our own:
// nothing of the file is quoted.
func parseCatalog(file string, data []byte) (*Catalog, error) {
	fail := func(line int, field, format string, args ...any) error {
		return &Error{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if !utf8.Valid(data) {
		return nil, fail(invalidUTF8Line(data), "", "not valid UTF-8 (save the file as UTF-8)")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fail(0, "", "the file is empty")
	}
	if line := secondDocument(data); line > 0 {
		return nil, fail(line, "", "a second YAML document starts here (after ---): a catalog is one document, and a second one would be ignored; put its keys in the first")
	}
	d := &catalogDecoder{file: file}
	c := &Catalog{File: file}
	var (
		fieldNodes []*yaml.Node
		subNodes   *yaml.Node
		root       = doc.Content[0]
	)
	err := d.mapping(root, "", []string{"product", "name_zh", "name_en", "params", "fields", "subproducts"}, func(key string, v *yaml.Node) error {
		var err error
		switch key {
		case "product":
			c.Product, err = d.str(v, key)
		case "name_zh":
			c.NameZH, err = d.str(v, key)
		case "name_en":
			c.NameEN, err = d.str(v, key)
		case "params":
			c.Params, err = d.strs(v, key)
		case "fields":
			fieldNodes, err = d.seq(v, key)
		case "subproducts":
			subNodes = v
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if c.Product == "" {
		return nil, fail(root.Line, "product", "missing")
	}
	if !validProduct(c.Product) {
		return nil, fail(root.Line, "product", "a product code is upper-case letters and digits, as JRZQ9E2A")
	}
	if len(c.Params) == 0 {
		return nil, fail(root.Line, "params", "missing: list the request parameters the product takes")
	}
	if len(fieldNodes) > 0 && subNodes != nil {
		return nil, fail(root.Line, "", "give either fields or subproducts, not both")
	}
	add := func(sub string, n *yaml.Node) error {
		f, err := d.field(n, sub)
		if err != nil {
			return err
		}
		c.Fields = append(c.Fields, f)
		return nil
	}
	for _, n := range fieldNodes {
		if err := add("", n); err != nil {
			return nil, err
		}
	}
	if subNodes != nil {
		subs, err := d.seq(subNodes, "subproducts")
		if err != nil {
			return nil, err
		}
		for _, n := range subs {
			var (
				s      Sub
				fields []*yaml.Node
			)
			err := d.mapping(n, "subproducts", []string{"code", "name_zh", "name_en", "fields"}, func(key string, v *yaml.Node) error {
				var err error
				switch key {
				case "code":
					s.Code, err = d.str(v, key)
				case "name_zh":
					s.NameZH, err = d.str(v, key)
				case "name_en":
					s.NameEN, err = d.str(v, key)
				case "fields":
					fields, err = d.seq(v, key)
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			if s.Code == "" {
				return nil, fail(n.Line, "code", "missing: a subproduct needs its code")
			}
			if !validProduct(s.Code) {
				return nil, fail(n.Line, "code", "a subproduct code is upper-case letters and digits, as FLXG0V4B")
			}
			for _, prev := range c.Subs {
				if prev.Code == s.Code {
					return nil, fail(n.Line, "code", "the same subproduct is already listed")
				}
			}
			c.Subs = append(c.Subs, s)
			for _, fn := range fields {
				if err := add(s.Code, fn); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(c.Fields) == 0 {
		return nil, fail(root.Line, "fields", "the product has no fields")
	}
	return c, nil
}

// fieldKeys are the keys of a field in a catalog.
var fieldKeys = []string{"path", "also", "column", "type", "table", "sentinels", "unit", "range", "zh", "en", "integer", "assumed"}

// field reads one field of a catalog.
func (d *catalogDecoder) field(n *yaml.Node, sub string) (Field, error) {
	f := Field{Sub: sub, Line: n.Line}
	var typ string
	err := d.mapping(n, "fields", fieldKeys, func(key string, v *yaml.Node) error {
		var err error
		switch key {
		case "path":
			f.Path, err = d.str(v, key)
		case "also":
			f.Also, err = d.strs(v, key)
		case "column":
			f.Column, err = d.str(v, key)
		case "type":
			typ, err = d.str(v, key)
		case "table":
			f.Table, err = d.str(v, key)
		case "sentinels":
			f.Sentinels, err = d.strs(v, key)
		case "unit":
			f.Unit, err = d.str(v, key)
		case "range":
			f.Range, err = d.str(v, key)
		case "zh":
			f.ZH, err = d.str(v, key)
		case "en":
			f.EN, err = d.str(v, key)
		case "integer":
			f.Integer, err = d.boolean(v, key)
		case "assumed":
			f.Assumed, err = d.str(v, key)
		}
		return err
	})
	if err != nil {
		return f, err
	}
	f.Type = FieldType(typ)
	fail := func(field, format string, args ...any) (Field, error) {
		return f, &Error{File: d.file, Line: f.Line, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case f.Path == "":
		return fail("path", "missing")
	case slices.Contains(f.Also, "") || slices.Contains(f.Also, f.Path):
		return fail("also", "an empty path, or the field's own path")
	case len(slices.Compact(slices.Sorted(slices.Values(f.Also)))) != len(f.Also):
		return fail("also", "a path given twice")
	case typ == "":
		return fail("type", "missing (one of %s)", typeList())
	case !knownType(f.Type):
		return fail("type", "not a field type (one of %s)", typeList())
	case f.Type.needsTable() && f.Table == "":
		return fail("table", "missing: a field of type %s maps its codes through a table", f.Type)
	case !f.Type.needsTable() && f.Table != "":
		return fail("table", "a field of type %s takes no table", f.Type)
	case f.Integer && f.Type != IntervalCode && f.Type != IntervalText:
		return fail("integer", "only for interval_code and interval_text fields")
	case f.ZH == "":
		return fail("zh", "missing: every field needs a Chinese description")
	}
	if f.Column == "" {
		f.Column = columnName(sub, f.Path)
	}
	if !validName(f.Column) {
		return fail("column", "a column name is lower-case letters, digits and _")
	}
	return f, nil
}

// secondDocument returns the line of a YAML document after the first that
// holds anything (an empty one after a trailing --- is harmless), 0 for
// none. The first document parsed already.
func secondDocument(data []byte) int {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first yaml.Node
	if dec.Decode(&first) != nil {
		return 0
	}
	for {
		var next yaml.Node
		if err := dec.Decode(&next); err != nil {
			return 0 // the end, or a fault Unmarshal did not see in the first document: not this check's
		}
		for _, n := range next.Content {
			if !(n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null") && !(n.Kind == yaml.MappingNode && len(n.Content) == 0) {
				return max(next.Line, n.Line)
			}
		}
	}
}

// catalogDecoder reads the nodes of a catalog file.
type catalogDecoder struct {
	file string
}

func (d *catalogDecoder) fail(n *yaml.Node, field, format string, args ...any) error {
	return &Error{File: d.file, Line: n.Line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// mapping calls visit for each key of mapping node n, in order; a key not
// in keys, or given twice, is an error. what names n in messages.
func (d *catalogDecoder) mapping(n *yaml.Node, what string, keys []string, visit func(key string, v *yaml.Node) error) error {
	if n.Kind == yaml.AliasNode {
		return d.fail(n, what, "YAML aliases (*name) are not supported")
	}
	if n.Kind != yaml.MappingNode {
		if what == "" {
			return d.fail(n, what, "the file must be a mapping of keys (product, params, fields…)")
		}
		return d.fail(n, what, "want a mapping of keys (%s)", strings.Join(keys, ", "))
	}
	if err := d.plain(n, what); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || !slices.Contains(keys, k.Value) {
			return d.fail(k, what, "unknown key (known keys: %s)", strings.Join(keys, ", "))
		}
		if seen[k.Value] {
			return d.fail(k, k.Value, "given twice")
		}
		seen[k.Value] = true
		if err := visit(k.Value, v); err != nil {
			return err
		}
	}
	return nil
}

// plain refuses a node with an explicit tag of its own (!!binary, !x):
// a catalog is plain YAML.
func (d *catalogDecoder) plain(n *yaml.Node, key string) error {
	switch n.Tag {
	case "", "!!str", "!!int", "!!float", "!!bool", "!!null", "!!seq", "!!map":
		return nil
	}
	return d.fail(n, key, "YAML tags (!name) are not supported")
}

// str reads a scalar as text; a null is "".
func (d *catalogDecoder) str(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", d.fail(n, key, "want a single value, not a list or mapping")
	}
	if err := d.plain(n, key); err != nil {
		return "", err
	}
	if n.Tag == "!!null" {
		return "", nil
	}
	return n.Value, nil
}

// strs reads a list of scalars.
func (d *catalogDecoder) strs(n *yaml.Node, key string) ([]string, error) {
	items, err := d.seq(n, key)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, err := d.str(item, key)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// seq reads a list; a null is an empty list.
func (d *catalogDecoder) seq(n *yaml.Node, key string) ([]*yaml.Node, error) {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return nil, nil
	case n.Kind == yaml.AliasNode:
		return nil, d.fail(n, key, "YAML aliases (*name) are not supported")
	case n.Kind != yaml.SequenceNode:
		return nil, d.fail(n, key, "want a list")
	}
	if err := d.plain(n, key); err != nil {
		return nil, err
	}
	return n.Content, nil
}

// boolean reads true or false.
func (d *catalogDecoder) boolean(n *yaml.Node, key string) (bool, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			return true, nil
		case "false", "no", "off":
			return false, nil
		}
	}
	return false, d.fail(n, key, "want true or false")
}

// yamlMessage splits a YAML parser message into its line and problem.
var yamlMessage = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// quotedPunctuation is how the parser's fixed phrases quote what it
// expected: "did not find expected ',' or ']'".
var quotedPunctuation = regexp.MustCompile(`'[,\]\[{}:\-]'`)

// yamlError reports a file the YAML parser refused, by line. The parser's
// words are kept when they are one of its fixed phrases ("did not find
// expected key", "found a tab character that violates indentation"): once
// the punctuation it quotes is set aside, no quote, digit or symbol is
// left. Other messages may quote the file ("unknown anchor 'x'") and are
// left out.
func yamlError(file string, err error) error {
	m := yamlMessage.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: file, Msg: "not valid YAML"}
	}
	line, _ := strconv.Atoi(m[1]) // the parser's line: for some problems, the one before
	msg := "not valid YAML"
	if problem := m[2]; len(problem) <= 80 && fixedPhrase(quotedPunctuation.ReplaceAllString(problem, "")) {
		msg += ": " + problem
	}
	if line > 0 {
		msg += " (at or after this line)"
	}
	return &Error{File: file, Line: line, Msg: msg}
}

// fixedPhrase reports whether s is lower-case words and spaces only.
func fixedPhrase(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r == ' ' || r == '-') {
			return false
		}
	}
	return s != ""
}

// validProduct reports whether s is a product code: upper-case letters and
// digits.
func validProduct(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
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
