package pipeline

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/audit"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/store"
	"github.com/scorepipe/scorepipe/transform"
)

// failingAuditor fails Requested or Answered, as a full disk would.
type failingAuditor struct {
	failRequested, failAnswered bool
	requested, answered         int
}

var errDiskFull = &AuditError{Err: &audit.WriteError{Path: "audit.jsonl", Op: "sync", Err: syscall.ENOSPC}}

func (a *failingAuditor) Requested(string, tianyuan.Params) (int64, error) {
	a.requested++
	if a.failRequested {
		return 0, errDiskFull
	}
	return int64(a.requested), nil
}

func (a *failingAuditor) Answered(int64, string, tianyuan.Params, *tianyuan.Reply, error) error {
	a.answered++
	if a.failAnswered {
		return errDiskFull
	}
	return nil
}

func (a *failingAuditor) Reused(string, string, tianyuan.Params, *tianyuan.Reply, error, bool) error {
	return nil
}

// answeringCaller answers code 0 and counts the calls that reach it.
type answeringCaller struct{ calls int }

func (c *answeringCaller) Call(_ context.Context, product string, _ tianyuan.Params) (*tianyuan.Reply, error) {
	c.calls++
	return &tianyuan.Reply{Product: product, TransactionID: "T1"}, nil
}

func TestAuditedFailures(t *testing.T) {
	policy := tianyuan.DefaultCodePolicy()
	tests := []struct {
		name      string
		auditor   *failingAuditor
		wantCalls int
	}{
		{"a request that cannot be recorded is not sent", &failingAuditor{failRequested: true}, 0},
		{"a result that cannot be recorded stops the run", &failingAuditor{failAnswered: true}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &answeringCaller{}
			// As the run wraps it: retries outside, so that an audit
			// failure taken for a transient one would be paid again.
			c := &retrying{next: &audited{next: next, audit: tt.auditor}, policy: policy, maxAttempts: 5}
			_, err := c.Call(context.Background(), "JRZQ9E2A", tianyuan.Params{})
			var ae *AuditError
			if !errors.As(err, &ae) {
				t.Fatalf("Call = %v, want an *AuditError", err)
			}
			if next.calls != tt.wantCalls {
				t.Errorf("%d calls reached the vendor, want %d (never retried)", next.calls, tt.wantCalls)
			}
			if policy.Classify(err) == tianyuan.Retryable {
				t.Errorf("an audit failure (%v) is classified retryable: a retry is a new paid call", err)
			}
			r := &run{policy: policy}
			if !r.isFatal(err) {
				t.Errorf("isFatal(%v) = false, want the run stopped", err)
			}
		})
	}
}

func TestMaskIdentityIn(t *testing.T) {
	params := tianyuan.Params{transform.ParamName: "张三丰", transform.ParamIDCard: "11010119900307663X",
		transform.ParamMobile: "13800138000"}
	mName, mID, mMobile := transform.MaskIdentity("张三丰", "11010119900307663X", "13800138000")
	tests := []struct {
		name, ref, want string
		params          tianyuan.Params
	}{
		{"nothing to mask", "AUTH2026000001", "AUTH2026000001", params},
		{"empty", "", "", params},
		{"the ID number", "AUTH-11010119900307663X", "AUTH-" + mID, params},
		{"the ID number, lower case", "https://a/11010119900307663x.pdf", "https://a/" + mID + ".pdf", params},
		{"the mobile", "M13800138000", "M" + mMobile, params},
		{"the name", "https://a/张三丰.pdf", "https://a/" + mName + ".pdf", params},
		{"the name, percent-encoded", "https://a/?n=" + url.QueryEscape("张三丰"), "https://a/?n=" + url.QueryEscape(mName), params},
		{"the name in a path, percent-encoded", "https://a/" + url.PathEscape("张三丰"), "https://a/" + url.PathEscape(mName), params},
		{"all of them", "张三丰/11010119900307663X/13800138000", mName + "/" + mID + "/" + mMobile, params},
		{"a name of one character is left alone", "https://a/b.pdf", "https://a/b.pdf",
			tianyuan.Params{transform.ParamName: "b", transform.ParamIDCard: "11010119900307663X", transform.ParamMobile: "13800138000"}},
		{"no identity in params", "AUTH-1", "AUTH-1", tianyuan.Params{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maskIdentityIn(tt.ref, tt.params); got != tt.want {
				t.Errorf("maskIdentityIn(%q) = %q, want %q", tt.ref, got, tt.want)
			}
		})
	}
}

func TestReplyFacts(t *testing.T) {
	tests := []struct {
		name    string
		reply   *tianyuan.Reply
		err     error
		wantTxn string
		want    *int
	}{
		{"a reply", &tianyuan.Reply{Code: 0, TransactionID: "T1"}, nil, "T1", intp(0)},
		{"a code in the reply", &tianyuan.Reply{Code: 2001, TransactionID: "T2"}, &tianyuan.CodeError{Code: 2001}, "T2", intp(2001)},
		{"a code error alone", nil, &tianyuan.CodeError{Code: 1001, TransactionID: "T3"}, "T3", intp(1001)},
		{"an HTTP error with a code", nil, &tianyuan.HTTPError{StatusCode: 500, Code: 1007, TransactionID: "T4"}, "T4", intp(1007)},
		{"an HTTP error", nil, &tianyuan.HTTPError{StatusCode: 503}, "", nil},
		{"an unreadable reply", nil, &tianyuan.ProtocolError{StatusCode: 200, TransactionID: "T5"}, "T5", nil},
		{"a transport error", nil, syscall.ECONNRESET, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			txn, code := replyFacts(tt.reply, tt.err)
			if txn != tt.wantTxn || (code == nil) != (tt.want == nil) || code != nil && *code != *tt.want {
				t.Errorf("replyFacts = %q, %v; want %q, %v", txn, code, tt.wantTxn, tt.want)
			}
		})
	}
}

func intp(n int) *int { return &n }

// TestResultNotRecordedStillStored: when the audit line of a paid reply
// cannot be written (a full disk), the reply is still stored before the
// run stops, so that the rerun does not pay for it again.
func TestResultNotRecordedStillStored(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	s, err := store.Open(filepath.Join(t.TempDir(), "replies.db"), store.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	policy := tianyuan.DefaultCodePolicy()
	keys := store.NewKeyer(secret, transform.IsAuthorization)
	c := &persisted{next: &audited{next: &answeringCaller{}, audit: &failingAuditor{failAnswered: true}},
		store: s, keys: keys, policy: policy}
	params := tianyuan.Params{"name": "张三", "id_card": "11010119900307663X", "mobile_no": "13800138000"}
	_, err = c.Call(context.Background(), "JRZQ9E2A", params)
	var ae *AuditError
	if !errors.As(err, &ae) {
		t.Fatalf("Call = %v, want the *AuditError", err)
	}
	if _, found, err := s.Get(keys.Key("JRZQ9E2A", params), time.Time{}); err != nil || found != store.Fresh {
		t.Errorf("stored reply: found %v, %v; want it kept although its audit line failed", found, err)
	}
}
