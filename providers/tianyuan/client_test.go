package tianyuan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const testAccessID = "test-access-id"

var testParams = Params{
	"name":                     "张三",
	"id_card":                  "110101199001011234",
	"mobile_no":                "13800138000",
	"auth_authorize_file_code": "AUTH20251210001",
}

// newTestClient returns a client for srv with a fixed clock.
func newTestClient(t *testing.T, srv *httptest.Server, now time.Time) *Client {
	t.Helper()
	key, _ := ParseKey(vectorKeyHex, KeyHex)
	c, err := NewClient(ClientConfig{
		BaseURL:  srv.URL,
		AccessID: testAccessID,
		Key:      key,
		HTTP:     srv.Client(),
		Now:      func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewClientValidation(t *testing.T) {
	key := make([]byte, 16)
	tests := []struct {
		name string
		cfg  ClientConfig
		want string
	}{
		{"ok", ClientConfig{BaseURL: "https://api.tianyuanapi.com", AccessID: "id", Key: key}, ""},
		{"ok with path", ClientConfig{BaseURL: "http://127.0.0.1:8080/proxy/", AccessID: "id", Key: key}, ""},
		{"relative", ClientConfig{BaseURL: "/api", AccessID: "id", Key: key}, "absolute http or https"},
		{"no scheme", ClientConfig{BaseURL: "api.tianyuanapi.com", AccessID: "id", Key: key}, "absolute http or https"},
		{"ftp", ClientConfig{BaseURL: "ftp://x", AccessID: "id", Key: key}, "absolute http or https"},
		{"empty", ClientConfig{AccessID: "id", Key: key}, "absolute http or https"},
		{"no access id", ClientConfig{BaseURL: "https://x", AccessID: "  ", Key: key}, "access id"},
		{"short key", ClientConfig{BaseURL: "https://x", AccessID: "id", Key: key[:8]}, "16 bytes, got 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
}

// TestCallRequest checks what goes on the wire and that the reply comes
// back as received.
func TestCallRequest(t *testing.T) {
	now := time.UnixMilli(1716345678000)
	c := vectorCipher(t)
	payloadEnc, _ := c.Encrypt([]byte(`{"xyp_cpl0001":"2"}`))
	var gotPath, gotQuery, gotCT, gotID, gotMethod string
	var gotParams map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotMethod, gotPath, gotQuery = r.Method, r.URL.Path, r.URL.RawQuery
		gotCT, gotID = r.Header.Get("Content-Type"), r.Header.Get("Access-Id")
		var body struct{ Data string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("body: %v", err)
		}
		plain, err := c.Decrypt(body.Data)
		if err != nil {
			t.Errorf("decrypt body: %v", err)
		}
		if err := json.Unmarshal(plain, &gotParams); err != nil {
			t.Errorf("params: %v", err)
		}
		fmt.Fprintf(w, `{"code":0,"message":"成功","transaction_id":"tx-1","data":%q}`, payloadEnc)
	}))
	defer srv.Close()

	r, err := newTestClient(t, srv, now).Call(context.Background(), "JRZQ9E2A", testParams)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"method", gotMethod, "POST"},
		{"path", gotPath, "/api/v1/JRZQ9E2A"},
		{"query", gotQuery, "t=1716345678000"},
		{"content type", gotCT, "application/json"},
		{"access id", gotID, testAccessID},
		{"id_card param", gotParams["id_card"], testParams["id_card"]},
		{"name param", gotParams["name"], testParams["name"]},
		{"reply product", r.Product, "JRZQ9E2A"},
		{"reply message", r.Message, "成功"},
		{"reply transaction", r.TransactionID, "tx-1"},
		{"reply data", r.Data, payloadEnc},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
		}
	}
	if !r.ReceivedAt.Equal(now) {
		t.Errorf("ReceivedAt = %v, want %v", r.ReceivedAt, now)
	}
	p, err := c.Payload(r)
	if err != nil || string(p) != `{"xyp_cpl0001":"2"}` {
		t.Errorf("Payload = %s, %v", p, err)
	}
}

func TestParamsMarshal(t *testing.T) {
	got, err := Params{"b": "x&y<z>", "a": "张三"}.marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"张三","b":"x&y<z>"}`; string(got) != want {
		t.Errorf("marshal = %s, want %s", got, want)
	}
	got, _ = Params(nil).marshal()
	if string(got) != "{}" {
		t.Errorf("nil marshal = %s, want {}", got)
	}
}

// TestCallReplies drives the client through reply bodies and statuses:
// both shapes, every kind of body that is JSON but cannot be understood,
// bodies that are not JSON, and statuses that are not 2xx.
func TestCallReplies(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	const report = `{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":12}},{"api_code":"FLXG0V4B","success":false}]}`
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		want      string // "", "code", "http", "protocol"
		wantCode  int
		wantData  string // envelope data, when a reply is expected
		wantShape string // when a reply is expected
		wantTx    string
		wantRetry time.Duration // HTTPError.RetryAfter
		reason    string        // ProtocolError.Reason contains
		class     Class
		again     bool // what a new Retrier says
	}{
		{name: "envelope", status: 200, body: `{"code":0,"message":"成功","transaction_id":"t1","data":"QUJD"}`, wantData: "QUJD", wantShape: ShapeEnvelope, wantTx: "t1"},
		{name: "envelope with spaces and BOM", status: 200, body: "\uFEFF { \"code\" : 0 , \"data\" : \"QUJD\" }\n", wantData: "QUJD", wantShape: ShapeEnvelope},
		{name: "envelope, data null", status: 200, body: `{"code":0,"message":"ok","data":null}`, wantShape: ShapeEnvelope},
		{name: "envelope, data absent, no transaction id", status: 200, body: `{"code":0}`, wantShape: ShapeEnvelope},
		{name: "envelope, message and transaction id null", status: 200, body: `{"code":0,"message":null,"transaction_id":null,"data":"QUJD"}`, wantData: "QUJD", wantShape: ShapeEnvelope},
		{name: "envelope, transaction id as number", status: 200, body: `{"code":0,"message":7,"transaction_id":12345}`, wantShape: ShapeEnvelope, wantTx: "12345"},
		{name: "201 accepted as success", status: 201, body: `{"code":0}`, wantShape: ShapeEnvelope},
		{name: "plain", status: 200, body: report, wantShape: ShapePlain},
		{name: "plain with BOM and spaces", status: 200, body: "\uFEFF\n " + report + "\n", wantShape: ShapePlain},
		{name: "plain, empty list", status: 200, body: `{"responses":[]}`, wantShape: ShapePlain},
		{name: "plain with code 0 and a transaction id", status: 200, body: `{"code":0,"message":"成功","transaction_id":"t7","responses":[]}`, wantShape: ShapePlain, wantTx: "t7"},
		{name: "plain beside data: responses decide", status: 200, body: `{"responses":[],"data":"QUJD"}`, wantShape: ShapePlain},
		{name: "envelope with responses null", status: 200, body: `{"code":0,"data":"QUJD","responses":null}`, wantData: "QUJD", wantShape: ShapeEnvelope},

		{name: "1007", status: 200, body: `{"code":1007,"message":"余额不足","transaction_id":"t2"}`, want: "code", wantCode: 1007, wantShape: ShapeEnvelope, wantTx: "t2", class: Fatal},
		{name: "1001", status: 200, body: `{"code":1001}`, want: "code", wantCode: 1001, wantShape: ShapeEnvelope, class: Retryable, again: true},
		{name: "2001 with data object", status: 200, body: `{"code":2001,"message":"x","data":{}}`, want: "code", wantCode: 2001, wantShape: ShapeEnvelope, class: RowFailure},
		{name: "2001 with responses", status: 200, body: `{"code":2001,"responses":[]}`, want: "code", wantCode: 2001, wantShape: ShapeEnvelope, class: RowFailure},

		{name: "object without code or responses", status: 200, body: `{"message":"ok","data":"QUJD"}`, want: "protocol", reason: `neither "code" nor "responses"`, class: Unreadable},
		{name: "empty object", status: 200, body: `{}`, want: "protocol", reason: `neither "code" nor "responses"`, class: Unreadable},
		{name: "code as string", status: 200, body: `{"code":"0","data":"QUJD"}`, want: "protocol", reason: `"code" is a string`, class: Unreadable},
		{name: "code as string beside responses", status: 200, body: `{"code":"0","responses":[]}`, want: "protocol", reason: `"code" is a string`, class: Unreadable},
		{name: "code as fraction", status: 200, body: `{"code":0.5}`, want: "protocol", reason: "not an integer", class: Unreadable},
		{name: "code as exponent", status: 200, body: `{"code":1e3}`, want: "protocol", reason: "not an integer", class: Unreadable},
		{name: "code null", status: 200, body: `{"code":null}`, want: "protocol", reason: "null, not an integer", class: Unreadable},
		{name: "code object", status: 200, body: `{"code":{"v":0}}`, want: "protocol", reason: "an object, not an integer", class: Unreadable},
		{name: "code too large", status: 200, body: `{"code":99999999999}`, want: "protocol", reason: "not an integer", class: Unreadable},
		{name: "data as number", status: 200, body: `{"code":0,"data":12345}`, want: "protocol", reason: `"data" is a number`, class: Unreadable},
		{name: "data as object", status: 200, body: `{"code":0,"data":{"a":1}}`, want: "protocol", reason: `"data" is an object`, class: Unreadable},
		{name: "data as list", status: 200, body: `{"code":0,"data":["QUJD"]}`, want: "protocol", reason: `"data" is an array`, class: Unreadable},
		{name: "data as boolean", status: 200, body: `{"code":0,"data":true}`, want: "protocol", reason: `"data" is a boolean`, class: Unreadable},
		{name: "responses null", status: 200, body: `{"responses":null}`, want: "protocol", reason: `"responses" is null, not a list`, class: Unreadable},
		{name: "responses object", status: 200, body: `{"responses":{"DWBG8B4D":{}}}`, want: "protocol", reason: `"responses" is an object`, class: Unreadable},
		{name: "responses string", status: 200, body: `{"responses":"[]"}`, want: "protocol", reason: `"responses" is a string`, class: Unreadable},
		{name: "array body", status: 200, body: `[{"code":0}]`, want: "protocol", reason: "an array", class: Unreadable},
		{name: "string body", status: 200, body: `"ok"`, want: "protocol", reason: "a string", class: Unreadable},
		{name: "number body", status: 200, body: `0`, want: "protocol", reason: "a number", class: Unreadable},
		{name: "null body", status: 200, body: `null`, want: "protocol", reason: "null", class: Unreadable},

		{name: "html body", status: 200, body: `<html><body>502 Bad Gateway</body></html>`, want: "protocol", reason: "not JSON", class: Unreadable, again: true},
		{name: "empty body", status: 200, body: ``, want: "protocol", reason: "empty", class: Unreadable, again: true},
		{name: "blank body", status: 200, body: " \n\t", want: "protocol", reason: "empty", class: Unreadable, again: true},
		{name: "truncated json", status: 200, body: `{"code":0,"data":"QU`, want: "protocol", reason: "not JSON", class: Unreadable, again: true},
		{name: "two objects", status: 200, body: `{"code":0}{"code":1}`, want: "protocol", reason: "not JSON", class: Unreadable, again: true},

		{name: "500 carrying code 0", status: 500, body: `{"code":0,"message":"成功","transaction_id":"t3","data":"QUJD"}`, want: "protocol", wantTx: "t3", reason: "HTTP 500 with a success answer", class: Unreadable},
		{name: "502 carrying a plain report", status: 502, body: report, want: "protocol", reason: "HTTP 502 with a success answer", class: Unreadable},
		{name: "500 carrying 1001", status: 500, body: `{"code":1001,"message":"接口异常"}`, want: "http", wantCode: 1001, class: Retryable, again: true},
		{name: "500 carrying 1002", status: 500, body: `{"code":1002,"message":"参数解密失败"}`, want: "http", wantCode: 1002, class: Fatal},
		{name: "403 carrying 1004", status: 403, body: `{"code":1004}`, want: "http", wantCode: 1004, class: Fatal},
		{name: "400 carrying 1003", status: 400, body: `{"code":1003}`, want: "http", wantCode: 1003, class: RowFailure},
		{name: "500 with a malformed body", status: 500, body: `{"code":"0"}`, want: "http", class: Retryable, again: true},
		{name: "503 with Retry-After seconds", status: 503, header: map[string]string{"Retry-After": "7"}, body: "busy", want: "http", wantRetry: 7 * time.Second, class: Retryable, again: true},
		{name: "429 with Retry-After date", status: 429, header: map[string]string{"Retry-After": now.Add(30 * time.Second).Format(http.TimeFormat)}, want: "http", wantRetry: 30 * time.Second, class: Retryable, again: true},
		{name: "429 with Retry-After in the past", status: 429, header: map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, want: "http", class: Retryable, again: true},
		{name: "404", status: 404, body: "not found", want: "http", class: Fatal},
		{name: "401 with a message and no code", status: 401, body: `{"message":"未授权","transaction_id":"t4"}`, want: "http", wantTx: "t4", class: Fatal},
		{name: "413", status: 413, want: "http", class: RowFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := newTestClient(t, srv, now)
			r, err := c.Call(context.Background(), "JRZQ9E2A", testParams)
			p := DefaultCodePolicy()
			if got := p.Classify(err); got != tt.class {
				t.Errorf("Classify = %v, want %v (err %v)", got, tt.class, err)
			}
			if got := p.Retrier()(err); got != tt.again {
				t.Errorf("Retrier()(err) = %v, want %v", got, tt.again)
			}
			if got, want := PossiblyBilled(err), tt.want == "protocol"; got != want {
				t.Errorf("PossiblyBilled = %v, want %v", got, want)
			}
			switch tt.want {
			case "":
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			case "code":
				var ce *CodeError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want *CodeError", err)
				}
				if ce.Code != tt.wantCode || ce.TransactionID != tt.wantTx || ce.Product != "JRZQ9E2A" {
					t.Errorf("CodeError = %+v", ce)
				}
				if r == nil {
					t.Fatal("no reply with a CodeError")
				}
			case "http":
				var he *HTTPError
				if !errors.As(err, &he) {
					t.Fatalf("err = %v, want *HTTPError", err)
				}
				if he.StatusCode != tt.status || he.RetryAfter != tt.wantRetry || he.Code != tt.wantCode || he.TransactionID != tt.wantTx {
					t.Errorf("HTTPError = %+v, want status %d retry %v code %d", he, tt.status, tt.wantRetry, tt.wantCode)
				}
				if tt.wantCode != 0 && !strings.Contains(err.Error(), fmt.Sprint(tt.wantCode)) {
					t.Errorf("message %q does not name code %d", err, tt.wantCode)
				}
				if r != nil {
					t.Errorf("reply with an HTTPError")
				}
				return
			case "protocol":
				var pe *ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *ProtocolError", err)
				}
				if !strings.Contains(pe.Reason, tt.reason) || pe.StatusCode != tt.status || pe.Product != "JRZQ9E2A" || pe.TransactionID != tt.wantTx {
					t.Errorf("ProtocolError = %+v, want reason containing %q, status %d, transaction %q", pe, tt.reason, tt.status, tt.wantTx)
				}
				if !strings.Contains(err.Error(), "may have billed") {
					t.Errorf("message %q does not say the reply may be billed", err)
				}
				if r != nil {
					t.Errorf("reply with a ProtocolError")
				}
				return
			}
			if r.Code != tt.wantCode || r.TransactionID != tt.wantTx || r.Shape != tt.wantShape {
				t.Errorf("reply = %+v, want code %d tx %q shape %q", r, tt.wantCode, tt.wantTx, tt.wantShape)
			}
			if tt.wantShape == ShapePlain {
				// The body as received, encrypted with the client's key.
				got, err := c.Cipher().Payload(r)
				if err != nil {
					t.Fatalf("plain reply's Data does not open: %v", err)
				}
				if want := trimJSON([]byte(tt.body)); string(got) != string(want) {
					t.Errorf("plain reply opens to %s, want the body %s", got, want)
				}
			} else if r.Data != tt.wantData {
				t.Errorf("Data = %q, want %q", r.Data, tt.wantData)
			}
		})
	}
}

// TestRetrier: a body that is not JSON may be a gateway's page, and a
// request sent that got no reply may get one: either is tried once more in
// a call, wherever it comes among the attempts; a second one of either, a
// body of valid JSON not understood, or a cancelled call ends the call;
// transient faults are retried as often as the caller allows.
func TestRetrier(t *testing.T) {
	notJSON := &ProtocolError{NotJSON: true}
	malformed := &ProtocolError{}
	busy := &HTTPError{StatusCode: 503}
	noReply := &NoReplyError{Err: context.DeadlineExceeded}
	tests := []struct {
		name string
		errs []error
		want []bool // after each error in turn
	}{
		{"not JSON twice", []error{notJSON, notJSON}, []bool{true, false}},
		{"not JSON after transient faults", []error{busy, busy, notJSON, busy, notJSON}, []bool{true, true, true, true, false}},
		{"wrapped not JSON", []error{fmt.Errorf("row 2: %w", notJSON), notJSON}, []bool{true, false}},
		{"valid JSON not understood", []error{malformed}, []bool{false}},
		{"malformed after not JSON", []error{notJSON, malformed}, []bool{true, false}},
		{"transient", []error{busy, busy, busy, &CodeError{Code: 1001}}, []bool{true, true, true, true}},
		{"redirect", []error{&RedirectError{StatusCode: 307}}, []bool{false}},
		{"fatal code", []error{&CodeError{Code: 1007}}, []bool{false}},
		{"row failure", []error{&CodeError{Code: 2001}}, []bool{false}},
		{"nil", []error{nil}, []bool{false}},
		{"no reply twice", []error{noReply, noReply}, []bool{true, false}},
		{"no reply after transient faults", []error{busy, noReply, busy, noReply}, []bool{true, true, true, false}},
		{"no reply, then not JSON", []error{noReply, notJSON}, []bool{true, false}},
		{"not JSON, then no reply", []error{notJSON, fmt.Errorf("row 2: %w", noReply)}, []bool{true, false}},
		{"cancelled after sending", []error{&NoReplyError{Err: context.Canceled}}, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			again := DefaultCodePolicy().Retrier()
			for i, err := range tt.errs {
				if got := again(err); got != tt.want[i] {
					t.Errorf("after error %d (%v): again = %v, want %v", i+1, err, got, tt.want[i])
				}
			}
		})
	}
}

// TestRedirectsAreNotFollowed: whatever *http.Client the Client is given,
// a redirect is an error naming where it pointed, and no request leaves for
// the redirect target: not from https to http, not for 301/302/303 (which
// would resend as a GET with the Access-Id), not for 307/308 (which would
// resend the encrypted body).
func TestRedirectsAreNotFollowed(t *testing.T) {
	var targetHits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		targetHits.Add(1)
		io.WriteString(w, `{"code":0,"data":"QUJD"}`)
	}))
	defer target.Close()
	key, _ := ParseKey(vectorKeyHex, KeyHex)

	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, scheme := range []string{"https", "http"} {
			for _, location := range []string{"absolute", "relative"} {
				t.Run(fmt.Sprintf("%d %s %s", status, scheme, location), func(t *testing.T) {
					var hits atomic.Int64
					h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if hits.Add(1) > 1 {
							t.Errorf("second request to the redirecting server: %s %s", r.Method, r.URL)
						}
						to := target.URL + "/api/v1/JRZQ9E2A?t=1&next=110101199001011234#f"
						if location == "relative" {
							to = "/moved/JRZQ9E2A?t=1"
						}
						http.Redirect(w, r, to, status)
					})
					var srv *httptest.Server
					if scheme == "https" {
						srv = httptest.NewTLSServer(h)
					} else {
						srv = httptest.NewServer(h)
					}
					defer srv.Close()
					clients := map[string]*http.Client{
						"server's client":  srv.Client(), // follows redirects by default
						"follows up to 10": {Transport: srv.Client().Transport, CheckRedirect: nil},
						"follows always": {Transport: srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error {
							return nil
						}},
					}
					if scheme == "http" {
						clients["default"] = nil
					}
					for name, hc := range clients {
						hits.Store(0)
						before := targetHits.Load()
						c, err := NewClient(ClientConfig{BaseURL: srv.URL, AccessID: testAccessID, Key: key, HTTP: hc})
						if err != nil {
							t.Fatal(err)
						}
						_, err = c.Call(context.Background(), "JRZQ9E2A", testParams)
						var re *RedirectError
						if !errors.As(err, &re) {
							t.Fatalf("%s: err = %v, want *RedirectError", name, err)
						}
						want := target.URL + "/api/v1/JRZQ9E2A"
						if location == "relative" {
							want = srv.URL + "/moved/JRZQ9E2A"
						}
						if re.StatusCode != status || re.Location != want {
							t.Errorf("%s: RedirectError = %+v, want status %d location %s", name, re, status, want)
						}
						if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "110101199001011234") {
							t.Errorf("%s: message %q should name %s and no query", name, err, want)
						}
						if got := DefaultCodePolicy().Classify(err); got != Fatal {
							t.Errorf("%s: Classify = %v, want fatal", name, got)
						}
						if got := targetHits.Load() - before; got != 0 {
							t.Errorf("%s: %d requests reached the redirect target", name, got)
						}
						if got := hits.Load(); got != 1 {
							t.Errorf("%s: the redirecting server saw %d requests, want 1", name, got)
						}
					}
					if hc := clients["server's client"]; hc.CheckRedirect != nil {
						t.Errorf("NewClient changed the caller's http.Client")
					}
				})
			}
		}
	}
}

func TestCallBodyCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"code":0,"data":"`)
		io.WriteString(w, strings.Repeat("A", MaxBodySize))
		io.WriteString(w, `"}`)
	}))
	defer srv.Close()
	_, err := newTestClient(t, srv, time.Now()).Call(context.Background(), "JRZQ9E2A", nil)
	var pe *ProtocolError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "larger than") {
		t.Fatalf("err = %v, want body too large", err)
	}
}

func TestCallTransportErrors(t *testing.T) {
	t.Run("bad product", func(t *testing.T) {
		var hits atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
		defer srv.Close()
		for _, p := range []string{"", "../x", "A B", "JRZQ?x=1"} {
			if _, err := newTestClient(t, srv, time.Now()).Call(context.Background(), p, nil); err == nil {
				t.Errorf("product %q: nil error", p)
			}
		}
		if hits.Load() != 0 {
			t.Errorf("server hit %d times for invalid products", hits.Load())
		}
	})
}

// assertNoPII fails when an error message shows a test parameter or the key.
func assertNoPII(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, v := range []string{testParams["id_card"], testParams["mobile_no"], testParams["name"], vectorKeyHex} {
		if strings.Contains(msg, v) {
			t.Errorf("error message shows a parameter or the key: %s", msg)
		}
	}
}

func TestErrorMessagesHidePII(t *testing.T) {
	body := `{"code":1003,"message":"身份证 110101199001011234 手机 13800138000 校验失败","transaction_id":"t9"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	defer srv.Close()
	c := newTestClient(t, srv, time.Now())
	_, err := c.Call(context.Background(), "JRZQ9E2A", testParams)
	var ce *CodeError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"JRZQ9E2A", "1003", "parameter validation failed", "t9", "校验失败"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	assertNoPII(t, err)
}

// TestErrorsQuoteNoPayload: whatever is wrong with a reply, its error says
// what (the code, the vendor's message, a description) and never carries a
// piece of the reply's contents.
func TestErrorsQuoteNoPayload(t *testing.T) {
	// Pieces of a payload a broken reply may carry in plain text.
	secrets := []string{"fraudScore", "87", "hasCriminalRecord", "盗窃罪", "有期徒刑", "110101199001011234", "13800138000", "张三", "xyp_cpl0001"}
	payload := `{"fraudScore":87,"riskWarning":{"hasCriminalRecord":1},"criminal":{"dzzm":"盗窃罪","pcjg":"有期徒刑六个月"},"id_card":"110101199001011234","mobile":"13800138000","name":"张三","xyp_cpl0001":"3"}`
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"no code", 200, `{"result":` + payload + `}`},
		{"code as string", 200, `{"code":"0","data":` + payload + `}`},
		{"data as object", 200, `{"code":0,"data":` + payload + `}`},
		{"data as number", 200, `{"code":0,"data":87,"extra":` + payload + `}`},
		{"responses as object", 200, `{"responses":` + payload + `}`},
		{"array", 200, `[` + payload + `]`},
		{"string", 200, `"` + strings.ReplaceAll(payload, `"`, `\"`) + `"`},
		{"html", 200, `<html>` + payload + `</html>`},
		{"truncated", 200, `{"code":0,"data":` + payload},
		{"500 with code 0", 500, `{"code":0,"data":"QUJD","extra":` + payload + `}`},
		{"500 with a plain report", 500, `{"responses":[` + payload + `]}`},
		{"500 with html", 500, `<html>` + payload + `</html>`},
		{"400 with a code", 400, `{"code":1003,"extra":` + payload + `}`},
		{"404", 404, payload},
		{"2001 with data", 200, `{"code":2001,"data":` + payload + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, err := newTestClient(t, srv, time.Now()).Call(context.Background(), "COMBTY11", testParams)
			if err == nil {
				t.Fatal("nil error")
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("message %q carries %q from the reply", err, s)
				}
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"hello\nworld\t!", 100, "hello world !"},
		{"id 11010119900101123X end", 100, "id ****************** end"},
		{"code 1007 ok", 100, "code 1007 ok"},
		{"张三李四", 7, "张三…"},
		{"ab\xffcd", 100, "ab cd"},
		{"abcdef", 3, "abc…"},
	}
	for _, tt := range tests {
		if got := sanitize([]byte(tt.in), tt.limit); got != tt.want {
			t.Errorf("sanitize(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{"2", 2 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"99999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Second).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

type fakeNetErr struct{}

func (fakeNetErr) Error() string   { return "fake net error" }
func (fakeNetErr) Timeout() bool   { return true }
func (fakeNetErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	p := DefaultCodePolicy()
	custom := CodePolicy{Retryable: []int{1001, 2001}, Fatal: []int{1007}, NoRecord: []int{1003}}
	code := func(c int) error { return &CodeError{Product: "P", Code: c} }
	status := func(s int) error { return &HTTPError{Product: "P", StatusCode: s} }
	tests := []struct {
		name   string
		policy CodePolicy
		err    error
		want   Class
	}{
		{"nil", p, nil, 0},
		{"1001", p, code(1001), Retryable},
		{"1002", p, code(1002), Fatal},
		{"1003", p, code(1003), RowFailure},
		{"1004", p, code(1004), Fatal},
		{"1005", p, code(1005), Fatal},
		{"1006", p, code(1006), Fatal},
		{"1007", p, code(1007), Fatal},
		{"1008", p, code(1008), Fatal},
		{"2001", p, code(2001), RowFailure},
		{"unknown code", p, code(4242), RowFailure},
		{"wrapped code", p, fmt.Errorf("row 3: %w", code(1007)), Fatal},
		{"custom 2001 retryable", custom, code(2001), Retryable},
		{"custom 1003 no record", custom, code(1003), NoRecord},
		{"custom 1002 row failure", custom, code(1002), RowFailure},
		{"429", p, status(429), Retryable},
		{"408", p, status(408), Retryable},
		{"500", p, status(500), Retryable},
		{"503", p, status(503), Retryable},
		{"401", p, status(401), Fatal},
		{"403", p, status(403), Fatal},
		{"404", p, status(404), Fatal},
		{"301", p, status(301), Fatal},
		{"400", p, status(400), RowFailure},
		{"413", p, status(413), RowFailure},
		{"protocol", p, &ProtocolError{Reason: "x"}, Unreadable},
		{"protocol, not JSON", p, &ProtocolError{Reason: "x", NotJSON: true}, Unreadable},
		{"no reply, timeout", p, &NoReplyError{Err: context.DeadlineExceeded}, Unanswered},
		{"no reply, reset", p, fmt.Errorf("x: %w", &NoReplyError{Err: syscall.ECONNRESET}), Unanswered},
		{"no reply, cancelled", p, &NoReplyError{Err: context.Canceled}, Fatal},
		{"redirect", p, &RedirectError{StatusCode: 307}, Fatal},
		{"wrapped redirect", p, fmt.Errorf("x: %w", &RedirectError{StatusCode: 302}), Fatal},
		{"500 carrying a fatal code", p, &HTTPError{StatusCode: 500, Code: 1007}, Fatal},
		{"503 carrying 1001", p, &HTTPError{StatusCode: 503, Code: 1001}, Retryable},
		{"400 carrying 2001", p, &HTTPError{StatusCode: 400, Code: 2001}, RowFailure},
		{"deadline", p, fmt.Errorf("x: %w", context.DeadlineExceeded), Retryable},
		{"canceled", p, fmt.Errorf("x: %w", context.Canceled), Fatal},
		{"canceled in url.Error", p, &url.Error{Op: "Post", URL: "u", Err: context.Canceled}, Fatal},
		{"net error", p, fakeNetErr{}, Retryable},
		{"url error", p, &url.Error{Op: "Post", URL: "u", Err: errors.New("boom")}, Retryable},
		{"unexpected EOF", p, fmt.Errorf("read: %w", io.ErrUnexpectedEOF), Retryable},
		{"unknown", p, errors.New("something else"), RowFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestCodePolicyValidate(t *testing.T) {
	if err := DefaultCodePolicy().Validate(); err != nil {
		t.Errorf("default policy: %v", err)
	}
	if err := (CodePolicy{Retryable: []int{1001}, Fatal: []int{1001}}).Validate(); err == nil {
		t.Error("code in two sets: nil error")
	}
	if err := (CodePolicy{NoRecord: []int{0}}).Validate(); err == nil {
		t.Error("code 0: nil error")
	}
}

func TestClassAndCodeText(t *testing.T) {
	for c, want := range map[Class]string{Retryable: "retryable", Fatal: "fatal", RowFailure: "row_failure", NoRecord: "no_record", Unreadable: "unreadable", 0: "Class(0)"} {
		if got := c.String(); got != want {
			t.Errorf("Class(%d).String() = %q, want %q", int(c), got, want)
		}
	}
	for code, want := range map[int]string{
		1001: "transient", 1002: "key_format", 1003: "validation", 1004: "whitelisted",
		1005: "missing", 1006: "not authorised", 1007: "top up", 1008: "not enabled", 2001: "business", 77: "unknown",
	} {
		if got := CodeText(code); !strings.Contains(got, want) {
			t.Errorf("CodeText(%d) = %q, want containing %q", code, got, want)
		}
	}
}

// reasonForms are the only forms a ProtocolError's reason takes for a 2xx
// body: words, field names and JSON kinds, never a piece of the body.
var reasonForms = regexp.MustCompile(`^(the body is empty|the body is not JSON|the body is (an array|a string|a boolean|null|a number), not a JSON object|` +
	`"code" is (an object|an array|a string|a boolean|null), not an integer|"code" is a number but not an integer of 32 bits|` +
	`"responses" is (an object|a string|a boolean|null|a number), not a list|` +
	`"data" is (an object|an array|a boolean|a number), not an encrypted string|` +
	`the body holds neither "code" nor "responses")$`)

// FuzzParseBody checks the reply-body parser on any bytes, in both shapes:
// it never panics; what it accepts is a JSON object of a known shape (a
// plain reply holds a "responses" list and a code 0, if any; an envelope
// an integer code); a plain reply's Data opens to the body as received;
// and what it refuses it explains in one of a few fixed forms.
func FuzzParseBody(f *testing.F) {
	for _, s := range []string{
		`{"code":0,"message":"成功","transaction_id":"t","data":"QUJD"}`,
		`{"code":1007}`, `{"code":"0"}`, `{"data":null}`, `[]`, `null`, ``, `<html>`,
		`{"code":0,"data":{}}`, `{"code":1e3}`, "\uFEFF{\"code\":0}", `{"code":99999999999}`,
		`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":12}}]}`,
		`{"responses":[]}`, `{"responses":null}`, `{"responses":{}}`, `{"code":0,"responses":[]}`,
		`{"code":2001,"responses":[]}`, `{"responses":[],"data":"x"}`, `{"code":0,"data":12}`,
		`{"message":7,"transaction_id":null,"code":0}`, `{"code":0}{"code":1}`,
	} {
		f.Add([]byte(s))
	}
	key, _ := ParseKey(vectorKeyHex, KeyHex)
	c, err := NewClient(ClientConfig{BaseURL: "http://127.0.0.1", AccessID: "id", Key: key})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, perr := parseBody(data)
		if perr != nil {
			if !reasonForms.MatchString(perr.Reason) {
				t.Errorf("reason %q is not one of the fixed forms", perr.Reason)
			}
			if perr.NotJSON && json.Valid(trimJSON(data)) {
				t.Errorf("valid JSON called not JSON")
			}
			return
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(trimJSON(data), &fields); err != nil {
			t.Fatalf("accepted a body that is not a JSON object: %v", err)
		}
		switch b.shape {
		case ShapePlain:
			if raw := fields["responses"]; len(raw) == 0 || raw[0] != '[' || b.code != CodeOK {
				t.Errorf("plain shape without a responses list or with code %d", b.code)
			}
		case ShapeEnvelope:
			if _, ok := fields["code"]; !ok {
				t.Errorf("envelope without a code")
			}
		default:
			t.Fatalf("shape %q", b.shape)
		}
		r, err := c.reply("COMBTY11", 200, "", data, time.Time{})
		if (err == nil) != (b.code == CodeOK) || r == nil {
			t.Fatalf("reply = %v, %v for code %d", r, err, b.code)
		}
		if r.Shape == ShapePlain {
			got, err := c.Cipher().Object(r)
			if err != nil || string(got) != string(trimJSON(data)) {
				t.Errorf("plain Data opens to %q, %v; want the body", got, err)
			}
		}
	})
}
