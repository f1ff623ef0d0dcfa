package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"

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
// that could not be read. None of them stops a run. Apart from those, it
// counts the values placed through placeholder table entries (source
// sample): Placeholders, which Empty and Summary leave out and the manifest
// reports as placeholder_values.
type Unknowns struct {
	Fields   map[string]int64 `json:"fields,omitempty"`   // PRODUCT.path
	Codes    map[string]int64 `json:"codes,omitempty"`    // column=code
	Unparsed map[string]int64 `json:"unparsed,omitempty"` // column

	// Placeholders counts, by output column, the cells given a value from
	// a sample entry: an interval code's <col>_low and <col>_high (each
	// when it has a value: an unbounded end has none), an enum's column.
	Placeholders map[string]int64 `json:"-"`
}

func (u *Unknowns) add(m *map[string]int64, k string) { addCount(m, k, 1) }

func addCount(m *map[string]int64, k string, n int64) {
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[k] += n
}

// Empty reports whether nothing was counted that the mappings could not
// place (Placeholders aside).
func (u *Unknowns) Empty() bool {
	return len(u.Fields) == 0 && len(u.Codes) == 0 && len(u.Unparsed) == 0
}

// Merge adds the counts of o to u.
func (u *Unknowns) Merge(o *Unknowns) {
	for k, v := range o.Fields {
		addCount(&u.Fields, k, v)
	}
	for k, v := range o.Codes {
		addCount(&u.Codes, k, v)
	}
	for k, v := range o.Unparsed {
		addCount(&u.Unparsed, k, v)
	}
	for k, v := range o.Placeholders {
		addCount(&u.Placeholders, k, v)
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
// status columns, then every catalog field in catalog order. A Product is
// safe for concurrent use: what one Fill needs for itself (the JSON parser
// and scratch buffers) comes from a pool.
type Product struct {
	catalog *mappings.Catalog
	columns []mappings.Column
	fields  []fieldPlan // per catalog field, in catalog order
	data    []subPlan   // per sub-product in catalog order; one, for the whole payload, for a flat product
	subIdx  map[string]int
	root    subPlan // a combo reply's own object: responses is its one catalog path
	nodes   int     // path nodes over all subPlans: the length of fillState.vals
	parent  []int   // per path node: the id of the node above it, -1 for a root
	keep    int     // how deep a payload too deep to read is kept (see "How Fill reads a payload")
	states  sync.Pool
}

// fieldPlan is what Fill needs to know about one catalog field.
type fieldPlan struct {
	f         *mappings.Field
	col       int                 // offset of the field's first column
	node      int                 // the path node that holds the field's value; -1 when Fill never reads it
	also      []int               // the nodes of the field's other paths (mappings.Field.Also), in order
	codes     map[string]codePlan // table codes and sentinels, for interval_code and enum fields
	sentinels []float64           // the sentinels that are numbers
	countName string              // the field's Unparsed name as a list: <column>_count
	lowName   string              // <column>_low and <column>_high, the Placeholders names of an interval field
	highName  string
}

// codePlan is what Fill knows in advance of a value of an interval_code or
// enum field that is a code of its table or a sentinel: one map look-up
// per cell instead of three.
type codePlan struct {
	s        string // the code, a string that needs no allocation
	sentinel bool   // f.IsSentinel(s)
	ok       bool   // the table gives s an interval (interval_code) or a value (enum)
	sample   bool   // the table entry is a placeholder
	b        bounds // an interval_code's _low and _high
	n        int64  // an enum's value
}

// bounds are the values of an interval field's _low and _high columns.
type bounds struct {
	low, high       float64
	hasLow, hasHigh bool
}

// boundsOf returns the _low and _high of iv for field f (see
// mappings.Field.Bounds); ok is false when f is an integer field and iv
// holds no whole number.
func boundsOf(f *mappings.Field, iv mappings.Interval) (bounds, bool) {
	var b bounds
	var ok bool
	b.low, b.high, b.hasLow, b.hasHigh, ok = f.Bounds(iv)
	return b, ok
}

func newCodePlan(f *mappings.Field, code string) codePlan {
	cp := codePlan{s: code, sentinel: f.IsSentinel(code)}
	e, found := f.Lookup().Entry(code)
	if !found {
		return cp
	}
	cp.sample = e.Source == mappings.SourceSample
	if f.Type == mappings.IntervalCode {
		// An integer field's table holds a whole number in every range
		// (mappings.Load checks it); were it not so, no bounds.
		cp.b, _ = boundsOf(f, e.Interval)
		cp.ok = f.Lookup().Kind == mappings.IntervalTable
	} else {
		cp.n, cp.ok = f.Lookup().Value(code)
	}
	return cp
}

// subPlan is what Fill needs to know about the data of one (sub-)product.
type subPlan struct {
	code      string // "" for a flat product
	owner     string // prefix of its unknown-field names: PRODUCT. or PRODUCT.SUB.
	statusCol int    // offset of the sub-product's status column
	answer    int    // index into fillState.subs of the answer it takes
	known     map[string]bool
	inner     map[string]bool // the proper prefixes of catalog paths: where an empty object or null is not unknown
	root      *pathNode
	fields    []int // indices into Product.fields, in catalog order
	lo, hi    int   // the ids of its path nodes
	plain     bool  // no path has an empty step (a.b, not .a, a..b or a.): paths and nodes match one to one
}

// pathNode is one step of the catalog paths of a (sub-)product: the root,
// "riskWarning", "riskWarning.totalRiskCounts"…
type pathNode struct {
	name     string
	id       int
	known    bool // a catalog field has exactly this path
	children map[string]*pathNode
	inner    []*pathNode // the children that have children of their own, by name
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
	p := &Product{catalog: c, subIdx: map[string]int{}}
	p.columns = c.StatusColumns()
	for i := range c.Fields {
		f := &c.Fields[i]
		fp := fieldPlan{f: f, col: len(p.columns), node: -1, countName: f.Column + "_count",
			lowName: f.Column + "_low", highName: f.Column + "_high"}
		p.columns = append(p.columns, f.Columns()...)
		if t := f.Lookup(); t != nil && (f.Type == mappings.IntervalCode || f.Type == mappings.Enum) {
			fp.codes = map[string]codePlan{}
			for _, e := range t.Entries {
				fp.codes[e.Code] = newCodePlan(f, e.Code)
			}
			for _, s := range f.Sentinels {
				fp.codes[s] = newCodePlan(f, s)
			}
		}
		for _, s := range f.Sentinels {
			if x, err := strconv.ParseFloat(s, 64); err == nil {
				fp.sentinels = append(fp.sentinels, x)
			}
		}
		p.fields = append(p.fields, fp)
	}
	if len(c.Subs) == 0 {
		p.data = []subPlan{{owner: c.Product + "."}}
	}
	for i, s := range c.Subs {
		p.subIdx[s.Code] = i
		p.data = append(p.data, subPlan{code: s.Code, owner: c.Product + "." + s.Code + "."})
	}
	for i := range c.Subs {
		// By code, as a catalog could (but mappings.Load does not let it)
		// give a code twice.
		p.data[i].answer = p.subIdx[p.data[i].code]
		p.data[i].statusCol = statusColumns + p.data[i].answer
	}
	for si := range p.data {
		sp := &p.data[si]
		sp.known, sp.inner = map[string]bool{}, map[string]bool{}
		sp.lo = p.nodes
		sp.root = &pathNode{id: p.nodes}
		p.nodes++
		p.parent = append(p.parent, -1)
		plain := true
		for i := range p.fields {
			fp := &p.fields[i]
			if fp.f.Sub != sp.code {
				continue
			}
			for k, path := range slices.Concat([]string{fp.f.Path}, fp.f.Also) {
				steps := strings.Split(path, ".")
				plain = plain && !slices.Contains(steps, "")
				p.keep = max(p.keep, len(steps))
				id := p.addPath(sp, path)
				if k == 0 {
					fp.node = id
				} else {
					fp.also = append(fp.also, id)
				}
			}
			sp.fields = append(sp.fields, i)
		}
		sp.hi = p.nodes
		sp.plain = plain
		markPaths(sp.root, "", sp.known)
	}
	if len(c.Subs) > 0 {
		p.root = subPlan{owner: c.Product + ".", known: map[string]bool{}, inner: map[string]bool{}, plain: true}
		p.root.lo = p.nodes
		p.root.root = &pathNode{id: p.nodes}
		p.nodes++
		p.parent = append(p.parent, -1)
		p.addPath(&p.root, "responses")
		p.root.hi = p.nodes
		markPaths(p.root.root, "", p.root.known)
	}
	// The deepest catalog path, a combo reply's wrapping (responses, an
	// answer, its data), a list's items and one level more.
	p.keep += 5
	p.states.New = func() any {
		return &fillState{vals: make([]*fastjson.Value, p.nodes), first: make([]*pathNode, p.nodes), next: make([]*pathNode, p.nodes)}
	}
	return p
}

// addPath adds a catalog path to the nodes of sp and returns the id of the
// node that holds its value.
func (p *Product) addPath(sp *subPlan, path string) int {
	sp.known[path] = true
	for i := range len(path) {
		if path[i] == '.' {
			sp.inner[path[:i]] = true
		}
	}
	n := sp.root
	for part := range strings.SplitSeq(path, ".") {
		child := n.children[part]
		if child == nil {
			if n.children == nil {
				n.children = map[string]*pathNode{}
			}
			child = &pathNode{name: part, id: p.nodes}
			p.nodes++
			p.parent = append(p.parent, n.id)
			n.children[part] = child
		}
		n = child
	}
	return n.id
}

// markPaths marks the nodes whose path is a catalog field's and lists the
// children that have children of their own, in a stable order.
func markPaths(n *pathNode, path string, known map[string]bool) {
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		child := n.children[name]
		childPath := name
		if path != "" {
			childPath = path + "." + name
		}
		child.known = known[childPath]
		if len(child.children) > 0 {
			n.inner = append(n.inner, child)
			markPaths(child, childPath, known)
		}
	}
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
		p.setSubs(row, base, subs, status)
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

// setSubs gives every sub-product the same status.
func (p *Product) setSubs(row RowWriter, base int, subs []Status, status Status) {
	for i := range p.catalog.Subs {
		row.SetString(base+p.data[i].statusCol, string(status))
		if subs != nil {
			subs[i] = status
		}
	}
}

func (p *Product) fillPayload(row RowWriter, base int, payload []byte, u *Unknowns, subs []Status) (Status, string) {
	st := p.states.Get().(*fillState)
	defer p.states.Put(st)
	st.keep = p.keep
	obj, err := st.parse(payload)
	if err != nil {
		p.setSubs(row, base, subs, StatusFailed)
		return StatusFailed, payloadProblem(err)
	}
	if len(p.catalog.Subs) == 0 {
		if st.fillData(row, base, p, &p.data[0], obj, u) {
			return StatusOK, ""
		}
		return StatusNoRecord, ""
	}
	if problem := st.subData(p, obj, u); problem != "" {
		p.setSubs(row, base, subs, StatusFailed)
		return StatusFailed, problem
	}
	st.msg = st.msg[:0]
	anyOK, anyNoRecord := false, false
	for i := range p.catalog.Subs {
		status := StatusFailed
		switch d := &st.subs[p.data[i].answer]; {
		case !d.answered || d.differ:
			st.appendSubProblem(p.data[i].code, d)
		case d.data == nil:
			status = StatusNoRecord
		case st.fillData(row, base, p, &p.data[i], d.data, u):
			status = StatusOK
		default:
			status = StatusNoRecord
		}
		anyOK = anyOK || status == StatusOK
		anyNoRecord = anyNoRecord || status == StatusNoRecord
		row.SetString(base+p.data[i].statusCol, string(status))
		if subs != nil {
			subs[i] = status
		}
	}
	var message string
	if len(st.msg) > 0 {
		message = string(st.msg)
	}
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

// decodeObject reads a payload the way encoding/json does: the first JSON
// value in it, which must be an object. Fill uses it for the payloads the
// fast parser cannot take as they are (see fillState.parse).
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
