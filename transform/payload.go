package transform

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/scorepipe/scorepipe/mappings"
)

// How Fill reads a payload.
//
// The meaning of a payload is the one encoding/json gives it: the first JSON
// value, which must be an object (invalid UTF-8 becomes U+FFFD; strings
// trimmed of white space; numbers kept as written, "1" and "1.0" apart),
// but for keys given twice and values nested too deep, below. Fill reads
// most payloads with fastjson, which does not allocate, and only where the
// two read a payload alike:
//
//   - the payload is one JSON object and nothing else, and valid JSON by
//     encoding/json's rules: fastjson checks the structure; numbers are
//     checked against the JSON grammar (fastjson takes "01", "1.", "NaN",
//     "-inf"…); when the payload has a backslash or a byte below 0x20
//     anywhere, its strings are checked for control characters and invalid
//     escapes (fastjson takes both);
//   - the payload is valid UTF-8 and has no \u escape of a UTF-16 surrogate
//     (fastjson keeps a lone surrogate as its escape, and takes any
//     escape after a high surrogate for the pair);
//   - no value is nested deeper than fastjson.MaxDepth (300 levels, the
//     value itself counted, so a string in 300 objects).
//
// Every other payload goes through encoding/json: its error, when it has
// one, is the message, word for word; otherwise (or when the error is only
// that it nests deeper than encoding/json's 10000 levels) it is read token
// by token and written out again (valid UTF-8, no surrogate escapes, keys
// in their order, a key given twice kept twice), and that is what fastjson
// reads. When the payload nests deeper than fastjson reads, the objects and
// lists nested deeper than Product.keep (the deepest catalog path, a combo
// reply's wrapping, a list's items and one level more) are written as
// null: no catalog field lies there, and walk counts each as an unknown
// field by its path. A payload is then unreadable only when it is not
// valid JSON.
//
// Keys given twice are resolved while walking. A key the catalog reads (a
// field's path, or an object on one) given twice with values that mean the
// same JSON (sameValue) is one value; with values that differ, its path
// node holds conflicted, and the fields at or below it are null and counted
// in Unknowns.Unparsed. A key the catalog does not list is counted once, by
// its last value.
//
// A value that holds a control character (notText) is not text: the
// field is null and counted in Unknowns.Unparsed, whatever its type.

// fillState is what one Fill needs for itself; a Product keeps a pool.
// Nothing in it outlives the Fill but the interned strings, which are
// ordinary Go strings.
type fillState struct {
	parser   fastjson.Parser
	vals     []*fastjson.Value // per path node: the value found there, nil when none
	first    []*pathNode       // per path node: the child its object named first last time
	next     []*pathNode       // per path node: the sibling its object named after it last time
	entries  []unknownEntry    // keys the catalog does not list, of the objects being walked
	path     []byte            // owner and path of the object being walked: JRZQ9E2A.a.b
	num      []byte            // the text of a number
	text     []byte            // a list joined as text
	name     []byte            // an Unknowns.Codes name being built
	msg      []byte            // what the sub-products that failed said
	subs     []subResult       // per sub-product
	combo    comboScratch      // what reading a combo reply needs beside
	strs     map[string]int32  // interned strings: index into interned
	interned []internedString
	stamp    uint64                    // counts the objects whose unknown keys were counted
	ivs      map[string]parsedInterval // mappings.ParseInterval of interned values
	keep     int                       // Product.keep
	conflict int                       // how many catalog keys were given twice, differently, in the data being filled
}

// conflicted is the value of a catalog path whose key an object gives more
// than once, with values that differ: none of them is used.
var conflicted = new(fastjson.Value)

// parsedInterval is what mappings.ParseInterval said of a text.
type parsedInterval struct {
	iv mappings.Interval
	ok bool // an interval, and no error
}

// unknownEntry is a key of the object being walked that the catalog does
// not list.
type unknownEntry struct {
	key   []byte
	v     *fastjson.Value
	child *pathNode // the catalog path the key continues, if any
	name  string    // PRODUCT.path, the name it is counted by
	dup   bool      // the object gives the key again, later
}

// internedString is a string Fill has made before: a cell value or the name
// of an unknown field.
type internedString struct {
	s     string
	stamp uint64 // the object in which the name was last counted as unknown
}

// Bounds on what a fillState remembers: values and names are interned only
// up to maxInterned of them, each at most maxInternLen bytes long.
const (
	maxInterned  = 1 << 13
	maxInternLen = 128
)

var (
	textOne  = []byte("1")
	textZero = []byte("0")
)

// intern returns b as a string, the same one every time when it can, and
// its index in st.interned (-1 when it is not interned).
func (st *fillState) intern(b []byte) (string, int32) {
	if i, ok := st.strs[string(b)]; ok {
		return st.interned[i].s, i
	}
	s := string(b)
	if len(st.interned) >= maxInterned || len(b) > maxInternLen {
		return s, -1
	}
	if st.strs == nil {
		st.strs = map[string]int32{}
	}
	i := int32(len(st.interned))
	st.interned = append(st.interned, internedString{s: s})
	st.strs[s] = i
	return s, i
}

// parse reads the payload as an object (see "How Fill reads a payload").
// The object is valid until st is used again.
func (st *fillState) parse(payload []byte) (*fastjson.Object, error) {
	return st.parseWith(&st.parser, payload)
}

// parseWith is parse with parser: the object is valid until parser is
// used again.
func (st *fillState) parseWith(parser *fastjson.Parser, payload []byte) (*fastjson.Object, error) {
	if o := st.parseFast(parser, payload); o != nil {
		return o, nil
	}
	if _, err := decodeObject(payload); err != nil && !tooDeepForDecoder(err) {
		return nil, err
	}
	cut := 0
	if valueDepth(payload) > fastjson.MaxDepth {
		cut = st.keep
	}
	norm, err := rewrite(payload, cut)
	if err != nil {
		return nil, err
	}
	v, err := parser.ParseBytes(norm)
	if err != nil {
		return nil, err
	}
	return v.GetObject(), nil
}

// tooDeepForDecoder reports whether err is encoding/json's refusal of a
// value nested deeper than it reads (10000 levels).
func tooDeepForDecoder(err error) bool {
	var syntax *json.SyntaxError
	return errors.As(err, &syntax) && strings.Contains(syntax.Error(), "exceeded max depth")
}

// errNotJSON is why a payload too deep for encoding/json cannot be read
// either: it is not valid JSON somewhere.
var errNotJSON = errors.New("not valid JSON")

// valueDepth returns how deep the values of the first JSON value in text b
// nest, as fastjson counts: a value at the top is 1 deep, a value in it 2…
func valueDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case inString:
			inString = c != '"'
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			if depth--; depth <= 0 {
				return deepest
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':':
		default: // a string or a number, true, false, null
			inString = c == '"'
			deepest = max(deepest, depth+1)
		}
	}
	return deepest
}

// rewrite reads the first JSON value of payload, which must be an object,
// by encoding/json's rules and writes it out again as JSON text fastjson
// reads as encoding/json would: valid UTF-8, no surrogate escapes, keys in
// their order, a key given twice given twice. When cut is above 0, an
// object or a list nested more than cut levels deep (the top object is 1
// deep) is written as null. It reads token by token, so as deep as the
// payload goes.
func rewrite(payload []byte, cut int) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	type level struct{ object, first, value bool }
	var (
		out   = make([]byte, 0, len(payload))
		open  []level // the objects and lists being written
		skip  int     // how deep in a value cut out the reader is; 0 outside one
		depth int
	)
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			var syntax *json.SyntaxError
			if errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, errNotJSON
			}
			return nil, err
		}
		d, isDelim := tok.(json.Delim)
		opens := isDelim && (d == '{' || d == '[')
		closes := isDelim && !opens
		if skip > 0 {
			switch {
			case opens:
				skip++
			case closes:
				skip--
			}
			continue
		}
		if len(open) == 0 && !(isDelim && d == '{') {
			return nil, &json.UnmarshalTypeError{Value: "non-object", Type: reflect.TypeFor[map[string]any]()}
		}
		if n := len(open); n > 0 && !closes {
			top := &open[n-1]
			switch {
			case top.object && top.value:
				out = append(out, ':')
				top.value = false
			default:
				if !top.first {
					out = append(out, ',')
				}
				top.first = false
				top.value = top.object // a key: its value comes next
			}
		}
		switch {
		case opens && cut > 0 && depth+1 > cut:
			out = append(out, "null"...)
			skip = 1
		case opens:
			depth++
			open = append(open, level{object: d == '{', first: true})
			out = append(out, byte(d))
		case closes:
			depth--
			open = open[:len(open)-1]
			out = append(out, byte(d))
			if len(open) == 0 {
				return out, nil
			}
		default:
			switch x := tok.(type) {
			case string:
				b, _ := json.Marshal(x)
				out = append(out, b...)
			case json.Number:
				out = append(out, x...)
			case bool:
				out = strconv.AppendBool(out, x)
			default:
				out = append(out, "null"...)
			}
		}
	}
}

// parseFast reads the payload with fastjson when that reads it as
// encoding/json would, and returns nil otherwise.
func (st *fillState) parseFast(parser *fastjson.Parser, payload []byte) *fastjson.Object {
	if !utf8.Valid(payload) || hasSpecialByte(payload) && !stringsReadAlike(payload) {
		return nil
	}
	v, err := parser.ParseBytes(payload)
	if err != nil || v.Type() != fastjson.TypeObject || !st.numbersValid(v) {
		return nil
	}
	return v.GetObject()
}

// hasSpecialByte reports whether b has a backslash or a byte below 0x20
// (a control character, or white space other than the space). Eight bytes at
// a time: x-0x20… & ^x has a high bit set iff a byte of x is below 0x20, and
// the same on x^0x5c… finds a backslash (a zero byte).
func hasSpecialByte(b []byte) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		y := x ^ ('\\' * ones)
		if ((x-0x20*ones)&^x|(y-ones)&^y)&highs != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 || c == '\\' {
			return true
		}
	}
	return false
}

// stringsReadAlike reports whether the strings of JSON text b (keys
// included) are ones encoding/json and fastjson read alike: no control
// characters, valid escapes, no \u escape of a UTF-16 surrogate. What lies
// between the strings is left to the parser. (fastjson.Validate is no help
// here: it misses a control character followed by an escape in a string.)
func stringsReadAlike(b []byte) bool {
	in := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case !in:
			in = c == '"'
		case c == '"':
			in = false
		case c < 0x20:
			return false
		case c == '\\':
			if i+1 >= len(b) {
				return false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+6 > len(b) {
					return false
				}
				for _, h := range b[i+2 : i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h|0x20 && h|0x20 <= 'f') {
						return false
					}
				}
				if c := b[i+3]; b[i+2]|0x20 == 'd' && (c == '8' || c == '9' || c|0x20 >= 'a') {
					return false // a surrogate
				}
				i += 5
			default:
				return false
			}
		}
	}
	return !in
}

// numbersValid reports whether every number in v is written as JSON allows.
func (st *fillState) numbersValid(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeObject:
		ok := true
		v.GetObject().Visit(func(_ []byte, c *fastjson.Value) {
			ok = ok && st.numbersValid(c)
		})
		return ok
	case fastjson.TypeArray:
		for _, c := range v.GetArray() {
			if !st.numbersValid(c) {
				return false
			}
		}
	case fastjson.TypeNumber:
		st.num = v.MarshalTo(st.num[:0])
		return validNumber(st.num)
	}
	return true
}

// validNumber reports whether b is a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte) bool {
	i, n := 0, len(b)
	digits := func() int {
		start := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < n && b[i] == '-' {
		i++
	}
	switch {
	case i < n && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < n && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == n
}

// stringBytes returns the text of a JSON string, nil for anything else.
func stringBytes(v *fastjson.Value) []byte {
	if v == nil || v.Type() != fastjson.TypeString {
		return nil
	}
	b, _ := v.StringBytes()
	return b
}

// fillData writes the fields of one (sub-)product from its data and reports
// whether any field had a value. Keys the catalog does not list are counted.
func (st *fillState) fillData(row RowWriter, base int, p *Product, sp *subPlan, data *fastjson.Object, u *Unknowns) bool {
	clear(st.vals[sp.lo:sp.hi])
	st.conflict = 0
	st.path = append(st.path[:0], sp.owner...)
	st.walk(sp, sp.root, data, true, u)
	found := false
	for _, i := range sp.fields {
		fp := &p.fields[i]
		id := fp.node
		v := st.vals[id]
		for _, also := range fp.also {
			if v != nil && v.Type() != fastjson.TypeNull || st.conflict > 0 && p.conflicted(st.vals, id) {
				break
			}
			id = also
			v = st.vals[id]
		}
		if st.conflict > 0 && p.conflicted(st.vals, id) {
			// The payload gives the field, or an object on its path, more
			// than once, differently: no value is guessed at.
			if fp.f.Type == mappings.ListCount {
				u.add(&u.Unparsed, fp.countName)
			} else {
				u.add(&u.Unparsed, fp.f.Column)
			}
			found = true
			continue
		}
		if st.fillField(row, base+fp.col, fp, v, u) {
			found = true
		}
	}
	return found
}

// conflicted reports whether the path node id, or a node above it, holds
// a key given twice, differently.
func (p *Product) conflicted(vals []*fastjson.Value, id int) bool {
	for ; id >= 0; id = p.parent[id] {
		if vals[id] == conflicted {
			return true
		}
	}
	return false
}

// sameValue reports whether two values of one key mean the same JSON, as
// encoding/json decodes it with UseNumber: strings by their text, numbers
// as written, objects with their keys in any order (a key given twice in
// them by its last value).
func (st *fillState) sameValue(a, b *fastjson.Value) bool {
	t := a.Type()
	if t != b.Type() {
		return false
	}
	switch t {
	case fastjson.TypeString:
		x, _ := a.StringBytes()
		y, _ := b.StringBytes()
		return bytes.Equal(x, y)
	case fastjson.TypeNumber, fastjson.TypeObject, fastjson.TypeArray:
		st.combo.a = a.MarshalTo(st.combo.a[:0])
		st.combo.b = b.MarshalTo(st.combo.b[:0])
		return bytes.Equal(st.combo.a, st.combo.b) || t != fastjson.TypeNumber && sameJSON(st.combo.a, st.combo.b)
	}
	return true // true, false, null
}

// walk goes through object o, found at catalog node n (nil when o is off
// the catalog's paths) and at the path in st.path. It records the values of
// n's children in st.vals and, when count is set, counts what the catalog
// does not list: a key whose path is not a catalog field's is an unknown
// field, unless its value is an object with keys, which is walked in turn.
func (st *fillState) walk(sp *subPlan, n *pathNode, o *fastjson.Object, count bool, u *Unknowns) {
	plen := len(st.path)
	top := plen == len(sp.owner)
	start := len(st.entries)
	var prev *pathNode // the last child found in o
	o.Visit(func(k []byte, v *fastjson.Value) {
		var child *pathNode
		if n != nil {
			if child = st.child(n, prev, k); child != nil {
				if old := st.vals[child.id]; old != nil && (old == conflicted || !st.sameValue(old, v)) {
					v = conflicted
					st.conflict++
				}
				st.vals[child.id] = v
				prev = child
			}
		}
		switch {
		case !count:
			return
		case child != nil:
			if child.known {
				return
			}
		case n != nil && sp.plain && bytes.IndexByte(k, '.') < 0:
			// Not a catalog path: those would be children of n.
		case top:
			if sp.known[string(k)] {
				return
			}
		default:
			st.setPath(plen, top, k)
			if sp.known[string(st.path[len(sp.owner):])] {
				return
			}
		}
		st.entries = append(st.entries, unknownEntry{key: k, v: v, child: child})
	})
	if end := len(st.entries); end > start {
		// First which keys are given twice, backwards so that a key counts
		// once, by its last value; then the counting, which walks nested
		// objects, whose names can be this object's (with empty keys).
		st.stamp++
		stamp := st.stamp
		for i := end - 1; i >= start; i-- {
			e := &st.entries[i]
			st.setPath(plen, top, e.key)
			var idx int32
			e.name, idx = st.intern(st.path)
			if idx >= 0 {
				e.dup = st.interned[idx].stamp == stamp
				st.interned[idx].stamp = stamp
				continue
			}
			for _, later := range st.entries[i+1 : end] {
				if bytes.Equal(later.key, e.key) {
					e.dup = true
					break
				}
			}
		}
		for i := start; i < end; i++ {
			e := st.entries[i] // a copy: walking appends to st.entries
			if e.dup || e.child != nil && st.vals[e.child.id] == conflicted {
				continue // counted by its last value; a catalog key given differently is not read
			}
			if obj := e.v.GetObject(); obj != nil && obj.Len() > 0 {
				if e.child == nil { // else walked below, as a catalog node
					st.setPath(plen, top, e.key)
					st.walk(sp, nil, obj, true, u)
				}
				continue
			}
			if t := e.v.Type(); (t == fastjson.TypeObject || t == fastjson.TypeNull) && sp.inner[e.name[len(sp.owner):]] {
				continue // a catalog object with nothing in it: criminal {}
			}
			u.add(&u.Fields, e.name)
		}
		st.entries = st.entries[:start]
	}
	if n == nil {
		return
	}
	for _, c := range n.inner {
		if obj := st.vals[c.id].GetObject(); obj != nil {
			st.setPathString(plen, top, c.name)
			st.walk(sp, c, obj, count && !c.known, u)
		}
	}
	st.path = st.path[:plen]
}

// child returns n's child named k, nil when there is none; prev is the
// child found before it in the same object, nil for none. A product's
// payloads name their keys in the same order, so the child that came next
// last time is tried before the map: a string comparison instead of a map
// look-up for most keys.
func (st *fillState) child(n, prev *pathNode, k []byte) *pathNode {
	guess := &st.first[n.id]
	if prev != nil {
		guess = &st.next[prev.id] // set only while walking n: prev is n's child
	}
	if g := *guess; g != nil && g.name == string(k) {
		return g
	}
	c := n.children[string(k)]
	if c != nil {
		*guess = c
	}
	return c
}

// setPath makes st.path the path at plen followed by key.
func (st *fillState) setPath(plen int, top bool, key []byte) {
	st.path = st.path[:plen]
	if !top {
		st.path = append(st.path, '.')
	}
	st.path = append(st.path, key...)
}

// setPathString is setPath for a key held as a string.
func (st *fillState) setPathString(plen int, top bool, key string) {
	st.path = st.path[:plen]
	if !top {
		st.path = append(st.path, '.')
	}
	st.path = append(st.path, key...)
}

// fillField writes one field's columns at col from its value v (nil when
// the payload has none) and reports whether it had a value.
func (st *fillState) fillField(row RowWriter, col int, fp *fieldPlan, v *fastjson.Value, u *Unknowns) bool {
	f := fp.f
	t := fastjson.TypeNull
	if v != nil {
		t = v.Type()
	}
	if f.Type == mappings.ListCount {
		switch t {
		case fastjson.TypeNull:
			return false
		case fastjson.TypeArray:
			row.SetInt(col, int64(len(v.GetArray())))
			return true
		}
		u.add(&u.Unparsed, fp.countName)
		return false
	}
	var raw []byte
	switch t {
	case fastjson.TypeNull:
		return false
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		raw = bytes.TrimSpace(b)
	case fastjson.TypeNumber:
		st.num = v.MarshalTo(st.num[:0])
		raw = st.num
	case fastjson.TypeTrue:
		raw = textOne
	case fastjson.TypeFalse:
		raw = textZero
	case fastjson.TypeArray:
		var ok bool
		if f.Type == mappings.Text {
			raw, ok = st.joinList(v)
		}
		if !ok {
			u.add(&u.Unparsed, f.Column)
			return false
		}
	default: // an object
		u.add(&u.Unparsed, f.Column)
		return false
	}
	if len(raw) == 0 {
		return false
	}
	if notText(raw) {
		u.add(&u.Unparsed, f.Column)
		return true
	}
	switch f.Type {
	case mappings.IntervalCode, mappings.IntervalText:
		var b bounds
		if cp, known := fp.codes[string(raw)]; known {
			row.SetString(col, cp.s)
			if cp.sentinel {
				return true
			}
			if !cp.ok {
				st.countCode(u, f, cp.s)
				return true
			}
			b = cp.b
			if cp.sample {
				fp.countPlaceholder(u, b)
			}
		} else {
			s, _ := st.intern(raw) // for interval_text, interned: see parseInterval
			row.SetString(col, s)
			if f.IsSentinel(s) {
				return true
			}
			if f.Type == mappings.IntervalCode {
				// fp.codes holds every code of the table: s is not one.
				st.countCode(u, f, s)
				return true
			}
			iv, ok := st.parseInterval(s)
			if ok {
				b, ok = boundsOf(f, iv)
			}
			if !ok {
				u.add(&u.Unparsed, f.Column)
				return true
			}
		}
		if b.hasLow {
			row.SetFloat(col+1, b.low)
		}
		if b.hasHigh {
			row.SetFloat(col+2, b.high)
		}
	case mappings.Flag:
		switch string(raw) {
		case "1", "1.0", "true":
			row.SetInt(col, 1)
		case "0", "0.0", "false":
			row.SetInt(col, 0)
		default:
			u.add(&u.Unparsed, f.Column)
		}
	case mappings.Enum:
		if cp, known := fp.codes[string(raw)]; known {
			switch {
			case cp.sentinel:
			case cp.ok:
				row.SetInt(col, cp.n)
				if cp.sample {
					u.add(&u.Placeholders, f.Column)
				}
			default:
				st.countCode(u, f, cp.s)
			}
			return true
		}
		// fp.codes holds every code of the table and every sentinel: raw
		// is none of them.
		s, _ := st.intern(raw)
		st.countCode(u, f, s)
	case mappings.Number, mappings.Score:
		x, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			u.add(&u.Unparsed, f.Column)
			return true
		}
		if f.IsSentinel(string(raw)) || fp.isSentinel(x) {
			return true
		}
		row.SetFloat(col, x)
	default:
		s, _ := st.intern(raw)
		row.SetString(col, s)
	}
	return true
}

// notText reports whether UTF-8 text b holds a control character other
// than tab, line feed and carriage return: C0, DEL or C1 (U+0080–U+009F,
// 0xC2 then 0x80–0x9F in UTF-8), which no output takes as text (XML, and
// so xlsx, cannot hold most of them; NUL ends strings in C readers of CSV
// and Parquet). The input files are held to the same rule.
func notText(b []byte) bool {
	for i, c := range b {
		switch {
		case c >= 0x20 && c < 0x7f:
		case c == '\t' || c == '\n' || c == '\r':
		case c < 0x20 || c == 0x7f:
			return true
		case c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f:
			return true
		}
	}
	return false
}

// countPlaceholder counts the _low and _high values an interval field took
// from a placeholder entry.
func (fp *fieldPlan) countPlaceholder(u *Unknowns, b bounds) {
	if b.hasLow {
		u.add(&u.Placeholders, fp.lowName)
	}
	if b.hasHigh {
		u.add(&u.Placeholders, fp.highName)
	}
}

// joinList returns the scalars of list v as text, trimmed, the empty ones
// and nulls left out, joined by "; ": how a text field holds a list (the
// charges of a conviction). ok is false when an item is an object or a list.
// The text is in st.text, valid until the next call.
func (st *fillState) joinList(v *fastjson.Value) (text []byte, ok bool) {
	st.text = st.text[:0]
	for _, item := range v.GetArray() {
		var b []byte
		switch item.Type() {
		case fastjson.TypeNull:
			continue
		case fastjson.TypeString:
			b, _ = item.StringBytes()
			b = bytes.TrimSpace(b)
		case fastjson.TypeNumber:
			st.num = item.MarshalTo(st.num[:0])
			b = st.num
		case fastjson.TypeTrue:
			b = textOne
		case fastjson.TypeFalse:
			b = textZero
		default:
			return nil, false
		}
		if len(b) == 0 {
			continue
		}
		if len(st.text) > 0 {
			st.text = append(st.text, "; "...)
		}
		st.text = append(st.text, b...)
	}
	return st.text, true
}

// parseInterval is mappings.ParseInterval(s) with err == nil && ok, which it
// remembers for the interned strings.
func (st *fillState) parseInterval(s string) (mappings.Interval, bool) {
	if r, ok := st.ivs[s]; ok {
		return r.iv, r.ok
	}
	iv, ok, err := mappings.ParseInterval(s)
	r := parsedInterval{iv, ok && err == nil}
	if _, interned := st.strs[s]; interned {
		if st.ivs == nil {
			st.ivs = map[string]parsedInterval{}
		}
		st.ivs[s] = r
	}
	return r.iv, r.ok
}

// countCode counts a code missing from the field's table, as column=code.
func (st *fillState) countCode(u *Unknowns, f *mappings.Field, code string) {
	st.name = append(append(append(st.name[:0], f.Column...), '='), code...)
	name, _ := st.intern(st.name)
	u.add(&u.Codes, name)
}

// isSentinel reports whether x is one of the field's sentinels that are numbers.
func (fp *fieldPlan) isSentinel(x float64) bool {
	for _, y := range fp.sentinels {
		if x == y {
			return true
		}
	}
	return false
}
