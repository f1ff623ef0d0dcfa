package audit

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/redact"
	"github.com/scorepipe/scorepipe/transform"
)

// Recorder writes the lines of one run, with the run's id: every request
// sent to the vendor before it is sent (Requested), what came of it
// (Answered), and every reply used for a row without a request (Reused).
// Its methods return the log's failures; they are safe for concurrent use.
type Recorder struct {
	log    *Log
	runID  string
	policy tianyuan.CodePolicy
	next   atomic.Int64 // the last request number given

	mu    sync.Mutex // guards keyer, which is not safe for concurrent use
	keyer *transform.Keyer
}

// NewRecorder returns the Recorder of run runID writing to log; secret is
// the identity secret the applicant keys are made with.
func NewRecorder(log *Log, runID string, secret []byte, policy tianyuan.CodePolicy) (*Recorder, error) {
	keyer, err := transform.NewKeyer(secret)
	if err != nil {
		return nil, err
	}
	return &Recorder{log: log, runID: runID, policy: policy, keyer: keyer}, nil
}

// applicantKey returns the applicant key of the identity in params, as the
// run makes it for the row (params hold the normalised identity).
func (a *Recorder) applicantKey(params tianyuan.Params) string {
	app := transform.Applicant{Name: params[transform.ParamName], IDCard: params[transform.ParamIDCard],
		Mobile: params[transform.ParamMobile]}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.keyer.Key(&app)
}

// Requested writes the line of a request about to be sent, and returns
// its number once the line is durable.
func (a *Recorder) Requested(product string, params tianyuan.Params) (int64, error) {
	no := a.next.Add(1)
	e := a.entry(EventRequest, product, a.applicantKey(params), params)
	e.RequestNo, e.Source, e.Billed = no, SourceVendor, BilledPossibly
	if err := a.log.Append(&e, true); err != nil {
		return no, err
	}
	return no, nil
}

// Answered writes what came of request no (reply and error as the vendor
// client returned them), and returns once the line is durable.
func (a *Recorder) Answered(no int64, product string, params tianyuan.Params, reply *tianyuan.Reply, err error) error {
	e := a.entry(EventResult, product, a.applicantKey(params), params)
	e.RequestNo, e.Source = no, SourceVendor
	e.TransactionID, e.Code = replyFacts(reply, err)
	switch {
	case err == nil && reply != nil && reply.Code == 0:
		e.Outcome, e.Billed = OutcomeOK, BilledYes
	case reply != nil && a.policy.BilledAnswer(reply, err):
		e.Outcome, e.Billed = OutcomeNoRecord, BilledYes
	case tianyuan.PossiblyBilled(err):
		e.Outcome, e.Billed = OutcomeFailed, BilledPossibly
	default:
		e.Outcome, e.Billed = OutcomeFailed, BilledNo
	}
	if err != nil && e.Outcome == OutcomeFailed {
		e.Error = err.Error() // the code, the vendor's message, what was wrong: never the reply's contents
	}
	if aerr := a.log.Append(&e, true); aerr != nil {
		return aerr
	}
	return nil
}

// Reused writes the line of a reply stored by an earlier run (fromStore)
// or paid for earlier in the run, used for the row of applicantKey (made
// from params when empty), when it holds an answer; it returns at once
// (see Log.Append).
func (a *Recorder) Reused(product, applicantKey string, params tianyuan.Params, reply *tianyuan.Reply, err error, fromStore bool) error {
	if reply == nil || !a.policy.BilledAnswer(reply, err) {
		return nil
	}
	if applicantKey == "" {
		applicantKey = a.applicantKey(params)
	}
	e := a.entry(EventReuse, product, applicantKey, params)
	e.Source = SourceRun
	if fromStore {
		e.Source = SourceStore
	}
	e.TransactionID, e.Code = replyFacts(reply, nil)
	e.Outcome, e.Billed, e.RepliedAt = OutcomeOK, BilledNo, reply.ReceivedAt
	if reply.Code != 0 {
		e.Outcome = OutcomeNoRecord
	}
	if aerr := a.log.Append(&e, false); aerr != nil {
		return aerr
	}
	return nil
}

// entry starts a line about the applicant of params.
func (a *Recorder) entry(event Event, product, key string, params tianyuan.Params) Entry {
	e := Entry{RunID: a.runID, Event: event, Product: product, ApplicantKey: key}
	e.AuthCode = maskIdentityIn(params[transform.ParamAuthCode], params)
	e.AuthURL = maskIdentityIn(params[transform.ParamAuthURL], params)
	e.AuthDate = maskIdentityIn(params[transform.ParamAuthDate], params)
	return e
}

// replyFacts returns the transaction id and code of a reply, or of the
// error that carried them when no reply was read.
func replyFacts(reply *tianyuan.Reply, err error) (string, *int) {
	if reply != nil {
		code := reply.Code
		return reply.TransactionID, &code
	}
	var (
		ce *tianyuan.CodeError
		he *tianyuan.HTTPError
		pe *tianyuan.ProtocolError
	)
	switch {
	case errors.As(err, &ce):
		code := ce.Code
		return ce.TransactionID, &code
	case errors.As(err, &he):
		if he.Code != 0 {
			code := he.Code
			return he.TransactionID, &code
		}
		return he.TransactionID, nil
	case errors.As(err, &pe):
		return pe.TransactionID, nil
	}
	return "", nil
}

// maskIdentityIn returns an authorization reference with the applicant's
// ID number, mobile and name masked wherever it holds them (a letter's URL
// named after the person, say): the ID number and the mobile whatever
// separates their digits (spaces, dashes, dots, slashes, their
// percent-encodings: "AUTH180-7358-7840", "?id=510104%20197601017207") and
// the ID number's check character in either case (see redact.Value), the
// name also percent-encoded. The audit log holds no raw identity. A name of
// one character is left alone: it would mask unrelated text.
func maskIdentityIn(ref string, params tianyuan.Params) string {
	if ref == "" {
		return ""
	}
	name, id, mobile := params[transform.ParamName], params[transform.ParamIDCard], params[transform.ParamMobile]
	digits := redact.Digits(ref)
	holdsID := id != "" && digits >= redact.Digits(id)
	holdsMobile := mobile != "" && digits >= redact.Digits(mobile)
	holdsName := utf8.RuneCountInString(name) > 1 && (strings.Contains(ref, name) || !isASCII(name) && strings.Contains(ref, "%"))
	if !holdsID && !holdsMobile && !holdsName {
		return ref // the usual case: too few digits for the ID number or the mobile, and not the name
	}
	mName, mID, mMobile := transform.MaskIdentity(name, id, mobile)
	if holdsID {
		ref, _ = redact.Value(ref, id, maskedAt(id, mID))
	}
	if holdsMobile {
		ref, _ = redact.Value(ref, mobile, maskedAt(mobile, mMobile))
	}
	if !holdsName {
		return ref
	}
	pairs := []string{name, mName}
	if strings.Contains(ref, "%") && !isASCII(name) {
		pairs = append(pairs, url.QueryEscape(name), url.QueryEscape(mName), url.PathEscape(name), url.PathEscape(mName),
			strings.ToLower(url.PathEscape(name)), url.PathEscape(mName))
	}
	return strings.NewReplacer(pairs...).Replace(ref)
}

// maskedAt says which characters of value its masked form hides: those
// masked with '*' when it has value's length in bytes, else all.
func maskedAt(value, masked string) func(i int) bool {
	if len(masked) != len(value) {
		return func(int) bool { return true }
	}
	return func(i int) bool { return masked[i] == '*' }
}

// isASCII reports whether s is ASCII only.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
