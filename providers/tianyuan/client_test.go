package tianyuan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
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

// TestCallReplies drives the client through reply bodies and statuses.
func TestCallReplies(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		wantCode   int    // when a reply is expected
		wantData   string // when a reply is expected
		wantTx     string
		wantErr    string // "", "code", "http", "protocol"
		wantRetry  time.Duration
		wantReason string
	}{
		{name: "ok", status: 200, body: `{"code":0,"message":"成功","transaction_id":"t1","data":"QUJD"}`, wantData: "QUJD", wantTx: "t1"},
		{name: "ok with spaces and BOM", status: 200, body: "\uFEFF { \"code\" : 0 , \"data\" : \"QUJD\" }\n", wantData: "QUJD"},
		{name: "data null", status: 200, body: `{"code":0,"message":"ok","data":null}`},
		{name: "data absent, no transaction id", status: 200, body: `{"code":0}`},
		{name: "transaction id as number", status: 200, body: `{"code":0,"transaction_id":12345}`, wantTx: "12345"},
		{name: "201 accepted as success", status: 201, body: `{"code":0}`},
		{name: "1007", status: 200, body: `{"code":1007,"message":"余额不足","transaction_id":"t2"}`, wantCode: 1007, wantTx: "t2", wantErr: "code"},
		{name: "2001 with data object", status: 200, body: `{"code":2001,"message":"x","data":{}}`, wantCode: 2001, wantErr: "code"},
		{name: "code 0 with data object", status: 200, body: `{"code":0,"data":{"a":1}}`, wantErr: "protocol", wantReason: `"data" is an object`},
		{name: "missing code", status: 200, body: `{"message":"ok","data":"QUJD"}`, wantErr: "protocol", wantReason: `no "code"`},
		{name: "code as string", status: 200, body: `{"code":"0","data":"QUJD"}`, wantErr: "protocol", wantReason: `"code" is a string`},
		{name: "code as float", status: 200, body: `{"code":0.5}`, wantErr: "protocol", wantReason: "not an integer"},
		{name: "code null", status: 200, body: `{"code":null}`, wantErr: "protocol", wantReason: "not an integer"},
		{name: "array body", status: 200, body: `[{"code":0}]`, wantErr: "protocol", wantReason: "an array"},
		{name: "html body", status: 200, body: `<html><body>502 Bad Gateway</body></html>`, wantErr: "protocol", wantReason: "not JSON"},
		{name: "empty body", status: 200, body: ``, wantErr: "protocol", wantReason: "empty body"},
		{name: "truncated json", status: 200, body: `{"code":0,"data":"QU`, wantErr: "protocol", wantReason: "not JSON"},
		{name: "503 with Retry-After seconds", status: 503, header: map[string]string{"Retry-After": "7"}, body: "busy", wantErr: "http", wantRetry: 7 * time.Second},
		{name: "429 with Retry-After date", status: 429, header: map[string]string{"Retry-After": now.Add(30 * time.Second).Format(http.TimeFormat)}, wantErr: "http", wantRetry: 30 * time.Second},
		{name: "429 with Retry-After in the past", status: 429, header: map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, wantErr: "http"},
		{name: "500 without Retry-After", status: 500, body: `{"code":0}`, wantErr: "http"},
		{name: "302 not followed", status: 302, header: map[string]string{"Location": "/elsewhere"}, wantErr: "http"},
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
			c.http = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			r, err := c.Call(context.Background(), "JRZQ9E2A", testParams)
			switch tt.wantErr {
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
				if he.StatusCode != tt.status || he.RetryAfter != tt.wantRetry {
					t.Errorf("HTTPError = %+v, want status %d retry %v", he, tt.status, tt.wantRetry)
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
				if !strings.Contains(pe.Reason, tt.wantReason) {
					t.Errorf("Reason = %q, want containing %q", pe.Reason, tt.wantReason)
				}
				if r != nil {
					t.Errorf("reply with a ProtocolError")
				}
				return
			}
			if r.Code != tt.wantCode || r.Data != tt.wantData || r.TransactionID != tt.wantTx {
				t.Errorf("reply = %+v, want code %d data %q tx %q", r, tt.wantCode, tt.wantData, tt.wantTx)
			}
		})
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
	t.Run("deadline", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer srv.Close()
		defer close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := newTestClient(t, srv, time.Now()).Call(ctx, "JRZQ9E2A", testParams)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
		if got := DefaultCodePolicy().Classify(err); got != Retryable {
			t.Errorf("Classify = %v, want retryable", got)
		}
		assertNoPII(t, err)
	})
	t.Run("canceled", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := newTestClient(t, srv, time.Now()).Call(ctx, "JRZQ9E2A", testParams)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want Canceled", err)
		}
		if got := DefaultCodePolicy().Classify(err); got != Fatal {
			t.Errorf("Classify = %v, want fatal", got)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		_, err := newTestClient(t, srv, time.Now()).Call(context.Background(), "JRZQ9E2A", testParams)
		var ne net.Error
		if !errors.As(err, &ne) {
			t.Fatalf("err = %v, want a net.Error", err)
		}
		if got := DefaultCodePolicy().Classify(err); got != Retryable {
			t.Errorf("Classify = %v, want retryable", got)
		}
	})
	t.Run("body cut short", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, `{"code":0`)
		}))
		defer srv.Close()
		_, err := newTestClient(t, srv, time.Now()).Call(context.Background(), "JRZQ9E2A", testParams)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want ErrUnexpectedEOF", err)
		}
		if got := DefaultCodePolicy().Classify(err); got != Retryable {
			t.Errorf("Classify = %v, want retryable", got)
		}
	})
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
		if r.URL.Query().Get("html") != "" {
			w.WriteHeader(502)
		}
		io.WriteString(w, body)
	}))
	defer srv.Close()
	c := newTestClient(t, srv, time.Now())
	_, err := c.Call(context.Background(), "JRZQ9E2A", testParams)
	var ce *CodeError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"JRZQ9E2A", "1003", "parameter validation failed", "t9"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	assertNoPII(t, err)

	for _, e := range []error{
		&HTTPError{Product: "P", StatusCode: 502, Snippet: sanitize([]byte(body), snippetSize)},
		&ProtocolError{Product: "P", Reason: "x", Snippet: sanitize([]byte(body), snippetSize)},
	} {
		assertNoPII(t, e)
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
		{"protocol", p, &ProtocolError{Reason: "x"}, Retryable},
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
	for c, want := range map[Class]string{Retryable: "retryable", Fatal: "fatal", RowFailure: "row_failure", NoRecord: "no_record", 0: "Class(0)"} {
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

func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"code":0,"message":"成功","transaction_id":"t","data":"QUJD"}`,
		`{"code":1007}`, `{"code":"0"}`, `{"data":null}`, `[]`, `null`, ``, `<html>`,
		`{"code":0,"data":{}}`, `{"code":1e3}`, "\uFEFF{\"code\":0}", `{"code":99999999999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := parseEnvelope(body)
		if err != nil {
			return
		}
		if !json.Valid(trimJSON(body)) {
			t.Errorf("accepted invalid JSON")
		}
		_ = env
		_ = sanitize(body, snippetSize)
	})
}
