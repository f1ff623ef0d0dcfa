package pipeline

import (
	"context"
	"errors"
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

var errDiskFull = &audit.WriteError{Path: "audit.jsonl", Op: "sync", Err: syscall.ENOSPC}

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
