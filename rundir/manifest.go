package rundir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
)

// Manifest is what a reader of runs needs of manifest.json. Fields a run
// does not write stay zero; every other field of the file is kept in Raw,
// so that Facts can show what later versions add.
type Manifest struct {
	Tool       string                     `json:"tool"`
	Version    string                     `json:"version"`
	RunID      string                     `json:"run_id"`
	StartedAt  string                     `json:"started_at"`
	FinishedAt string                     `json:"finished_at"`
	Rows       RowCounts                  `json:"rows"`
	Products   map[string]json.RawMessage `json:"products"`

	Raw map[string]any `json:"-"` // the whole file
}

// RowCounts are the manifest's counts over all input files.
type RowCounts struct {
	Read     int64 `json:"read"`
	Valid    int64 `json:"valid"`
	Rejected int64 `json:"rejected"`
	Written  int64 `json:"written"`
}

// ReadManifest reads a manifest.json file.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseManifest(data)
}

// ParseManifest decodes the bytes of a manifest.json.
func ParseManifest(data []byte) (*Manifest, error) {
	m := &Manifest{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("not a manifest: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m.Raw); err != nil {
		return nil, fmt.Errorf("not a manifest: %w", err)
	}
	return m, nil
}

// Fact is one scalar of the manifest, named by its dotted path
// (rows.read, products.JRZQ9E2A.billed).
type Fact struct {
	Path  string
	Value any // json.Number, string or bool
}

// factsSkipped are the parts of a manifest that are not facts of a run's
// outcome: lists, file hashes, the configuration, free-text counts, and
// the review written with the run.
var factsSkipped = map[string]bool{
	"mappings": true, "inputs": true, "outputs": true, "unknowns": true, "reject_reasons": true,
	"config": true, "effective_config": true, "command": true, "command_line": true, "args": true,
	"config_sha256": true, "build": true, "review": true, "placeholder_values": true,
}

// Facts flattens the manifest's scalars, in a stable order: the top-level
// ones first, then those of each object in key order. Lists and the parts
// named in factsSkipped are left out.
func (m *Manifest) Facts() []Fact {
	var out []Fact
	var walk func(prefix string, v map[string]any, depth int)
	walk = func(prefix string, v map[string]any, depth int) {
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var nested []string
		for _, k := range keys {
			if depth == 0 && factsSkipped[k] {
				continue
			}
			switch x := v[k].(type) {
			case json.Number, string, bool:
				out = append(out, Fact{Path: prefix + k, Value: x})
			case map[string]any:
				nested = append(nested, k)
			}
		}
		if depth >= 4 {
			return
		}
		for _, k := range nested {
			walk(prefix+k+".", v[k].(map[string]any), depth+1)
		}
	}
	if m != nil && m.Raw != nil {
		walk("", m.Raw, 0)
	}
	return out
}

// Number returns the numeric fact at a dotted path.
func (m *Manifest) Number(path string) (float64, bool) {
	for _, f := range m.Facts() {
		if f.Path != path {
			continue
		}
		if n, ok := f.Value.(json.Number); ok {
			v, err := strconv.ParseFloat(n.String(), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// KeyCheck returns the check of the identity secret the run's applicant
// keys were made with (an HMAC of a fixed text, not the secret): the
// manifest's key_check, else a collected dataset's shards.key_check, else
// a shard's shard.key_check. "" when the manifest records none (runs of
// earlier versions).
func (m *Manifest) KeyCheck() string {
	if m == nil || m.Raw == nil {
		return ""
	}
	if s, ok := m.Raw["key_check"].(string); ok && s != "" {
		return s
	}
	for _, section := range []string{"shards", "shard"} {
		if sec, ok := m.Raw[section].(map[string]any); ok {
			if s, ok := sec["key_check"].(string); ok && s != "" {
				return s
			}
		}
	}
	return ""
}
