package tianyuantest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// rawReply posts a valid request for product and applicant i to srv and
// returns the HTTP status and the body as the fake sent it.
func rawReply(t *testing.T, srv *httptest.Server, product string, i int) (int, []byte) {
	t.Helper()
	c := demoCipher(t)
	plain, _ := json.Marshal(applicant(product, i))
	enc, err := c.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"data": enc})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/"+product+"?t="+strconv.FormatInt(nowMillis(), 10), bytes.NewReader(body))
	req.Header.Set("Access-Id", tianyuantest.DemoAccessID)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// TestComboShapes: COMBTY11 answered in the envelope and in the plain
// shape of its documentation reaches the client as the same report, paid
// once.
func TestComboShapes(t *testing.T) {
	for _, shape := range []string{"", tianyuantest.ComboEnvelope, tianyuantest.ComboPlain} {
		t.Run("shape "+shape, func(t *testing.T) {
			srv, v := tianyuantest.NewServer(tianyuantest.Options{Shapes: tianyuantest.Shapes{Combo: shape}})
			defer srv.Close()
			c := demoClient(t, srv)
			for i := range 20 {
				params := applicant("COMBTY11", i)
				r, err := c.Call(context.Background(), "COMBTY11", params)
				if err != nil {
					t.Fatalf("applicant %d: %v", i, err)
				}
				want := tianyuan.ShapeEnvelope
				if shape == tianyuantest.ComboPlain {
					want = tianyuan.ShapePlain
				}
				if r.Code != 0 || r.Shape != want {
					t.Errorf("applicant %d: code %d shape %q, want 0 %q", i, r.Code, r.Shape, want)
				}
				got, err := c.Cipher().Payload(r)
				if err != nil {
					t.Fatalf("applicant %d: Payload: %v", i, err)
				}
				report, _ := tianyuantest.SyntheticPayload("COMBTY11", params, 0)
				if !bytes.Equal(got, report) {
					t.Errorf("applicant %d: report\n%s\nwant\n%s", i, got, report)
				}
			}
			if got := v.Requests("COMBTY11"); got != 20 {
				t.Errorf("Requests = %d, want 20", got)
			}
			if got := v.Billed("COMBTY11"); got != 20 {
				t.Errorf("Billed = %d, want 20", got)
			}
		})
	}
	t.Run("plain body has no code and no data", func(t *testing.T) {
		srv, _ := tianyuantest.NewServer(tianyuantest.Options{Shapes: tianyuantest.Shapes{Combo: tianyuantest.ComboPlain}})
		defer srv.Close()
		status, body := rawReply(t, srv, "COMBTY11", 1)
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil || status != 200 {
			t.Fatalf("status %d, body not an object: %v", status, err)
		}
		if _, ok := top["responses"]; !ok || len(top) != 1 {
			t.Errorf("plain body keys = %v, want only responses", slices.Sorted(func(yield func(string) bool) {
				for k := range top {
					if !yield(k) {
						return
					}
				}
			}))
		}
		// JRZQ9E2A keeps the envelope.
		_, body = rawReply(t, srv, "JRZQ9E2A", 1)
		if !bytes.Contains(body, []byte(`"code":0`)) || !bytes.Contains(body, []byte(`"data":"`)) {
			t.Errorf("JRZQ9E2A reply is not an envelope")
		}
	})
}

// TestJudicialShapes: FLXG0V4B's criminal and civil objects are where
// Shapes.Judicial says, holding what entout.data holds by default, and the
// rest of the report is unchanged.
func TestJudicialShapes(t *testing.T) {
	tests := []struct {
		shape string
		where []string // the keys leading to criminal and civil in the sub-product's data
	}{
		{"", []string{"entout", "data"}},
		{tianyuantest.JudicialEntoutData, []string{"entout", "data"}},
		{tianyuantest.JudicialData, nil},
		{tianyuantest.JudicialEntout, []string{"entout"}},
	}
	for _, tt := range tests {
		t.Run("shape "+tt.shape, func(t *testing.T) {
			srv, _ := tianyuantest.NewServer(tianyuantest.Options{Shapes: tianyuantest.Shapes{Judicial: tt.shape, SubFailure: 0.2}})
			defer srv.Close()
			c := demoClient(t, srv)
			cases := 0
			for i := range 60 {
				params := applicant("COMBTY11", i)
				r, err := c.Call(context.Background(), "COMBTY11", params)
				if err != nil {
					t.Fatalf("applicant %d: %v", i, err)
				}
				got, err := c.Cipher().Payload(r)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := tianyuantest.SyntheticPayload("COMBTY11", params, 0)
				gotJudicial, gotRest := judicialOf(t, got, tt.where)
				wantJudicial, wantRest := judicialOf(t, want, []string{"entout", "data"})
				if gotRest == nil {
					continue // answered success: false (SubFailure)
				}
				if !reflect.DeepEqual(gotJudicial, wantJudicial) {
					t.Errorf("applicant %d: criminal and civil = %v, want %v", i, gotJudicial, wantJudicial)
				}
				if !reflect.DeepEqual(gotRest, wantRest) {
					t.Errorf("applicant %d: the rest of FLXG0V4B = %v, want %v", i, gotRest, wantRest)
				}
				if len(gotJudicial["criminal"].(map[string]any)) > 0 {
					cases++
				}
			}
			if cases == 0 {
				t.Errorf("no applicant of 60 has a criminal case: the test checks nothing")
			}
		})
	}
}

// judicialOf returns, from a COMBTY11 report, the criminal and civil
// objects found under the keys of where in FLXG0V4B's data, and the rest of
// that data (where emptied of them); nil, nil when FLXG0V4B failed.
func judicialOf(t *testing.T, report []byte, where []string) (judicial, rest map[string]any) {
	t.Helper()
	var r struct {
		Responses []struct {
			APICode string         `json:"api_code"`
			Success bool           `json:"success"`
			Data    map[string]any `json:"data"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(report, &r); err != nil {
		t.Fatal(err)
	}
	for _, sub := range r.Responses {
		if sub.APICode != "FLXG0V4B" || !sub.Success {
			continue
		}
		holder := sub.Data
		for _, k := range where {
			holder, _ = holder[k].(map[string]any)
		}
		if holder == nil {
			t.Fatalf("FLXG0V4B data has nothing at %v: %v", where, sub.Data)
		}
		judicial = map[string]any{"criminal": holder["criminal"], "civil": holder["civil"]}
		delete(holder, "criminal")
		delete(holder, "civil")
		// What is left of the places: an entout holding nothing else.
		for len(where) > 0 {
			parent := sub.Data
			for _, k := range where[:len(where)-1] {
				parent = parent[k].(map[string]any)
			}
			if m, _ := parent[where[len(where)-1]].(map[string]any); len(m) == 0 {
				delete(parent, where[len(where)-1])
			}
			where = where[:len(where)-1]
		}
		return judicial, sub.Data
	}
	return nil, nil
}

// TestDataAsString: data may decrypt to a JSON string holding the payload
// object; the client opens it to the same object.
func TestDataAsString(t *testing.T) {
	srv, _ := tianyuantest.NewServer(tianyuantest.Options{Shapes: tianyuantest.Shapes{DataAsString: true}})
	defer srv.Close()
	c := demoClient(t, srv)
	for _, product := range []string{"JRZQ9E2A", "COMBTY11"} {
		params := applicant(product, 3)
		r, err := c.Call(context.Background(), product, params)
		if err != nil {
			t.Fatalf("%s: %v", product, err)
		}
		raw, err := c.Cipher().Decrypt(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		var inner string
		if err := json.Unmarshal(raw, &inner); err != nil {
			t.Fatalf("%s: data decrypts to %.20q…, want a JSON string", product, raw)
		}
		got, err := c.Cipher().Payload(r)
		want, _ := tianyuantest.SyntheticPayload(product, params, 0)
		if err != nil || !bytes.Equal(got, want) || inner != string(want) {
			t.Errorf("%s: Payload = %.40s…, %v; want the payload object", product, got, err)
		}
	}
}

// TestEnvelopeFields: message and transaction_id may be strings, absent,
// null or numbers, on success and on error replies alike.
func TestEnvelopeFields(t *testing.T) {
	tests := []struct {
		fields  string
		message func(code int) string
		tx      func(tx string) bool
	}{
		{"", func(c int) string { return map[int]string{0: "成功", 1003: "参数校验不正确"}[c] }, func(tx string) bool { return strings.HasPrefix(tx, "JRZQ9E2A-") }},
		{tianyuantest.FieldsStrings, func(c int) string { return map[int]string{0: "成功", 1003: "参数校验不正确"}[c] }, func(tx string) bool { return strings.HasPrefix(tx, "JRZQ9E2A-") }},
		{tianyuantest.FieldsAbsent, func(int) string { return "" }, func(tx string) bool { return tx == "" }},
		{tianyuantest.FieldsNull, func(int) string { return "" }, func(tx string) bool { return tx == "" }},
		{tianyuantest.FieldsNumbers, strconv.Itoa, func(tx string) bool { _, err := strconv.ParseInt(tx, 10, 64); return err == nil }},
	}
	for _, tt := range tests {
		t.Run("fields "+tt.fields, func(t *testing.T) {
			srv, _ := tianyuantest.NewServer(tianyuantest.Options{Shapes: tianyuantest.Shapes{EnvelopeFields: tt.fields}})
			defer srv.Close()
			c := demoClient(t, srv)
			for _, code := range []int{0, 1003} {
				params := applicant("JRZQ9E2A", 1)
				if code == 1003 {
					params = without(params, "name")
				}
				r, err := c.Call(context.Background(), "JRZQ9E2A", params)
				if r == nil || r.Code != code {
					t.Fatalf("code %d: reply %+v, %v", code, r, err)
				}
				if r.Message != tt.message(code) || !tt.tx(r.TransactionID) {
					t.Errorf("code %d: message %q transaction %q", code, r.Message, r.TransactionID)
				}
				if code == 0 {
					if _, err := c.Cipher().Payload(r); err != nil {
						t.Errorf("Payload: %v", err)
					}
				}
			}
		})
	}
}

// factorsOf returns a JRZQ9E2A payload's factors.
func factorsOf(t *testing.T, c *tianyuan.Cipher, r *tianyuan.Reply) map[string]string {
	t.Helper()
	p, err := c.Payload(r)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]string
	if err := json.Unmarshal(p, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestEmptyFactors: factors answered "" (missing), and replies in which
// every factor is "", still billed code-0 replies; the same applicant gets
// the same reply.
func TestEmptyFactors(t *testing.T) {
	t.Run("every factor empty", func(t *testing.T) {
		srv, v := tianyuantest.NewServer(tianyuantest.Options{ExtraFields: 2, Shapes: tianyuantest.Shapes{AllEmpty: 1}})
		defer srv.Close()
		c := demoClient(t, srv)
		for i := range 10 {
			r, err := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i))
			if err != nil || r.Code != 0 {
				t.Fatalf("applicant %d: %v", i, err)
			}
			f := factorsOf(t, c.Cipher(), r)
			if len(f) != len(tianyuantest.JRZQ9E2AFactors)+2 {
				t.Errorf("applicant %d: %d factors, want every one present", i, len(f))
			}
			for k, val := range f {
				if val != "" {
					t.Errorf("applicant %d: %s = %q, want empty", i, k, val)
				}
			}
		}
		if got := v.Billed("JRZQ9E2A"); got != 10 {
			t.Errorf("Billed = %d, want 10: an empty reply is billed", got)
		}
	})
	t.Run("some factors empty", func(t *testing.T) {
		srv, _ := tianyuantest.NewServer(tianyuantest.Options{Shapes: tianyuantest.Shapes{EmptyFactor: 0.5}})
		defer srv.Close()
		c := demoClient(t, srv)
		empty, total := 0, 0
		for i := range 40 {
			r, err := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i))
			if err != nil {
				t.Fatal(err)
			}
			f := factorsOf(t, c.Cipher(), r)
			for _, val := range f {
				total++
				if val == "" {
					empty++
				}
			}
			again, err := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i))
			if err != nil {
				t.Fatal(err)
			}
			if g := factorsOf(t, c.Cipher(), again); fmt.Sprint(g) != fmt.Sprint(f) {
				t.Errorf("applicant %d: a second call gives other factors", i)
			}
		}
		if share := float64(empty) / float64(total); share < 0.4 || share > 0.7 {
			t.Errorf("share of empty factors = %.2f, want about 0.5 and more", share)
		}
	})
}

// TestSubFailure: COMBTY11 sub-products may each answer success: false,
// in both shapes.
func TestSubFailure(t *testing.T) {
	for _, shape := range []string{tianyuantest.ComboEnvelope, tianyuantest.ComboPlain} {
		for _, share := range []float64{1, 0.5} {
			t.Run(fmt.Sprintf("%s %v", shape, share), func(t *testing.T) {
				srv, v := tianyuantest.NewServer(tianyuantest.Options{Shapes: tianyuantest.Shapes{Combo: shape, SubFailure: share}})
				defer srv.Close()
				c := demoClient(t, srv)
				failed, total := 0, 0
				for i := range 30 {
					r, err := c.Call(context.Background(), "COMBTY11", applicant("COMBTY11", i))
					if err != nil {
						t.Fatal(err)
					}
					p, err := c.Cipher().Payload(r)
					if err != nil {
						t.Fatal(err)
					}
					var report struct{ Responses []subProduct }
					if err := json.Unmarshal(p, &report); err != nil || len(report.Responses) != 2 {
						t.Fatalf("report %s: %v", p, err)
					}
					for j, s := range report.Responses {
						if s.APICode != []string{"DWBG8B4D", "FLXG0V4B"}[j] {
							t.Errorf("sub-product %d is %q", j, s.APICode)
						}
						total++
						if !s.Success {
							failed++
							if string(s.Data) != "null" || s.Message == "" {
								t.Errorf("failed sub-product %+v", s)
							}
						}
					}
				}
				got := float64(failed) / float64(total)
				if share == 1 && failed != total || share < 1 && (got < share-0.2 || got > share+0.2) {
					t.Errorf("%d of %d sub-products failed, want a share of about %v", failed, total, share)
				}
				if got := v.Billed("COMBTY11"); got != 30 {
					t.Errorf("Billed = %d, want 30", got)
				}
			})
		}
	}
}

// TestCodeFaults: every documented code can be answered, and the client
// reads it as the code it is, classified as documented; none is billed.
func TestCodeFaults(t *testing.T) {
	want := map[int]tianyuan.Class{
		1001: tianyuan.Retryable, 1002: tianyuan.Fatal, 1003: tianyuan.RowFailure, 1004: tianyuan.Fatal,
		1005: tianyuan.Fatal, 1006: tianyuan.Fatal, 1007: tianyuan.Fatal, 1008: tianyuan.Fatal, 2001: tianyuan.RowFailure,
	}
	for _, code := range slices.Sorted(func(yield func(int) bool) {
		for c := range want {
			if !yield(c) {
				return
			}
		}
	}) {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			srv, v := tianyuantest.NewServer(tianyuantest.Options{Faults: tianyuantest.Faults{Codes: map[int]float64{code: 1}}})
			defer srv.Close()
			r, err := demoClient(t, srv).Call(context.Background(), "COMBTY11", applicant("COMBTY11", 1))
			var ce *tianyuan.CodeError
			if !errors.As(err, &ce) || ce.Code != code || r == nil || r.Data != "" {
				t.Fatalf("err = %v, want code %d without data", err, code)
			}
			if ce.Message == "" || ce.TransactionID == "" {
				t.Errorf("CodeError = %+v, want the vendor's message and transaction id", ce)
			}
			if got := tianyuan.DefaultCodePolicy().Classify(err); got != want[code] {
				t.Errorf("class = %v, want %v", got, want[code])
			}
			if v.Billed("COMBTY11") != 0 {
				t.Error("a refused call was billed")
			}
		})
	}
	t.Run("shares", func(t *testing.T) {
		srv, _ := tianyuantest.NewServer(tianyuantest.Options{Seed: 3, Faults: tianyuantest.Faults{Codes: map[int]float64{2001: 0.3, 1004: 0.1}}})
		defer srv.Close()
		c := demoClient(t, srv)
		counts := map[int]int{}
		const n = 300
		for i := range n {
			r, _ := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i))
			counts[r.Code]++
		}
		for code, share := range map[int]float64{0: 0.6, 2001: 0.3, 1004: 0.1} {
			if got := float64(counts[code]) / n; got < share-0.08 || got > share+0.08 {
				t.Errorf("share of code %d = %.2f, want about %v", code, got, share)
			}
		}
	})
}

// TestBrokenAnswers: answers a client cannot read, sent after the call is
// billed: every malformed kind (in both COMBTY11 shapes), HTTP 500 with a
// code-0 answer, an oversized body. The client reports each as an
// unreadable reply, possibly billed, not worth another attempt.
func TestBrokenAnswers(t *testing.T) {
	type tc struct {
		name    string
		faults  tianyuantest.Faults
		shape   string
		product string
		reason  string
		status  int
	}
	var tests []tc
	reasons := map[string]string{
		"no-code": `neither "code" nor "responses"`, "code-string": `"code" is a string`, "code-null": `"code" is null`,
		"code-fraction": `"code" is a number`, "data-number": `"data" is a number`, "data-object": `"data" is an object`,
		"responses-object": `"responses" is an object`, "array": "an array",
	}
	for _, kind := range tianyuantest.MalformedKinds {
		for _, shape := range []string{tianyuantest.ComboEnvelope, tianyuantest.ComboPlain} {
			for _, product := range []string{"JRZQ9E2A", "COMBTY11"} {
				tests = append(tests, tc{fmt.Sprintf("%s %s %s", kind, product, shape),
					tianyuantest.Faults{Malformed: 1, MalformedKind: kind}, shape, product, reasons[kind], 200})
			}
		}
	}
	for _, shape := range []string{tianyuantest.ComboEnvelope, tianyuantest.ComboPlain} {
		tests = append(tests,
			tc{"500 code 0 " + shape, tianyuantest.Faults{HTTP500Code0: 1}, shape, "COMBTY11", "HTTP 500 with a success answer", 500},
			tc{"oversized " + shape, tianyuantest.Faults{Oversized: 1}, shape, "COMBTY11", "larger than", 200})
	}
	tests = append(tests, tc{"500 code 0 JRZQ9E2A", tianyuantest.Faults{HTTP500Code0: 1}, "", "JRZQ9E2A", "HTTP 500 with a success answer", 500})
	secrets := []string{"fraudScore", "riskWarning", "sxbzxr", "xyp_cpl", "建议", "风险"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, v := tianyuantest.NewServer(tianyuantest.Options{Faults: tt.faults, Shapes: tianyuantest.Shapes{Combo: tt.shape}})
			defer srv.Close()
			r, err := demoClient(t, srv).Call(context.Background(), tt.product, applicant(tt.product, 2))
			var pe *tianyuan.ProtocolError
			if !errors.As(err, &pe) || r != nil {
				t.Fatalf("reply %v, err = %v, want a ProtocolError", r, err)
			}
			if !strings.Contains(pe.Reason, tt.reason) || pe.StatusCode != tt.status || pe.NotJSON {
				t.Errorf("ProtocolError = %+v, want reason %q, status %d", pe, tt.reason, tt.status)
			}
			if !tianyuan.PossiblyBilled(err) || tianyuan.DefaultCodePolicy().Retrier()(err) {
				t.Errorf("want possibly billed and not retried: %v", err)
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("message %q carries %q from the reply", err, s)
				}
			}
			if v.Requests(tt.product) != 1 || v.Billed(tt.product) != 1 {
				t.Errorf("requests %d billed %d, want 1 and 1", v.Requests(tt.product), v.Billed(tt.product))
			}
		})
	}
	t.Run("kinds in turn", func(t *testing.T) {
		srv, _ := tianyuantest.NewServer(tianyuantest.Options{Faults: tianyuantest.Faults{Malformed: 1}})
		defer srv.Close()
		c := demoClient(t, srv)
		seen := map[string]bool{}
		for i := range tianyuantest.MalformedKinds {
			_, err := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", i))
			var pe *tianyuan.ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("call %d: %v", i, err)
			}
			seen[pe.Reason] = true
		}
		if len(seen) != len(tianyuantest.MalformedKinds) {
			t.Errorf("%d distinct reasons over %d calls, want one per kind: %v", len(seen), len(tianyuantest.MalformedKinds), seen)
		}
	})
	t.Run("not billed past the balance", func(t *testing.T) {
		srv, v := tianyuantest.NewServer(tianyuantest.Options{Faults: tianyuantest.Faults{Malformed: 1, BalanceAfter: 1}})
		defer srv.Close()
		c := demoClient(t, srv)
		_, first := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", 1))
		_, second := c.Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", 2))
		var ce *tianyuan.CodeError
		if !tianyuan.PossiblyBilled(first) || !errors.As(second, &ce) || ce.Code != 1007 || v.Billed("JRZQ9E2A") != 1 {
			t.Errorf("first %v, second %v, billed %d", first, second, v.Billed("JRZQ9E2A"))
		}
	})
}

// TestRedirectFault: the fake can redirect every request; the client
// follows none, whatever the status, and the target never hears of it.
func TestRedirectFault(t *testing.T) {
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	for _, status := range []int{0, 301, 302, 303, 307, 308} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv, v := tianyuantest.NewServer(tianyuantest.Options{Faults: tianyuantest.Faults{RedirectTo: target.URL + "/api/v1/JRZQ9E2A", RedirectStatus: status}})
			defer srv.Close()
			_, err := demoClient(t, srv).Call(context.Background(), "JRZQ9E2A", applicant("JRZQ9E2A", 1))
			var re *tianyuan.RedirectError
			want := status
			if want == 0 {
				want = http.StatusTemporaryRedirect
			}
			if !errors.As(err, &re) || re.StatusCode != want || re.Location != target.URL+"/api/v1/JRZQ9E2A" {
				t.Fatalf("err = %v, want a %d redirect to the target", err, want)
			}
			if hits.Load() != 0 {
				t.Errorf("%d requests reached the redirect target", hits.Load())
			}
			if calls := v.Calls(); len(calls) != 1 || calls[0].Status != want || v.Billed("JRZQ9E2A") != 0 {
				t.Errorf("calls %+v, billed %d", calls, v.Billed("JRZQ9E2A"))
			}
		})
	}
}

// TestDroppedAnswers: a code-0 answer billed, then cut off half-way or
// dropped by a connection reset, in both COMBTY11 shapes: the fake counts
// it billed, and the client reports it possibly billed, worth one more
// attempt: a body not read to its end, or no reply.
func TestDroppedAnswers(t *testing.T) {
	tests := []struct {
		name    string
		faults  tianyuantest.Faults
		shape   string
		product string
		want    string // "cut" or "reset"
	}{
		{"cut body JRZQ9E2A", tianyuantest.Faults{CutBody: 1}, "", "JRZQ9E2A", "cut"},
		{"cut body COMBTY11 envelope", tianyuantest.Faults{CutBody: 1}, tianyuantest.ComboEnvelope, "COMBTY11", "cut"},
		{"cut body COMBTY11 plain", tianyuantest.Faults{CutBody: 1}, tianyuantest.ComboPlain, "COMBTY11", "cut"},
		{"reset JRZQ9E2A", tianyuantest.Faults{Reset: 1}, "", "JRZQ9E2A", "reset"},
		{"reset COMBTY11 plain", tianyuantest.Faults{Reset: 1}, tianyuantest.ComboPlain, "COMBTY11", "reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, v := tianyuantest.NewServer(tianyuantest.Options{Faults: tt.faults, Shapes: tianyuantest.Shapes{Combo: tt.shape}})
			defer srv.Close()
			r, err := demoClient(t, srv).Call(context.Background(), tt.product, applicant(tt.product, 3))
			var (
				pe *tianyuan.ProtocolError
				ne *tianyuan.NoReplyError
			)
			switch {
			case r != nil:
				t.Fatalf("reply %+v, want none", r)
			case tt.want == "cut" && !(errors.As(err, &pe) && pe.NotJSON && pe.StatusCode == 200 && strings.Contains(pe.Reason, "could not be read to its end")):
				t.Fatalf("err = %v, want a ProtocolError of a body not read to its end", err)
			case tt.want == "reset" && !errors.As(err, &ne):
				t.Fatalf("err = %v, want a NoReplyError", err)
			}
			if !tianyuan.PossiblyBilled(err) || !tianyuan.DefaultCodePolicy().Retrier()(err) {
				t.Errorf("want possibly billed and worth one more attempt: %v", err)
			}
			if v.Requests(tt.product) != 1 || v.Billed(tt.product) != 1 || v.BilledFor(tt.product, applicant(tt.product, 3)["id_card"]) != 1 {
				t.Errorf("requests %d billed %d, want 1 and 1", v.Requests(tt.product), v.Billed(tt.product))
			}
			if calls := v.Calls(); len(calls) != 1 || calls[0].Code != -1 {
				t.Errorf("calls %+v, want one with no readable answer (code -1)", calls)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	faults := []struct {
		name string
		f    tianyuantest.Faults
		want string
	}{
		{"ok", tianyuantest.Faults{Malformed: 0.2, HTTP500Code0: 0.1, Oversized: 0.1, Codes: map[int]float64{2001: 0.5}, RedirectStatus: 308}, ""},
		{"exclusive sum", tianyuantest.Faults{HTTP503: 0.5, Malformed: 0.4, Oversized: 0.2}, "at most 1"},
		{"malformed share", tianyuantest.Faults{Malformed: 1.5}, "Malformed"},
		{"unknown kind", tianyuantest.Faults{MalformedKind: "nonsense"}, "malformed kind"},
		{"code 0", tianyuantest.Faults{Codes: map[int]float64{0: 0.1}}, "code 0"},
		{"code share", tianyuantest.Faults{Codes: map[int]float64{2001: -0.1}}, "Codes[2001]"},
		{"code sum", tianyuantest.Faults{Codes: map[int]float64{2001: 0.6, 1004: 0.6}}, "add up"},
		{"redirect status", tianyuantest.Faults{RedirectStatus: 200}, "redirect status"},
		{"cut body and reset", tianyuantest.Faults{CutBody: 0.3, Reset: 0.3, Malformed: 0.4}, ""},
		{"cut body share", tianyuantest.Faults{CutBody: -0.1}, "CutBody"},
		{"reset share", tianyuantest.Faults{Reset: 2}, "Reset"},
		{"cut body and reset sum", tianyuantest.Faults{CutBody: 0.6, Reset: 0.6}, "at most 1"},
	}
	for _, tt := range faults {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
	shapes := []struct {
		name string
		s    tianyuantest.Shapes
		want string
	}{
		{"zero", tianyuantest.Shapes{}, ""},
		{"all", tianyuantest.Shapes{Combo: tianyuantest.ComboPlain, DataAsString: true, EnvelopeFields: tianyuantest.FieldsNull, AllEmpty: 0.1, EmptyFactor: 0.2, SubFailure: 1}, ""},
		{"combo", tianyuantest.Shapes{Combo: "xml"}, "COMBTY11 shape"},
		{"fields", tianyuantest.Shapes{EnvelopeFields: "objects"}, "envelope fields"},
		{"share", tianyuantest.Shapes{SubFailure: 2}, "SubFailure"},
		{"judicial", tianyuantest.Shapes{Judicial: tianyuantest.JudicialData}, ""},
		{"judicial unknown", tianyuantest.Shapes{Judicial: "court"}, "FLXG0V4B shape"},
	}
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func nowMillis() int64 { return time.Now().UnixMilli() }
