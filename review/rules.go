package review

import (
	_ "embed"
	"fmt"
	"math"
	"os"
	"strconv"

	"go.yaml.in/yaml/v3"
)

//go:embed rules.yaml
var defaultRules []byte

// Rule says when an applicant found in both runs got riskier.
type Rule struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Columns     []string `json:"columns"`
	When        string   `json:"when"`             // became, up or down
	Values      []string `json:"values,omitempty"` // became
	By          float64  `json:"by,omitempty"`     // up, down
	// MissingAs, when set, is the value of a column missing although the
	// vendor answered.
	MissingAs *float64 `json:"missing_as,omitempty"`
	Line      int      `json:"-"`
}

// Rule kinds.
const (
	WhenBecame = "became"
	WhenUp     = "up"
	WhenDown   = "down"
)

// Rules is a set of change rules and the file it came from.
type Rules struct {
	File  string // "built-in" for the embedded defaults
	Rules []Rule
}

// RulesError is a mistake in a rules file, with its line.
type RulesError struct {
	File string
	Line int
	Msg  string
}

func (e *RulesError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// DefaultRules returns the built-in rules (review/rules.yaml).
func DefaultRules() *Rules {
	r, err := ParseRules("built-in rules", defaultRules)
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return r
}

// DefaultRulesYAML returns the text of the built-in rules, to start a file
// of one's own from.
func DefaultRulesYAML() []byte { return defaultRules }

// LoadRules reads a rules file.
func LoadRules(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &RulesError{File: path, Msg: err.Error()}
	}
	return ParseRules(path, data)
}

// ParseRules reads the YAML of a rules file and checks every rule.
func ParseRules(file string, data []byte) (*Rules, error) {
	fail := func(line int, format string, args ...any) error {
		return &RulesError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fail(0, "%v", err)
	}
	if len(doc.Content) == 0 {
		return nil, fail(0, "empty file: want a list under rules:")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fail(root.Line, "want a mapping with the key rules")
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if k.Value != "rules" {
			return nil, fail(k.Line, "unknown key %q (the file holds rules:)", k.Value)
		}
		list = root.Content[i+1]
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, fail(root.Line, "rules: want a list of rules")
	}
	out := &Rules{File: file}
	names := map[string]int{}
	for _, n := range list.Content {
		r, err := parseRule(n)
		if err != nil {
			return nil, &RulesError{File: file, Line: err.line, Msg: err.msg}
		}
		if prev, dup := names[r.Name]; dup {
			return nil, fail(n.Line, "rule %s is already defined on line %d", r.Name, prev)
		}
		names[r.Name] = n.Line
		out.Rules = append(out.Rules, r)
	}
	return out, nil
}

type ruleError struct {
	line int
	msg  string
}

func parseRule(n *yaml.Node) (Rule, *ruleError) {
	fail := func(line int, format string, args ...any) (Rule, *ruleError) {
		return Rule{}, &ruleError{line, fmt.Sprintf(format, args...)}
	}
	if n.Kind != yaml.MappingNode {
		return fail(n.Line, "a rule is a mapping (name, columns, when, …)")
	}
	r := Rule{Line: n.Line}
	scalar := func(v *yaml.Node, key string) (string, *ruleError) {
		if v.Kind != yaml.ScalarNode {
			return "", &ruleError{v.Line, key + ": want a single value"}
		}
		return v.Value, nil
	}
	list := func(v *yaml.Node, key string) ([]string, *ruleError) {
		if v.Kind == yaml.ScalarNode {
			return []string{v.Value}, nil
		}
		if v.Kind != yaml.SequenceNode {
			return nil, &ruleError{v.Line, key + ": want a list"}
		}
		var out []string
		for _, x := range v.Content {
			if x.Kind != yaml.ScalarNode {
				return nil, &ruleError{x.Line, key + ": want a list of values"}
			}
			out = append(out, x.Value)
		}
		return out, nil
	}
	number := func(v *yaml.Node, key string) (float64, *ruleError) {
		s, err := scalar(v, key)
		if err != nil {
			return 0, err
		}
		f, perr := strconv.ParseFloat(s, 64)
		if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, &ruleError{v.Line, fmt.Sprintf("%s: %q is not a number", key, s)}
		}
		return f, nil
	}
	var hasBy bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err *ruleError
		switch k.Value {
		case "name":
			r.Name, err = scalar(v, "name")
		case "description":
			r.Description, err = scalar(v, "description")
		case "columns":
			r.Columns, err = list(v, "columns")
		case "when":
			r.When, err = scalar(v, "when")
		case "values":
			r.Values, err = list(v, "values")
		case "by":
			r.By, err = number(v, "by")
			hasBy = true
		case "missing_as":
			var f float64
			f, err = number(v, "missing_as")
			r.MissingAs = &f
		default:
			return fail(k.Line, "unknown key %q (name, description, columns, when, values, by, missing_as)", k.Value)
		}
		if err != nil {
			return Rule{}, err
		}
	}
	switch {
	case r.Name == "":
		return fail(n.Line, "rule without name")
	case !validName(r.Name):
		return fail(n.Line, "rule %s: a name is made of a-z, 0-9 and _", r.Name)
	case len(r.Columns) == 0:
		return fail(n.Line, "rule %s: no columns", r.Name)
	}
	switch r.When {
	case WhenBecame:
		if len(r.Values) == 0 {
			return fail(n.Line, "rule %s: when: became needs values (the bad state, e.g. [1])", r.Name)
		}
		if hasBy {
			return fail(n.Line, "rule %s: by is for when: up or down", r.Name)
		}
	case WhenUp, WhenDown:
		if !hasBy || r.By <= 0 {
			return fail(n.Line, "rule %s: when: %s needs by, a positive number (the least change that counts)", r.Name, r.When)
		}
		if len(r.Values) > 0 {
			return fail(n.Line, "rule %s: values are for when: became", r.Name)
		}
	case "":
		return fail(n.Line, "rule %s: missing when (became, up or down)", r.Name)
	default:
		return fail(n.Line, "rule %s: when: %q is not one of became, up, down", r.Name, r.When)
	}
	return r, nil
}

func validName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}
