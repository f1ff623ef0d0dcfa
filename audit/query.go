package audit

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"time"
)

// Filter selects the queries of the log; its zero value selects all.
type Filter struct {
	// ApplicantKeys, when not empty, keeps the queries of these
	// applicants (keys as the run makes them, see transform.Keyer).
	ApplicantKeys []string
	// RunID, when set, keeps the queries of this run.
	RunID string
	// Since and Until, when set, keep the queries made at or after Since
	// and before Until (the time of the request, or of the reuse).
	Since, Until time.Time
}

// Query is one use of an applicant's data: a request sent to the vendor
// (its request and result lines joined), or a reply reused.
type Query struct {
	Time         time.Time `json:"time"` // when the request was sent, or the reply reused
	RunID        string    `json:"run_id"`
	Product      string    `json:"product"`
	ApplicantKey string    `json:"applicant_key"`
	AuthCode     string    `json:"auth_authorize_file_code,omitempty"`
	AuthURL      string    `json:"authorization_url,omitempty"`
	AuthDate     string    `json:"auth_date,omitempty"`
	// Source says where the data came from: SourceVendor (a request),
	// SourceStore or SourceRun (a reply reused).
	Source        string `json:"source"`
	RequestNo     int64  `json:"request_no,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
	Code          *int   `json:"code,omitempty"`
	// Outcome is OutcomeOK, OutcomeNoRecord, OutcomeFailed, or
	// OutcomeUnknown for a request whose result was never recorded.
	Outcome string `json:"outcome"`
	Billed  string `json:"billed"`
	Error   string `json:"error,omitempty"`
	// AnsweredAt is when the vendor's reply was recorded (a request), or
	// when the vendor answered the request whose reply was reused.
	AnsweredAt time.Time `json:"answered_at,omitzero"`
}

// Stats say what a scan read.
type Stats struct {
	Lines   int64 `json:"lines"`   // lines read
	Damaged int64 `json:"damaged"` // lines that could not be read, skipped
	Queries int64 `json:"queries"` // queries selected
	// Requests, Reuses: of the queries selected, requests sent to the
	// vendor and replies reused.
	Requests int64 `json:"requests"`
	Reuses   int64 `json:"reuses"`
	// Billed and PossiblyBilled count the requests selected that were
	// billed, or may have been.
	Billed         int64 `json:"billed"`
	PossiblyBilled int64 `json:"possibly_billed"`
}

// requestID identifies a request in the log.
type requestID struct {
	run string
	no  int64
}

// maxPending bounds the requests held while waiting for their result
// line. A run has at most its concurrency of requests in flight, so only
// a log with very many runs killed mid-request comes near it; past it,
// the oldest is listed without its result.
const maxPending = 1 << 16

// Scan reads the log in r and calls emit with every query f selects, in
// the order the queries ended in the log (a request when its result is
// read; requests without a result last, by time). It reads in constant
// memory but for the requests in flight. Damaged lines are skipped and
// counted (Stats.Damaged); an error from emit or from reading stops it.
func Scan(r io.Reader, f Filter, emit func(*Query) error) (Stats, error) {
	var st Stats
	rd := NewReader(r)
	pending := map[requestID]*Query{}
	var order []requestID // of pending, oldest first, may hold ids no longer pending
	keys := make(map[string]bool, len(f.ApplicantKeys))
	for _, k := range f.ApplicantKeys {
		keys[k] = true
	}
	// A line is looked at closer only when it holds one of the keys or
	// the run id, as text: most lines of a large log are skipped without
	// being decoded.
	var needles [][]byte
	if len(keys) > 0 && len(keys) <= 16 {
		for k := range keys {
			needles = append(needles, []byte(k))
		}
	}
	var runNeedle []byte
	if f.RunID != "" {
		runNeedle = []byte(f.RunID)
	}
	send := func(q *Query) error {
		st.Queries++
		if q.Source == SourceVendor {
			st.Requests++
			switch q.Billed {
			case BilledYes:
				st.Billed++
			case BilledPossibly:
				st.PossiblyBilled++
			}
		} else {
			st.Reuses++
		}
		return emit(q)
	}
	for {
		line, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			st.Lines = rd.Lines()
			return st, err
		}
		// A line that looks whole (as the log writes them) is decoded
		// only when it holds one of the keys and the run id as text (a
		// result line holds its request's applicant and run too) and,
		// unless a result is awaited, its time is in range: most lines of
		// a large log are skipped without being decoded. Any other line
		// is decoded, to be counted if damaged.
		if looksWhole(line) && (!mayMatch(line, needles, runNeedle) || len(pending) == 0 && !f.inRange(line)) {
			continue
		}
		e, err := ParseLine(line)
		if err != nil {
			st.Damaged++
			continue
		}
		if e.Event == EventResult {
			id := requestID{e.RunID, e.RequestNo}
			if q, ok := pending[id]; ok {
				delete(pending, id)
				q.result(&e)
				if err := send(q); err != nil {
					return st, err
				}
				continue
			}
		}
		if !f.selects(&e, keys) {
			continue
		}
		q := newQuery(&e)
		if e.Event == EventRequest {
			id := requestID{e.RunID, e.RequestNo}
			if len(pending) >= maxPending {
				if err := flushOldest(pending, &order, send); err != nil {
					return st, err
				}
			}
			pending[id] = q
			order = append(order, id)
			if len(order) > 2*len(pending)+1024 { // most have their result: forget them
				order = slices.DeleteFunc(order, func(id requestID) bool { return pending[id] == nil })
			}
			continue
		}
		if err := send(q); err != nil {
			return st, err
		}
	}
	st.Lines = rd.Lines()
	st.Damaged += rd.Long()
	left := make([]*Query, 0, len(pending))
	for _, q := range pending {
		left = append(left, q)
	}
	slices.SortFunc(left, func(a, b *Query) int { return a.Time.Compare(b.Time) })
	for _, q := range left {
		if err := send(q); err != nil {
			return st, err
		}
	}
	return st, nil
}

// flushOldest lists the oldest request still pending without its result.
func flushOldest(pending map[requestID]*Query, order *[]requestID, send func(*Query) error) error {
	for len(*order) > 0 {
		id := (*order)[0]
		*order = (*order)[1:]
		if q, ok := pending[id]; ok {
			delete(pending, id)
			return send(q)
		}
	}
	return nil
}

// looksWhole reports whether a line starts and ends as the log writes them.
func looksWhole(line []byte) bool {
	return bytes.HasPrefix(line, []byte(linePrefix)) && line[len(line)-1] == '}'
}

// mayMatch reports whether a line holds one of needles and the run, as
// text (no needles: any line).
func mayMatch(line []byte, needles [][]byte, run []byte) bool {
	if run != nil && !bytes.Contains(line, run) {
		return false
	}
	if needles == nil {
		return true
	}
	for _, n := range needles {
		if bytes.Contains(line, n) {
			return true
		}
	}
	return false
}

// inRange reports whether a line may be in the time range of f, from its
// time alone, which it reads without decoding the line.
func (f *Filter) inRange(line []byte) bool {
	if f.Since.IsZero() && f.Until.IsZero() {
		return true
	}
	t, ok := fastLineTime(line)
	if !ok {
		return true // decoded, and counted if damaged
	}
	return !(!f.Since.IsZero() && t.Before(f.Since) || !f.Until.IsZero() && !t.Before(f.Until))
}

// selects reports whether f keeps the line e.
func (f *Filter) selects(e *Entry, keys map[string]bool) bool {
	switch {
	case len(keys) > 0 && !keys[e.ApplicantKey]:
		return false
	case f.RunID != "" && e.RunID != f.RunID:
		return false
	case !f.Since.IsZero() && e.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !e.Time.Before(f.Until):
		return false
	}
	return true
}

// newQuery is the query a line starts (a request) or is (a result without
// its request line, a reuse).
func newQuery(e *Entry) *Query {
	q := &Query{Time: e.Time, RunID: e.RunID, Product: e.Product, ApplicantKey: e.ApplicantKey,
		AuthCode: e.AuthCode, AuthURL: e.AuthURL, AuthDate: e.AuthDate, Source: e.Source, RequestNo: e.RequestNo,
		TransactionID: e.TransactionID, Code: e.Code, Outcome: e.Outcome, Billed: e.Billed, Error: e.Error,
		AnsweredAt: e.RepliedAt}
	if q.Source == "" {
		q.Source = SourceVendor
	}
	switch e.Event {
	case EventRequest:
		q.Outcome, q.Billed = OutcomeUnknown, BilledPossibly
	case EventResult:
		q.AnsweredAt = e.Time
	}
	if q.Outcome == "" {
		q.Outcome = OutcomeUnknown
	}
	if q.Billed == "" {
		q.Billed = BilledPossibly
	}
	return q
}

// result completes a request with its result line.
func (q *Query) result(e *Entry) {
	q.TransactionID, q.Code, q.Outcome, q.Billed, q.Error = e.TransactionID, e.Code, e.Outcome, e.Billed, e.Error
	q.AnsweredAt = e.Time
	if q.Outcome == "" {
		q.Outcome = OutcomeUnknown
	}
	if q.Billed == "" {
		q.Billed = BilledPossibly
	}
}
