package sinks

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// WriteJSONAtomic writes v as indented JSON, ending in a newline, to path
// through an AtomicFile. HTML characters are not escaped.
func WriteJSONAtomic(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return WriteFileAtomic(path, buf.Bytes())
}
