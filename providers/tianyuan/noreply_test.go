package tianyuan

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// dropConn takes the connection of w over and closes it; with reset, a TCP
// RST is sent rather than a FIN. What w holds unflushed is not sent.
func dropConn(t *testing.T, w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		tc.SetLinger(0)
	}
	conn.Close()
}

// halfAnswer starts a code-0 answer of 200 bytes with the given status and
// sends a part of it.
func halfAnswer(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Length", "200")
	w.WriteHeader(status)
	io.WriteString(w, `{"code":0,"message":"成功","data":"QUJD`)
	http.NewResponseController(w).Flush()
}

// TestCallFailuresAfterTheRequestWasSent: a failure before the request is
// written (connection refused, cancelled or timed out while connecting) is
// a transport error, never billed; any failure after it was written (no
// headers before the deadline, the connection reset or closed while
// waiting, a body cut off, reset or stalled) may have been billed:
// PossiblyBilled, a message that says so and quotes nothing of the request,
// one more attempt at most, none when the caller cancelled.
func TestCallFailuresAfterTheRequestWasSent(t *testing.T) {
	tests := []struct {
		name string
		// serve answers the request; cancel cancels the call's context.
		serve    func(t *testing.T, w http.ResponseWriter, r *http.Request, cancel context.CancelFunc)
		refused  bool // the server is closed before the call
		dialHang bool // connecting waits until the call's context ends
		before   bool // the call's context is cancelled before it starts
		timeout  time.Duration
		want     string // "transport", "no reply", "protocol"
		words    string // in the message
		status   int    // ProtocolError.StatusCode
		class    Class
		again    bool // what a new Retrier says
		cause    error
	}{
		{name: "connection refused", refused: true, want: "transport", class: Retryable, again: true},
		{name: "timeout while connecting", dialHang: true, timeout: 20 * time.Millisecond, want: "transport",
			class: Retryable, again: true, cause: context.DeadlineExceeded},
		{name: "cancelled before sending", before: true, want: "transport", class: Fatal, cause: context.Canceled},

		{name: "no headers before the deadline", timeout: 20 * time.Millisecond,
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request, _ context.CancelFunc) {
				<-r.Context().Done()
			}, want: "no reply", words: "the timeout passed", class: Unanswered, again: true, cause: context.DeadlineExceeded},
		{name: "reset after the request was read",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request, _ context.CancelFunc) {
				dropConn(t, w, true)
			}, want: "no reply", words: "reset", class: Unanswered, again: true},
		{name: "closed after the request was read",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request, _ context.CancelFunc) {
				dropConn(t, w, false)
			}, want: "no reply", words: "closed", class: Unanswered, again: true},
		{name: "cancelled while waiting for the reply",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request, cancel context.CancelFunc) {
				cancel()
				<-r.Context().Done()
			}, want: "no reply", words: "cancelled", class: Fatal, cause: context.Canceled},

		{name: "body cut off",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request, _ context.CancelFunc) {
				halfAnswer(w, http.StatusOK)
				dropConn(t, w, false)
			}, want: "protocol", words: "closed", status: 200, class: Unreadable, again: true},
		{name: "body reset mid-way",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request, _ context.CancelFunc) {
				halfAnswer(w, http.StatusOK)
				dropConn(t, w, true)
			}, want: "protocol", status: 200, class: Unreadable, again: true},
		{name: "body stalled past the deadline", timeout: 50 * time.Millisecond,
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request, _ context.CancelFunc) {
				halfAnswer(w, http.StatusOK)
				<-r.Context().Done()
			}, want: "protocol", words: "the timeout passed", status: 200, class: Unreadable, again: true},
		{name: "HTTP 500 body cut off",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request, _ context.CancelFunc) {
				halfAnswer(w, http.StatusInternalServerError)
				dropConn(t, w, false)
			}, want: "protocol", status: 500, class: Unreadable, again: true},
		{name: "cancelled while reading the body",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request, cancel context.CancelFunc) {
				halfAnswer(w, http.StatusOK)
				cancel()
				<-r.Context().Done()
			}, want: "no reply", words: "cancelled", class: Fatal, cause: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				io.Copy(io.Discard, r.Body) // the request is read in full
				if tt.serve != nil {
					tt.serve(t, w, r, cancel)
				}
			}))
			defer srv.Close()
			c := newTestClient(t, srv, time.Now())
			switch {
			case tt.refused:
				srv.Close()
			case tt.dialHang:
				c.http.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					<-ctx.Done()
					return nil, ctx.Err()
				}}
			case tt.before:
				cancel()
			}

			_, err := c.Call(ctx, "JRZQ9E2A", testParams)
			var (
				ne *NoReplyError
				pe *ProtocolError
			)
			switch tt.want {
			case "transport":
				if err == nil || errors.As(err, &ne) || errors.As(err, &pe) {
					t.Fatalf("err = %#v, want a transport error", err)
				}
				if hits.Load() != 0 {
					t.Errorf("the server saw %d requests, want none", hits.Load())
				}
			case "no reply":
				if !errors.As(err, &ne) || ne.Product != "JRZQ9E2A" {
					t.Fatalf("err = %v, want a *NoReplyError of JRZQ9E2A", err)
				}
			case "protocol":
				if !errors.As(err, &pe) || !pe.NotJSON || pe.StatusCode != tt.status || !strings.Contains(pe.Reason, "could not be read to its end") {
					t.Fatalf("err = %#v, want a *ProtocolError (HTTP %d) of a body not read to its end", err, tt.status)
				}
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.cause)
			}
			billed := tt.want != "transport"
			if got := PossiblyBilled(err); got != billed {
				t.Errorf("PossiblyBilled = %v, want %v (err %v)", got, billed, err)
			}
			msg := err.Error()
			if got := strings.Contains(msg, "may have billed"); got != billed {
				t.Errorf("message %q says the vendor may have billed it: %v, want %v", msg, got, billed)
			}
			if billed && !strings.Contains(msg, tt.words) {
				t.Errorf("message %q does not say %q", msg, tt.words)
			}
			if billed && (strings.Contains(msg, "?t=") || strings.Contains(msg, "/api/v1/") || strings.Contains(msg, "127.0.0.1")) {
				t.Errorf("message %q quotes the request", msg)
			}
			assertNoPII(t, err)
			p := DefaultCodePolicy()
			if got := p.Classify(err); got != tt.class {
				t.Errorf("Classify = %v, want %v", got, tt.class)
			}
			again := p.Retrier()
			if got := again(err); got != tt.again {
				t.Errorf("Retrier()(err) = %v, want %v", got, tt.again)
			}
			if got := again(err); got != (tt.again && !billed) {
				t.Errorf("Retrier()(err) the second time = %v, want %v", got, tt.again && !billed)
			}
		})
	}
}
