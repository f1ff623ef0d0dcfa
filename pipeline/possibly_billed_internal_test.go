package pipeline

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/store"
)

// TestPossiblyBilledCallIsNotMadeAgainInTheRun: once a call ended with an
// attempt the vendor may have billed without an answer read (no reply, a
// body not JSON or cut off, a malformed one), an identical call later in
// the run gets its failure without a request; a failure never billed (a
// connection refused, a business failure code) is called again.
func TestPossiblyBilledCallIsNotMadeAgainInTheRun(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name  string
		err   error
		first int64 // attempts of the first call (retry.max_attempts 5)
		again int64 // attempts of the identical call after it
	}{
		{"no reply", &tianyuan.NoReplyError{Product: "JRZQ9E2A", Err: context.DeadlineExceeded}, 2, 0},
		{"connection reset while waiting", &tianyuan.NoReplyError{Product: "JRZQ9E2A", Err: syscall.ECONNRESET}, 2, 0},
		{"body cut off", &tianyuan.ProtocolError{Product: "JRZQ9E2A", StatusCode: 200, NotJSON: true, Reason: "cut"}, 2, 0},
		{"malformed", &tianyuan.ProtocolError{Product: "JRZQ9E2A", StatusCode: 200, Reason: "no code"}, 1, 0},
		{"connection refused", refused, 5, 5},
		{"business failure", &tianyuan.CodeError{Product: "JRZQ9E2A", Code: 2001}, 1, 1},
	}
	secret := []byte("0123456789abcdef")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(filepath.Join(t.TempDir(), "replies.db"), store.Options{Secret: secret, KeepSecret: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			vendor := &countingCaller{err: tt.err}
			retry := &retrying{next: vendor, policy: tianyuan.DefaultCodePolicy(), maxAttempts: 5, base: time.Millisecond, max: time.Millisecond}
			st := &stored{next: retry, store: s, keys: newKeyer(secret), stats: &productStats{}, runStart: time.Now()}
			params := tianyuan.Params{"id_card": "110101199001011234", "name": "张三", "mobile_no": "13800138000"}

			_, _, _, err1 := st.call(context.Background(), "JRZQ9E2A", "", params, false)
			if got := vendor.calls.Load(); got != tt.first {
				t.Errorf("first call: %d attempts, want %d", got, tt.first)
			}
			_, _, _, err2 := st.call(context.Background(), "JRZQ9E2A", "", params, false)
			if got := vendor.calls.Load() - tt.first; got != tt.again {
				t.Errorf("identical call: %d attempts, want %d", got, tt.again)
			}
			if !errors.Is(err1, tt.err) || !errors.Is(err2, tt.err) {
				t.Errorf("errors %v and %v, want both %v", err1, err2, tt.err)
			}
			wantMerged := int64(0)
			if tt.again == 0 {
				wantMerged = 1
			}
			if got := st.stats.merged.Load(); got != wantMerged {
				t.Errorf("deduplicated %d, want %d", got, wantMerged)
			}
		})
	}
}
