package tianyuan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/scorepipe/scorepipe/redact"
)

// HTTPError is a reply whose HTTP status is not 2xx (nor 3xx, see
// [RedirectError]).
type HTTPError struct {
	Product    string
	StatusCode int
	// RetryAfter is the server's Retry-After (seconds or an HTTP date),
	// 0 when absent or already past.
	RetryAfter time.Duration
	// Code is the vendor's when the body was an envelope with a non-zero
	// code (0 otherwise); Message and TransactionID when the body was a
	// JSON object that had them.
	Code          int
	Message       string
	TransactionID string
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tianyuan: %s: HTTP %d %s", e.Product, e.StatusCode, http.StatusText(e.StatusCode))
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, ": vendor code %d: %s", e.Code, CodeText(e.Code))
	}
	writeVendorText(&b, e.Message, e.TransactionID)
	return b.String()
}

// RedirectError is a 3xx reply. Redirects are never followed: a POST
// redirected elsewhere would carry the Access-Id and the encrypted
// parameters to an address nobody configured (plain http, even), so a
// redirect means a wrong endpoint.
type RedirectError struct {
	Product    string
	StatusCode int
	// Location is where the reply pointed, resolved against the request
	// URL, without its query, fragment or user information ("" when the
	// reply named none or named it unreadably).
	Location string
}

func (e *RedirectError) Error() string {
	to := e.Location
	if to == "" {
		to = "no readable location"
	}
	return fmt.Sprintf("tianyuan: %s: the endpoint redirects (HTTP %d %s) to %s: redirects are not followed; "+
		"set the endpoint (SCOREPIPE_ENDPOINT or vendor.base_url) to the vendor's real address",
		e.Product, e.StatusCode, http.StatusText(e.StatusCode), to)
}

// ProtocolError is a reply that arrived but cannot be understood: a 2xx
// body that is not JSON, not an object, holds neither "code" nor
// "responses", a code that is not an integer, code-0 data that is not a
// string, "responses" that is not a list, a body over [MaxBodySize], a
// body that could not be read to its end (of any status); or a non-2xx
// reply that carries a code-0 answer all the same. The vendor may
// have billed it ([PossiblyBilled]). Its message says what was wrong and
// never quotes the body.
type ProtocolError struct {
	Product    string
	StatusCode int
	// Reason says what was wrong, in words: field names and JSON kinds,
	// never a piece of the body.
	Reason string
	// NotJSON is set when the body was not JSON at all (empty, an HTML
	// page from a gateway, cut short) or could not be read to its end (the
	// connection broke, the timeout passed): one more attempt may get a real
	// answer (see [CodePolicy.Retrier]). A body of valid JSON that cannot
	// be understood will not change on retry.
	NotJSON bool
	// Message and TransactionID are the vendor's, when the body had them.
	Message       string
	TransactionID string
}

func (e *ProtocolError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tianyuan: %s: unreadable reply (HTTP %d): %s", e.Product, e.StatusCode, e.Reason)
	writeVendorText(&b, e.Message, e.TransactionID)
	b.WriteString("; the vendor may have billed it")
	return b.String()
}

// writeVendorText appends the vendor's message (printable, long digit runs
// masked) and transaction id, when there are any.
func writeVendorText(b *strings.Builder, message, transactionID string) {
	if m := sanitize([]byte(message), 120); m != "" {
		fmt.Fprintf(b, " (vendor message %q)", m)
	}
	if transactionID != "" {
		fmt.Fprintf(b, " [transaction %s]", printable([]byte(transactionID), 80))
	}
}

// PossiblyBilled reports whether err is a call the vendor may have billed
// although no answer could be read from it: a reply that could not be
// understood or read to its end ([*ProtocolError]), or a request sent that
// got no reply ([*NoReplyError]).
func PossiblyBilled(err error) bool {
	var (
		pe *ProtocolError
		ne *NoReplyError
	)
	return errors.As(err, &pe) || errors.As(err, &ne)
}

// CodeError is a readable envelope with a non-zero code. Its message names
// the product, the code with what it means and what to fix, the vendor's
// message (printable, long digit runs masked) and the transaction id; never
// the request parameters.
type CodeError struct {
	Product       string
	Code          int
	Message       string // the vendor's message as received
	TransactionID string
}

func (e *CodeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tianyuan: %s: vendor code %d: %s", e.Product, e.Code, CodeText(e.Code))
	writeVendorText(&b, e.Message, e.TransactionID)
	return b.String()
}

// Vendor codes documented for the API.
const (
	CodeOK                = 0
	CodeInterfaceError    = 1001
	CodeDecryptFailed     = 1002
	CodeInvalidParams     = 1003
	CodeIPNotWhitelisted  = 1004
	CodeAccessIDMissing   = 1005
	CodeAccessIDDenied    = 1006
	CodeBalance           = 1007
	CodeProductNotEnabled = 1008
	CodeBusinessFailure   = 2001
)

// CodeText explains a vendor code in English and says what to fix.
func CodeText(code int) string {
	switch code {
	case CodeOK:
		return "success"
	case CodeInterfaceError:
		return "vendor interface error: transient, retry later"
	case CodeDecryptFailed:
		return "the vendor could not decrypt the parameters: the access key (or vendor.key_format, hex or raw) is wrong"
	case CodeInvalidParams:
		return "parameter validation failed: check the applicant's fields and the request timestamp (clock)"
	case CodeIPNotWhitelisted:
		return "this machine's IP address is not whitelisted: ask the vendor to add it"
	case CodeAccessIDMissing:
		return "the Access-Id header is missing: set SCOREPIPE_ACCESS_ID"
	case CodeAccessIDDenied:
		return "the Access-Id is not authorised: check SCOREPIPE_ACCESS_ID"
	case CodeBalance:
		return "insufficient balance: top up the account"
	case CodeProductNotEnabled:
		return "the product is not enabled for this account: ask the vendor to enable it, or check the product code"
	case CodeBusinessFailure:
		return "business failure: the vendor could not produce a result for this applicant"
	}
	return "unknown vendor code"
}

// Class tells a caller what to do with an error.
type Class int

const (
	// Retryable: try the same call again later (transient).
	Retryable Class = iota + 1
	// Fatal: no further call can succeed (credentials, balance, endpoint);
	// stop the run.
	Fatal
	// RowFailure: this applicant failed; go on with the others.
	RowFailure
	// NoRecord: the vendor has nothing on this applicant.
	NoRecord
	// Unreadable: a reply arrived but cannot be understood, and the
	// vendor may have billed it. The row fails; the call is not retried,
	// except once for a body that was not JSON at all (see
	// [CodePolicy.Retrier]): a malformed answer will not change on retry,
	// and each attempt may be paid for.
	Unreadable
	// Unanswered: the request was sent and no reply was read (a
	// [*NoReplyError]): the vendor may have billed it. Tried once more in
	// a call, no more (see [CodePolicy.Retrier]).
	Unanswered
)

func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case Fatal:
		return "fatal"
	case RowFailure:
		return "row_failure"
	case NoRecord:
		return "no_record"
	case Unreadable:
		return "unreadable"
	case Unanswered:
		return "unanswered"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// CodePolicy says which non-zero vendor codes are retryable, fatal or mean
// "no record"; every other non-zero code is a [RowFailure].
type CodePolicy struct {
	Retryable []int
	Fatal     []int
	NoRecord  []int
}

// DefaultCodePolicy returns the documented behaviour: 1001 is retryable,
// 1002 and 1004–1008 are fatal, 1003, 2001 and unknown codes fail the row,
// and no code means "no record".
func DefaultCodePolicy() CodePolicy {
	return CodePolicy{
		Retryable: []int{CodeInterfaceError},
		Fatal: []int{CodeDecryptFailed, CodeIPNotWhitelisted, CodeAccessIDMissing,
			CodeAccessIDDenied, CodeBalance, CodeProductNotEnabled},
		NoRecord: []int{},
	}
}

// Validate reports a code listed as 0 or in more than one set.
func (p CodePolicy) Validate() error {
	seen := map[int]string{}
	for _, set := range []struct {
		name  string
		codes []int
	}{{"retryable", p.Retryable}, {"fatal", p.Fatal}, {"no_record", p.NoRecord}} {
		for _, c := range set.codes {
			if c == CodeOK {
				return fmt.Errorf("tianyuan: code policy: code 0 means success and cannot be %s", set.name)
			}
			if prev, ok := seen[c]; ok && prev != set.name {
				return fmt.Errorf("tianyuan: code policy: code %d is both %s and %s", c, prev, set.name)
			}
			seen[c] = set.name
		}
	}
	return nil
}

// ClassifyCode classifies a non-zero vendor code.
func (p CodePolicy) ClassifyCode(code int) Class {
	switch {
	case slices.Contains(p.Fatal, code):
		return Fatal
	case slices.Contains(p.Retryable, code):
		return Retryable
	case slices.Contains(p.NoRecord, code):
		return NoRecord
	}
	return RowFailure
}

// Classify sorts an error from a [Caller]:
//
//   - [*CodeError]: by the policy's sets ([CodePolicy.ClassifyCode]);
//   - [*RedirectError]: Fatal (a wrong endpoint);
//   - [*HTTPError]: Fatal when it carries a vendor code the policy calls
//     fatal; else 408, 429 and 5xx are Retryable; 401, 403, 404 are Fatal
//     (wrong endpoint or credentials); other statuses RowFailure;
//   - [*ProtocolError]: Unreadable;
//   - [*NoReplyError]: Unanswered, or Fatal when the call was cancelled
//     (the run is stopping; do not retry);
//   - context.Canceled: Fatal (the run is stopping; do not retry);
//   - context.DeadlineExceeded, net.Error, io.ErrUnexpectedEOF, io.EOF and
//     other transport errors ([*url.Error]): Retryable;
//   - anything else: RowFailure.
//
// Classify(nil) is 0, which is not a class.
func (p CodePolicy) Classify(err error) Class {
	if err == nil {
		return 0
	}
	var ce *CodeError
	if errors.As(err, &ce) {
		return p.ClassifyCode(ce.Code)
	}
	var re *RedirectError
	if errors.As(err, &re) {
		return Fatal
	}
	var he *HTTPError
	if errors.As(err, &he) {
		if he.Code != CodeOK && p.ClassifyCode(he.Code) == Fatal {
			return Fatal
		}
		switch s := he.StatusCode; {
		case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500:
			return Retryable
		case s == http.StatusUnauthorized, s == http.StatusForbidden, s == http.StatusNotFound,
			s >= 300 && s < 400:
			return Fatal
		}
		return RowFailure
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return Unreadable
	}
	var nr *NoReplyError
	if errors.As(err, &nr) && !nr.cancelled() {
		return Unanswered
	}
	if errors.Is(err, context.Canceled) {
		return Fatal
	}
	var ne net.Error
	var ue *url.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) || errors.As(err, &ue) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return Retryable
	}
	return RowFailure
}

// Retrier returns what decides, for one call, whether another attempt is
// worth it after each failed one, by the errors alone (a caller's own cap
// on attempts still applies): after a Retryable error, yes; after an
// attempt the vendor may have billed without an answer being read, an
// Unanswered one or an Unreadable reply whose body was not JSON at all or
// was cut off ([ProtocolError.NotJSON]: a gateway's page, a broken
// connection), once per call, the two kinds counted together; after
// anything else, no. A malformed answer will not change on retry, and
// each attempt may be billed: a vendor that always cuts its answers off
// costs two attempts per call, not the caller's cap.
func (p CodePolicy) Retrier() func(err error) bool {
	possiblyBilled := 0
	return func(err error) bool {
		switch p.Classify(err) {
		case Retryable:
			return true
		case Unanswered:
			possiblyBilled++
			return possiblyBilled <= 1
		case Unreadable:
			possiblyBilled++
			var pe *ProtocolError
			return possiblyBilled <= 1 && errors.As(err, &pe) && pe.NotJSON
		}
		return false
	}
}

// sanitize makes the first limit bytes of b printable on one line: invalid
// UTF-8 and control characters become spaces, numbers that look like an ID
// number or a mobile (whatever separates their digits) and hex strings as
// long as a key are masked with '*' (see [redact.Text]), and "…" marks a
// cut. The masking reads past the limit, so that a number cut short is
// masked whole.
func sanitize(b []byte, limit int) string {
	runes, cut := printableRunes(b, max(limit, maskedLength))
	s := redact.Text(string(runes))
	if len(s) > limit {
		i := limit
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s, cut = s[:i], true
	}
	s = strings.TrimSpace(s)
	if cut {
		s += "…"
	}
	return s
}

// maskedLength is how much of a vendor's text sanitize reads.
const maskedLength = 4096

// printable is sanitize without the digit masking, for vendor-made text
// such as transaction ids.
func printable(b []byte, limit int) string {
	return runesText(printableRunes(b, limit))
}

func runesText(runes []rune, cut bool) string {
	s := strings.TrimSpace(string(runes))
	if cut {
		s += "…"
	}
	return s
}

func printableRunes(b []byte, limit int) ([]rune, bool) {
	runes := make([]rune, 0, min(len(b), limit))
	used, cut := 0, false
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if used+n > limit {
			cut = true
			break
		}
		b, used = b[n:], used+n
		if r == utf8.RuneError && n <= 1 || !unicode.IsPrint(r) {
			r = ' '
		}
		runes = append(runes, r)
	}
	return runes, cut
}
