package audit

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// Event is what a line records.
type Event string

const (
	// EventRequest: a request is about to be sent to the vendor. The line
	// is durable before the request leaves, so that no request the vendor
	// may bill is missing from the log, whatever happens next.
	EventRequest Event = "request"
	// EventResult: what came of a request (the line of the same run and
	// request_no), durable before the reply is stored.
	EventResult Event = "result"
	// EventReuse: a reply already paid for was used for a row instead of
	// a request: one stored by an earlier run (source "store"), or paid
	// for earlier in the same run for an identical applicant (source
	// "run").
	EventReuse Event = "reuse"
)

// Where a reply came from.
const (
	SourceVendor = "vendor" // a request sent by this line's run
	SourceStore  = "store"  // a reply stored by an earlier run
	SourceRun    = "run"    // a reply paid for earlier in the same run, for an identical applicant
)

// Outcomes of a request or of a reply reused.
const (
	OutcomeOK       = "ok"        // answered with data (code 0)
	OutcomeNoRecord = "no_record" // answered, nothing found (a code configured as "no record")
	OutcomeFailed   = "failed"    // no usable answer: a vendor code, an HTTP or transport error, an unreadable reply
	// OutcomeUnknown is not written: a query lists it for a request
	// whose result line is missing (the run was killed while the
	// request was in flight).
	OutcomeUnknown = "unknown"
)

// Whether a request was billed.
const (
	BilledYes      = "yes"
	BilledNo       = "no"
	BilledPossibly = "possibly" // a reply that could not be read, or a request with no result (yet)
)

// Entry is one line of the audit log. It holds no raw identity: the
// applicant is its key (an HMAC of the normalised identity, as the
// applicant_key column of the outputs), and the authorization reference is
// what the row carried, for the parameters the product takes.
type Entry struct {
	Time      time.Time `json:"time"` // when the line was written, UTC
	RunID     string    `json:"run_id"`
	Event     Event     `json:"event"`
	RequestNo int64     `json:"request_no,omitempty"` // numbers a run's requests: links a result to its request
	Product   string    `json:"product"`
	// ApplicantKey is the HMAC of the normalised identity.
	ApplicantKey string `json:"applicant_key"`

	// The authorization reference, as sent to the vendor (requests) or
	// as the row carried it (reuses): JRZQ9E2A's authorization file code,
	// COMBTY11's authorization URL and date range.
	AuthCode string `json:"auth_authorize_file_code,omitempty"`
	AuthURL  string `json:"authorization_url,omitempty"`
	AuthDate string `json:"auth_date,omitempty"`

	Source        string `json:"source"`                   // SourceVendor, SourceStore or SourceRun
	TransactionID string `json:"transaction_id,omitempty"` // the vendor's, of the reply (for a reuse, of the reply reused)
	Code          *int   `json:"code,omitempty"`           // the vendor's code; absent when no reply was read
	Outcome       string `json:"outcome,omitempty"`        // absent on a request line
	Billed        string `json:"billed"`                   // BilledYes, BilledNo or BilledPossibly
	Error         string `json:"error,omitempty"`          // for a failed outcome: what went wrong (never a piece of a reply)
	// RepliedAt, on a reuse line, is when the vendor answered the request
	// whose reply is reused.
	RepliedAt time.Time `json:"replied_at,omitzero"`
}

// timeLayout is how times are written: UTC, to the millisecond, fixed
// width (the reader's fast path depends on it).
const timeLayout = "2006-01-02T15:04:05.000Z"

// linePrefix starts every line the log writes; a line's time follows it.
const linePrefix = `{"time":"`

// maxField caps a text field of a line, so that no line is longer than
// the reader takes (maxLine). An authorization reference is some tens of
// bytes; a longer one is cut, with "…" at the end.
const maxField = 16 << 10

// AppendJSON appends e as one line of JSON, newline included, to b. Its
// fields are written in a fixed order, the time first.
func (e *Entry) AppendJSON(b []byte) []byte {
	b = append(b, linePrefix...)
	b = appendTime(b, e.Time)
	b = append(b, `","run_id":`...)
	b = appendString(b, e.RunID)
	b = append(b, `,"event":`...)
	b = appendString(b, string(e.Event))
	if e.RequestNo != 0 {
		b = append(b, `,"request_no":`...)
		b = strconv.AppendInt(b, e.RequestNo, 10)
	}
	b = append(b, `,"product":`...)
	b = appendString(b, e.Product)
	b = append(b, `,"applicant_key":`...)
	b = appendString(b, e.ApplicantKey)
	b = appendOptional(b, `,"auth_authorize_file_code":`, e.AuthCode)
	b = appendOptional(b, `,"authorization_url":`, e.AuthURL)
	b = appendOptional(b, `,"auth_date":`, e.AuthDate)
	b = append(b, `,"source":`...)
	b = appendString(b, e.Source)
	b = appendOptional(b, `,"transaction_id":`, e.TransactionID)
	if e.Code != nil {
		b = append(b, `,"code":`...)
		b = strconv.AppendInt(b, int64(*e.Code), 10)
	}
	b = appendOptional(b, `,"outcome":`, e.Outcome)
	b = append(b, `,"billed":`...)
	b = appendString(b, e.Billed)
	b = appendOptional(b, `,"error":`, e.Error)
	if !e.RepliedAt.IsZero() {
		b = append(b, `,"replied_at":"`...)
		b = appendTime(b, e.RepliedAt)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// appendTime appends t in timeLayout: what t.UTC().AppendFormat(b,
// timeLayout) gives, for years 0 to 9999, in a fifth of the time.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

func appendOptional(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, name...), s)
}

const hexDigits = "0123456789abcdef"

// plain marks the bytes a JSON string holds as they are: printable ASCII
// but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, U+2028 and U+2029 too (so that the line can be
// pasted into JavaScript), invalid UTF-8 replaced by U+FFFD, cut at
// maxField bytes.
func appendString(b []byte, s string) []byte {
	cut := false
	if len(s) > maxField {
		s, cut = s[:maxField], true
		for len(s) > 0 && !utf8.RuneStart(s[len(s)-1]) { // not inside a character
			s = s[:len(s)-1]
		}
		if len(s) > 0 {
			if r, _ := utf8.DecodeLastRuneInString(s); r == utf8.RuneError {
				s = s[:len(s)-1]
			}
		}
	}
	b = append(b, '"')
	// The usual text (keys, ids, codes, URLs) needs no escape: copied at once.
	i := 0
	for i < len(s) && plain[s[i]] {
		i++
	}
	if i == len(s) {
		b = append(b, s...)
		if cut {
			b = append(b, "…"...)
		}
		return append(b, '"')
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	if cut {
		b = append(b, "…"...)
	}
	return append(b, '"')
}

// ErrDamaged is wrapped by the error of a line that cannot be read: not a
// JSON object, or lacking the time, run, event or product.
var ErrDamaged = errors.New("damaged audit line")

// damagedError says why a line is damaged.
type damagedError struct{ why string }

func (e *damagedError) Error() string { return "damaged audit line: " + e.why }
func (e *damagedError) Unwrap() error { return ErrDamaged }

// ParseLine reads one line of the log (without its newline, or with it).
// A line that is not a JSON object, or lacks the time, the run id, a known
// event or the product, is damaged (an error wrapping ErrDamaged).
func ParseLine(line []byte) (Entry, error) {
	var e Entry
	if err := json.Unmarshal(line, &e); err != nil {
		return Entry{}, &damagedError{why: "not a JSON object of an audit line"}
	}
	switch {
	case e.Time.IsZero():
		return Entry{}, &damagedError{why: "no time"}
	case e.RunID == "":
		return Entry{}, &damagedError{why: "no run_id"}
	case e.Event != EventRequest && e.Event != EventResult && e.Event != EventReuse:
		return Entry{}, &damagedError{why: "no known event"}
	case e.Product == "":
		return Entry{}, &damagedError{why: "no product"}
	}
	e.Time = e.Time.UTC()
	if !e.RepliedAt.IsZero() {
		e.RepliedAt = e.RepliedAt.UTC()
	}
	return e, nil
}

// fastLineTime returns the time of a line from the place the log writes
// it at; ok is false when it is not there.
func fastLineTime(line []byte) (time.Time, bool) {
	const end = len(linePrefix) + len(timeLayout)
	if len(line) > end && string(line[:len(linePrefix)]) == linePrefix && line[end] == '"' {
		if t, err := time.Parse(timeLayout, string(line[len(linePrefix):end])); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// lineTime returns the time of a line: read from the fixed place the log
// writes it at, else from the whole line. ok is false for a damaged line.
func lineTime(line []byte) (time.Time, bool) {
	if t, ok := fastLineTime(line); ok {
		return t, true
	}
	e, err := ParseLine(line)
	if err != nil {
		return time.Time{}, false
	}
	return e.Time, true
}
