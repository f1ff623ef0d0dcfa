package sinks

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by Write, Add and Commit after a sink has been
// committed or aborted.
var ErrClosed = errors.New("sink already committed or aborted")

// checkSchema reports a schema that no sink can write: one without columns,
// with an unnamed or repeated column, or with an unknown type.
func checkSchema(s Schema) error {
	if len(s) == 0 {
		return errors.New("schema has no columns")
	}
	seen := make(map[string]int, len(s))
	for i, c := range s {
		if c.Name == "" {
			return fmt.Errorf("schema column %d has no name", i+1)
		}
		if j, ok := seen[c.Name]; ok {
			return fmt.Errorf("schema columns %d and %d are both named %q", j+1, i+1, c.Name)
		}
		seen[c.Name] = i
		switch c.Type {
		case String, Int64, Float64, Timestamp, Date:
		default:
			return fmt.Errorf("schema column %q has unknown type %v", c.Name, c.Type)
		}
	}
	return nil
}

// checkRow reports a row that does not have one cell per column.
func checkRow(s Schema, r Row) error {
	if len(r) != len(s) {
		return fmt.Errorf("row has %d cells, schema has %d columns", len(r), len(s))
	}
	return nil
}
