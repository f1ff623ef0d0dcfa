package tianyuantest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// applicant returns synthetic parameters for product and applicant i.
func applicant(product string, i int) tianyuan.Params {
	p := tianyuan.Params{
		"name":      fmt.Sprintf("测试%d", i),
		"id_card":   fmt.Sprintf("1101011990%08d", i),
		"mobile_no": fmt.Sprintf("138%08d", i),
	}
	switch product {
	case "JRZQ9E2A":
		p["auth_authorize_file_code"] = fmt.Sprintf("AUTH%06d", i)
	case "COMBTY11":
		p["authorization_url"] = "https://oss.example.com/auth/1.pdf"
		p["auth_date"] = "20250101-20251231"
	}
	return p
}

func without(p tianyuan.Params, key string) tianyuan.Params {
	q := tianyuan.Params{}
	for k, v := range p {
		if k != key {
			q[k] = v
		}
	}
	return q
}

func with(p tianyuan.Params, key, val string) tianyuan.Params {
	q := without(p, key)
	q[key] = val
	return q
}

func demoClient(t testing.TB, srv *httptest.Server) *tianyuan.Client {
	t.Helper()
	c, err := tianyuan.NewClient(tianyuan.ClientConfig{
		BaseURL:  srv.URL,
		AccessID: tianyuantest.DemoAccessID,
		Key:      tianyuantest.DemoKey(),
		HTTP:     srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func demoCipher(t testing.TB) *tianyuan.Cipher {
	t.Helper()
	c, err := tianyuan.NewCipher(tianyuantest.DemoKey())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDemoKeyParses(t *testing.T) {
	k, err := tianyuan.ParseKey(tianyuantest.DemoAccessKey, tianyuan.KeyHex)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k, tianyuantest.DemoKey()) {
		t.Errorf("ParseKey(DemoAccessKey) = %x, want %x", k, tianyuantest.DemoKey())
	}
}

// rawRequest describes one hand-made request to the fake.
type rawRequest struct {
	method   string // "" means POST
	path     string // "" means /api/v1/{product}
	product  string
	accessID *string // nil means the demo id; pointer to "" sends no header
	t        *string // nil means now in ms; pointer to "" sends "t="; "-" sends no t
	body     *string // nil means {"data": Encrypt(params)}
	params   tianyuan.Params
	key      []byte // nil means the demo key
}

func str(s string) *string { return &s }

// send makes the request and returns the HTTP status and the envelope code
// (-1 when the body is not an envelope).
func send(t *testing.T, srv *httptest.Server, now time.Time, rq rawRequest) (int, int) {
	t.Helper()
	if rq.method == "" {
		rq.method = http.MethodPost
	}
	if rq.path == "" {
		rq.path = "/api/v1/" + rq.product
	}
	u := srv.URL + rq.path
	switch {
	case rq.t == nil:
		u += "?t=" + strconv.FormatInt(now.UnixMilli(), 10)
	case *rq.t != "-":
		u += "?t=" + *rq.t
	}
	var body string
	if rq.body != nil {
		body = *rq.body
	} else {
		key := rq.key
		if key == nil {
			key = tianyuantest.DemoKey()
		}
		c, err := tianyuan.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := json.Marshal(rq.params)
		enc, err := c.Encrypt(plain)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]string{"data": enc})
		body = string(b)
	}
	req, err := http.NewRequest(rq.method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	switch {
	case rq.accessID == nil:
		req.Header.Set("Access-Id", tianyuantest.DemoAccessID)
	case *rq.accessID != "":
		req.Header.Set("Access-Id", *rq.accessID)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Code *int `json:"code"`
		Data *string
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Code == nil {
		return resp.StatusCode, -1
	}
	if *env.Code != 0 && env.Data != nil {
		t.Errorf("error reply %d carries data", *env.Code)
	}
	return resp.StatusCode, *env.Code
}

func TestEnforcement(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	ms := func(d time.Duration) *string { return str(strconv.FormatInt(now.Add(d).UnixMilli(), 10)) }
	ml := applicant("JRZQ9E2A", 1)
	rr := applicant("COMBTY11", 1)
	tests := []struct {
		name       string
		rq         rawRequest
		wantStatus int
		wantCode   int
	}{
		{"ok JRZQ9E2A", rawRequest{product: "JRZQ9E2A", params: ml}, 200, 0},
		{"ok COMBTY11", rawRequest{product: "COMBTY11", params: rr}, 200, 0},
		{"extra params are fine", rawRequest{product: "JRZQ9E2A", params: with(ml, "note", "x")}, 200, 0},
		{"no Access-Id", rawRequest{product: "JRZQ9E2A", params: ml, accessID: str("")}, 200, 1005},
		{"blank Access-Id", rawRequest{product: "JRZQ9E2A", params: ml, accessID: str("  ")}, 200, 1005},
		{"wrong Access-Id", rawRequest{product: "JRZQ9E2A", params: ml, accessID: str("someone-else")}, 200, 1006},
		{"body not JSON", rawRequest{product: "JRZQ9E2A", body: str("data=abc")}, 200, 1002},
		{"body without data", rawRequest{product: "JRZQ9E2A", body: str(`{"payload":"abc"}`)}, 200, 1002},
		{"data not a string", rawRequest{product: "JRZQ9E2A", body: str(`{"data":{"name":"x"}}`)}, 200, 1002},
		{"data not base64", rawRequest{product: "JRZQ9E2A", body: str(`{"data":"***"}`)}, 200, 1002},
		{"data plain base64 JSON", rawRequest{product: "JRZQ9E2A", body: str(`{"data":"eyJuYW1lIjoieCJ9"}`)}, 200, 1002},
		{"wrong key", rawRequest{product: "JRZQ9E2A", params: ml, key: bytes.Repeat([]byte{9}, 16)}, 200, 1002},
		{"no t", rawRequest{product: "JRZQ9E2A", params: ml, t: str("-")}, 200, 1003},
		{"blank t", rawRequest{product: "JRZQ9E2A", params: ml, t: str("")}, 200, 1003},
		{"t in seconds", rawRequest{product: "JRZQ9E2A", params: ml, t: str(strconv.FormatInt(now.Unix(), 10))}, 200, 1003},
		{"t not digits", rawRequest{product: "JRZQ9E2A", params: ml, t: str("17163456780x0")}, 200, 1003},
		{"t 6 minutes old", rawRequest{product: "JRZQ9E2A", params: ml, t: ms(-6 * time.Minute)}, 200, 1003},
		{"t 6 minutes ahead", rawRequest{product: "JRZQ9E2A", params: ml, t: ms(6 * time.Minute)}, 200, 1003},
		{"t 4 minutes old", rawRequest{product: "JRZQ9E2A", params: ml, t: ms(-4 * time.Minute)}, 200, 0},
		{"unknown product", rawRequest{product: "ABCD1234", params: ml}, 200, 1008},
		{"missing name", rawRequest{product: "JRZQ9E2A", params: without(ml, "name")}, 200, 1003},
		{"blank id_card", rawRequest{product: "JRZQ9E2A", params: with(ml, "id_card", " ")}, 200, 1003},
		{"missing mobile_no", rawRequest{product: "JRZQ9E2A", params: without(ml, "mobile_no")}, 200, 1003},
		{"missing auth code", rawRequest{product: "JRZQ9E2A", params: without(ml, "auth_authorize_file_code")}, 200, 1003},
		{"missing authorization_url", rawRequest{product: "COMBTY11", params: without(rr, "authorization_url")}, 200, 1003},
		{"missing auth_date", rawRequest{product: "COMBTY11", params: without(rr, "auth_date")}, 200, 1003},
		{"auth_date one day", rawRequest{product: "COMBTY11", params: with(rr, "auth_date", "20250101")}, 200, 1003},
		{"auth_date dashes", rawRequest{product: "COMBTY11", params: with(rr, "auth_date", "2025-01-01-2025-12-31")}, 200, 1003},
		{"auth_date reversed", rawRequest{product: "COMBTY11", params: with(rr, "auth_date", "20251231-20250101")}, 200, 1003},
		{"auth_date not a date", rawRequest{product: "COMBTY11", params: with(rr, "auth_date", "20251332-20251401")}, 200, 1003},
		{"GET", rawRequest{method: "GET", product: "JRZQ9E2A", params: ml}, 405, -1},
		{"wrong path", rawRequest{path: "/api/v2/JRZQ9E2A", params: ml}, 404, -1},
		{"nested path", rawRequest{path: "/api/v1/JRZQ9E2A/x", params: ml}, 404, -1},
	}
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Now: func() time.Time { return now }})
	defer srv.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := v.Billed(tt.rq.product)
			status, code := send(t, srv, now, tt.rq)
			if status != tt.wantStatus || code != tt.wantCode {
				t.Errorf("got HTTP %d code %d, want HTTP %d code %d", status, code, tt.wantStatus, tt.wantCode)
			}
			billed := v.Billed(tt.rq.product) - before
			if want := int64(0); code == 0 {
				want = 1
				if billed != want {
					t.Errorf("billed %d, want %d", billed, want)
				}
			} else if billed != 0 {
				t.Errorf("billed %d for code %d", billed, code)
			}
		})
	}
}

// TestClientAgainstFake checks the real client's typed errors against the
// fake's refusals.
func TestClientAgainstFake(t *testing.T) {
	now := time.Now()
	srv, _ := tianyuantest.NewServer(tianyuantest.Options{})
	defer srv.Close()
	mk := func(id string, key []byte, clock time.Duration) *tianyuan.Client {
		c, err := tianyuan.NewClient(tianyuan.ClientConfig{
			BaseURL: srv.URL, AccessID: id, Key: key, HTTP: srv.Client(),
			Now: func() time.Time { return now.Add(clock) },
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	rawKey, _ := tianyuan.ParseKey(tianyuantest.DemoAccessKey, tianyuan.KeyRaw)
	tests := []struct {
		name      string
		client    *tianyuan.Client
		product   string
		wantCode  int
		wantClass tianyuan.Class
	}{
		{"ok", mk(tianyuantest.DemoAccessID, tianyuantest.DemoKey(), 0), "JRZQ9E2A", 0, 0},
		{"raw key format", mk(tianyuantest.DemoAccessID, rawKey, 0), "JRZQ9E2A", 1002, tianyuan.Fatal},
		{"wrong id", mk("nobody", tianyuantest.DemoKey(), 0), "JRZQ9E2A", 1006, tianyuan.Fatal},
		{"clock skew", mk(tianyuantest.DemoAccessID, tianyuantest.DemoKey(), 10*time.Minute), "JRZQ9E2A", 1003, tianyuan.RowFailure},
		{"product not enabled", mk(tianyuantest.DemoAccessID, tianyuantest.DemoKey(), 0), "FLXG0V4B", 1008, tianyuan.Fatal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.client.Call(context.Background(), tt.product, applicant("JRZQ9E2A", 7))
			if r == nil {
				t.Fatalf("no reply: %v", err)
			}
			if r.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d (err %v)", r.Code, tt.wantCode, err)
			}
			if got := tianyuan.DefaultCodePolicy().Classify(err); got != tt.wantClass {
				t.Errorf("class = %v, want %v", got, tt.wantClass)
			}
			if tt.wantCode == 0 {
				if _, err := tt.client.Cipher().Payload(r); err != nil {
					t.Errorf("Payload: %v", err)
				}
			} else if r.Data != "" {
				t.Errorf("error reply carries data")
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	srv, _ := tianyuantest.NewServer(tianyuantest.Options{})
	defer srv.Close()
	c := demoClient(t, srv)
	for _, product := range []string{"JRZQ9E2A", "COMBTY11"} {
		t.Run(product, func(t *testing.T) {
			get := func(p tianyuan.Params) (string, string) {
				r, err := c.Call(context.Background(), product, p)
				if err != nil {
					t.Fatal(err)
				}
				payload, err := c.Cipher().Payload(r)
				if err != nil {
					t.Fatal(err)
				}
				return string(payload), r.TransactionID
			}
			p1, tx1 := get(applicant(product, 42))
			p2, tx2 := get(applicant(product, 42))
			if p1 != p2 {
				t.Errorf("same applicant, different payloads:\n%s\n%s", p1, p2)
			}
			if tx1 == tx2 {
				t.Errorf("transaction id %q repeated", tx1)
			}
			// The authorisation fields do not change the applicant.
			p3, _ := get(with(applicant(product, 42), "auth_authorize_file_code", "OTHER"))
			if p3 != p1 {
				t.Errorf("auth code changed the payload")
			}
			differ := false
			for i := 43; i < 53 && !differ; i++ {
				p, _ := get(applicant(product, i))
				differ = p != p1
			}
			if !differ {
				t.Errorf("ten other applicants all got the same payload")
			}
			want, err := tianyuantest.SyntheticPayload(product, applicant(product, 42), 0)
			if err != nil || string(want) != p1 {
				t.Errorf("SyntheticPayload differs from the served payload (%v)", err)
			}
		})
	}
	if _, err := tianyuantest.SyntheticPayload("NOPE", nil, 0); err == nil {
		t.Error("SyntheticPayload of an unknown product: nil error")
	}
}

func TestMultiLendingPayloads(t *testing.T) {
	const n = 1000
	known := map[string]bool{}
	for _, f := range tianyuantest.JRZQ9E2AFactors {
		known[f] = true
	}
	empty, missing, values, scoreHit, scores := 0, 0, 0, 0, 0
	for i := range n {
		raw, err := tianyuantest.SyntheticPayload("JRZQ9E2A", applicant("JRZQ9E2A", i), 3)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("applicant %d: payload is not a flat object of strings: %v", i, err)
		}
		if len(m) != len(known)+3 {
			t.Fatalf("applicant %d: %d keys, want %d", i, len(m), len(known)+3)
		}
		for j := 1; j <= 3; j++ {
			if _, ok := m[tianyuantest.ExtraFactor(j)]; !ok {
				t.Fatalf("applicant %d: extra factor %s missing", i, tianyuantest.ExtraFactor(j))
			}
		}
		allEmpty := true
		for f := range known {
			v, ok := m[f]
			if !ok {
				t.Fatalf("applicant %d: factor %s absent", i, f)
			}
			if v != "" {
				allEmpty = false
			}
		}
		if allEmpty {
			empty++
			continue
		}
		for f := range known {
			v := m[f]
			if f == "xyp_cpl0071" || f == "xyp_cpl0072" {
				// Blank by design for most applicants with no overdue.
				if v != "" && !validFactor(f, v) {
					t.Errorf("applicant %d: %s = %q is out of range", i, f, v)
				}
				continue
			}
			values++
			if v == "" {
				missing++
				continue
			}
			if !validFactor(f, v) {
				t.Errorf("applicant %d: %s = %q is out of range", i, f, v)
			}
			if strings.HasPrefix(f, "xyp_model_score_") {
				scores++
				if v != "-1" {
					scoreHit++
				}
			}
		}
		// Counts nest: 0070 ≤ 0009 ≤ 0011 ≤ 0001 (where present).
		chain := []string{"xyp_cpl0070", "xyp_cpl0009", "xyp_cpl0011", "xyp_cpl0001"}
		for k := 1; k < len(chain); k++ {
			a, b := m[chain[k-1]], m[chain[k]]
			if a != "" && b != "" && a > b {
				t.Errorf("applicant %d: %s=%s > %s=%s", i, chain[k-1], a, chain[k], b)
			}
		}
	}
	band := func(name string, got, lo, hi float64) {
		if got < lo || got > hi {
			t.Errorf("%s = %.3f, want within [%.2f, %.2f]", name, got, lo, hi)
		}
	}
	band("share of found-nothing applicants", float64(empty)/n, 0.06, 0.14)
	band("share of missing values", float64(missing)/float64(values), 0.025, 0.08)
	band("share of model scores not hit", 1-float64(scoreHit)/float64(scores), 0.10, 0.20)
}

func validFactor(f, v string) bool {
	atoi := func() int {
		n, err := strconv.Atoi(v)
		if err != nil {
			return -99
		}
		return n
	}
	switch f {
	case "xyp_cpl0044", "xyp_cpl0028", "xyp_cpl0031":
		return v == "0" || v == "1"
	case "xyp_cpl0039", "xyp_cpl0072":
		return atoi() >= 1 && atoi() <= 8
	case "xyp_cpl0081":
		x, err := strconv.ParseFloat(v, 64)
		return err == nil && x >= 0 && x <= 1 && len(v) == 6
	case "xyp_model_score_high", "xyp_model_score_mid", "xyp_model_score_low":
		return v == "-1" || atoi() >= 350 && atoi() <= 950
	}
	return atoi() >= 1 && atoi() <= 6
}

func TestExtraFieldsServed(t *testing.T) {
	srv, _ := tianyuantest.NewServer(tianyuantest.Options{ExtraFields: 2})
	defer srv.Close()
	c := demoClient(t, srv)
	r, err := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", 1))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Cipher().Payload(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	json.Unmarshal(p, &m)
	if _, ok := m["xyp_cpl9002"]; !ok || len(m) != len(tianyuantest.JRZQ9E2AFactors)+2 {
		t.Errorf("payload keys = %d, want the factors plus xyp_cpl9001, xyp_cpl9002", len(m))
	}
}

type subProduct struct {
	APICode string          `json:"api_code"`
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Message string          `json:"message"`
}

func TestRiskReportPayloads(t *testing.T) {
	const n = 1000
	failed := 0
	suggest := map[string]bool{"建议通过": true, "建议复审": true, "建议拒绝": true}
	rule := map[string]bool{"低风险": true, "中风险": true, "高风险": true}
	for i := range n {
		raw, err := tianyuantest.SyntheticPayload("COMBTY11", applicant("COMBTY11", i), 0)
		if err != nil {
			t.Fatal(err)
		}
		var report struct{ Responses []subProduct }
		if err := json.Unmarshal(raw, &report); err != nil {
			t.Fatal(err)
		}
		if len(report.Responses) != 2 || report.Responses[0].APICode != "DWBG8B4D" || report.Responses[1].APICode != "FLXG0V4B" {
			t.Fatalf("applicant %d: responses = %+v", i, report.Responses)
		}
		var dw struct {
			FraudScore   int    `json:"fraudScore"`
			CreditScore  int    `json:"creditScore"`
			CheckSuggest string `json:"checkSuggest"`
			FraudRule    string `json:"fraudRule"`
			RiskWarning  map[string]int
			Overdue      map[string]string `json:"overdueRiskProduct"`
		}
		if err := json.Unmarshal(report.Responses[0].Data, &dw); err != nil {
			t.Fatalf("applicant %d: DWBG8B4D: %v", i, err)
		}
		if dw.FraudScore < 0 || dw.FraudScore > 100 || dw.CreditScore != -1 && (dw.CreditScore < 300 || dw.CreditScore > 1000) ||
			!suggest[dw.CheckSuggest] || !rule[dw.FraudRule] || len(dw.RiskWarning) != 7 || len(dw.Overdue) != 4 {
			t.Errorf("applicant %d: DWBG8B4D = %+v", i, dw)
		}
		if (dw.RiskWarning["hitCurrentOverdue"] == 1) != (dw.Overdue["hasUnsettledOverdue"] == "逾期") {
			t.Errorf("applicant %d: overdue flag and status disagree", i)
		}
		fl := report.Responses[1]
		if !fl.Success {
			failed++
			if string(fl.Data) != "null" || fl.Message == "" {
				t.Errorf("applicant %d: failed FLXG0V4B = %+v", i, fl)
			}
			continue
		}
		var j struct {
			Sxbzxr []struct{ Ah, Lxqk string }
			Xgbzxr []map[string]string
			Entout struct {
				Data struct {
					Criminal struct {
						Count int
						Cases []struct{ Dzzm, Pcjg string }
					}
					Civil struct {
						Count int
						Cases []struct {
							N string `json:"n_qsbdje"`
						}
					}
				}
			}
		}
		if err := json.Unmarshal(fl.Data, &j); err != nil {
			t.Fatalf("applicant %d: FLXG0V4B: %v", i, err)
		}
		if j.Sxbzxr == nil || j.Xgbzxr == nil || len(j.Sxbzxr) > 3 || len(j.Xgbzxr) > 2 ||
			j.Entout.Data.Criminal.Count != len(j.Entout.Data.Criminal.Cases) ||
			j.Entout.Data.Civil.Count != len(j.Entout.Data.Civil.Cases) {
			t.Errorf("applicant %d: FLXG0V4B = %s", i, fl.Data)
		}
	}
	if failed != 0 {
		t.Errorf("%d of %d FLXG0V4B answers failed, want none unless Shapes.SubFailure asks", failed, n)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults tianyuantest.Faults
		check  func(t *testing.T, r *tianyuan.Reply, err error)
	}{
		{"503", tianyuantest.Faults{HTTP503: 1}, func(t *testing.T, r *tianyuan.Reply, err error) {
			var he *tianyuan.HTTPError
			if !errors.As(err, &he) || he.StatusCode != 503 {
				t.Errorf("err = %v, want HTTP 503", err)
			}
		}},
		{"429 default Retry-After", tianyuantest.Faults{HTTP429: 1}, func(t *testing.T, r *tianyuan.Reply, err error) {
			var he *tianyuan.HTTPError
			if !errors.As(err, &he) || he.StatusCode != 429 || he.RetryAfter != time.Second {
				t.Errorf("err = %v, want HTTP 429 retry after 1s", err)
			}
		}},
		{"429 Retry-After rounded up", tianyuantest.Faults{HTTP429: 1, RetryAfter: 1500 * time.Millisecond}, func(t *testing.T, r *tianyuan.Reply, err error) {
			var he *tianyuan.HTTPError
			if !errors.As(err, &he) || he.RetryAfter != 2*time.Second {
				t.Errorf("err = %v, want retry after 2s", err)
			}
		}},
		{"429 without Retry-After", tianyuantest.Faults{HTTP429: 1, RetryAfter: -1}, func(t *testing.T, r *tianyuan.Reply, err error) {
			var he *tianyuan.HTTPError
			if !errors.As(err, &he) || he.StatusCode != 429 || he.RetryAfter != 0 {
				t.Errorf("err = %v, want HTTP 429 without Retry-After", err)
			}
		}},
		{"garbage", tianyuantest.Faults{Garbage: 1}, func(t *testing.T, r *tianyuan.Reply, err error) {
			var pe *tianyuan.ProtocolError
			if !errors.As(err, &pe) {
				t.Errorf("err = %v, want a ProtocolError", err)
			}
		}},
		{"1001", tianyuantest.Faults{Code1001: 1}, func(t *testing.T, r *tianyuan.Reply, err error) {
			var ce *tianyuan.CodeError
			if !errors.As(err, &ce) || ce.Code != 1001 {
				t.Errorf("err = %v, want code 1001", err)
			}
			if tianyuan.DefaultCodePolicy().Classify(err) != tianyuan.Retryable {
				t.Errorf("1001 not retryable")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, v := tianyuantest.NewServer(tianyuantest.Options{Faults: tt.faults})
			defer srv.Close()
			r, err := demoClient(t, srv).Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", 1))
			tt.check(t, r, err)
			if got := v.Requests("JRZQ9E2A"); got != 1 {
				t.Errorf("Requests = %d, want 1", got)
			}
			if got := v.Billed("JRZQ9E2A"); got != 0 {
				t.Errorf("Billed = %d, want 0", got)
			}
		})
	}
}

func TestFaultRates(t *testing.T) {
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Seed: 7, Faults: tianyuantest.Faults{HTTP503: 0.2, Garbage: 0.1, Code1001: 0.2}})
	defer srv.Close()
	c := demoClient(t, srv)
	counts := map[string]int{}
	const n = 400
	for i := range n {
		_, err := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i))
		var he *tianyuan.HTTPError
		var pe *tianyuan.ProtocolError
		var ce *tianyuan.CodeError
		switch {
		case err == nil:
			counts["ok"]++
		case errors.As(err, &he):
			counts["503"]++
		case errors.As(err, &pe):
			counts["garbage"]++
		case errors.As(err, &ce):
			counts["1001"]++
		}
	}
	// 503 20%, garbage 10%, 1001 20% of the remaining 70% = 14%, ok 56%.
	for k, want := range map[string]float64{"503": 0.2, "garbage": 0.1, "1001": 0.14, "ok": 0.56} {
		if got := float64(counts[k]) / n; got < want-0.07 || got > want+0.07 {
			t.Errorf("share %s = %.3f, want about %.2f", k, got, want)
		}
	}
	if got := v.Billed("JRZQ9E2A"); got != int64(counts["ok"]) {
		t.Errorf("Billed = %d, want %d", got, counts["ok"])
	}
	v.SetFaults(tianyuantest.Faults{})
	for i := range 20 {
		if _, err := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i)); err != nil {
			t.Fatalf("after SetFaults({}): %v", err)
		}
	}
}

func TestStall(t *testing.T) {
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Faults: tianyuantest.Faults{Stall: 1, StallFor: 300 * time.Millisecond}})
	defer srv.Close()
	c := demoClient(t, srv)
	t.Run("client gives up", func(t *testing.T) {
		if err := callAndLeave(t, c, v); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want Canceled", err)
		}
		waitIdle(t, v)
		if calls := v.Calls(); calls[len(calls)-1].Status != 0 || calls[len(calls)-1].Code != -1 {
			t.Errorf("abandoned call logged as %+v", calls[len(calls)-1])
		}
		if v.Billed("JRZQ9E2A") != 0 {
			t.Error("a stalled, abandoned call was billed")
		}
	})
	t.Run("answers after the stall", func(t *testing.T) {
		v.SetFaults(tianyuantest.Faults{Stall: 1, StallFor: 30 * time.Millisecond})
		start := time.Now()
		if _, err := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", 1)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 30*time.Millisecond {
			t.Errorf("answered after %v, want at least 30ms", d)
		}
	})
}

// callAndLeave makes a call and cancels it once the fake is serving it.
func callAndLeave(t *testing.T, c *tianyuan.Client, v *tianyuantest.Vendor) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		deadline := time.Now().Add(2 * time.Second)
		for v.InFlight() == 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond)
		}
		cancel()
	}()
	_, err := c.Call(ctx, "JRZQ9E2A", applicant("JRZQ9E2A", 1))
	return err
}

func waitIdle(t *testing.T, v *tianyuantest.Vendor) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for v.InFlight() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("InFlight = %d, want 0", v.InFlight())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBalanceAfter(t *testing.T) {
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Faults: tianyuantest.Faults{BalanceAfter: 3}})
	defer srv.Close()
	c := demoClient(t, srv)
	var codes []int
	for i := range 6 {
		product := []string{"JRZQ9E2A", "COMBTY11"}[i%2]
		r, err := c.Call(context.Background(), product, applicant(product, i))
		if r == nil {
			t.Fatalf("call %d: %v", i, err)
		}
		codes = append(codes, r.Code)
		if r.Code == 1007 && tianyuan.DefaultCodePolicy().Classify(err) != tianyuan.Fatal {
			t.Errorf("1007 not fatal")
		}
	}
	if got, want := fmt.Sprint(codes), "[0 0 0 1007 1007 1007]"; got != want {
		t.Errorf("codes = %s, want %s", got, want)
	}
	if got := v.Billed("JRZQ9E2A") + v.Billed("COMBTY11"); got != 3 {
		t.Errorf("billed %d, want 3", got)
	}
}

func TestCounts(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Millisecond); return now }
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Now: clock})
	defer srv.Close()
	c, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: srv.URL, AccessID: tianyuantest.DemoAccessID,
		Key: tianyuantest.DemoKey(), HTTP: srv.Client(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, b := applicant("JRZQ9E2A", 1), applicant("JRZQ9E2A", 2)
	c.Call(ctx, "JRZQ9E2A", a)
	c.Call(ctx, "JRZQ9E2A", a)
	c.Call(ctx, "JRZQ9E2A", b)
	c.Call(ctx, "JRZQ9E2A", without(b, "name")) // 1003, not billed
	c.Call(ctx, "COMBTY11", applicant("COMBTY11", 1))
	c.Call(ctx, "NOPE0001", a) // 1008

	checks := []struct {
		name      string
		got, want int64
	}{
		{"Requests JRZQ9E2A", v.Requests("JRZQ9E2A"), 4},
		{"Requests COMBTY11", v.Requests("COMBTY11"), 1},
		{"Requests NOPE0001", v.Requests("NOPE0001"), 1},
		{"Billed JRZQ9E2A", v.Billed("JRZQ9E2A"), 3},
		{"Billed COMBTY11", v.Billed("COMBTY11"), 1},
		{"Billed NOPE0001", v.Billed("NOPE0001"), 0},
		{"BilledFor a", v.BilledFor("JRZQ9E2A", a["id_card"]), 2},
		{"BilledFor b", v.BilledFor("JRZQ9E2A", b["id_card"]), 1},
		{"BilledFor a COMBTY11", v.BilledFor("COMBTY11", a["id_card"]), 1},
		{"BilledFor other", v.BilledFor("JRZQ9E2A", "nobody"), 0},
		{"InFlight", v.InFlight(), 0},
		{"MaxInFlight", v.MaxInFlight(), 1},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %d, want %d", ck.name, ck.got, ck.want)
		}
	}
	calls := v.Calls()
	var got []string
	for i, call := range calls {
		got = append(got, fmt.Sprintf("%s:%d", call.Product, call.Code))
		if call.Status != 200 {
			t.Errorf("call %d status %d", i, call.Status)
		}
		if i > 0 && !call.At.After(calls[i-1].At) {
			t.Errorf("call %d at %v, not after call %d", i, call.At, i-1)
		}
	}
	want := "[JRZQ9E2A:0 JRZQ9E2A:0 JRZQ9E2A:0 JRZQ9E2A:1003 COMBTY11:0 NOPE0001:1008]"
	if fmt.Sprint(got) != want {
		t.Errorf("Calls = %v, want %s", got, want)
	}
}

func TestCallLogLimit(t *testing.T) {
	srv, v := tianyuantest.NewServer(tianyuantest.Options{CallLog: 4})
	defer srv.Close()
	c := demoClient(t, srv)
	for i := range 10 {
		c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i))
	}
	calls := v.Calls()
	if len(calls) < 2 || len(calls) > 4 {
		t.Fatalf("kept %d calls, want 2 to 4", len(calls))
	}
	for _, call := range calls {
		if call.Code != 0 || call.Status != 200 {
			t.Errorf("kept call %+v, want a finished code-0 call", call)
		}
	}
	if v.Requests("JRZQ9E2A") != 10 {
		t.Errorf("Requests = %d, want 10", v.Requests("JRZQ9E2A"))
	}
}

func TestLatencyAndInFlight(t *testing.T) {
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Latency: 40 * time.Millisecond})
	defer srv.Close()
	c := demoClient(t, srv)
	const workers = 6
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		wg.Go(func() {
			if _, err := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("took %v, want at least the 40ms latency", d)
	}
	if m := v.MaxInFlight(); m < 2 || m > workers {
		t.Errorf("MaxInFlight = %d, want between 2 and %d", m, workers)
	}
	if v.InFlight() != 0 {
		t.Errorf("InFlight = %d after all calls", v.InFlight())
	}

	if err := callAndLeave(t, c, v); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want Canceled", err)
	}
	waitIdle(t, v)
	if calls := v.Calls(); calls[len(calls)-1].Status != 0 || calls[len(calls)-1].Code != -1 {
		t.Errorf("abandoned call logged as %+v", calls[len(calls)-1])
	}
}

func TestSetFaultsWhileServing(t *testing.T) {
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Latency: time.Millisecond})
	defer srv.Close()
	c := demoClient(t, srv)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 10 {
				c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i*10+j))
			}
		})
	}
	for i := range 20 {
		v.SetFaults(tianyuantest.Faults{HTTP503: float64(i%2) * 0.5})
		v.Calls()
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	if got := v.Requests("JRZQ9E2A"); got != 80 {
		t.Errorf("Requests = %d, want 80", got)
	}
}

func TestFaultsValidate(t *testing.T) {
	tests := []struct {
		name string
		f    tianyuantest.Faults
		ok   bool
	}{
		{"zero", tianyuantest.Faults{}, true},
		{"all one-ish", tianyuantest.Faults{HTTP503: 0.5, HTTP429: 0.5, Stall: 1, Code1001: 1}, true},
		{"negative", tianyuantest.Faults{Garbage: -0.1}, false},
		{"above one", tianyuantest.Faults{Stall: 1.5}, false},
		{"exclusive sum", tianyuantest.Faults{HTTP503: 0.6, HTTP429: 0.6}, false},
		{"negative stall", tianyuantest.Faults{StallFor: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// manualClock is a clock that moves only when told to, shared by the fake
// and its client.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// throttledServer starts a fake with throttle th on a manual clock.
func throttledServer(t *testing.T, th tianyuantest.Throttle) (*tianyuan.Client, *tianyuantest.Vendor, *manualClock) {
	t.Helper()
	clock := &manualClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Now: clock.Now, Throttle: th})
	t.Cleanup(srv.Close)
	c, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: srv.URL, AccessID: tianyuantest.DemoAccessID,
		Key: tianyuantest.DemoKey(), HTTP: srv.Client(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c, v, clock
}

// outcome names what a call got: ok, a code, or an HTTP status with its
// Retry-After.
func outcome(err error) string {
	var (
		he *tianyuan.HTTPError
		ce *tianyuan.CodeError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &he):
		return fmt.Sprintf("%d/%s", he.StatusCode, he.RetryAfter)
	case errors.As(err, &ce):
		return fmt.Sprintf("code %d %s", ce.Code, ce.Message)
	}
	return err.Error()
}

func TestThrottleAnswers(t *testing.T) {
	tests := []struct {
		name     string
		throttle tianyuantest.Throttle
		want     string // the answer to the request over the limit
	}{
		{"429 with the time until the window has room", tianyuantest.Throttle{Limit: 3}, "429/1s"},
		{"503", tianyuantest.Throttle{Limit: 3, Status: 503}, "503/1s"},
		{"fixed Retry-After rounded up", tianyuantest.Throttle{Limit: 3, RetryAfter: 2500 * time.Millisecond}, "429/3s"},
		{"no Retry-After", tianyuantest.Throttle{Limit: 3, RetryAfter: -1}, "429/0s"},
		{"vendor code", tianyuantest.Throttle{Limit: 3, Code: 1099}, "code 1099 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, v, clock := throttledServer(t, tt.throttle)
			var got []string
			for i := range 5 {
				_, err := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i))
				got = append(got, outcome(err))
				clock.Advance(10 * time.Millisecond)
			}
			want := fmt.Sprint([]string{"ok", "ok", "ok", tt.want, tt.want})
			if fmt.Sprint(got) != want {
				t.Errorf("answers = %v, want %s", got, want)
			}
			if got := v.Throttled("JRZQ9E2A"); got != 2 {
				t.Errorf("Throttled = %d, want 2", got)
			}
			if got := v.Billed("JRZQ9E2A"); got != 3 {
				t.Errorf("Billed = %d, want 3", got)
			}
			if got := v.Requests("JRZQ9E2A"); got != 5 {
				t.Errorf("Requests = %d, want 5", got)
			}
		})
	}
}

// TestThrottleSlidingSecond sends requests at fixed spacings by the fake's
// clock and counts the ones it lets through: every request received counts
// in the window, throttled ones too.
func TestThrottleSlidingSecond(t *testing.T) {
	tests := []struct {
		name    string
		spacing time.Duration
		n       int
		wantOK  int
	}{
		{"under the limit", 250 * time.Millisecond, 20, 20}, // 4 a second, limit 5
		{"at the limit", 200 * time.Millisecond, 20, 20},    // the oldest leaves as the next arrives
		{"over the limit", 100 * time.Millisecond, 30, 5},   // 10 a second: the throttled keep the window full
		{"far over", 10 * time.Millisecond, 50, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, v, clock := throttledServer(t, tianyuantest.Throttle{Limit: 5})
			ok := 0
			for i := range tt.n {
				if _, err := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i)); err == nil {
					ok++
				}
				clock.Advance(tt.spacing)
			}
			if ok != tt.wantOK {
				t.Errorf("%d of %d let through, want %d", ok, tt.n, tt.wantOK)
			}
			if got := v.Throttled("JRZQ9E2A"); got != int64(tt.n-ok) {
				t.Errorf("Throttled = %d, want %d", got, tt.n-ok)
			}
			// After a second without requests the window is empty again.
			clock.Advance(time.Second)
			for i := range 5 {
				if _, err := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i)); err != nil {
					t.Fatalf("request %d after a quiet second: %v", i, err)
				}
			}
		})
	}
}

func TestThrottlePerProduct(t *testing.T) {
	c, v, _ := throttledServer(t, tianyuantest.Throttle{Limit: 2, Products: map[string]int{"COMBTY11": 0, "NOPE0001": 1}})
	ctx := context.Background()
	got := map[string][]string{}
	for i := range 4 {
		for _, p := range []string{"JRZQ9E2A", "COMBTY11"} {
			_, err := c.Call(ctx, p, applicant(p, i))
			got[p] = append(got[p], outcome(err))
		}
	}
	if want := "[ok ok 429/1s 429/1s]"; fmt.Sprint(got["JRZQ9E2A"]) != want {
		t.Errorf("JRZQ9E2A (limit 2) = %v, want %s", got["JRZQ9E2A"], want)
	}
	if want := "[ok ok ok ok]"; fmt.Sprint(got["COMBTY11"]) != want {
		t.Errorf("COMBTY11 (no limit) = %v, want %s", got["COMBTY11"], want)
	}
	if v.Throttled("COMBTY11") != 0 || v.Throttled("JRZQ9E2A") != 2 {
		t.Errorf("Throttled = %d, %d, want 2, 0", v.Throttled("JRZQ9E2A"), v.Throttled("COMBTY11"))
	}
	// A limit set while serving applies to the next request; counting
	// stops with the limit.
	v.SetThrottle(tianyuantest.Throttle{})
	for i := range 5 {
		if _, err := c.Call(ctx, "JRZQ9E2A", applicant("JRZQ9E2A", i)); err != nil {
			t.Fatalf("after SetThrottle({}): %v", err)
		}
	}
	v.SetThrottle(tianyuantest.Throttle{Limit: 1})
	_, err1 := c.Call(ctx, "JRZQ9E2A", applicant("JRZQ9E2A", 1))
	_, err2 := c.Call(ctx, "JRZQ9E2A", applicant("JRZQ9E2A", 2))
	if outcome(err1) != "ok" || outcome(err2) != "429/1s" {
		t.Errorf("after SetThrottle(limit 1): %s, %s, want ok, 429/1s", outcome(err1), outcome(err2))
	}
}

func TestThrottleValidate(t *testing.T) {
	tests := []struct {
		name string
		th   tianyuantest.Throttle
		ok   bool
	}{
		{"zero", tianyuantest.Throttle{}, true},
		{"limit", tianyuantest.Throttle{Limit: 60, Products: map[string]int{"COMBTY11": 20}, Status: 503, Code: 0}, true},
		{"negative limit", tianyuantest.Throttle{Limit: -1}, false},
		{"negative product limit", tianyuantest.Throttle{Products: map[string]int{"COMBTY11": -2}}, false},
		{"status not an error", tianyuantest.Throttle{Status: 200}, false},
		{"negative code", tianyuantest.Throttle{Code: -5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.th.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
