package tianyuan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptrace"
	"net/url"
	"os"
	"sync/atomic"
	"syscall"
)

// NoReplyError is a call that failed after its request was written to the
// vendor and before a reply was read: no response headers before the
// timeout, the connection reset or closed while waiting, or the call
// cancelled (then also while the body was being read). The vendor may
// have processed and billed it ([PossiblyBilled]). A failure before the
// request was written (dial refused, DNS, TLS handshake) is a wrapped
// transport error instead: the vendor never saw it.
//
// One more attempt may get an answer (see [CodePolicy.Retrier]), unless
// the call was cancelled: the caller stopped, the vendor did nothing wrong.
// Its message says what ended the wait, in words, and never quotes the
// request.
type NoReplyError struct {
	Product string
	// StatusCode is the reply's status when its headers had arrived (a
	// body cut off by a cancellation), 0 otherwise.
	StatusCode int
	// Err is what ended the wait: a context error, a timeout, a reset or
	// closed connection (the transport's error without its request URL).
	Err error
}

func (e *NoReplyError) Error() string {
	return fmt.Sprintf("tianyuan: %s: no reply read after the request was sent (%s); the vendor may have billed it",
		e.Product, waitEnd(e.Err))
}

func (e *NoReplyError) Unwrap() error { return e.Err }

// cancelled reports whether the call was cancelled by its caller.
func (e *NoReplyError) cancelled() bool { return errors.Is(e.Err, context.Canceled) }

// waitEnd says in words what ended a wait for a reply, without quoting
// the error (it may name addresses and the request's URL).
func waitEnd(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "the call was cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "the timeout passed"
	case errors.Is(err, syscall.ECONNRESET):
		return "the connection was reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return "the connection was closed"
	}
	return "the connection failed"
}

// writeTrace follows whether the request of a call was written: handed
// in full to a connection (the transport flushes it at once). A
// connection taken for another try of the transport starts unwritten.
type writeTrace struct{ wrote atomic.Bool }

func (w *writeTrace) context(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { w.wrote.Store(false) },
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				w.wrote.Store(true)
			}
		},
	})
}

// sendError is the error of a call whose HTTP exchange failed (err from
// http.Client.Do): a [*NoReplyError] once the request was written, else
// err wrapped with the product.
func (w *writeTrace) sendError(product string, err error) error {
	if !w.wrote.Load() {
		return fmt.Errorf("tianyuan: %s: %w", product, err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &NoReplyError{Product: product, Err: err}
}

// bodyError is the error of a reply whose body could not be read to its
// end (err from reading it): cut off, reset, the timeout passing. The
// vendor may have billed the answer it was sending: a [*ProtocolError]
// like a body that is not JSON (one more attempt at most), or a
// [*NoReplyError] when the caller cancelled the call.
func bodyError(product string, status int, err error) error {
	if errors.Is(err, context.Canceled) {
		return &NoReplyError{Product: product, StatusCode: status, Err: err}
	}
	return &ProtocolError{Product: product, StatusCode: status, NotJSON: true,
		Reason: "the body could not be read to its end (" + waitEnd(err) + ")"}
}
