package transform_test

// The reference's reader of payloads, written apart from Fill's: a
// recursive-descent JSON parser that keeps what encoding/json's maps lose,
// keys given twice, and cuts what is nested too deep to read.

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
)

// refConflict is the value of a key an object gives more than once, with
// values that differ (as encoding/json decodes them); last is the last.
type refConflict struct{ last any }

// refUnwrap returns v as encoding/json decodes it: a key given twice by its
// last value, at every depth.
func refUnwrap(v any) any {
	switch x := v.(type) {
	case refConflict:
		return refUnwrap(x.last)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = refUnwrap(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = refUnwrap(e)
		}
		return l
	}
	return v
}

// refLast returns v, or the last value of a key given twice differently.
func refLast(v any) any {
	if c, ok := v.(refConflict); ok {
		return c.last
	}
	return v
}

var errRefNotJSON = errors.New("not valid JSON")

// refParser reads JSON text strictly.
type refParser struct {
	s       string
	i       int
	cut     int // containers nested deeper are null; 0: none
	deepest int // how deep values nest, a top value being 1 deep
}

// refRead reads a payload as Fill should: encoding/json's reading (its
// error, word for word) but for keys given twice, which are one value when
// they agree and a refConflict when not, and for values nested deeper than
// fastjson reads (300): then objects and lists nested deeper than keep are
// null.
func refRead(payload []byte, keep int) (map[string]any, error) {
	if _, err := refDecodeObject(payload); err != nil {
		var syntax *json.SyntaxError
		if !errors.As(err, &syntax) || !strings.Contains(err.Error(), "max depth") {
			return nil, err
		}
	}
	p := &refParser{s: string(payload)}
	v, err := p.document()
	if err != nil {
		return nil, err
	}
	if p.deepest > 300 {
		p = &refParser{s: string(payload), cut: keep}
		if v, err = p.document(); err != nil {
			return nil, err
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &json.UnmarshalTypeError{Value: "non-object", Type: reflect.TypeFor[map[string]any]()}
	}
	return m, nil
}

func (p *refParser) document() (any, error) {
	p.space()
	return p.value(1)
}

func (p *refParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *refParser) value(depth int) (any, error) {
	p.deepest = max(p.deepest, depth)
	if p.i >= len(p.s) {
		return nil, errRefNotJSON
	}
	switch c := p.s[p.i]; {
	case c == '{' || c == '[':
		v, err := p.container(depth)
		if err == nil && p.cut > 0 && depth > p.cut {
			return nil, nil
		}
		return v, err
	case c == '"':
		start := p.i
		p.i++
		for p.i < len(p.s) && p.s[p.i] != '"' {
			if p.s[p.i] == '\\' {
				p.i++
			}
			p.i++
		}
		if p.i >= len(p.s) {
			return nil, errRefNotJSON
		}
		p.i++
		var s string
		if err := json.Unmarshal([]byte(p.s[start:p.i]), &s); err != nil {
			return nil, errRefNotJSON
		}
		return s, nil
	default:
		start := p.i
		for p.i < len(p.s) && strings.IndexByte(" \t\n\r,:]}", p.s[p.i]) < 0 {
			p.i++
		}
		tok := p.s[start:p.i]
		switch tok {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
		if tok == "" || !json.Valid([]byte(tok)) || tok[0] == '"' {
			return nil, errRefNotJSON
		}
		return json.Number(tok), nil
	}
}

func (p *refParser) container(depth int) (any, error) {
	object := p.s[p.i] == '{'
	p.i++
	p.space()
	closer := byte(']')
	if object {
		closer = '}'
	}
	var (
		m    = map[string]any{}
		list = []any{}
	)
	if p.i < len(p.s) && p.s[p.i] == closer {
		p.i++
		if object {
			return m, nil
		}
		return list, nil
	}
	for {
		var key string
		if object {
			if p.i >= len(p.s) || p.s[p.i] != '"' {
				return nil, errRefNotJSON
			}
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			key = k.(string)
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, errRefNotJSON
			}
			p.i++
			p.space()
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if object {
			if old, given := m[key]; given {
				if _, c := old.(refConflict); c || !reflect.DeepEqual(refUnwrap(old), refUnwrap(v)) {
					v = refConflict{last: v}
				}
			}
			m[key] = v
		} else {
			list = append(list, v)
		}
		p.space()
		if p.i >= len(p.s) {
			return nil, errRefNotJSON
		}
		c := p.s[p.i]
		p.i++
		if c == closer {
			break
		}
		if c != ',' {
			return nil, errRefNotJSON
		}
		p.space()
	}
	if object {
		return m, nil
	}
	return list, nil
}
