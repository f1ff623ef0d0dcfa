package tianyuantest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
)

// COMBTY11 reply shapes (Shapes.Combo).
const (
	// ComboEnvelope answers COMBTY11 like any product: the report
	// encrypted in the envelope's data. It is the default.
	ComboEnvelope = "envelope"
	// ComboPlain answers COMBTY11 with the report itself, plain JSON with
	// "responses" at the top level and no code, as the product's
	// documentation reads it.
	ComboPlain = "plain"
)

// Where FLXG0V4B's criminal and civil objects are (Shapes.Judicial). The
// documents' client code reads them from entout.data; their field table
// lists them beside sxbzxr, under "entout/sxbzxr".
const (
	JudicialEntoutData = "entout-data" // in entout.data; the default
	JudicialData       = "data"        // in the sub-product's data, beside sxbzxr
	JudicialEntout     = "entout"      // in entout, without its data
)

// How an envelope's message and transaction_id are sent
// (Shapes.EnvelopeFields).
const (
	FieldsStrings = "strings" // both as strings; the default
	FieldsAbsent  = "absent"  // neither is sent
	FieldsNull    = "null"    // both are null
	FieldsNumbers = "numbers" // both are JSON numbers
)

// Shapes choose among the reply shapes the vendor's documents allow. The
// zero value answers every product in the envelope, with string fields and
// data that decrypts to the payload object. The draws of AllEmpty,
// EmptyFactor and SubFailure depend on the applicant only: the same
// applicant always gets the same reply.
type Shapes struct {
	// Combo is ComboEnvelope ("" too) or ComboPlain.
	Combo string
	// DataAsString makes data decrypt to a JSON string holding the
	// payload object, rather than to the object.
	DataAsString bool
	// EnvelopeFields is FieldsStrings ("" too), FieldsAbsent, FieldsNull
	// or FieldsNumbers.
	EnvelopeFields string
	// AllEmpty is the share of JRZQ9E2A replies in which every factor is
	// "" (still a billed code-0 reply); EmptyFactor the share of factors
	// left "" (missing) in the others.
	AllEmpty    float64
	EmptyFactor float64
	// SubFailure is the share of COMBTY11 sub-products answered
	// {"api_code": ..., "success": false, "data": null, "message": ...}.
	SubFailure float64
	// Judicial is JudicialEntoutData ("" too), JudicialData or
	// JudicialEntout.
	Judicial string
	// SubDataAsString sends each COMBTY11 sub-product's data as a JSON
	// string holding the object, rather than as the object.
	SubDataAsString bool
	// SubSuccess is how each COMBTY11 sub-product's success is sent:
	// SuccessBool ("" too), SuccessString, SuccessNumber or SuccessDigit.
	SubSuccess string
	// ExtraSubs adds answers of that many sub-products the catalog does
	// not list (ExtraSub) to every COMBTY11 report.
	ExtraSubs int
}

// Validate reports a shape the fake does not know or a share outside [0,1].
func (s Shapes) Validate() error {
	if !slices.Contains([]string{"", ComboEnvelope, ComboPlain}, s.Combo) {
		return fmt.Errorf("tianyuantest: COMBTY11 shape %q, want %q or %q", s.Combo, ComboEnvelope, ComboPlain)
	}
	if !slices.Contains([]string{"", JudicialEntoutData, JudicialData, JudicialEntout}, s.Judicial) {
		return fmt.Errorf("tianyuantest: FLXG0V4B shape %q, want %s, %s or %s", s.Judicial, JudicialEntoutData, JudicialData, JudicialEntout)
	}
	if !slices.Contains([]string{"", FieldsStrings, FieldsAbsent, FieldsNull, FieldsNumbers}, s.EnvelopeFields) {
		return fmt.Errorf("tianyuantest: envelope fields %q, want %s, %s, %s or %s", s.EnvelopeFields, FieldsStrings, FieldsAbsent, FieldsNull, FieldsNumbers)
	}
	if err := s.validateAnswers(); err != nil {
		return err
	}
	return checkShares(map[string]float64{"AllEmpty": s.AllEmpty, "EmptyFactor": s.EmptyFactor, "SubFailure": s.SubFailure})
}

func checkShares(shares map[string]float64) error {
	names := make([]string, 0, len(shares))
	for n := range shares {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if p := shares[n]; p < 0 || p > 1 || math.IsNaN(p) {
			return fmt.Errorf("tianyuantest: %s = %v, want a share in [0,1]", n, p)
		}
	}
	return nil
}

// reshape applies the payload shapes to one applicant's payload.
func (s Shapes) reshape(product string, params map[string]string, payload []byte) []byte {
	switch {
	case product == ProductMultiLending && (s.AllEmpty > 0 || s.EmptyFactor > 0):
		var factors map[string]json.RawMessage
		if json.Unmarshal(payload, &factors) != nil {
			return payload
		}
		r := applicantRand("shape", product, params)
		all := chance(r, s.AllEmpty)
		keys := make([]string, 0, len(factors))
		for k := range factors {
			keys = append(keys, k)
		}
		slices.Sort(keys) // draws in a fixed order
		for _, k := range keys {
			if all || chance(r, s.EmptyFactor) {
				factors[k] = json.RawMessage(`""`)
			}
		}
		return mustMarshal(factors)
	case product == ProductRiskReport && (s.SubFailure > 0 || s.Judicial != "" && s.Judicial != JudicialEntoutData):
		var report map[string]json.RawMessage
		var subs []json.RawMessage
		if json.Unmarshal(payload, &report) != nil || json.Unmarshal(report["responses"], &subs) != nil {
			return payload
		}
		r := applicantRand("shape", product, params)
		for i, sub := range subs {
			var head struct {
				APICode string `json:"api_code"`
			}
			_ = json.Unmarshal(sub, &head)
			if chance(r, s.SubFailure) {
				subs[i] = mustMarshal(map[string]any{"api_code": head.APICode, "success": false, "data": nil, "message": "查询失败"})
			} else if head.APICode == "FLXG0V4B" {
				subs[i] = s.moveJudicial(sub)
			}
		}
		report["responses"] = mustMarshal(subs)
		return mustMarshal(report)
	}
	return payload
}

// moveJudicial moves criminal and civil out of entout.data of a FLXG0V4B
// answer, to where s.Judicial says.
func (s Shapes) moveJudicial(sub json.RawMessage) json.RawMessage {
	var answer map[string]any
	if json.Unmarshal(sub, &answer) != nil {
		return sub
	}
	data, _ := answer["data"].(map[string]any)
	entout, _ := data["entout"].(map[string]any)
	inner, _ := entout["data"].(map[string]any)
	if inner == nil {
		return sub
	}
	switch s.Judicial {
	case JudicialData:
		delete(data, "entout")
		maps.Copy(data, inner)
	case JudicialEntout:
		delete(entout, "data")
		maps.Copy(entout, inner)
	}
	return mustMarshal(answer)
}

// applicantRand is a random source that depends on the applicant only.
func applicantRand(purpose, product string, params map[string]string) *rand.Rand {
	sum := sha256.Sum256([]byte(purpose + "|" + product + "|" + params["id_card"] + "|" + params["name"] + "|" + params["mobile_no"]))
	return rand.New(rand.NewChaCha8(sum))
}

func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // values built here always marshal
	}
	return b
}

// MalformedKinds are the bodies of Faults.Malformed: each valid JSON that
// the vendor's documents do not allow and a client cannot understand.
var MalformedKinds = []string{
	"no-code",          // an object with neither code nor responses (the payload under "result")
	"code-string",      // "code": "0"
	"code-null",        // "code": null
	"code-fraction",    // "code": 0.5
	"data-number",      // code 0, "data" a number
	"data-object",      // code 0, "data" the payload object, unencrypted
	"responses-object", // "responses" an object, not a list
	"array",            // the envelope inside a JSON list
}

// OversizedBody is the size of a Faults.Oversized answer, past the 16 MiB a
// client reads.
const OversizedBody = 17 << 20

// broken is an answer sent after the call is billed.
type broken int

const (
	notBroken broken = iota
	malformed        // HTTP 200, valid JSON not understood
	status500        // HTTP 500 carrying the code-0 answer
	oversized        // HTTP 200, the code-0 answer padded past OversizedBody
)

// drawBroken picks a broken answer for u, a uniform draw already past the
// other exclusive faults.
func (f Faults) drawBroken(u float64) broken {
	switch {
	case u < f.Malformed:
		return malformed
	case u < f.Malformed+f.HTTP500Code0:
		return status500
	case u < f.Malformed+f.HTTP500Code0+f.Oversized:
		return oversized
	}
	return notBroken
}

// drawCode picks a code of Faults.Codes for u, or 0.
func (f Faults) drawCode(u float64) int {
	codes := make([]int, 0, len(f.Codes))
	for c := range f.Codes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		if u < f.Codes[c] {
			return c
		}
		u -= f.Codes[c]
	}
	return 0
}

// validateMore checks the faults added beside the first ones.
func (f Faults) validateMore() error {
	shares := map[string]float64{"Malformed": f.Malformed, "HTTP500Code0": f.HTTP500Code0, "Oversized": f.Oversized}
	total := 0.0
	for c, p := range f.Codes {
		if c == codeOK {
			return fmt.Errorf("tianyuantest: fault Codes: code 0 is success, not a fault")
		}
		shares["Codes["+strconv.Itoa(c)+"]"] = p
		total += p
	}
	if err := checkShares(shares); err != nil {
		return err
	}
	if total > 1 {
		return fmt.Errorf("tianyuantest: fault Codes add up to %v, want at most 1", total)
	}
	if s := f.HTTP503 + f.HTTP429 + f.Garbage + f.Malformed + f.HTTP500Code0 + f.Oversized; s > 1 {
		return fmt.Errorf("tianyuantest: faults HTTP503+HTTP429+Garbage+Malformed+HTTP500Code0+Oversized = %v, want at most 1", s)
	}
	if f.MalformedKind != "" && !slices.Contains(MalformedKinds, f.MalformedKind) {
		return fmt.Errorf("tianyuantest: malformed kind %q, want one of %v", f.MalformedKind, MalformedKinds)
	}
	switch f.RedirectStatus {
	case 0, http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return fmt.Errorf("tianyuantest: redirect status %d, want 301, 302, 303, 307 or 308", f.RedirectStatus)
	}
	return nil
}

// envelope writes {"code", "message", "transaction_id", "data"} with the
// fields shaped as the options say; data is raw JSON, left out when nil.
func (v *Vendor) envelope(code any, tx string, seq int64, data json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteString(`{"code":`)
	b.Write(mustMarshal(code))
	c, _ := code.(int)
	switch v.shapes.EnvelopeFields {
	case FieldsAbsent:
	case FieldsNull:
		b.WriteString(`,"message":null,"transaction_id":null`)
	case FieldsNumbers:
		fmt.Fprintf(&b, `,"message":%d,"transaction_id":%d`, c, 20250000000000+seq)
	default:
		fmt.Fprintf(&b, `,"message":%s,"transaction_id":%s`, mustMarshal(codeMessages[c]), mustMarshal(tx))
	}
	if data != nil {
		b.WriteString(`,"data":`)
		b.Write(data)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// success writes the code-0 answer to a billed call, in the shape the
// options say, or broken as drawn; it returns the HTTP status and the code
// to log (-1 when the body is not an answer a client can read).
func (v *Vendor) success(w http.ResponseWriter, product string, payload []byte, d draw) (int, int) {
	v.mu.Lock()
	v.seq++
	seq := v.seq
	tx := fmt.Sprintf("%s-%06d-%08x", product, seq, v.rng.Uint32())
	kind := d.faults.MalformedKind
	if kind == "" {
		kind = MalformedKinds[v.malformedTurn%len(MalformedKinds)]
	}
	if d.broken == malformed {
		v.malformedTurn++
	}
	v.mu.Unlock()

	plain := v.shapes.reshapeAnswers(product, v.shapes.reshape(product, d.params, payload))
	sealed := func() json.RawMessage {
		p := plain
		if v.shapes.DataAsString {
			p = mustMarshal(string(plain))
		}
		return mustMarshal(encrypt(v.block, p))
	}
	var body []byte
	if product == ProductRiskReport && v.shapes.Combo == ComboPlain {
		body = plain
	} else {
		body = v.envelope(codeOK, tx, seq, sealed())
	}

	status, code := http.StatusOK, codeOK
	switch d.broken {
	case malformed:
		code = -1
		switch kind {
		case "no-code":
			body = fmt.Appendf(nil, `{"message":"成功","transaction_id":%s,"result":%s}`, mustMarshal(tx), plain)
		case "code-string":
			body = v.envelope("0", tx, seq, sealed())
		case "code-null":
			body = v.envelope(nil, tx, seq, sealed())
		case "code-fraction":
			body = v.envelope(0.5, tx, seq, sealed())
		case "data-number":
			body = v.envelope(codeOK, tx, seq, mustMarshal(len(plain)))
		case "data-object":
			body = v.envelope(codeOK, tx, seq, plain)
		case "responses-object":
			body = fmt.Appendf(nil, `{"responses":%s}`, plain)
		case "array":
			body = fmt.Appendf(nil, `[%s]`, v.envelope(codeOK, tx, seq, sealed()))
		}
	case status500:
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
	if d.broken == oversized {
		pad := bytes.Repeat([]byte{' '}, 64<<10)
		for n := len(body); n < OversizedBody; n += len(pad) {
			if _, err := w.Write(pad); err != nil {
				break
			}
		}
	}
	return status, code
}
