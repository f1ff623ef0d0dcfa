package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// How Fill reads a combo reply (COMBTY11).
//
// A combo payload is {"responses": [{"api_code", "success", "data",
// "message"}, ...]}: one answer per sub-product, each of which succeeds or
// fails on its own. Each answer is read as defensively as the envelope:
//
//   - api_code is text, white space around it ignored. An answer that is not
//     an object is counted in Unknowns.Fields as PRODUCT.responses[]; one
//     whose api_code is missing, empty, not text or not shaped like a
//     product code as PRODUCT.responses[].api_code; one for a sub-product
//     the catalog does not list as PRODUCT.CODE (ZZZZ0000 gives
//     COMBTY11.ZZZZ0000). None of them fails anything by itself.
//   - success is a boolean in one of its usual spellings: true or false,
//     "true" or "false" (also "True", "TRUE"…), 1 or 0, "1" or "0". Anything
//     else fails the sub-product, with a message naming the kind of value
//     received ("success is a string that is not true or false").
//   - data is an object, or a JSON string holding one, as the envelope's
//     data may be; the object is then read exactly as if it had been sent
//     as one. null, no data, an empty object (or a string holding one) is
//     an answer without data: no_record. Anything else fails the
//     sub-product, the message saying what it was ("data is a list, not an
//     object", "data is a string that is not valid JSON"), never quoting it.
//   - a configured sub-product with no answer fails: "CODE: not in the
//     reply".
//   - a sub-product answered more than once: answers that agree (all failed,
//     or all succeeded with data that means the same JSON, as encoding/json
//     decodes it) are one answer. Answers that disagree fail the
//     sub-product, "CODE: answered N times, differently; none used". The
//     documents give each sub-product one answer and give the list's order
//     no meaning, so taking the first or the last answer would be a guess,
//     and a guessed score in a training set is wrong data nobody sees; a
//     failure is seen (<sub>_status, the message, the exit code) and says
//     why.
//
// The messages of the sub-products that failed are joined with "; ", in
// catalog order, in <product>_message.

// subResult is what a combo reply says about one sub-product.
type subResult struct {
	answers  int              // how many answers in responses name it
	answered bool             // it answered success, with data that can be read
	data     *fastjson.Object // nil: with no data
	problem  string           // why its answer could not be read; "" when it could
	vendor   []byte           // its message, when it failed or its success could not be read
	differ   bool             // two of its answers disagree
}

// comboScratch is what reading a combo reply needs beside the fillState's
// own parser.
type comboScratch struct {
	// parsers: one per sub-product, for the object of data sent as a JSON
	// string, valid until the end of the Fill; the last one for an answer
	// only compared with an earlier one.
	parsers []fastjson.Parser
	a, b    []byte // two answers' data written out, to compare
}

// Names under which Unknowns.Fields counts answers that name no sub-product,
// after the product code and a dot.
const (
	unknownAnswer = "responses[]"          // an answer that is not an object
	unknownCode   = "responses[].api_code" // missing, empty, not text, not a product code
)

// subData reads the answers of a combo reply into st.subs, by sub-product,
// as "How Fill reads a combo reply" says; it counts the answers that name
// no sub-product of the catalog in u, and the reply's other keys as unknown
// fields. It returns why the reply cannot be read, "" when it can.
func (st *fillState) subData(p *Product, obj *fastjson.Object, u *Unknowns) string {
	if cap(st.subs) < len(p.data) {
		st.subs = make([]subResult, len(p.data))
	}
	st.subs = st.subs[:len(p.data)]
	clear(st.subs)
	if len(st.combo.parsers) < len(p.data)+1 {
		st.combo.parsers = make([]fastjson.Parser, len(p.data)+1)
	}
	rp := &p.root
	clear(st.vals[rp.lo:rp.hi])
	st.conflict = 0
	st.path = append(st.path[:0], rp.owner...)
	st.walk(rp, rp.root, obj, true, u)
	list := st.vals[rp.root.children["responses"].id]
	switch {
	case list == conflicted:
		return "reply gives responses more than once, differently; none used"
	case list == nil || list.Type() != fastjson.TypeArray:
		return "reply has no responses list"
	}
	for _, item := range list.GetArray() {
		o, err := item.Object()
		if err != nil {
			st.countAnswer(p, u, []byte(unknownAnswer))
			continue
		}
		var code, success, message, data *fastjson.Value
		o.Visit(func(k []byte, v *fastjson.Value) {
			switch string(k) { // a key given twice: the last one, as encoding/json reads it
			case "api_code":
				code = v
			case "success":
				success = v
			case "message":
				message = v
			case "data":
				data = v
			}
		})
		i, ok := st.subIndex(p, code, u)
		if !ok {
			continue
		}
		s := &st.subs[i]
		s.answers++
		switch {
		case s.answers == 1:
			*s = st.readAnswer(&st.combo.parsers[i], success, message, data)
			s.answers = 1
		case !s.differ:
			again := st.readAnswer(&st.combo.parsers[len(p.data)], success, message, data)
			s.differ = !st.sameAnswer(s, &again)
		}
	}
	return ""
}

// subIndex returns the index of the sub-product an answer's api_code names;
// ok is false, and the answer counted in u, when it names none the catalog
// lists.
func (st *fillState) subIndex(p *Product, code *fastjson.Value, u *Unknowns) (i int, ok bool) {
	b := bytes.TrimSpace(stringBytes(code))
	if len(b) > 0 {
		if i, ok := p.subIdx[string(b)]; ok {
			return i, true
		}
	}
	if isProductCode(b) {
		st.countAnswer(p, u, b)
	} else {
		st.countAnswer(p, u, []byte(unknownCode))
	}
	return 0, false
}

// countAnswer counts an answer that names no sub-product of the catalog in
// u.Fields, as PRODUCT.name.
func (st *fillState) countAnswer(p *Product, u *Unknowns, name []byte) {
	st.name = append(append(append(st.name[:0], p.catalog.Product...), '.'), name...)
	s, _ := st.intern(st.name)
	u.add(&u.Fields, s)
}

// isProductCode reports whether b is shaped like a vendor's product code
// (DWBG8B4D): 1 to 32 ASCII letters, digits, '_' or '-', with no run of six
// digits or more (an ID number or a mobile is not counted by name).
func isProductCode(b []byte) bool {
	if len(b) == 0 || len(b) > 32 {
		return false
	}
	digits := 0
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			if digits++; digits >= 6 {
				return false
			}
			continue
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', c == '_', c == '-':
		default:
			return false
		}
		digits = 0
	}
	return true
}

// readAnswer reads one answer of a sub-product; the object of data sent as
// a JSON string is read with parser.
func (st *fillState) readAnswer(parser *fastjson.Parser, success, message, data *fastjson.Value) subResult {
	ok, problem := st.successOf(success)
	switch {
	case problem != "":
		return subResult{problem: problem, vendor: stringBytes(message)}
	case !ok:
		return subResult{vendor: stringBytes(message)}
	}
	t := fastjson.TypeNull
	if data != nil {
		t = data.Type()
	}
	var o *fastjson.Object
	switch t {
	case fastjson.TypeNull:
	case fastjson.TypeObject:
		o = data.GetObject()
	case fastjson.TypeString:
		text, _ := data.StringBytes()
		var err error
		if o, err = st.parseWith(parser, text); err != nil {
			return subResult{problem: dataStringProblem(err)}
		}
	default:
		return subResult{problem: "data is " + kindOf(t) + ", not an object"}
	}
	if o == nil || o.Len() == 0 {
		o = nil
	}
	return subResult{answered: true, data: o}
}

// successOf reads a sub-product's success: ok is its value, problem what
// was wrong when it is no boolean in a usual spelling (see "How Fill reads
// a combo reply").
func (st *fillState) successOf(v *fastjson.Value) (ok bool, problem string) {
	if v == nil {
		return false, "success is missing"
	}
	switch t := v.Type(); t {
	case fastjson.TypeTrue:
		return true, ""
	case fastjson.TypeFalse:
		return false, ""
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		switch string(bytes.TrimSpace(b)) {
		case "true", "True", "TRUE", "1":
			return true, ""
		case "false", "False", "FALSE", "0":
			return false, ""
		}
		return false, "success is a string that is not true or false"
	case fastjson.TypeNumber:
		st.num = v.MarshalTo(st.num[:0])
		switch x, err := strconv.ParseFloat(string(st.num), 64); {
		case err == nil && x == 1:
			return true, ""
		case err == nil && x == 0:
			return false, ""
		}
		return false, "success is a number other than 1 or 0"
	default:
		return false, "success is " + kindOf(t)
	}
}

// kindOf names a kind of JSON value, for messages that must not quote it.
func kindOf(t fastjson.Type) string {
	switch t {
	case fastjson.TypeObject:
		return "an object"
	case fastjson.TypeArray:
		return "a list"
	case fastjson.TypeString:
		return "a string"
	case fastjson.TypeNumber:
		return "a number"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "a boolean"
	}
	return "null"
}

// dataStringProblem says why a sub-product's data sent as a string holds no
// object that can be read, without quoting it.
func dataStringProblem(err error) string {
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return "data is an empty string"
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errNotJSON):
		return "data is a string that is not valid JSON"
	case strings.Contains(err.Error(), "too big depth"):
		return fmt.Sprintf("data is a string holding a value nested deeper than %d levels", fastjson.MaxDepth)
	}
	return "data is a string that does not hold a JSON object"
}

// sameAnswer reports whether two answers of one sub-product agree: both
// failed, or both succeeded with data that means the same JSON.
func (st *fillState) sameAnswer(a, b *subResult) bool {
	switch {
	case a.answered != b.answered:
		return false
	case !a.answered:
		return true
	case a.data == nil || b.data == nil:
		return a.data == nil && b.data == nil
	}
	st.combo.a = a.data.MarshalTo(st.combo.a[:0])
	st.combo.b = b.data.MarshalTo(st.combo.b[:0])
	return bytes.Equal(st.combo.a, st.combo.b) || sameJSON(st.combo.a, st.combo.b)
}

// sameJSON reports whether two JSON texts decode, as encoding/json decodes
// them with UseNumber, to the same value: keys in any order, a key given
// twice by its last value, numbers as written.
func sameJSON(a, b []byte) bool {
	decode := func(text []byte) (any, error) {
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var v any
		err := dec.Decode(&v)
		return v, err
	}
	va, errA := decode(a)
	vb, errB := decode(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

// appendSubProblem appends to st.msg why sub-product code failed.
func (st *fillState) appendSubProblem(code string, d *subResult) {
	if len(st.msg) > 0 {
		st.msg = append(st.msg, "; "...)
	}
	st.msg = append(append(st.msg, code...), ": "...)
	switch {
	case d.answers == 0:
		st.msg = append(st.msg, "not in the reply"...)
	case d.differ:
		st.msg = append(st.msg, "answered "...)
		st.msg = strconv.AppendInt(st.msg, int64(d.answers), 10)
		st.msg = append(st.msg, " times, differently; none used"...)
	case d.problem != "":
		st.msg = append(st.msg, d.problem...)
		if len(d.vendor) > 0 {
			st.msg = append(st.msg, " (message: "...)
			st.msg = appendVendorMessage(st.msg, d.vendor)
			st.msg = append(st.msg, ')')
		}
	case len(d.vendor) > 0:
		st.msg = appendVendorMessage(st.msg, d.vendor)
	default:
		st.msg = append(st.msg, "success false"...)
	}
}
