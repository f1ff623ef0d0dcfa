package config

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A value of the configuration comes from the file or from a --set flag,
// and a mistake in it is told where it was written: the file and its line,
// or the flag as it was given. The document the file parses to is kept,
// with --set values written into it as nodes of their own; a mistake found
// once the config is read (a number out of range) is traced back through
// it by the field it names.

// overrideNodes records, for each node a --set flag put into the document,
// the flag's position in the command line.
type overrideNodes map[*yaml.Node]int

// readDocument parses a config file: one YAML document. An empty trailing
// document (a lone --- at the end) is harmless; a second document holding
// anything is an error naming the line it starts on, since it would be
// ignored.
func readDocument(path string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	doc := &yaml.Node{}
	if err := dec.Decode(doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &yaml.Node{}, nil // an empty file, or only comments
		}
		return nil, &ConfigError{File: path, Msg: plainYAMLError(err.Error())}
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			return doc, nil
		}
		if err != nil {
			return nil, &ConfigError{File: path, Msg: plainYAMLError(err.Error())}
		}
		if !emptyDocument(&next) {
			return nil, &ConfigError{File: path, Line: next.Line,
				Msg: "a second YAML document starts here (after ---): a config file is one document, and the keys of a second one would be ignored; put them in the first"}
		}
	}
}

// emptyDocument reports whether a YAML document holds nothing: no content,
// a null, or an empty mapping.
func emptyDocument(doc *yaml.Node) bool {
	for _, n := range doc.Content {
		switch {
		case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		case n.Kind == yaml.MappingNode && len(n.Content) == 0:
		default:
			return false
		}
	}
	return true
}

// placeError sets where a mistake the checks found after reading lies:
// the --set flag that gave the field its value, else the file and the
// line of the field in it. A mistake in how several fields go together
// (retry.max_delay below retry.base_delay) names the flag that set any of
// them, when one did. A field neither the file nor a flag holds (a
// default) names the file alone.
func placeError(ce *ConfigError, path string, doc *yaml.Node, marks overrideNodes, overrides []string) {
	if ce.File != "" || ce.Flag != "" || strings.HasPrefix(ce.Field, "--") {
		return // placed already
	}
	flag, line := fieldSource(doc, ce.Field, marks)
	for _, f := range ce.related {
		if flag >= 0 {
			break
		}
		flag, _ = fieldSource(doc, f, marks)
	}
	if flag >= 0 {
		ce.Flag, ce.Line = "--set "+overrides[flag], 0
		return
	}
	ce.File, ce.Line = path, line
}

// fieldSource returns the --set flag that gave field its value (its
// position among the overrides), or -1 and the field's line in the file
// (0 when the file does not hold it).
func fieldSource(doc *yaml.Node, field string, marks overrideNodes) (flag, line int) {
	nodes, line, complete := walkField(doc, field)
	flag = -1
	for _, n := range nodes {
		if i, ok := marks[n]; ok {
			flag = i // the deepest wins: a later --set inside an earlier one
		}
	}
	if flag < 0 && complete && len(nodes) > 0 {
		flag = lastMarkUnder(nodes[len(nodes)-1], marks)
	}
	if !complete {
		line = 0
	}
	return flag, line
}

// lastMarkUnder returns the last --set flag that put a node under n, or -1.
func lastMarkUnder(n *yaml.Node, marks overrideNodes) int {
	last := -1
	if i, ok := marks[n]; ok {
		last = i
	}
	for _, c := range n.Content {
		if c.Kind == yaml.AliasNode {
			continue // the anchor it names is visited where it stands
		}
		last = max(last, lastMarkUnder(c, marks))
	}
	return last
}

// walkField follows a field's dotted name (products.JRZQ9E2A.burst,
// vendor.codes.fatal[2]) down the document and returns the nodes it passes,
// each key followed by its value, the line of the last key or item, and
// whether it found the whole field. A
// user's key may itself hold dots (a passthrough column "a.b"): the longest
// key that fits is taken.
func walkField(doc *yaml.Node, field string) (nodes []*yaml.Node, line int, complete bool) {
	if doc == nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || field == "" {
		return nil, 0, false
	}
	n := doc.Content[0]
	rest := field
	for rest != "" {
		n = deref(n)
		switch {
		case strings.HasPrefix(rest, "["):
			end := strings.IndexByte(rest, ']')
			i, err := strconv.Atoi(rest[1:max(end, 1)])
			if end < 0 || err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return nodes, line, false
			}
			n = n.Content[i]
			nodes, line = append(nodes, n), n.Line
			rest = strings.TrimPrefix(rest[end+1:], ".")
		default:
			key, value := lookupKey(n, rest)
			if key == nil {
				return nodes, line, false
			}
			nodes, line = append(nodes, key, value), key.Line
			n = value
			rest = strings.TrimPrefix(rest[len(key.Value):], ".")
		}
	}
	return nodes, line, true
}

// lookupKey finds in mapping n the longest key that starts the dotted
// name rest, looking into merged mappings (<<) after the mapping's own keys.
func lookupKey(n *yaml.Node, rest string) (key, value *yaml.Node) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			merged = append(merged, v)
			continue
		}
		fits := rest == k.Value || strings.HasPrefix(rest, k.Value+".") || strings.HasPrefix(rest, k.Value+"[")
		if fits && (key == nil || len(k.Value) > len(key.Value)) {
			key, value = k, v
		}
	}
	if key != nil {
		return key, value
	}
	for _, m := range merged {
		m = deref(m)
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, s := range sources {
			if k, v := lookupKey(s, rest); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}
