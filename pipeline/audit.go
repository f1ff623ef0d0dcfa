package pipeline

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/scorepipe/scorepipe/audit"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/shards"
	"github.com/scorepipe/scorepipe/transform"
)

// Auditor records every request sent to the vendor and every reply used
// for a row without one, for the consent audit trail (package audit).
//
// Requested is called before a request is sent, and returns once its
// record is durable: a request it fails for is not sent. Answered is
// called with what came of it (reply and error as the vendor client
// returned them), before the reply is stored, and returns once that is
// durable too. Reused records a reply stored by an earlier run (fromStore)
// or paid for earlier in the run for an identical applicant, used for the
// row of applicantKey, when it holds an answer (code 0, or a code that
// means "no record"; a failure shared by identical calls is no use of
// data); it returns at once (see audit.Log). Every method is safe for
// concurrent use.
type Auditor interface {
	Requested(product string, params tianyuan.Params) (requestNo int64, err error)
	Answered(requestNo int64, product string, params tianyuan.Params, reply *tianyuan.Reply, err error) error
	Reused(product, applicantKey string, params tianyuan.Params, reply *tianyuan.Reply, err error, fromStore bool) error
}

// AuditError is a failure to record a query in the audit log: the run
// stops (exit 3), since it may not send a request it could not record.
type AuditError struct{ Err error }

func (e *AuditError) Error() string { return "consent audit trail: " + e.Err.Error() }
func (e *AuditError) Unwrap() error { return e.Err }

// runAuditor is the Auditor of a run: lines of audit.Log with the run's id.
type runAuditor struct {
	log    *audit.Log
	runID  string
	policy tianyuan.CodePolicy
	next   atomic.Int64 // the last request number given

	mu    sync.Mutex // guards keyer, which is not safe for concurrent use
	keyer *transform.Keyer
}

var _ Auditor = (*runAuditor)(nil)

// newRunAuditor returns the Auditor of run runID writing to log.
func newRunAuditor(log *audit.Log, runID string, secret []byte, policy tianyuan.CodePolicy) (*runAuditor, error) {
	keyer, err := transform.NewKeyer(secret)
	if err != nil {
		return nil, err
	}
	return &runAuditor{log: log, runID: runID, policy: policy, keyer: keyer}, nil
}

// applicantKey returns the applicant key of the identity in params, as the
// run makes it for the row (params hold the normalised identity).
func (a *runAuditor) applicantKey(params tianyuan.Params) string {
	app := transform.Applicant{Name: params[transform.ParamName], IDCard: params[transform.ParamIDCard],
		Mobile: params[transform.ParamMobile]}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.keyer.Key(&app)
}

func (a *runAuditor) Requested(product string, params tianyuan.Params) (int64, error) {
	no := a.next.Add(1)
	e := a.entry(audit.EventRequest, product, a.applicantKey(params), params)
	e.RequestNo, e.Source, e.Billed = no, audit.SourceVendor, audit.BilledPossibly
	if err := a.log.Append(&e, true); err != nil {
		return no, &AuditError{Err: err}
	}
	return no, nil
}

func (a *runAuditor) Answered(no int64, product string, params tianyuan.Params, reply *tianyuan.Reply, err error) error {
	e := a.entry(audit.EventResult, product, a.applicantKey(params), params)
	e.RequestNo, e.Source = no, audit.SourceVendor
	e.TransactionID, e.Code = replyFacts(reply, err)
	switch {
	case err == nil && reply != nil && reply.Code == 0:
		e.Outcome, e.Billed = audit.OutcomeOK, audit.BilledYes
	case reply != nil && keep(a.policy, reply, err):
		e.Outcome, e.Billed = audit.OutcomeNoRecord, audit.BilledYes
	case tianyuan.PossiblyBilled(err):
		e.Outcome, e.Billed = audit.OutcomeFailed, audit.BilledPossibly
	default:
		e.Outcome, e.Billed = audit.OutcomeFailed, audit.BilledNo
	}
	if err != nil && e.Outcome == audit.OutcomeFailed {
		e.Error = err.Error() // the code, the vendor's message, what was wrong: never the reply's contents
	}
	if aerr := a.log.Append(&e, true); aerr != nil {
		return &AuditError{Err: aerr}
	}
	return nil
}

func (a *runAuditor) Reused(product, applicantKey string, params tianyuan.Params, reply *tianyuan.Reply, err error, fromStore bool) error {
	if reply == nil || !keep(a.policy, reply, err) {
		return nil
	}
	if applicantKey == "" {
		applicantKey = a.applicantKey(params)
	}
	e := a.entry(audit.EventReuse, product, applicantKey, params)
	e.Source = audit.SourceRun
	if fromStore {
		e.Source = audit.SourceStore
	}
	e.TransactionID, e.Code = replyFacts(reply, nil)
	e.Outcome, e.Billed, e.RepliedAt = audit.OutcomeOK, audit.BilledNo, reply.ReceivedAt
	if reply.Code != 0 {
		e.Outcome = audit.OutcomeNoRecord
	}
	if aerr := a.log.Append(&e, false); aerr != nil {
		return &AuditError{Err: aerr}
	}
	return nil
}

// entry starts a line about the applicant of params.
func (a *runAuditor) entry(event audit.Event, product, key string, params tianyuan.Params) audit.Entry {
	e := audit.Entry{RunID: a.runID, Event: event, Product: product, ApplicantKey: key}
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
// named after the person, say), also percent-encoded: the audit log holds
// no raw identity. A name of one character is left alone: it would mask
// unrelated text.
func maskIdentityIn(ref string, params tianyuan.Params) string {
	if ref == "" {
		return ""
	}
	name, id, mobile := params[transform.ParamName], params[transform.ParamIDCard], params[transform.ParamMobile]
	// An ID number's first 17 characters are digits: found whatever the
	// case of its last.
	id17 := id[:min(len(id), 17)]
	var hits bool
	for _, s := range []string{id17, mobile, name} {
		if s != "" && strings.Contains(ref, s) {
			hits = true
			break
		}
	}
	escaped := strings.Contains(ref, "%") && !isASCII(name)
	if !hits && !escaped {
		return ref // the usual case
	}
	mName, mID, mMobile := transform.MaskIdentity(name, id, mobile)
	pairs := []string{}
	if id != "" {
		pairs = append(pairs, id, mID, strings.ToLower(id), mID)
	}
	if mobile != "" {
		pairs = append(pairs, mobile, mMobile)
	}
	if utf8.RuneCountInString(name) > 1 {
		pairs = append(pairs, name, mName)
		if escaped {
			pairs = append(pairs, url.QueryEscape(name), url.QueryEscape(mName), url.PathEscape(name), url.PathEscape(mName),
				strings.ToLower(url.PathEscape(name)), url.PathEscape(mName))
		}
	}
	return strings.NewReplacer(pairs...).Replace(ref)
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

// audited records each request in the audit log before it is sent, and
// what came of it once it has (see Auditor). It sits inside the budget
// check, so that a call the budget refuses is no request, and inside the
// store write (persisted), which stores a reply once audited has returned:
// a reply's result line is durable before the reply is.
type audited struct {
	next  tianyuan.Caller
	audit Auditor
}

func (a *audited) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	no, err := a.audit.Requested(product, params)
	if err != nil {
		return nil, err
	}
	reply, err := a.next.Call(ctx, product, params)
	if aerr := a.audit.Answered(no, product, params, reply, err); aerr != nil {
		return reply, aerr
	}
	return reply, err
}

// reused records a reply used for the row of applicant without a request
// (see Auditor.Reused) and returns err, or the audit log's failure.
func (s *stored) reused(product, applicant string, params tianyuan.Params, reply *tianyuan.Reply, err error, fromStore bool) error {
	if s.audit == nil {
		return err
	}
	if aerr := s.audit.Reused(product, applicant, params, reply, err, fromStore); aerr != nil {
		return aerr
	}
	return err
}

// auditTrail is a run's audit log and the Auditor that writes to it.
type auditTrail struct {
	log *audit.Log
	rec *runAuditor
}

// AuditCounts say what a run wrote to the audit log, for the manifest.
type AuditCounts struct {
	Path  string `json:"path"`
	Lines int64  `json:"lines"` // lines written by this run
	// Pruned is how many lines older than cache.retain were removed at
	// the start of the run.
	Pruned int `json:"pruned"`
}

// openAudit opens the audit log beside the reply store (the store is
// open: no other run holds it) and removes its lines older than
// cache.retain, as the store's replies.
func (r *run) openAudit() error {
	path := r.cfg.AuditPath()
	if sh := r.env.Shard; sh.Sharded() {
		path = shards.StorePath(path, sh) // shards run at once, and a log has one writer: audit.shard-3.jsonl
	}
	log, err := audit.Open(path, audit.Options{})
	if err != nil {
		return &AuditError{Err: err}
	}
	rec, err := newRunAuditor(log, r.manifest.RunID, r.env.Secret, r.policy)
	if err != nil {
		log.Close()
		return err
	}
	r.audit = &auditTrail{log: log, rec: rec}
	r.manifest.Audit = &AuditCounts{Path: path}
	if r.cfg.Cache.Retain > 0 {
		n, err := log.Prune(r.env.Now().Add(-r.cfg.Cache.Retain))
		if err != nil {
			return &AuditError{Err: err}
		}
		r.manifest.Audit.Pruned = n
		if n > 0 {
			r.log.Info("audit lines older than cache.retain were removed", "audit_log", path, "pruned", n, "retain", r.cfg.Cache.Retain)
		}
	}
	return nil
}

// flushAudit makes every line of the run durable, before its outputs are
// published: no published output holds data whose use is not recorded.
func (r *run) flushAudit() error {
	if r.audit == nil {
		return nil
	}
	if err := r.audit.log.Flush(); err != nil {
		return &AuditError{Err: err}
	}
	r.manifest.Audit.Lines = r.audit.log.Lines()
	return nil
}

// closeAudit closes the audit log, making its lines durable.
func (r *run) closeAudit() {
	if r.audit != nil {
		_ = r.audit.log.Close()
	}
}
