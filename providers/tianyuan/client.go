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

	"github.com/scorepipe/scorepipe/redact"
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

// Reply shapes: how a vendor answer came (see [Reply.Shape]).
const (
	// ShapeEnvelope is {"code", "message", "transaction_id", "data"} with
	// the payload encrypted in data.
	ShapeEnvelope = "envelope"
	// ShapePlain is a plain JSON body holding "responses" at its top
	// level and no encrypted data, as COMBTY11's documentation reads it.
	ShapePlain = "plain"
)

// Reply is one vendor answer as received.
type Reply struct {
	Product       string
	Code          int
	Message       string
	TransactionID string
	// Data is the encrypted payload ("" when absent or null); open it with
	// [Cipher.Payload]. For an envelope it is the "data" field exactly as
	// received; for a plain reply it is the whole body as received,
	// encrypted with the client's key in the same format, so that it
	// opens to the same {"responses": [...]} object and is stored like an
	// envelope's, never as plaintext.
	Data       string
	ReceivedAt time.Time
	// Shape is ShapeEnvelope or ShapePlain for a reply from [Client.Call];
	// "" when it is not known (a reply store keeps only the fields above).
	Shape string
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
	// AccessKey is the key as configured, when known: a vendor's echo of
	// it, like one of the access id or the key's hex, is taken out of
	// every reply's text.
	AccessKey string
	// HTTP sends the requests; nil means a client with sane timeouts.
	// Whatever its CheckRedirect, the Client never follows a redirect
	// (see [RedirectError]).
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
	secrets  *redact.Secrets // the credentials, taken out of what the vendor writes
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
	hc := defaultHTTPClient()
	if cfg.HTTP != nil {
		own := *cfg.HTTP // the caller's client keeps its own redirect policy
		hc = &own
	}
	hc.CheckRedirect = refuseRedirect
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Client{base: u, accessID: cfg.AccessID, cipher: c, http: hc, now: now, secrets: credentialSecrets(cfg)}, nil
}

// refuseRedirect stops an http.Client at the first redirect and hands the
// 3xx reply back: following it would send the Access-Id, and for 307 and
// 308 the encrypted parameters, to another address (plain http, even), and
// a 301, 302 or 303 would turn the call into a GET.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

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
	return &http.Client{Transport: tr, Timeout: 90 * time.Second, CheckRedirect: refuseRedirect}
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
	var sent writeTrace
	req, err := http.NewRequestWithContext(sent.context(ctx), http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("tianyuan: %s: %w", product, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Access-Id", c.accessID)

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, sent.sendError(product, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return nil, &RedirectError{Product: product, StatusCode: resp.StatusCode, Location: redirectTarget(req.URL, resp.Header.Get("Location"))}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		return nil, bodyError(product, resp.StatusCode, err)
	}
	return c.reply(product, resp.StatusCode, resp.Header.Get("Retry-After"), data, c.now())
}

// reply turns a received body into a Reply or an error; see [Caller].
func (c *Client) reply(product string, status int, retryAfter string, data []byte, received time.Time) (*Reply, error) {
	ok := status >= 200 && status <= 299
	if len(data) > MaxBodySize {
		if !ok {
			return nil, &HTTPError{Product: product, StatusCode: status, RetryAfter: parseRetryAfter(retryAfter, received)}
		}
		return nil, &ProtocolError{Product: product, StatusCode: status,
			Reason: fmt.Sprintf("the body is larger than the %d MiB cap", MaxBodySize>>20)}
	}
	b, err := parseBody(data)
	c.redactCredentials(&b, err)
	if !ok {
		// A non-2xx reply is an HTTP failure, whatever it says, unless
		// it carries an answer: then the vendor may have billed it.
		if err == nil && b.code == CodeOK {
			return nil, &ProtocolError{Product: product, StatusCode: status, Message: b.message, TransactionID: b.transactionID,
				Reason: fmt.Sprintf("HTTP %d with a success answer (code 0, %s shape) in its body", status, b.shape)}
		}
		he := &HTTPError{Product: product, StatusCode: status, RetryAfter: parseRetryAfter(retryAfter, received)}
		if err == nil {
			he.Code, he.Message, he.TransactionID = b.code, b.message, b.transactionID
		} else {
			he.Message, he.TransactionID = err.Message, err.TransactionID
		}
		return nil, he
	}
	if err != nil {
		err.Product, err.StatusCode = product, status
		return nil, err
	}
	r := &Reply{
		Product:       product,
		Code:          b.code,
		Message:       b.message,
		TransactionID: b.transactionID,
		Data:          b.data,
		ReceivedAt:    received,
		Shape:         b.shape,
	}
	if b.shape == ShapePlain {
		// Kept encrypted like an envelope's data: no plaintext at rest.
		enc, err := c.cipher.Encrypt(data)
		if err != nil {
			return nil, fmt.Errorf("tianyuan: %s: %w", product, err)
		}
		r.Data = enc
	}
	if r.Code != CodeOK {
		return r, &CodeError{Product: product, Code: r.Code, Message: r.Message, TransactionID: r.TransactionID}
	}
	return r, nil
}

// redirectTarget names where a redirect pointed, resolved against the
// request URL, without query, fragment or user information.
func redirectTarget(from *url.URL, location string) string {
	if strings.TrimSpace(location) == "" {
		return ""
	}
	u, err := from.Parse(strings.TrimSpace(location))
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return sanitize([]byte(u.String()), 200)
}

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

// body is what a reply body says.
type body struct {
	shape         string // ShapeEnvelope or ShapePlain
	code          int
	message       string
	transactionID string
	data          string // an envelope's encrypted data
}

// parseBody reads a reply body defensively, deciding its shape by what it
// holds:
//
//   - a non-zero integer "code": an envelope with an error code, whatever
//     else the body holds ("data" is then ignored);
//   - "responses": the plain shape, whose "responses" must be a list, and
//     whose "code", if any, is 0 (beside a code, "responses": null counts
//     as absent);
//   - an integer "code" 0: an envelope, whose "data" must be absent, null
//     or a string;
//   - neither: an error.
//
// The body must be a JSON object. "message" and "transaction_id" may be
// absent, null, strings or (read as their JSON text) numbers. The error,
// when there is one, says what was wrong without quoting the body; its
// Product and StatusCode are left for the caller to fill.
func parseBody(data []byte) (body, *ProtocolError) {
	var b body
	data = trimJSON(data)
	if len(data) == 0 {
		return b, &ProtocolError{Reason: "the body is empty", NotJSON: true}
	}
	if data[0] != '{' {
		if json.Valid(data) {
			return b, &ProtocolError{Reason: fmt.Sprintf("the body is %s, not a JSON object", jsonKind(data))}
		}
		return b, &ProtocolError{Reason: "the body is not JSON", NotJSON: true}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return b, &ProtocolError{Reason: "the body is not JSON", NotJSON: true}
	}
	b.message = looseString(fields["message"])
	b.transactionID = looseString(fields["transaction_id"])
	fail := func(format string, args ...any) (body, *ProtocolError) {
		return b, &ProtocolError{Reason: fmt.Sprintf(format, args...), Message: b.message, TransactionID: b.transactionID}
	}
	rawCode, hasCode := fields["code"]
	if hasCode {
		code, err := strconv.ParseInt(string(rawCode), 10, 32)
		if err != nil {
			if kind := jsonKind(rawCode); kind != "a number" {
				return fail(`"code" is %s, not an integer`, kind)
			}
			return fail(`"code" is a number but not an integer of 32 bits`)
		}
		b.code = int(code)
	}
	rawResponses, hasResponses := fields["responses"]
	switch {
	case hasCode && b.code != CodeOK:
		b.shape = ShapeEnvelope
	case hasResponses && !(hasCode && string(rawResponses) == "null"):
		b.shape = ShapePlain
		if rawResponses[0] != '[' {
			return fail(`"responses" is %s, not a list`, jsonKind(rawResponses))
		}
	case hasCode:
		b.shape = ShapeEnvelope
		if raw, ok := fields["data"]; ok {
			switch raw[0] {
			case 'n':
				// null: no data
			case '"':
				if err := json.Unmarshal(raw, &b.data); err != nil {
					return fail(`"data" is not a valid string`)
				}
			default:
				return fail(`"data" is %s, not an encrypted string`, jsonKind(raw))
			}
		}
	default:
		return fail(`the body holds neither "code" nor "responses"`)
	}
	return b, nil
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
