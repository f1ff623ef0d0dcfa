package transform_test

// The reference implementation: Fill as it was before it read payloads with
// fastjson (encoding/json into map[string]any, then a walk over the maps),
// copied with its names prefixed by ref. The differential and fuzz tests
// check that transform.Product gives exactly what it gives.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/transform"
)

func refAdd(m *map[string]int64, k string) {
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[k]++
}

// refProduct turns the replies of one product into its output columns: the
// status columns, then every catalog field in catalog order.
type refProduct struct {
	catalog   *mappings.Catalog
	columns   []mappings.Column
	fieldCol  []int          // offset of each field's first column
	subCol    map[string]int // offset of each sub-product's status column
	subIndex  map[string]int // sub-product code → index in catalog.Subs
	known     map[string]map[string]bool
	inner     map[string]map[string]bool // proper prefixes of the catalog paths
	listPaths map[string]map[string]bool
	nodes     map[string]map[string]bool // the catalog paths and their prefixes, steps joined by NUL
	keep      int                        // how deep a payload too deep to read is kept
}

// Offsets of the status columns within a product's columns.
const (
	refColStatus = iota
	refColCode
	refColMessage
	refColTransaction
	refColQueriedAt
	refStatusColumns
)

// newRefProduct prepares the columns of a product from its catalog.
func newRefProduct(c *mappings.Catalog) *refProduct {
	p := &refProduct{catalog: c, subCol: map[string]int{}, subIndex: map[string]int{},
		known: map[string]map[string]bool{}, inner: map[string]map[string]bool{}, listPaths: map[string]map[string]bool{},
		nodes: map[string]map[string]bool{}}
	p.columns = c.StatusColumns()
	for i, s := range c.Subs {
		p.subIndex[s.Code] = i
		p.subCol[s.Code] = refStatusColumns + i
	}
	for i := range c.Fields {
		f := &c.Fields[i]
		p.fieldCol = append(p.fieldCol, len(p.columns))
		p.columns = append(p.columns, f.Columns()...)
		if p.known[f.Sub] == nil {
			p.known[f.Sub] = map[string]bool{}
			p.inner[f.Sub] = map[string]bool{}
			p.listPaths[f.Sub] = map[string]bool{}
		}
		p.known[f.Sub][f.Path] = true
		parts := strings.Split(f.Path, ".")
		for i := 1; i < len(parts); i++ {
			p.inner[f.Sub][strings.Join(parts[:i], ".")] = true
		}
		if f.Type == mappings.ListCount {
			p.listPaths[f.Sub][f.Path] = true
		}
		if p.nodes[f.Sub] == nil {
			p.nodes[f.Sub] = map[string]bool{}
		}
		node := ""
		for _, part := range parts {
			node += "\x00" + part
			p.nodes[f.Sub][node] = true
		}
		p.keep = max(p.keep, len(parts))
	}
	p.keep += 5
	return p
}

// refFillSubs is Fill that also reports the status of each sub-product, in
// catalog order, into subs (when subs has room for them).
func (p *refProduct) refFillSubs(row transform.RowWriter, base int, r *transform.Reply, u *transform.Unknowns, subs []transform.Status) transform.Status {
	for i := range p.columns {
		row.SetNull(base + i)
	}
	if len(subs) < len(p.catalog.Subs) {
		subs = nil
	}
	status, message := r.Status, r.Message
	if status == transform.StatusOK {
		status, message = p.refFillPayload(row, base, r.Payload, u, subs)
	} else {
		for i, s := range p.catalog.Subs {
			row.SetString(base+p.subCol[s.Code], string(status))
			if subs != nil {
				subs[i] = status
			}
		}
	}
	row.SetString(base+refColStatus, string(status))
	if r.HasCode {
		row.SetInt(base+refColCode, int64(r.Code))
	}
	if message != "" {
		row.SetString(base+refColMessage, message)
	}
	if r.TransactionID != "" {
		row.SetString(base+refColTransaction, r.TransactionID)
	}
	if !r.QueriedAt.IsZero() {
		row.SetTime(base+refColQueriedAt, r.QueriedAt)
	}
	return status
}

func (p *refProduct) refFillPayload(row transform.RowWriter, base int, payload []byte, u *transform.Unknowns, subs []transform.Status) (transform.Status, string) {
	obj, err := refRead(payload, p.keep)
	if err != nil {
		for i, s := range p.catalog.Subs {
			row.SetString(base+p.subCol[s.Code], string(transform.StatusFailed))
			if subs != nil {
				subs[i] = transform.StatusFailed
			}
		}
		return transform.StatusFailed, refPayloadProblem(err)
	}
	if len(p.catalog.Subs) == 0 {
		if p.refFillFields(row, base, "", obj, u) {
			return transform.StatusOK, ""
		}
		return transform.StatusNoRecord, ""
	}
	answers, problem := p.refSubData(obj, u)
	if problem != "" {
		for i, s := range p.catalog.Subs {
			row.SetString(base+p.subCol[s.Code], string(transform.StatusFailed))
			if subs != nil {
				subs[i] = transform.StatusFailed
			}
		}
		return transform.StatusFailed, problem
	}
	var problems []string
	anyOK, anyNoRecord := false, false
	for i, s := range p.catalog.Subs {
		status := transform.StatusFailed
		a := answers[s.Code]
		switch {
		case a == nil:
			problems = append(problems, s.Code+": not in the reply")
		case a.differ:
			problems = append(problems, fmt.Sprintf("%s: answered %d times, differently; none used", s.Code, a.answers))
		case a.problem != "" && a.vendor != "":
			problems = append(problems, s.Code+": "+a.problem+" (message: "+refVendorMessage(a.vendor)+")")
		case a.problem != "":
			problems = append(problems, s.Code+": "+a.problem)
		case !a.success && a.vendor != "":
			problems = append(problems, s.Code+": "+refVendorMessage(a.vendor))
		case !a.success:
			problems = append(problems, s.Code+": success false")
		case a.data == nil:
			status = transform.StatusNoRecord
		case p.refFillFields(row, base, s.Code, a.data, u):
			status = transform.StatusOK
		default:
			status = transform.StatusNoRecord
		}
		anyOK = anyOK || status == transform.StatusOK
		anyNoRecord = anyNoRecord || status == transform.StatusNoRecord
		row.SetString(base+p.subCol[s.Code], string(status))
		if subs != nil {
			subs[i] = status
		}
	}
	message := strings.Join(problems, "; ")
	switch {
	case anyOK:
		return transform.StatusOK, message
	case anyNoRecord:
		return transform.StatusNoRecord, message
	}
	if message == "" {
		message = "no sub-product answered"
	}
	return transform.StatusFailed, message
}

// refAnswer is what a combo reply says about one sub-product.
type refAnswer struct {
	answers int            // answers naming it
	success bool           // it succeeded, with data that can be read
	data    map[string]any // nil: no data
	problem string         // why its answer could not be read
	vendor  string         // its message, when it failed or its success was unreadable
	differ  bool           // two of its answers disagree
}

// refSubData reads the answers of a combo reply {"responses": [{"api_code",
// "success", "data", "message"}]}, by sub-product code; ok is false when
// the reply has no responses list. Answers naming no sub-product of the
// catalog are counted in u.Fields.
func (p *refProduct) refSubData(obj map[string]any, u *transform.Unknowns) (answers map[string]*refAnswer, problem string) {
	for k, v := range obj {
		if k != "responses" {
			p.refCountOff(k, refLast(v), u)
		}
	}
	if _, c := obj["responses"].(refConflict); c {
		return nil, "reply gives responses more than once, differently; none used"
	}
	list, isList := obj["responses"].([]any)
	if !isList {
		return nil, "reply has no responses list"
	}
	answers = map[string]*refAnswer{}
	for _, item := range list {
		resp, isObject := item.(map[string]any)
		if isObject {
			own := map[string]any{} // the answer's own keys given twice: the last one
			for k, v := range resp {
				own[k] = refLast(v)
			}
			resp = own
		}
		if !isObject {
			refAdd(&u.Fields, p.catalog.Product+".responses[]")
			continue
		}
		code, _ := resp["api_code"].(string)
		code = strings.TrimSpace(code)
		if _, known := p.subIndex[code]; !known {
			if refProductCode.MatchString(code) && !refDigitRun.MatchString(code) {
				refAdd(&u.Fields, p.catalog.Product+"."+code)
			} else {
				refAdd(&u.Fields, p.catalog.Product+".responses[].api_code")
			}
			continue
		}
		a := refReadAnswer(resp, p.keep)
		prev := answers[code]
		if prev == nil {
			a.answers = 1
			answers[code] = &a
			continue
		}
		prev.answers++
		if !prev.differ && !refSameAnswer(prev, &a) {
			prev.differ = true
		}
	}
	return answers, ""
}

var refProductCode = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// refReadAnswer reads one answer of a sub-product.
func refReadAnswer(resp map[string]any, keep int) refAnswer {
	vendor, _ := resp["message"].(string)
	raw, present := resp["success"]
	var success bool
	switch x := raw.(type) {
	case bool:
		success = x
	case string:
		switch strings.TrimSpace(x) {
		case "true", "True", "TRUE", "1":
			success = true
		case "false", "False", "FALSE", "0":
		default:
			return refAnswer{problem: "success is a string that is not true or false", vendor: vendor}
		}
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		switch {
		case err == nil && f == 1:
			success = true
		case err == nil && f == 0:
		default:
			return refAnswer{problem: "success is a number other than 1 or 0", vendor: vendor}
		}
	case nil:
		if !present {
			return refAnswer{problem: "success is missing", vendor: vendor}
		}
		return refAnswer{problem: "success is null", vendor: vendor}
	case map[string]any:
		return refAnswer{problem: "success is an object", vendor: vendor}
	case []any:
		return refAnswer{problem: "success is a list", vendor: vendor}
	}
	if !success {
		return refAnswer{vendor: vendor}
	}
	var data map[string]any
	switch x := resp["data"].(type) {
	case nil:
	case map[string]any:
		data = x
	case string:
		obj, err := refRead([]byte(x), keep)
		if err != nil {
			return refAnswer{problem: refDataStringProblem(err)}
		}
		data = obj
	case []any:
		return refAnswer{problem: "data is a list, not an object"}
	case json.Number:
		return refAnswer{problem: "data is a number, not an object"}
	case bool:
		return refAnswer{problem: "data is a boolean, not an object"}
	}
	if len(data) == 0 {
		data = nil
	}
	return refAnswer{success: true, data: data}
}

// refDataStringProblem says why data sent as a string holds no object.
func refDataStringProblem(err error) string {
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return "data is an empty string"
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errRefNotJSON):
		return "data is a string that is not valid JSON"
	}
	return "data is a string that does not hold a JSON object"
}

// refSameAnswer reports whether two answers of one sub-product agree.
func refSameAnswer(a, b *refAnswer) bool {
	if a.success != b.success {
		return false
	}
	return !a.success || reflect.DeepEqual(refUnwrap(a.data), refUnwrap(b.data))
}

// refFillFields writes the fields of one (sub-)product from its data and
// reports whether any field had a value. Payload fields the catalog does not
// list are counted.
func (p *refProduct) refFillFields(row transform.RowWriter, base int, sub string, data map[string]any, u *transform.Unknowns) bool {
	found := false
	for i := range p.catalog.Fields {
		f := &p.catalog.Fields[i]
		if f.Sub != sub {
			continue
		}
		v, _ := refLookup(data, f.Path)
		if _, c := v.(refConflict); c {
			// Given twice, differently: on the path or the field itself.
			if f.Type == mappings.ListCount {
				refAdd(&u.Unparsed, f.Column+"_count")
			} else {
				refAdd(&u.Unparsed, f.Column)
			}
			found = true
			continue
		}
		if refFillField(row, base+p.fieldCol[i], f, v, u) {
			found = true
		}
	}
	p.refCountUnknown(sub, "", "", true, data, u)
	return found
}

// refCountOff counts a value of a combo reply's own object off its one
// path (responses), at path: an object with keys by its keys, anything
// else as one unknown field.
func (p *refProduct) refCountOff(path string, v any, u *transform.Unknowns) {
	if m, ok := v.(map[string]any); ok && len(m) > 0 {
		for k, e := range m {
			child := k
			if path != "" {
				child = path + "." + k
			}
			p.refCountOff(child, refLast(e), u)
		}
		return
	}
	refAdd(&u.Fields, p.catalog.Product+"."+path)
}

// refCountUnknown walks the data and counts leaves the catalog does not
// list. node is the path's steps joined by NUL, onNode whether the data is
// the object at a catalog node: a catalog key in it given twice,
// differently, is not read, nor counted.
func (p *refProduct) refCountUnknown(sub, prefix, node string, onNode bool, data map[string]any, u *transform.Unknowns) {
	for k, v := range data {
		path := k
		childNode := node + "\x00" + k
		if prefix != "" {
			path = prefix + "." + k
		}
		onChild := onNode && p.nodes[sub][childNode]
		if _, c := v.(refConflict); c && onChild {
			continue
		}
		v = refLast(v)
		if p.known[sub][path] {
			continue
		}
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			p.refCountUnknown(sub, path, childNode, onChild, m, u)
			continue
		}
		if m, ok := v.(map[string]any); (v == nil || ok && len(m) == 0) && p.inner[sub][path] {
			continue // an empty catalog object
		}
		owner := p.catalog.Product
		if sub != "" {
			owner += "." + sub
		}
		refAdd(&u.Fields, owner+"."+path)
	}
}

func refLookup(data map[string]any, path string) (any, bool) {
	var cur any = data
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
		if _, c := cur.(refConflict); c {
			return cur, true
		}
	}
	return cur, true
}

func refDecodeObject(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("payload is not a JSON object")
	}
	return obj, nil
}

// refScalar returns the text of a JSON refScalar; ok is false for objects and lists.
func refScalar(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return strings.TrimSpace(x), true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	}
	return "", false
}

// fillField writes one field's columns at col and reports whether it had a value.
func refFillField(row transform.RowWriter, col int, f *mappings.Field, v any, u *transform.Unknowns) bool {
	if f.Type == mappings.ListCount {
		switch list := v.(type) {
		case nil:
			return false
		case []any:
			row.SetInt(col, int64(len(list)))
			return true
		}
		refAdd(&u.Unparsed, f.Column+"_count")
		return false
	}
	raw, ok := refScalar(v)
	if list, isList := v.([]any); isList && f.Type == mappings.Text {
		raw, ok = refJoin(list)
	}
	if !ok {
		refAdd(&u.Unparsed, f.Column)
		return false
	}
	if raw == "" {
		return false
	}
	if strings.IndexFunc(raw, refControl) >= 0 {
		refAdd(&u.Unparsed, f.Column)
		return true
	}
	switch f.Type {
	case mappings.IntervalCode, mappings.IntervalText:
		row.SetString(col, raw)
		if f.IsSentinel(raw) {
			return true
		}
		var (
			iv     mappings.Interval
			sample bool
		)
		if f.Type == mappings.IntervalCode {
			e, found := f.Lookup().Entry(raw)
			if !found {
				refAdd(&u.Codes, f.Column+"="+raw)
				return true
			}
			iv, sample = e.Interval, e.Source == mappings.SourceSample
		} else {
			var err error
			if iv, ok, err = mappings.ParseInterval(raw); err != nil || !ok {
				refAdd(&u.Unparsed, f.Column)
				return true
			}
		}
		// The bracket rule (tested in mappings): an integer field's bounds
		// are the smallest and largest whole numbers in the range.
		if f.Integer {
			if iv, ok = iv.Integers(); !ok {
				refAdd(&u.Unparsed, f.Column)
				return true
			}
		}
		if iv.LowBounded() {
			row.SetFloat(col+1, iv.Low)
			if sample {
				refAdd(&u.Placeholders, f.Column+"_low")
			}
		}
		if iv.HighBounded() {
			row.SetFloat(col+2, iv.High)
			if sample {
				refAdd(&u.Placeholders, f.Column+"_high")
			}
		}
	case mappings.Flag:
		switch raw {
		case "1", "1.0", "true":
			row.SetInt(col, 1)
		case "0", "0.0", "false":
			row.SetInt(col, 0)
		default:
			refAdd(&u.Unparsed, f.Column)
		}
	case mappings.Enum:
		if f.IsSentinel(raw) {
			return true
		}
		e, found := f.Lookup().Entry(raw)
		if !found {
			refAdd(&u.Codes, f.Column+"="+raw)
			return true
		}
		row.SetInt(col, e.Value)
		if e.Source == mappings.SourceSample {
			refAdd(&u.Placeholders, f.Column)
		}
	case mappings.Number, mappings.Score:
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			refAdd(&u.Unparsed, f.Column)
			return true
		}
		if f.IsSentinel(raw) || refIsNumericSentinel(f, x) {
			return true
		}
		row.SetFloat(col, x)
	default:
		row.SetString(col, raw)
	}
	return true
}

// refControl reports whether r is a control character a text value may not
// hold: C0 but tab, LF and CR; DEL; C1.
func refControl(r rune) bool {
	return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
}

// refJoin is a list of scalars as a text field holds it: trimmed, the
// empty ones and nulls left out, joined by "; ". ok is false when an item
// is an object or a list.
func refJoin(list []any) (string, bool) {
	var parts []string
	for _, item := range list {
		s, ok := refScalar(item)
		if !ok {
			return "", false
		}
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; "), true
}

func refIsNumericSentinel(f *mappings.Field, x float64) bool {
	for _, s := range f.Sentinels {
		if y, err := strconv.ParseFloat(s, 64); err == nil && x == y {
			return true
		}
	}
	return false
}

// refPayloadProblem says why a payload could not be read without quoting
// it.
func refPayloadProblem(err error) string {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Sprintf("unreadable payload: not valid JSON (at byte %d)", syntax.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return "unreadable payload: not a JSON object"
	}
	if errors.Is(err, errRefNotJSON) {
		return "unreadable payload: not valid JSON"
	}
	return "unreadable payload: not a JSON object that can be read"
}

var refDigitRun = regexp.MustCompile(`[0-9]{6,}[Xx]?`)

// refVendorMessage is a vendor's message as shown: printable, at most 120
// bytes (then "…"), runs of six digits or more masked.
func refVendorMessage(msg string) string {
	var b strings.Builder
	for _, r := range msg {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > 120 {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return refDigitRun.ReplaceAllStringFunc(b.String(), func(s string) string { return strings.Repeat("*", len(s)) })
}
