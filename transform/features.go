package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scorepipe/scorepipe/mappings"
)

// Status is the outcome of one product for one applicant.
type Status string

// Statuses, written to the <product>_status columns.
const (
	StatusOK       Status = "ok"        // answered, with data
	StatusNoRecord Status = "no_record" // answered (and billed), nothing found
	StatusFailed   Status = "failed"    // no usable answer; see <product>_message
	StatusSkipped  Status = "skipped"   // not called for this row (e.g. no authorization)
)

// Reply is what a run learned from one product for one applicant.
type Reply struct {
	Status        Status // StatusOK when the vendor answered code 0; Features refines it
	Code          int
	HasCode       bool // the vendor answered with a code
	TransactionID string
	QueriedAt     time.Time // when the vendor answered; zero when it did not
	Message       string
	Payload       []byte // the decrypted JSON object, when the vendor answered code 0
}

// RowWriter receives the typed cells of one output row.
type RowWriter interface {
	SetNull(i int)
	SetString(i int, s string)
	SetInt(i int, v int64)
	SetFloat(i int, v float64)
	SetTime(i int, t time.Time)
}

// Unknowns counts what the catalog and tables could not place: payload
// fields the catalog does not list, codes missing from their table, values
// that could not be read. None of them stops a run.
type Unknowns struct {
	Fields   map[string]int64 `json:"fields,omitempty"`   // PRODUCT.path
	Codes    map[string]int64 `json:"codes,omitempty"`    // column=code
	Unparsed map[string]int64 `json:"unparsed,omitempty"` // column
}

func (u *Unknowns) add(m *map[string]int64, k string) {
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[k]++
}

// Empty reports whether nothing was counted.
func (u *Unknowns) Empty() bool {
	return len(u.Fields) == 0 && len(u.Codes) == 0 && len(u.Unparsed) == 0
}

// Merge adds the counts of o to u.
func (u *Unknowns) Merge(o *Unknowns) {
	for k, v := range o.Fields {
		u.add(&u.Fields, k)
		u.Fields[k] += v - 1
	}
	for k, v := range o.Codes {
		u.add(&u.Codes, k)
		u.Codes[k] += v - 1
	}
	for k, v := range o.Unparsed {
		u.add(&u.Unparsed, k)
		u.Unparsed[k] += v - 1
	}
}

// Summary names the counted items, most frequent first, at most n of each kind.
func (u *Unknowns) Summary(n int) string {
	var parts []string
	for _, kind := range []struct {
		label string
		m     map[string]int64
	}{{"fields not in the catalog", u.Fields}, {"codes not in their table", u.Codes}, {"unreadable values", u.Unparsed}} {
		if len(kind.m) == 0 {
			continue
		}
		keys := make([]string, 0, len(kind.m))
		for k := range kind.m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if kind.m[keys[i]] != kind.m[keys[j]] {
				return kind.m[keys[i]] > kind.m[keys[j]]
			}
			return keys[i] < keys[j]
		})
		more := ""
		if len(keys) > n {
			more = fmt.Sprintf(" and %d more", len(keys)-n)
			keys = keys[:n]
		}
		items := make([]string, len(keys))
		for i, k := range keys {
			items[i] = fmt.Sprintf("%s ×%d", k, kind.m[k])
		}
		parts = append(parts, kind.label+": "+strings.Join(items, ", ")+more)
	}
	return strings.Join(parts, "; ")
}

// Product turns the replies of one product into its output columns: the
// status columns, then every catalog field in catalog order.
type Product struct {
	catalog   *mappings.Catalog
	columns   []mappings.Column
	fieldCol  []int          // offset of each field's first column
	subCol    map[string]int // offset of each sub-product's status column
	subIndex  map[string]int // sub-product code → index in catalog.Subs
	known     map[string]map[string]bool
	listPaths map[string]map[string]bool
}

// Offsets of the status columns within a product's columns.
const (
	colStatus = iota
	colCode
	colMessage
	colTransaction
	colQueriedAt
	statusColumns
)

// NewProduct prepares the columns of a product from its catalog.
func NewProduct(c *mappings.Catalog) *Product {
	p := &Product{catalog: c, subCol: map[string]int{}, subIndex: map[string]int{},
		known: map[string]map[string]bool{}, listPaths: map[string]map[string]bool{}}
	p.columns = c.StatusColumns()
	for i, s := range c.Subs {
		p.subIndex[s.Code] = i
		p.subCol[s.Code] = statusColumns + i
	}
	for i := range c.Fields {
		f := &c.Fields[i]
		p.fieldCol = append(p.fieldCol, len(p.columns))
		p.columns = append(p.columns, f.Columns()...)
		if p.known[f.Sub] == nil {
			p.known[f.Sub] = map[string]bool{}
			p.listPaths[f.Sub] = map[string]bool{}
		}
		p.known[f.Sub][f.Path] = true
		if f.Type == mappings.ListCount {
			p.listPaths[f.Sub][f.Path] = true
		}
	}
	return p
}

// Catalog returns the product's catalog.
func (p *Product) Catalog() *mappings.Catalog { return p.catalog }

// Columns returns the product's output columns, in order.
func (p *Product) Columns() []mappings.Column { return p.columns }

// Fill writes the product's columns for one reply into row, from column
// base on, and returns the final status: a code-0 reply whose fields are all
// empty is no_record, a combo reply takes the best status of its
// sub-products. Cells the reply does not fill are set to null.
func (p *Product) Fill(row RowWriter, base int, r *Reply, u *Unknowns) Status {
	return p.FillSubs(row, base, r, u, nil)
}

// FillSubs is Fill that also reports the status of each sub-product, in
// catalog order, into subs (when subs has room for them).
func (p *Product) FillSubs(row RowWriter, base int, r *Reply, u *Unknowns, subs []Status) Status {
	for i := range p.columns {
		row.SetNull(base + i)
	}
	if len(subs) < len(p.catalog.Subs) {
		subs = nil
	}
	status, message := r.Status, r.Message
	if status == StatusOK {
		status, message = p.fillPayload(row, base, r.Payload, u, subs)
	} else {
		for i, s := range p.catalog.Subs {
			row.SetString(base+p.subCol[s.Code], string(status))
			if subs != nil {
				subs[i] = status
			}
		}
	}
	row.SetString(base+colStatus, string(status))
	if r.HasCode {
		row.SetInt(base+colCode, int64(r.Code))
	}
	if message != "" {
		row.SetString(base+colMessage, message)
	}
	if r.TransactionID != "" {
		row.SetString(base+colTransaction, r.TransactionID)
	}
	if !r.QueriedAt.IsZero() {
		row.SetTime(base+colQueriedAt, r.QueriedAt)
	}
	return status
}

func (p *Product) fillPayload(row RowWriter, base int, payload []byte, u *Unknowns, subs []Status) (Status, string) {
	obj, err := decodeObject(payload)
	if err != nil {
		for i, s := range p.catalog.Subs {
			row.SetString(base+p.subCol[s.Code], string(StatusFailed))
			if subs != nil {
				subs[i] = StatusFailed
			}
		}
		return StatusFailed, "unreadable payload: " + err.Error()
	}
	if len(p.catalog.Subs) == 0 {
		if p.fillFields(row, base, "", obj, u) {
			return StatusOK, ""
		}
		return StatusNoRecord, ""
	}
	datas, problems := p.subData(obj)
	anyOK, anyNoRecord := false, false
	for i, s := range p.catalog.Subs {
		status := StatusFailed
		data, answered := datas[s.Code]
		switch {
		case !answered:
		case data == nil:
			status = StatusNoRecord
		case p.fillFields(row, base, s.Code, data, u):
			status = StatusOK
		default:
			status = StatusNoRecord
		}
		anyOK = anyOK || status == StatusOK
		anyNoRecord = anyNoRecord || status == StatusNoRecord
		row.SetString(base+p.subCol[s.Code], string(status))
		if subs != nil {
			subs[i] = status
		}
	}
	message := strings.Join(problems, "; ")
	switch {
	case anyOK:
		return StatusOK, message
	case anyNoRecord:
		return StatusNoRecord, message
	}
	if message == "" {
		message = "no sub-product answered"
	}
	return StatusFailed, message
}

// subData finds the data of each sub-product in a combo reply
// {"responses": [{"api_code", "success", "data"}]}. A sub-product that
// answered success with no data maps to nil; one that failed is absent and
// its reason is in problems.
func (p *Product) subData(obj map[string]any) (map[string]map[string]any, []string) {
	out := map[string]map[string]any{}
	var problems []string
	list, _ := obj["responses"].([]any)
	if list == nil {
		return out, []string{"reply has no responses list"}
	}
	for _, item := range list {
		resp, _ := item.(map[string]any)
		code, _ := resp["api_code"].(string)
		if _, ok := p.subIndex[code]; !ok {
			continue
		}
		if success, _ := resp["success"].(bool); !success {
			msg, _ := resp["message"].(string)
			if msg == "" {
				msg = "success false"
			}
			problems = append(problems, code+": "+msg)
			continue
		}
		data, _ := resp["data"].(map[string]any)
		if len(data) == 0 {
			out[code] = nil
			continue
		}
		out[code] = data
	}
	return out, problems
}

// fillFields writes the fields of one (sub-)product from its data and
// reports whether any field had a value. Payload fields the catalog does not
// list are counted.
func (p *Product) fillFields(row RowWriter, base int, sub string, data map[string]any, u *Unknowns) bool {
	found := false
	for i := range p.catalog.Fields {
		f := &p.catalog.Fields[i]
		if f.Sub != sub {
			continue
		}
		v, _ := lookup(data, f.Path)
		if fillField(row, base+p.fieldCol[i], f, v, u) {
			found = true
		}
	}
	p.countUnknown(sub, "", data, u)
	return found
}

// countUnknown walks the data and counts leaves the catalog does not list.
func (p *Product) countUnknown(sub, prefix string, data map[string]any, u *Unknowns) {
	for k, v := range data {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if p.known[sub][path] {
			continue
		}
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			p.countUnknown(sub, path, m, u)
			continue
		}
		owner := p.catalog.Product
		if sub != "" {
			owner += "." + sub
		}
		u.add(&u.Fields, owner+"."+path)
	}
}

func lookup(data map[string]any, path string) (any, bool) {
	var cur any = data
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func decodeObject(payload []byte) (map[string]any, error) {
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

// scalar returns the text of a JSON scalar; ok is false for objects and lists.
func scalar(v any) (string, bool) {
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
func fillField(row RowWriter, col int, f *mappings.Field, v any, u *Unknowns) bool {
	if f.Type == mappings.ListCount {
		switch list := v.(type) {
		case nil:
			return false
		case []any:
			row.SetInt(col, int64(len(list)))
			return true
		}
		u.add(&u.Unparsed, f.Column+"_count")
		return false
	}
	raw, ok := scalar(v)
	if !ok {
		u.add(&u.Unparsed, f.Column)
		return false
	}
	if raw == "" {
		return false
	}
	switch f.Type {
	case mappings.IntervalCode, mappings.IntervalText:
		row.SetString(col, raw)
		if f.IsSentinel(raw) {
			return true
		}
		var iv mappings.Interval
		if f.Type == mappings.IntervalCode {
			if iv, ok = f.Lookup().Interval(raw); !ok {
				u.add(&u.Codes, f.Column+"="+raw)
				return true
			}
		} else {
			var err error
			if iv, ok, err = mappings.ParseInterval(raw); err != nil || !ok {
				u.add(&u.Unparsed, f.Column)
				return true
			}
		}
		if iv.LowBounded() {
			row.SetFloat(col+1, iv.Low)
		}
		if iv.HighBounded() {
			row.SetFloat(col+2, iv.High)
		}
	case mappings.Flag:
		switch raw {
		case "1", "1.0", "true":
			row.SetInt(col, 1)
		case "0", "0.0", "false":
			row.SetInt(col, 0)
		default:
			u.add(&u.Unparsed, f.Column)
		}
	case mappings.Enum:
		if f.IsSentinel(raw) {
			return true
		}
		n, ok := f.Lookup().Value(raw)
		if !ok {
			u.add(&u.Codes, f.Column+"="+raw)
			return true
		}
		row.SetInt(col, n)
	case mappings.Number, mappings.Score:
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			u.add(&u.Unparsed, f.Column)
			return true
		}
		if f.IsSentinel(raw) || isNumericSentinel(f, x) {
			return true
		}
		row.SetFloat(col, x)
	default:
		row.SetString(col, raw)
	}
	return true
}

func isNumericSentinel(f *mappings.Field, x float64) bool {
	for _, s := range f.Sentinels {
		if y, err := strconv.ParseFloat(s, 64); err == nil && x == y {
			return true
		}
	}
	return false
}
