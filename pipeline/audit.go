package pipeline

import (
	"context"

	"github.com/scorepipe/scorepipe/audit"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/shards"
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
// data); it returns at once (see audit.Log). Each returns the log's
// failure, which the callers make an *AuditError. Every method is safe for
// concurrent use (audit.Recorder is the run's).
type Auditor interface {
	Requested(product string, params tianyuan.Params) (requestNo int64, err error)
	Answered(requestNo int64, product string, params tianyuan.Params, reply *tianyuan.Reply, err error) error
	Reused(product, applicantKey string, params tianyuan.Params, reply *tianyuan.Reply, err error, fromStore bool) error
}

var _ Auditor = (*audit.Recorder)(nil)

// AuditError is a failure to record a query in the audit log: the run
// stops (exit 3), since it may not send a request it could not record.
type AuditError struct{ Err error }

func (e *AuditError) Error() string { return "consent audit trail: " + e.Err.Error() }
func (e *AuditError) Unwrap() error { return e.Err }

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
		return nil, &AuditError{Err: err}
	}
	reply, err := a.next.Call(ctx, product, params)
	if aerr := a.audit.Answered(no, product, params, reply, err); aerr != nil {
		return reply, &AuditError{Err: aerr}
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
		return &AuditError{Err: aerr}
	}
	return err
}

// auditTrail is a run's audit log and the Auditor that writes to it.
type auditTrail struct {
	log *audit.Log
	rec *audit.Recorder
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
	rec, err := audit.NewRecorder(log, r.manifest.RunID, r.env.Secret, r.policy)
	if err != nil {
		log.Close()
		return err
	}
	r.audit = &auditTrail{log: log, rec: rec}
	r.manifest.Audit = &manifest.AuditCounts{Path: path}
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
