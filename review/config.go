package review

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Config is the review: section of a job's configuration.
type Config struct {
	// Baseline is the output directory of an earlier run: run writes the
	// review against it with its outputs.
	Baseline string `yaml:"baseline" json:"baseline"`
	// Label names the 0/1 label column; "" means "label" when the run has it.
	Label string `yaml:"label" json:"label"`
	// Rules is a file of change rules replacing the built-in ones; "" keeps them.
	Rules  string `yaml:"rules" json:"rules"`
	Alerts Alerts `yaml:"alerts" json:"alerts"`
}

// Alerts are thresholds whose crossing makes the review fail (exit 2).
type Alerts struct {
	// PSI alerts when a feature's PSI is above it; 0 means no alert.
	PSI float64 `yaml:"psi" json:"psi"`
	// Changes alerts when more applicants than the number given fall under
	// the rule named; a rule not listed never alerts.
	Changes map[string]int64 `yaml:"changes" json:"changes"`
}

// FieldError is a mistake in the review: section, naming the field.
type FieldError struct {
	Field string // e.g. review.alerts.psi
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks the thresholds.
func (a Alerts) Validate(prefix string) error {
	if a.PSI < 0 || math.IsNaN(a.PSI) || math.IsInf(a.PSI, 0) {
		return &FieldError{prefix + "psi", "must be ≥ 0 (0: no alert), e.g. 0.25"}
	}
	for _, name := range sortedKeys(a.Changes) {
		if !validName(name) {
			return &FieldError{prefix + "changes." + name, "a rule name is made of a-z, 0-9 and _"}
		}
		if a.Changes[name] < 0 {
			return &FieldError{prefix + "changes." + name, "must be ≥ 0 (alert when more applicants than this)"}
		}
	}
	return nil
}

// CheckRules reports an alert on a rule that rules does not have.
func (a Alerts) CheckRules(prefix string, rules *Rules) error {
	known := map[string]bool{}
	var names []string
	for _, r := range rules.Rules {
		known[r.Name] = true
		names = append(names, r.Name)
	}
	for _, name := range sortedKeys(a.Changes) {
		if !known[name] {
			return &FieldError{prefix + "changes." + name, fmt.Sprintf("no such rule in %s (rules: %s)", rules.File, strings.Join(names, ", "))}
		}
	}
	return nil
}

// Validate checks the section.
func (c Config) Validate() error { return c.Alerts.Validate("review.alerts.") }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Alert is a threshold crossed.
type Alert struct {
	Kind      string  `json:"kind"`    // psi or changes
	Subject   string  `json:"subject"` // the feature or the rule
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Message   string  `json:"message"`
}

// AlertError is returned, with the report, when alerts fired: the review
// was written, and the caller exits 2.
type AlertError struct {
	Alerts []Alert
}

func (e *AlertError) Error() string {
	lines := make([]string, len(e.Alerts))
	for i, a := range e.Alerts {
		lines[i] = a.Message
	}
	return fmt.Sprintf("%d review alert(s): %s", len(e.Alerts), strings.Join(lines, "; "))
}
