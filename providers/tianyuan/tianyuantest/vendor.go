// Package tianyuantest is a fake Tianyuan vendor: an http.Handler that
// speaks the real protocol, checks requests as the vendor does, answers with
// deterministic synthetic payloads, injects faults on demand and counts what
// it sees and bills.
package tianyuantest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Demo credentials: the fake accepts these when Options leave them zero.
const (
	DemoAccessID  = "demo-access-id"
	DemoAccessKey = "5f3c8e1a9b7d4c2e6a0f1b3d5c7e9a2b" // 32 hex characters
)

// DemoKey returns DemoAccessKey hex-decoded: the 16-byte AES key.
func DemoKey() []byte {
	k, err := hex.DecodeString(DemoAccessKey)
	if err != nil {
		panic(err) // a constant
	}
	return k
}

// Vendor codes the fake answers with.
const (
	codeOK         = 0
	codeInterface  = 1001
	codeDecrypt    = 1002
	codeInvalid    = 1003
	codeIP         = 1004
	codeNoAccessID = 1005
	codeBadAccess  = 1006
	codeBalance    = 1007
	codeNoProduct  = 1008
	codeBusiness   = 2001
)

var codeMessages = map[int]string{
	codeOK:         "成功",
	codeInterface:  "接口异常",
	codeDecrypt:    "参数解密失败",
	codeInvalid:    "参数校验不正确",
	codeIP:         "IP未在白名单",
	codeNoAccessID: "缺少Access-Id",
	codeBadAccess:  "未经授权的AccessId",
	codeBalance:    "账户余额不足",
	codeNoProduct:  "未开通此产品",
	codeBusiness:   "业务失败",
}

// Faults are injected per request, each with its own probability in [0,1].
// HTTP503, HTTP429, Garbage, Malformed, HTTP500Code0 and Oversized exclude
// each other (their sum should not exceed 1); Stall, Code1001 and Codes are
// drawn independently.
type Faults struct {
	HTTP503 float64 // answer HTTP 503
	HTTP429 float64 // answer HTTP 429 with a Retry-After header
	// RetryAfter is the 429's Retry-After in whole seconds, rounded up;
	// 0 means 1s, a negative value sends no header.
	RetryAfter time.Duration
	Garbage    float64 // answer HTTP 200 with a body that is not JSON
	Stall      float64 // wait StallFor (or until the client leaves), then answer normally
	StallFor   time.Duration
	Code1001   float64 // answer code 1001 to an otherwise valid request
	// BalanceAfter, when > 0, lets this many code-0 replies be billed in
	// total; every further valid request gets code 1007.
	BalanceAfter int

	// Malformed answers HTTP 200 with valid JSON that no client can
	// understand (MalformedKind, or each of MalformedKinds in turn when
	// it is ""), HTTP500Code0 answers HTTP 500 carrying the full code-0
	// answer, and Oversized answers the code-0 answer padded to
	// OversizedBody bytes. Each is sent once the call is billed: the
	// vendor may have billed what a client cannot read.
	Malformed     float64
	MalformedKind string
	HTTP500Code0  float64
	Oversized     float64
	// CutBody sends HTTP 200 with the Content-Length of the code-0
	// answer and half of its body, then closes the connection; Reset
	// resets the connection (TCP RST) without a reply. Each is done once
	// the call is billed, as a vendor that processed the request and
	// failed to deliver the answer.
	CutBody float64
	Reset   float64
	// Codes answers each code listed (1004, 2001, ...) to its share of
	// otherwise valid requests (their sum should not exceed 1).
	Codes map[int]float64
	// CodeMessage, when set, is the message of the answers of Codes (the
	// code's own otherwise), as a vendor that echoes what it was sent
	// writes it: {key} (the key's hex), {KEY} (in upper case), {access_id},
	// {id_card}, {id_card_spaced} (6 8 4), {id_card_pct} (6%2012),
	// {mobile}, {mobile_dashed} (3-4-4) and {mobile_spaced} (3 4 4) stand
	// for the vendor's credentials and the request's parameters.
	CodeMessage string
	// RedirectTo, when set, answers every request with a redirect to it
	// (RedirectStatus: 301, 302, 303, 307 or 308; 0 means 307).
	RedirectTo     string
	RedirectStatus int
}

// Validate reports a probability outside [0,1].
func (f Faults) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"HTTP503", f.HTTP503}, {"HTTP429", f.HTTP429}, {"Garbage", f.Garbage}, {"Stall", f.Stall}, {"Code1001", f.Code1001}} {
		if p.v < 0 || p.v > 1 || math.IsNaN(p.v) {
			return fmt.Errorf("tianyuantest: fault %s = %v, want a probability in [0,1]", p.name, p.v)
		}
	}
	if s := f.HTTP503 + f.HTTP429 + f.Garbage; s > 1 {
		return fmt.Errorf("tianyuantest: faults HTTP503+HTTP429+Garbage = %v, want at most 1", s)
	}
	if f.StallFor < 0 {
		return fmt.Errorf("tianyuantest: fault StallFor = %v, want >= 0", f.StallFor)
	}
	return f.validateMore()
}

// Options configure a [Vendor]. The zero value is a well-behaved vendor
// with the demo credentials.
type Options struct {
	AccessID string // "" means DemoAccessID
	Key      []byte // nil means DemoKey(); must be 16 bytes otherwise
	// Latency is added to every request (the wait ends early when the client
	// leaves).
	Latency time.Duration
	Faults  Faults
	Seed    int64            // seeds the fault draws and transaction ids
	Now     func() time.Time // nil means time.Now; checks the t parameter and stamps Calls
	// ExtraFields adds this many factors the catalog does not know
	// (xyp_cpl9001, ...) to every JRZQ9E2A payload.
	ExtraFields int
	// CallLog is how many of the most recent calls Calls keeps; 0 means
	// 100000.
	CallLog int
	// Shapes choose among the reply shapes the vendor's documents allow.
	Shapes Shapes
	// CurrentlyOverdue, when set, makes the applicants (by id_card) for
	// which it returns true currently overdue in every product's reply,
	// the rest of their reply unchanged: a later "month" of the same book.
	CurrentlyOverdue func(idCard string) bool
	// Throttle enforces a rate limit as a vendor does; the zero value
	// enforces none.
	Throttle Throttle
}

// Throttle is the fake's rate limit. Requests are counted per product over
// a sliding second, every request received counting, answered or not (as
// vendors that count at their gateway do): a request that finds Limit
// requests already counted in the second before it is throttled. A client
// that keeps sending above the limit is thus throttled on every request.
type Throttle struct {
	Limit    int            // requests per sliding second for every product; 0 means no limit
	Products map[string]int // a limit per product, replacing Limit for those listed (0: no limit)
	// Status is the HTTP status of a throttled answer: 0 means 429; 503 is
	// the other usual choice.
	Status int
	// RetryAfter is the Retry-After sent with a throttled answer, in whole
	// seconds rounded up: 0 sends the time until the window has room
	// (which rounds up to 1s); a negative value sends no header.
	RetryAfter time.Duration
	// Code, when not 0, makes a throttled answer HTTP 200 with this vendor
	// code in the envelope, as vendors that signal throttling by a code do
	// (Status and RetryAfter are then unused).
	Code int
}

// limit returns the limit of product, 0 for none.
func (t *Throttle) limit(product string) int {
	if n, ok := t.Products[product]; ok {
		return n
	}
	return t.Limit
}

// Validate reports a negative limit or a Status that is not an HTTP error.
func (t Throttle) Validate() error {
	if t.Limit < 0 {
		return fmt.Errorf("tianyuantest: throttle limit %d, want >= 0", t.Limit)
	}
	for p, n := range t.Products {
		if n < 0 {
			return fmt.Errorf("tianyuantest: throttle limit of %s %d, want >= 0", p, n)
		}
	}
	if t.Status != 0 && (t.Status < 400 || t.Status > 599) {
		return fmt.Errorf("tianyuantest: throttle status %d, want 4xx or 5xx", t.Status)
	}
	if t.Code < 0 {
		return fmt.Errorf("tianyuantest: throttle code %d, want > 0", t.Code)
	}
	return nil
}

// Call is one request as the fake saw it.
type Call struct {
	Product string
	At      time.Time // arrival, by Options.Now
	Status  int       // HTTP status answered; 0 when the client left first
	Code    int       // code answered (0 for a plain COMBTY11 reply); -1 when no readable answer was sent
}

// Vendor is the fake vendor, an http.Handler. Its methods are safe for
// concurrent use, also while it serves.
type Vendor struct {
	accessID string
	key      []byte // echoed by Faults.CodeMessage
	block    cipher.Block
	latency  time.Duration
	now      func() time.Time
	extra    int
	callCap  int
	shapes   Shapes
	overdue  func(idCard string) bool

	inFlight, maxInFlight atomic.Int64

	mu          sync.Mutex
	faults      Faults
	rng         *rand.Rand
	seq         int64
	requests    map[string]int64
	billed      map[string]int64
	billedFor   map[billKey]int64
	totalBilled int64
	calls       []Call
	callBase    int64 // sequence number of calls[0]
	callCount   int64 // calls ever logged
	// malformedTurn picks the next of MalformedKinds.
	malformedTurn int
	throttle      Throttle
	window        map[string][]time.Time // per product, arrivals in the last second, oldest first
	throttled     map[string]int64
}

type billKey struct{ product, idCard string }

// New returns a fake vendor. It panics when opts.Key is set but is not 16
// bytes, a programming error.
func New(opts Options) *Vendor {
	v := &Vendor{
		accessID:  opts.AccessID,
		latency:   opts.Latency,
		now:       opts.Now,
		extra:     max(opts.ExtraFields, 0),
		callCap:   opts.CallLog,
		shapes:    opts.Shapes,
		overdue:   opts.CurrentlyOverdue,
		faults:    opts.Faults,
		rng:       rand.New(rand.NewPCG(uint64(opts.Seed), 0x7469616e7975616e)),
		requests:  map[string]int64{},
		billed:    map[string]int64{},
		billedFor: map[billKey]int64{},
		throttle:  opts.Throttle,
		window:    map[string][]time.Time{},
		throttled: map[string]int64{},
	}
	if v.accessID == "" {
		v.accessID = DemoAccessID
	}
	key := opts.Key
	if key == nil {
		key = DemoKey()
	}
	if len(key) != aes.BlockSize {
		panic(fmt.Sprintf("tianyuantest: key must be 16 bytes, got %d", len(key)))
	}
	v.block, _ = aes.NewCipher(key)
	v.key = key
	if v.now == nil {
		v.now = time.Now
	}
	if v.callCap <= 0 {
		v.callCap = 100000
	}
	return v
}

// NewServer starts an httptest.Server serving a new Vendor. Close the
// server when done.
func NewServer(opts Options) (*httptest.Server, *Vendor) {
	v := New(opts)
	return httptest.NewServer(v), v
}

// SetFaults replaces the fault settings; requests already past their draw
// keep the old ones.
func (v *Vendor) SetFaults(f Faults) {
	v.mu.Lock()
	v.faults = f
	v.mu.Unlock()
}

// SetThrottle replaces the rate limit. Arrivals counted while a product
// had a limit stay in its window; a product without one counts nothing.
func (v *Vendor) SetThrottle(t Throttle) {
	v.mu.Lock()
	v.throttle = t
	v.mu.Unlock()
}

// Throttled counts the requests for product answered as throttled.
func (v *Vendor) Throttled(product string) int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.throttled[product]
}

// Requests counts every HTTP request seen for product, faulted ones
// included.
func (v *Vendor) Requests(product string) int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.requests[product]
}

// Billed counts the calls billed for product: the code-0 replies sent,
// and the answers of Faults.Malformed, HTTP500Code0, Oversized, CutBody
// and Reset, sent (or dropped) after billing.
func (v *Vendor) Billed(product string) int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.billed[product]
}

// BilledFor is Billed for one id_card.
func (v *Vendor) BilledFor(product, idCard string) int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.billedFor[billKey{product, idCard}]
}

// InFlight is the number of requests being served now.
func (v *Vendor) InFlight() int64 { return v.inFlight.Load() }

// MaxInFlight is the highest InFlight seen.
func (v *Vendor) MaxInFlight() int64 { return v.maxInFlight.Load() }

// Calls returns the logged calls in arrival order (the most recent
// Options.CallLog of them).
func (v *Vendor) Calls() []Call {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Call(nil), v.calls...)
}

// draw is what the fault dice, and the rate limit, said for one request.
type draw struct {
	http         int // 0, 503, 429, or 200 for garbage
	retry        time.Duration
	stall        time.Duration
	c1001        bool
	code         int    // a code of Faults.Codes to answer, or 0
	broken       broken // what to send instead of the code-0 answer
	faults       Faults
	params       map[string]string // the request's, once checked
	throttle     int               // when not 0, a throttled answer: the HTTP status, or 200 with throttleCode
	throttleCode int               // the throttling vendor code of a 200 throttled answer
}

func (v *Vendor) arrive(product string) (int64, draw) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests[product]++
	if len(v.calls) >= v.callCap {
		drop := len(v.calls) - v.callCap/2
		v.calls = append(v.calls[:0], v.calls[drop:]...)
		v.callBase += int64(drop)
	}
	now := v.now()
	v.calls = append(v.calls, Call{Product: product, At: now, Code: -1})
	id := v.callCount
	v.callCount++

	f := v.faults
	d := draw{faults: f}
	if v.throttles(product, now, &d) {
		return id, d
	}
	switch u := v.rng.Float64(); {
	case u < f.HTTP503:
		d.http = http.StatusServiceUnavailable
	case u < f.HTTP503+f.HTTP429:
		d.http = http.StatusTooManyRequests
		d.retry = f.RetryAfter
		if d.retry == 0 {
			d.retry = time.Second
		}
	case u < f.HTTP503+f.HTTP429+f.Garbage:
		d.http = http.StatusOK
	default:
		d.broken = f.drawBroken(u - f.HTTP503 - f.HTTP429 - f.Garbage)
	}
	if v.rng.Float64() < f.Stall {
		d.stall = f.StallFor
		if d.stall == 0 {
			d.stall = time.Second
		}
	}
	d.c1001 = v.rng.Float64() < f.Code1001
	if len(f.Codes) > 0 {
		d.code = f.drawCode(v.rng.Float64())
	}
	return id, d
}

// throttles counts the arrival of a request for product in its sliding
// second and says whether the request is over the limit, setting d's
// answer if so. v.mu is held.
func (v *Vendor) throttles(product string, now time.Time, d *draw) bool {
	limit := v.throttle.limit(product)
	if limit <= 0 {
		delete(v.window, product)
		return false
	}
	w := v.window[product]
	i := 0
	for i < len(w) && !w[i].After(now.Add(-time.Second)) {
		i++
	}
	over := len(w)-i >= limit
	w = append(w[i:], now)
	v.window[product] = w
	if !over {
		return false
	}
	v.throttled[product]++
	if v.throttle.Code != 0 {
		d.throttle, d.throttleCode = http.StatusOK, v.throttle.Code
		return true
	}
	d.throttle = v.throttle.Status
	if d.throttle == 0 {
		d.throttle = http.StatusTooManyRequests
	}
	switch ra := v.throttle.RetryAfter; {
	case ra > 0:
		d.retry = ra
	case ra == 0:
		// The window has room again once all but limit-1 of its
		// arrivals, this one included, are a second old.
		d.retry = w[len(w)-limit].Add(time.Second).Sub(now)
	}
	return true
}

func (v *Vendor) finish(id int64, status, code int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if i := id - v.callBase; i >= 0 && i < int64(len(v.calls)) {
		v.calls[i].Status, v.calls[i].Code = status, code
	}
}

// ServeHTTP answers one request as the vendor would.
func (v *Vendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := v.inFlight.Add(1)
	defer v.inFlight.Add(-1)
	for m := v.maxInFlight.Load(); n > m && !v.maxInFlight.CompareAndSwap(m, n); m = v.maxInFlight.Load() {
	}

	product, ok := strings.CutPrefix(r.URL.Path, "/api/v1/")
	if !ok || product == "" || strings.Contains(product, "/") {
		http.NotFound(w, r)
		return
	}
	id, d := v.arrive(product)
	status, code := v.serve(w, r, product, d)
	v.finish(id, status, code)
}

// serve answers and returns the HTTP status and envelope code sent.
func (v *Vendor) serve(w http.ResponseWriter, r *http.Request, product string, d draw) (int, int) {
	if to := d.faults.RedirectTo; to != "" {
		status := d.faults.RedirectStatus
		if status == 0 {
			status = http.StatusTemporaryRedirect
		}
		http.Redirect(w, r, to, status)
		return status, -1
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return http.StatusMethodNotAllowed, -1
	}
	// Read the body first: the server notices a client that leaves only
	// once the body is consumed.
	body, readErr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if !sleep(r.Context(), v.latency) || !sleep(r.Context(), d.stall) {
		return 0, -1
	}
	switch d.throttle {
	case 0:
	case http.StatusOK:
		return v.reply(w, product, d.throttleCode, "")
	default:
		if d.retry > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(d.retry.Seconds())), 10))
		}
		http.Error(w, "rate limit exceeded", d.throttle)
		return d.throttle, -1
	}
	switch d.http {
	case http.StatusServiceUnavailable:
		http.Error(w, "service unavailable", d.http)
		return d.http, -1
	case http.StatusTooManyRequests:
		if d.retry > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(d.retry.Seconds())), 10))
		}
		http.Error(w, "too many requests", d.http)
		return d.http, -1
	case http.StatusOK:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body>bad gateway</body></html>")
		return http.StatusOK, -1
	}

	params, code := v.check(r, product, body, readErr)
	if code != codeOK {
		return v.reply(w, product, code, "")
	}
	if d.c1001 {
		return v.reply(w, product, codeInterface, "")
	}
	if d.code != 0 {
		if m := d.faults.CodeMessage; m != "" {
			return v.replyMessage(w, product, d.code, v.echo(m, params))
		}
		return v.reply(w, product, d.code, "")
	}
	payload, err := SyntheticPayload(product, params, v.extra)
	if err == nil && v.overdue != nil && v.overdue(params["id_card"]) {
		payload, err = makeOverdue(product, payload)
	}
	if err != nil { // a known product cannot fail; answer as an interface error
		return v.reply(w, product, codeInterface, "")
	}
	if r.Context().Err() != nil { // the client left: nothing is sent, nothing billed
		return 0, -1
	}
	v.mu.Lock()
	if b := d.faults.BalanceAfter; b > 0 && v.totalBilled >= int64(b) {
		v.mu.Unlock()
		return v.reply(w, product, codeBalance, "")
	}
	v.totalBilled++
	v.billed[product]++
	v.billedFor[billKey{product, params["id_card"]}]++
	v.mu.Unlock()
	d.params = params
	return v.success(w, product, payload, d)
}

// check validates a request in the vendor's order and returns its
// parameters, or the code to answer.
func (v *Vendor) check(r *http.Request, product string, raw []byte, readErr error) (map[string]string, int) {
	id := strings.TrimSpace(r.Header.Get("Access-Id"))
	if id == "" {
		return nil, codeNoAccessID
	}
	if id != v.accessID {
		return nil, codeBadAccess
	}
	var body struct {
		Data *string `json:"data"`
	}
	if readErr != nil || json.Unmarshal(raw, &body) != nil || body.Data == nil || *body.Data == "" {
		return nil, codeDecrypt
	}
	plain, err := decrypt(v.block, *body.Data)
	if err != nil {
		return nil, codeDecrypt
	}
	var fields map[string]any
	if json.Unmarshal(plain, &fields) != nil || fields == nil {
		return nil, codeDecrypt
	}
	if !v.freshTimestamp(r.URL.Query().Get("t")) {
		return nil, codeInvalid
	}
	required, ok := requiredParams[product]
	if !ok {
		return nil, codeNoProduct
	}
	params := make(map[string]string, len(fields))
	for k, val := range fields {
		if s, ok := val.(string); ok {
			params[k] = s
		}
	}
	for _, k := range required {
		if strings.TrimSpace(params[k]) == "" {
			return nil, codeInvalid
		}
	}
	if product == ProductRiskReport && !validAuthDate(params["auth_date"]) {
		return nil, codeInvalid
	}
	return params, codeOK
}

// freshTimestamp says whether t is 13 digits of unix milliseconds within
// five minutes of now.
func (v *Vendor) freshTimestamp(t string) bool {
	if len(t) != 13 {
		return false
	}
	for _, c := range t {
		if c < '0' || c > '9' {
			return false
		}
	}
	ms, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return false
	}
	diff := v.now().Sub(time.UnixMilli(ms))
	return diff.Abs() <= 5*time.Minute
}

// validAuthDate checks YYYYMMDD-YYYYMMDD with real dates, start <= end.
func validAuthDate(s string) bool {
	from, to, ok := strings.Cut(s, "-")
	if !ok || len(from) != 8 || len(to) != 8 {
		return false
	}
	a, err1 := time.Parse("20060102", from)
	b, err2 := time.Parse("20060102", to)
	return err1 == nil && err2 == nil && !b.Before(a)
}

func (v *Vendor) reply(w http.ResponseWriter, product string, code int, data string) (int, int) {
	v.mu.Lock()
	v.seq++
	tx := fmt.Sprintf("%s-%06d-%08x", product, v.seq, v.rng.Uint32())
	seq := v.seq
	v.mu.Unlock()
	var raw json.RawMessage
	if data != "" {
		raw = mustMarshal(data)
	}
	body := v.envelope(code, tx, seq, raw)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return http.StatusOK, code
}

// sleep waits d or until ctx ends; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
