package tianyuan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Products supported first, with their request parameters.
const (
	// ProductMultiLending is JRZQ9E2A 多头借贷 (multi-lending risk).
	ProductMultiLending = "JRZQ9E2A"
	// ProductRiskReport is COMBTY11 个人风险报告 (personal risk report combo).
	ProductRiskReport = "COMBTY11"
)

// RequiredParams returns the request parameters a known product requires,
// in documentation order, or nil for a product this package does not know.
func RequiredParams(product string) []string {
	switch product {
	case ProductMultiLending:
		return []string{"name", "id_card", "mobile_no", "auth_authorize_file_code"}
	case ProductRiskReport:
		return []string{"name", "id_card", "mobile_no", "authorization_url", "auth_date"}
	}
	return nil
}

// MaxBodySize caps how much of a reply body is read.
const MaxBodySize = 16 << 20

// Params are the request parameters of one call, sent as a JSON object
// (keys sorted).
type Params map[string]string

// marshal encodes p as a JSON object without HTML escaping (a nil Params is
// {}).
func (p Params) marshal() ([]byte, error) {
	if p == nil {
		p = Params{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]string(p)); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Reply is one vendor answer as received.
type Reply struct {
	Product       string
	Code          int
	Message       string
	TransactionID string
	// Data is the encrypted "data" field exactly as received ("" when
	// absent or null); open it with [Cipher.Payload].
	Data       string
	ReceivedAt time.Time
}

// Caller is one vendor call. [Client] implements it, and so do layers that
// wrap one (rate limiting, retries, caching).
//
// Call returns the reply with a nil error for code 0, the reply and a
// [*CodeError] for a non-zero code, and a nil reply with an [*HTTPError],
// a [*ProtocolError] or a wrapped transport or context error otherwise.
// Call must be safe for concurrent use.
type Caller interface {
	Call(ctx context.Context, product string, params Params) (*Reply, error)
}

var _ Caller = (*Client)(nil)

// ClientConfig configures a [Client].
type ClientConfig struct {
	// BaseURL is the API root, e.g. https://api.tianyuanapi.com; a call
	// goes to {BaseURL}/api/v1/{product}?t={13-digit unix ms}.
	BaseURL  string
	AccessID string
	// Key is the 16-byte AES key (see [ParseKey]).
	Key []byte
	// HTTP sends the requests; nil means a client with sane timeouts that
	// does not follow redirects.
	HTTP *http.Client
	// Now gives the request timestamp and Reply.ReceivedAt; nil means
	// time.Now.
	Now func() time.Time
}

// Client calls the vendor API. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	accessID string
	cipher   *Cipher
	http     *http.Client
	now      func() time.Time
}

// NewClient checks cfg and returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tianyuan: base URL must be an absolute http or https URL such as https://api.tianyuanapi.com")
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	if strings.TrimSpace(cfg.AccessID) == "" {
		return nil, errors.New("tianyuan: access id is empty")
	}
	c, err := NewCipher(cfg.Key)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTP
	if hc == nil {
		hc = defaultHTTPClient()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Client{base: u, accessID: cfg.AccessID, cipher: c, http: hc, now: now}, nil
}

func defaultHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   90 * time.Second,
		// A redirected POST turns into a GET without the body; report it
		// instead (it means a wrong endpoint).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Cipher returns the client's cipher, for [Cipher.Payload].
func (c *Client) Cipher() *Cipher { return c.cipher }

// Call sends one product request; see [Caller] for what it returns.
func (c *Client) Call(ctx context.Context, product string, params Params) (*Reply, error) {
	if !validProduct(product) {
		return nil, fmt.Errorf("tianyuan: product code %q: want letters and digits only", sanitize([]byte(product), 40))
	}
	plain, err := params.marshal()
	if err != nil {
		return nil, fmt.Errorf("tianyuan: %s: encoding parameters: %w", product, err)
	}
	enc, err := c.cipher.Encrypt(plain)
	if err != nil {
		return nil, fmt.Errorf("tianyuan: %s: %w", product, err)
	}
	body, err := json.Marshal(map[string]string{"data": enc})
	if err != nil {
		return nil, fmt.Errorf("tianyuan: %s: encoding body: %w", product, err)
	}

	u := c.base.JoinPath("api", "v1", product)
	u.RawQuery = "t=" + strconv.FormatInt(c.now().UnixMilli(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("tianyuan: %s: %w", product, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Access-Id", c.accessID)

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tianyuan: %s: %w", product, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("tianyuan: %s: reading reply: %w", product, err)
	}
	received := c.now()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &HTTPError{
			Product:    product,
			StatusCode: resp.StatusCode,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), received),
			Snippet:    sanitize(data, snippetSize),
		}
	}
	if len(data) > MaxBodySize {
		return nil, &ProtocolError{Product: product, Reason: fmt.Sprintf("body larger than %d bytes", MaxBodySize), Snippet: sanitize(data, snippetSize)}
	}
	env, err := parseEnvelope(data)
	if err != nil {
		return nil, &ProtocolError{Product: product, Reason: err.Error(), Snippet: sanitize(data, snippetSize)}
	}
	r := &Reply{
		Product:       product,
		Code:          env.Code,
		Message:       env.Message,
		TransactionID: env.TransactionID,
		Data:          env.Data,
		ReceivedAt:    received,
	}
	if r.Code != CodeOK {
		return r, &CodeError{Product: product, Code: r.Code, Message: r.Message, TransactionID: r.TransactionID}
	}
	return r, nil
}

const snippetSize = 200

func validProduct(p string) bool {
	if p == "" || len(p) > 64 {
		return false
	}
	for _, r := range p {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
// It returns 0 when the value is absent, unreadable or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// envelope is the vendor's reply envelope.
type envelope struct {
	Code          int
	Message       string
	TransactionID string
	Data          string
}

// parseEnvelope reads a reply body defensively. The body must be a JSON
// object with an integer "code". "message" and "transaction_id" may be
// absent, null, strings or (read as their JSON text) numbers. "data" may be
// absent, null or a string; with a non-zero code any other data is ignored,
// with code 0 it is an error. Errors never quote the body.
func parseEnvelope(body []byte) (envelope, error) {
	var env envelope
	body = trimJSON(body)
	if len(body) == 0 {
		return env, errors.New("empty body")
	}
	if body[0] != '{' {
		if json.Valid(body) {
			return env, fmt.Errorf("body is %s, not a JSON object", jsonKind(body))
		}
		return env, errors.New("body is not JSON")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return env, errors.New("body is not JSON")
	}
	rawCode, ok := fields["code"]
	if !ok {
		return env, errors.New(`body has no "code" field`)
	}
	code, err := strconv.ParseInt(string(rawCode), 10, 32)
	if err != nil {
		return env, fmt.Errorf(`"code" is %s, not an integer`, jsonKind(rawCode))
	}
	env.Code = int(code)
	env.Message = looseString(fields["message"])
	env.TransactionID = looseString(fields["transaction_id"])
	if raw, ok := fields["data"]; ok {
		switch raw[0] {
		case 'n':
			// null: no data
		case '"':
			if err := json.Unmarshal(raw, &env.Data); err != nil {
				return env, errors.New(`"data" is not a valid string`)
			}
		default:
			if env.Code == CodeOK {
				return env, fmt.Errorf(`"data" is %s, not an encrypted string`, jsonKind(raw))
			}
		}
	}
	return env, nil
}

// looseString reads a JSON string, or keeps a number's text; anything else
// (absent, null, objects) is "".
func looseString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw)
	}
	return ""
}
