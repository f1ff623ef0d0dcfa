package config

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The YAML decoder's own errors name Go types ("cannot unmarshal !!str
// into float64", "field x not found in type config.ProductConfig"). A
// config is checked against the fields of Config before it is decoded, and
// every mistake is told in words: the field, the kind of value it takes,
// the value found, and for a misspelt key the key that was probably meant.

var durationType = reflect.TypeFor[time.Duration]()

// checkDocument checks every key and value of a YAML document against
// Config. The error names the line, the field and what it takes.
func checkDocument(doc *yaml.Node) error {
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	return checkNode(root, reflect.TypeFor[Config](), "")
}

// checkNode checks n against t; path is the field's dotted name.
func checkNode(n *yaml.Node, t reflect.Type, path string) error {
	c := nodeChecker{}
	return c.check(n, t, path)
}

// nodeChecker checks a document's nodes. A node an alias names is checked
// once for each type it is read as, so that aliases of aliases cost no
// more than the nodes they name, and an alias inside the node it names
// (which would be read for ever) is an error.
type nodeChecker map[nodeType]bool // false while being checked, true once checked

type nodeType struct {
	node *yaml.Node
	t    reflect.Type
}

func (c nodeChecker) check(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		alias := n
		n = deref(n)
		done, seen := c[nodeType{n, t}]
		switch {
		case seen && !done:
			return &ConfigError{Line: alias.Line, Field: path, Msg: fmt.Sprintf("the alias *%s is inside the value it names", alias.Value)}
		case done:
			return nil
		}
		c[nodeType{n, t}] = false
		if err := c.check(n, t, path); err != nil {
			return err
		}
		c[nodeType{n, t}] = true
		return nil
	}
	bad := func(format string, args ...any) error {
		return &ConfigError{Line: n.Line, Field: path, Msg: fmt.Sprintf(format, args...)}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		// An empty section is one that sets nothing. An empty value is
		// refused: the decoder would keep the default for some fields and
		// clear others (an empty rate_per_second would mean unlimited).
		if t != durationType && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map) {
			return nil
		}
		return bad("no value: want %s%s", kindWords(t), emptyHint(t))
	}
	switch {
	case t == durationType, t.Kind() != reflect.Struct && t.Kind() != reflect.Map && t.Kind() != reflect.Slice:
		if n.Kind != yaml.ScalarNode {
			return bad("want %s, got %s", kindWords(t), nodeWords(n))
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil || isInt(t) && !isWhole(n) {
			return bad("want %s, got %q", kindWords(t), n.Value)
		}
		return nil
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return bad("want %s, got %s", kindWords(t), nodeWords(n))
		}
		for i, item := range n.Content {
			if err := c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return bad("want %s, got %s", kindWords(t), nodeWords(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if key.Kind != yaml.ScalarNode {
			return &ConfigError{Line: key.Line, Field: path, Msg: fmt.Sprintf("a key must be a name, got %s", nodeWords(key))}
		}
		if key.Value == "<<" && key.ShortTag() == "!!merge" {
			if !mergeable(value) {
				return &ConfigError{Line: key.Line, Field: path, Msg: "<< merges a mapping or a list of mappings, e.g. <<: *common"}
			}
			merged := []*yaml.Node{value}
			if v := deref(value); v.Kind == yaml.SequenceNode {
				merged = v.Content
			}
			for _, m := range merged {
				if err := c.check(m, t, path); err != nil {
					return err
				}
			}
			continue
		}
		next := join(path, key.Value)
		var ft reflect.Type
		if t.Kind() == reflect.Map {
			ft = t.Elem()
		} else {
			f, ok := fieldByKey(t, key.Value)
			if !ok {
				return &ConfigError{Line: key.Line, Field: next, Msg: unknownKey(t, path, key.Value)}
			}
			ft = f
		}
		if err := c.check(value, ft, next); err != nil {
			return err
		}
	}
	return nil
}

// mergeable reports whether n may follow a merge key (<<): a mapping, or
// a list of mappings.
func mergeable(n *yaml.Node) bool {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return true
	case yaml.SequenceNode:
		for _, m := range n.Content {
			if deref(m).Kind != yaml.MappingNode {
				return false
			}
		}
		return true
	}
	return false
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return t != durationType
	}
	return false
}

// isWhole reports whether a scalar is a whole number: the YAML decoder
// would cut 1.5 to 1 without a word.
func isWhole(n *yaml.Node) bool {
	if n.ShortTag() != "!!float" {
		return true
	}
	var f float64
	return n.Decode(&f) == nil && f == math.Trunc(f)
}

// checkOverridePath checks that path names a field of Config and returns
// the field's type.
func checkOverridePath(path string) (reflect.Type, error) {
	t := reflect.TypeFor[Config]()
	done := ""
	for _, part := range strings.Split(path, ".") {
		switch {
		case part == "":
			return nil, fmt.Errorf("empty key in %q", path)
		case t.Kind() == reflect.Map:
			t = t.Elem()
		case t.Kind() == reflect.Struct && t != durationType:
			f, ok := fieldByKey(t, part)
			if !ok {
				return nil, fmt.Errorf("%s", unknownKey(t, done, part))
			}
			t = f
		default:
			return nil, fmt.Errorf("%s takes %s and has no key %s", done, kindWords(t), part)
		}
		done = join(done, part)
	}
	return t, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldByKey finds the field of struct t whose YAML name is key.
func fieldByKey(t reflect.Type, key string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name := yamlName(f); name != "" && name == key {
			return f.Type, true
		}
	}
	return nil, false
}

// yamlName is a struct field's key in YAML, or "" when it has none.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

// unknownKey says that key is not a field of t, with the closest field.
func unknownKey(t reflect.Type, path, key string) string {
	var names []string
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	where := "here"
	if path != "" {
		where = "in " + path
	}
	msg := fmt.Sprintf("unknown key %q %s", key, where)
	if best := closest(key, names); best != "" {
		return msg + fmt.Sprintf(" (did you mean %s?)", best)
	}
	return msg + " (known keys: " + strings.Join(names, ", ") + ")"
}

// closest returns the name nearest to s by edit distance, when it is near
// enough to be a misspelling of it.
func closest(s string, names []string) string {
	best, bestD := "", math.MaxInt
	for _, n := range names {
		d := editDistance(strings.ToLower(s), strings.ToLower(n))
		if d < bestD {
			best, bestD = n, d
		}
	}
	if bestD <= max(2, len([]rune(s))/3) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// kindWords says in words what a value of type t looks like.
func kindWords(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 15s, 200ms or 720h"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a text value"
	case reflect.Slice:
		return "a list of " + plural(t.Elem()) + ", e.g. [a, b]"
	case reflect.Map, reflect.Struct:
		return "a mapping of keys to values"
	}
	return "another kind of value"
}

func plural(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "whole numbers"
	case reflect.String:
		return "text values"
	}
	return "values"
}

// emptyHint says how to write an empty value of type t on purpose.
func emptyHint(t reflect.Type) string {
	switch {
	case t.Kind() == reflect.String:
		return `, or "" for none`
	case t.Kind() == reflect.Slice:
		return ", or [] for none"
	}
	return ""
}

// nodeWords says what a YAML node holds.
func nodeWords(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return fmt.Sprintf("%q", n.Value)
}

// goTypeWords replaces the Go type names a YAML error may still hold by
// words, as a last resort.
var goTypeWords = strings.NewReplacer(
	"time.Duration", "a duration",
	"float64", "a number", "float32", "a number",
	"int64", "a whole number", "int32", "a whole number", "uint64", "a whole number",
	"[]string", "a list", "[]int", "a list",
	"map[string]string", "a mapping", "map[string][]string", "a mapping",
	"bool", "true or false",
	"!!str", "text", "!!int", "a whole number", "!!float", "a number", "!!bool", "true or false",
	"!!seq", "a list", "!!map", "a mapping",
)

var inGoType = regexp.MustCompile(` (in|into) (type )?[\w.]*\.[A-Z]\w*`)

// plainYAMLError rewrites a YAML decoder error for people.
func plainYAMLError(msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = inGoType.ReplaceAllString(msg, "")
	msg = goTypeWords.Replace(msg)
	msg = strings.ReplaceAll(msg, "cannot unmarshal", "cannot read")
	return msg
}

// checkNumbers reports the first float that is not a finite number and the
// first negative duration, anywhere in the config: NaN passes every
// comparison, so a check such as price < 0 lets it through.
func checkNumbers(v reflect.Value, path string) error {
	switch {
	case v.Type() == durationType:
		if v.Int() < 0 {
			return &ConfigError{Field: path, Msg: fmt.Sprintf("must not be negative, got %s", time.Duration(v.Int()))}
		}
	case v.Kind() == reflect.Float32 || v.Kind() == reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return &ConfigError{Field: path, Msg: fmt.Sprintf("must be a finite number, got %v", f)}
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			if err := checkNumbers(v.Field(i), join(path, name)); err != nil {
				return err
			}
		}
	case v.Kind() == reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			if err := checkNumbers(v.MapIndex(k), join(path, fmt.Sprint(k))); err != nil {
				return err
			}
		}
	case v.Kind() == reflect.Slice:
		for i := range v.Len() {
			if err := checkNumbers(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}
