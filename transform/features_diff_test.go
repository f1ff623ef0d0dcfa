package transform_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"github.com/valyala/fastjson"

	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/transform"
)

// diffProduct is one product filled both ways: by transform.Product and by
// the reference implementation.
type diffProduct struct {
	name string
	p    *transform.Product
	ref  *refProduct
}

// testCatalogs are catalogs for the corners the shipped ones do not reach:
// a path that is the prefix of another (a and a.b), every field type
// (text among them), sentinels on each, lists deep in the data, a
// sub-product without fields.
var testCatalogs = map[string]string{
	"TESTFLAT": `product: TESTFLAT
name_zh: 测试
params: [name]
fields:
  - {path: a, column: tf_a, type: text, zh: a}
  - {path: a.b, column: tf_a_b, type: number, sentinels: ["-1", "x"], zh: a.b}
  - {path: a.c.d, column: tf_a_c_d, type: interval_text, sentinels: ["-1"], zh: a.c.d}
  - {path: a.c.e, column: tf_a_c_e, type: list_count, zh: a.c.e}
  - {path: code, column: tf_code, type: interval_code, table: jrzq9e2a_count, sentinels: ["99", "-1"], zh: code}
  - {path: label, column: tf_label, type: enum, table: check_suggest, sentinels: ["未知", "-1"], zh: label}
  - {path: t, column: tf_t, type: text, sentinels: ["-1"], zh: t}
  - {path: f, column: tf_f, type: flag, zh: f}
  - {path: s, column: tf_s, type: score, sentinels: ["-1", "-1e3", "n/a"], zh: s}
  - {path: x.y, column: tf_x_y, type: text, zh: x.y}
  - {path: x.y.z, column: tf_x_y_z, type: text, zh: x.y.z}
  - {path: x.l, column: tf_x_l, type: list_count, zh: x.l}
  - {path: .e, column: tf_dot_e, type: text, zh: .e}
  - {path: g..h, column: tf_g_h, type: text, zh: g..h}
`,
	"TESTCOMBO": `product: TESTCOMBO
name_zh: 测试组合
params: [name]
subproducts:
  - code: S1
    name_zh: 一
    fields:
      - {path: a, column: tc_a, type: text, zh: a}
      - {path: b.c, column: tc_b_c, type: number, zh: b.c}
  - code: S2
    name_zh: 二
    fields:
      - {path: a, column: tc2_a, type: list_count, zh: a}
      - {path: a.b, column: tc2_a_b, type: text, zh: a.b}
  - code: S3
    name_zh: 三
`,
}

// testPayloads are payloads for testCatalogs.
var testPayloads = []string{
	`{"a":"text","t":" 文本 ","code":"3","label":"建议复审","f":"1","s":"700"}`,
	`{"a":{"b":12,"c":{"d":"(1,2]","e":[1,2,3],"zz":1},"zz":{"y":1}},"a":"later"}`,
	`{"a":"first","a":{"b":"-1","c":{"d":"-1","e":{}}}}`,
	`{"a":{"b":"x","c":{"d":"（0，5］","e":null}},"x":{"y":"y","l":[[]]}}`,
	`{"a":{"b":-1e3,"c":[]},"x":{"y":{"z":"z","w":1},"l":"x"}}`,
	`{"a":{},"x":{"y":{}},"code":"99","label":"未知","t":"-1","s":"n/a","f":"1.0"}`,
	`{"a":[],"x":[],"code":-1,"label":-1,"t":-1,"s":-1000,"f":true}`,
	`{"a":null,"x":null,"code":"7","label":"建议","t":"\u0000","s":"-1.0e3","f":"0.0"}`,
	`{"a.b":1,"a.c.d":"(1,2]","x.y":"flat","x.y.z":"flat","a":{"c.d":"(1,2]"}}`,
	`{"t":"` + strings.Repeat("长", 100) + `","a":"` + strings.Repeat("x", 300) + `"}`,
	`{"t":"\ud83d\ude00","a":"\u00e9","x":{"y":"\/\b\f\n\r\t"}}`,
	`{"":{"e":"1","a":"2","t":"3","zz":4},"e":"5","g":{"":{"h":"6","zz":7},"h":8},"g.":{"h":9},"h":10}`,
	`{"":{"":{"e":1}},".e":"2","g..h":"3","g":{"":"x"},"zz":{"":{"a":1}}}`,
	`{"responses":[{"api_code":"S1","success":true,"data":{"a":"x","b":{"c":"1.50"},"z":{}}},{"api_code":"S2","success":true,"data":{"a":[1],"q":1}},{"api_code":"S3","success":true,"data":{"r":{"s":1}}}]}`,
	`{"responses":[{"api_code":"S1","success":true,"data":{"a":{"b":1}}},{"api_code":"S2","success":true,"data":{"a":{"b":"text"}}},{"api_code":"S3","success":true}]}`,
	`{"responses":[{"api_code":"S1","success":false},{"api_code":"S2","success":true,"data":{"a":"x"}},{"api_code":"S3","success":false,"message":"m"}]}`,
	`{"responses":[{"api_code":"S3","success":true,"data":{}},{"api_code":"S2","success":true,"data":{"a":null,"b":2}}]}`,
}

func diffProducts(tb testing.TB) []diffProduct {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "catalogs"), 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, text := range testCatalogs {
		if err := os.WriteFile(filepath.Join(dir, "catalogs", name+".yaml"), []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	set, err := mappings.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []diffProduct
	for _, name := range []string{tianyuantest.ProductMultiLending, tianyuantest.ProductRiskReport, "TESTFLAT", "TESTCOMBO"} {
		c, err := set.Catalog(name)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, diffProduct{name, transform.NewProduct(c), newRefProduct(c)})
	}
	return out
}

// fillResult is everything one Fill produces.
type fillResult struct {
	status transform.Status
	subs   []transform.Status
	row    testRow
	u      transform.Unknowns
}

func (d *diffProduct) fill(r *transform.Reply, reference bool) fillResult {
	res := fillResult{row: make(testRow, base+len(d.p.Columns())), subs: make([]transform.Status, len(d.p.Catalog().Subs))}
	for i := range base {
		res.row[i] = cell{"string", "other"}
	}
	if reference {
		res.status = d.ref.refFillSubs(res.row, base, r, &res.u, res.subs)
	} else {
		res.status = d.p.FillSubs(res.row, base, r, &res.u, res.subs)
	}
	return res
}

// sameCell compares cells exactly: floats by their bits (-0 is not 0).
func sameCell(a, b cell) bool {
	if a.kind != b.kind {
		return false
	}
	if x, ok := a.v.(float64); ok {
		y, ok := b.v.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	}
	return a.v == b.v
}

// diff describes how got differs from want, "" when it does not.
func (d *diffProduct) diff(got, want fillResult) string {
	var out []string
	if got.status != want.status {
		out = append(out, fmt.Sprintf("status %s, want %s", got.status, want.status))
	}
	if !reflect.DeepEqual(got.subs, want.subs) {
		out = append(out, fmt.Sprintf("sub-product statuses %v, want %v", got.subs, want.subs))
	}
	for i := range got.row {
		if !sameCell(got.row[i], want.row[i]) {
			name := "before base"
			if i >= base {
				name = d.p.Columns()[i-base].Name
			}
			out = append(out, fmt.Sprintf("column %s = %.200v, want %.200v", name, got.row[i], want.row[i]))
		}
	}
	for _, m := range []struct {
		kind      string
		got, want map[string]int64
	}{{"fields", got.u.Fields, want.u.Fields}, {"codes", got.u.Codes, want.u.Codes}, {"unparsed", got.u.Unparsed, want.u.Unparsed}, {"placeholders", got.u.Placeholders, want.u.Placeholders}} {
		if !reflect.DeepEqual(m.got, m.want) {
			out = append(out, fmt.Sprintf("unknown %s %v, want %v", m.kind, m.got, m.want))
		}
	}
	return strings.Join(out, "\n\t")
}

func payloadReply(payload []byte) *transform.Reply {
	return &transform.Reply{Status: transform.StatusOK, HasCode: true, TransactionID: "T-1", QueriedAt: queriedAt, Payload: payload}
}

// asciiEscaped writes every non-ASCII character of a JSON text as a \u
// escape (a surrogate pair beyond the BMP), as Python's json.dumps does.
func asciiEscaped(b []byte) []byte {
	var out bytes.Buffer
	for _, r := range string(b) {
		switch {
		case r < 0x80:
			out.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04X`, r1, r2)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	return out.Bytes()
}

func indented(tb testing.TB, b []byte) []byte {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "\t"); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// nested returns a JSON object holding an unknown field nested depth
// objects deep.
func nested(depth int) string {
	return strings.Repeat(`{"n":`, depth) + `"x"` + strings.Repeat(`}`, depth)
}

// edgePayloads are hand-made payloads for the corners of the format.
var edgePayloads = []string{
	// Not a JSON object, or not JSON.
	``, ` `, `null`, `[]`, `[{"xyp_cpl0001":"1"}]`, `"x"`, `1`, `true`, `{`, `{"a":}`, `{"a" 1}`, `{,}`, `{"a":1,}`,
	"\xef\xbb\xbf{}", "{\"zzzzzzzz\":\"a\x01b\",\"xyp_cpl0001\":\"1\"}", "{\"xyp_cpl0001\":\"1\",\"zz\":\"a\nb\",\"yy\":\"c\"}",
	"{\"xyp_cpl0001\":\"1\",\"zz\":\"\x1f\",\"yyyyyyyyy\":\"c\"}", "{\"xyp_cpl0001\":\"1\",\r\n\"zz\":\"\\u0001\",\t\"yy\":\"c\"}", `{"a":1}}`, `{"a":1} x`, `{"xyp_cpl0001":"2"}{"xyp_cpl0001":"3"}`, `{} `, " \t\r\n{}\n", `{}[`,
	// Empty and all-empty.
	`{}`, `{"xyp_cpl0001":""}`, `{"xyp_cpl0001":"   "}`, `{"xyp_cpl0001":null}`,
	// Strings: white space, escapes, Unicode.
	`{"xyp_cpl0001":" 3 "}`, `{"xyp_cpl0001":"\u0033"}`, `{"xyp_cpl0001":"\u00a03\u3000"}`, `{"xyp_cpl0001":"\t3\n"}`,
	`{"xyp_cpl0001":"3\u0000"}`, `{"xyp_cpl0001":"\"3\""}`, `{"xyp_cpl0001":"\\3"}`, `{"xyp_cpl0001":"\/"}`,
	`{"xyp_cpl0001":"\ud800"}`, `{"xyp_cpl0001":"\ud800\u0041"}`, `{"xyp_cpl0001":"\udc00"}`, `{"xyp_cpl0001":"\udc00\ud800"}`,
	`{"xyp_cpl0001":"\ud83d\ude00"}`, `{"xyp_cpl0001":"\uD83D\uDE00x"}`, `{"\ud83d\ude00":"1"}`, `{"a\ud800":"1","a\udfff":"2"}`,
	"{\"\":\"\x11\\b0000\"}", "{\"xyp_cpl0001\":\"1\x01\\n\"}", "{\"k\x02\\u0041\":1}", `{"xyp_cpl0001":"\x"}`, `{"xyp_cpl0001":"\u12"}`, `{"xyp_cpl0001":"\u12g4"}`, "{\"xyp_cpl0001\":\"3\t\"}",
	"{\"xyp_cpl0001\":\"3\x7f\"}", "{\"xyp_cpl0001\":\"\xff\"}", "{\"xyp_cpl0001\":\"3\xe4\xb8\"}", "{\"\xff\":1,\"\xfe\":2}",
	"{\"a\xff\":{\"b\":1},\"a\xfe\":{\"c\":1}}", `{"xyp_cpl\u0030001":"2","xyp_cpl0002":"\u0032"}`, `{"\u0078yp_cpl0044":"1"}`,
	// Numbers.
	`{"xyp_cpl0001":1}`, `{"xyp_cpl0001":1.0}`, `{"xyp_cpl0001":1e0}`, `{"xyp_cpl0081":1e2}`, `{"xyp_cpl0081":-0}`,
	`{"xyp_cpl0081":-0.0}`, `{"xyp_cpl0081":0.5E-3}`, `{"xyp_cpl0081":1E+2}`, `{"xyp_cpl0081":1e400}`, `{"xyp_cpl0081":-1e400}`,
	`{"xyp_cpl0081":123456789012345678901234567890}`, `{"xyp_model_score_high":-1}`, `{"xyp_model_score_high":-1.0}`,
	`{"xyp_model_score_high":"-1.0"}`, `{"xyp_model_score_high":"-1e0"}`, `{"xyp_model_score_high":" -1 "}`,
	`{"xyp_cpl0081":"NaN"}`, `{"xyp_cpl0081":"Inf"}`, `{"xyp_cpl0081":"0x10"}`, `{"xyp_cpl0081":"1_0"}`, `{"xyp_cpl0081":"abc"}`,
	`{"xyp_cpl0081":NaN}`, `{"xyp_cpl0081":nan}`, `{"xyp_cpl0081":-inf}`, `{"xyp_cpl0081":Infinity}`, `{"xyp_cpl0081":01}`,
	`{"xyp_cpl0081":1.}`, `{"xyp_cpl0081":.5}`, `{"xyp_cpl0081":+1}`, `{"xyp_cpl0081":1e}`, `{"xyp_cpl0081":1.e5}`,
	`{"xyp_cpl0081":--1}`, `{"xyp_cpl0081":1-2}`, `{"xyp_cpl0081":-}`, `{"z":[1,2,01]}`, `{"z":{"y":[{"x":1.}]}}`,
	`{"z":[1,-0,2.5e-3,{"a":[0]}]}`,
	// Flags and booleans.
	`{"xyp_cpl0044":true,"xyp_cpl0031":false}`, `{"xyp_cpl0044":1,"xyp_cpl0031":0}`, `{"xyp_cpl0044":1.0,"xyp_cpl0031":0.0}`,
	`{"xyp_cpl0044":"true","xyp_cpl0031":"false"}`, `{"xyp_cpl0044":"yes","xyp_cpl0031":"2"}`, `{"xyp_cpl0044":"1.00"}`,
	`{"xyp_cpl0001":true}`, `{"xyp_cpl0081":true}`,
	// Codes not in their table.
	`{"xyp_cpl0001":"99","xyp_cpl0002":"99","xyp_cpl0039":"x"}`, `{"xyp_cpl0001":"-1"}`,
	// Objects and lists where a scalar is expected.
	`{"xyp_cpl0001":[1]}`, `{"xyp_cpl0001":[]}`, `{"xyp_cpl0001":{"a":1}}`, `{"xyp_cpl0001":{}}`, `{"xyp_cpl0044":[true]}`,
	// Unknown fields.
	`{"zz":1,"yy":"","xx":null,"ww":[],"vv":{},"uu":{"a":{"b":{"c":1,"d":{}}},"e":[{"f":1}]}}`,
	`{"xyp_cpl0001":"1","xyp_cpl9001":"2","xyp_cpl9002":"3","xyp_cpl9003":""}`, `{"a.b":1,"a":{"b":2}}`,
	`{"xyp_cpl0001.x":1}`, `{".":1,"":2,"..":{"":{".":3}}}`, `{"":0,"":{"":0}}`, `{"":{"":0},"":0}`, `{"":{"":{"":1},"":2},"":{"":3}}`,
	`{"a":{"":{"":1}},"a.":2,"a..":3,"a":{"":{"":4}}}`, `{"":{"xyp_cpl0001":"2"},"xyp_cpl0001":"3"}`, `{"` + strings.Repeat("k", 200) + `":1}`,
	// Duplicate keys: the last one wins.
	`{"xyp_cpl0001":"1","xyp_cpl0001":"2"}`, `{"xyp_cpl0001":"2","xyp_cpl0001":null}`, `{"xyp_cpl0001":"2","xyp_cpl0001":{}}`,
	`{"zz":1,"zz":2}`, `{"zz":1,"zz":{"a":1}}`, `{"zz":{"a":1},"zz":1}`, `{"zz":{"a":1},"zz":{"b":1}}`, `{"zz":{},"zz":{}}`,
	`{"zz":{"a":1,"a":{"b":1}},"yy":1,"zz":{"a":{"c":1},"a":2}}`,
	`{"` + strings.Repeat("k", 200) + `":1,"` + strings.Repeat("k", 200) + `":{"a":1}}`,
	`{"` + strings.Repeat("k", 200) + `":{"a":1},"` + strings.Repeat("k", 200) + `":1}`,
	// Nesting.
	nested(50), nested(fastjson.MaxDepth - 1), `{"a":` + strings.Repeat(`[`, 290) + strings.Repeat(`]`, 290) + `}`,
	// COMBTY11.
	`{"responses":null}`, `{"responses":{}}`, `{"responses":[]}`, `{"responses":"x"}`, `{"responses":[1,"x",null,[],{}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":12}}],"responses":[]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":null},{"api_code":"FLXG0V4B","success":true}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{}},{"api_code":"FLXG0V4B","success":true,"data":[]}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":"x"},{"api_code":"FLXG0V4B","success":"true","data":{"sxbzxr":[1]}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":false},{"api_code":"FLXG0V4B","success":false,"message":"查询失败"}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":false,"message":""},{"api_code":"FLXG0V4B","success":false,"message":7}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":1,"message":" x "},{"api_code":"XXXX","success":false,"message":"y"}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":12}},{"api_code":"DWBG8B4D","success":false}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":false},{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":12}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":12}},{"api_code":"DWBG8B4D","success":true,"data":{"creditScore":700}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","api_code":"FLXG0V4B","success":true,"success":false,"message":"a","message":"b"}]}`,
	`{"responses":[{"api_code":"DWBG8B4\u0044","success":true,"data":{"fraudScore":"\u0031\u0032"}}]}`,
	`{"responses":[{"api_code":" DWBG8B4D","success":true,"data":{"fraudScore":12}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"riskWarning":"x","overdueRiskProduct":{},"checkSuggest":"建议通过 "}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"riskWarning":{"hasCriminalRecord":1,"hasCriminalRecord":{"a":1},"zz":1},"riskWarning.isKeyPerson":1}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"riskWarning":{"hasCriminalRecord":1},"riskWarning":{"isKeyPerson":1}}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"riskWarning":{},"fraudRule":"未知","checkSuggest":"\u5efa\u8bae\u62d2\u7edd"}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"overdueRiskProduct":{"currentOverdueAmount":"(0,1000","totalLoanInstitutions":"（1，5］","currentOverdueInstitutionCount":"3+"}}}]}`,
	`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"sxbzxr":null,"xgbzxr":{},"entout":{"data":{"criminal":[],"civil":{"count":"2","cases":"x"}}}}}]}`,
	`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"entout":{"data":{"criminal":{"count":1e0,"cases":[[],{}]},"zz":{"y":1}},"zz":2}}}]}`,
	`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"entout":"x","sxbzxr":"x","xgbzxr":1}}]}`,
	`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"entout":{"data":{"criminal":{"count":1,"count":null}}}}}],"zz":{"a":1}}`,
	// COMBTY11 answers in every form: data as a string, success spelt otherwise, duplicates, odd api_codes.
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":"{\"fraudScore\":87,\"riskWarning\":{\"zz\":1}}"},{"api_code":"FLXG0V4B","success":"1","data":"{}"}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":"True","data":" {\"fraudScore\":\"\\u0031\"} x"},{"api_code":"FLXG0V4B","success":1.0,"data":"\"{}\""}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":""},{"api_code":"FLXG0V4B","success":true,"data":"  "},{"api_code":"ZZZZ0000"}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":"[1]"},{"api_code":"FLXG0V4B","success":true,"data":"null"}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":"{\"a\":"},{"api_code":"FLXG0V4B","success":true,"data":"{\"a\":01}"}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":"{\"a\":\"\\ud800\"}"},{"api_code":"FLXG0V4B","success":true,"data":"{\"sxbzxr\":[1],\"sxbzxr\":null}"}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":"yes","message":"m"},{"api_code":"FLXG0V4B","success":2},{"api_code":"DWBG8B4D","success":null}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":{}},{"api_code":"FLXG0V4B","success":[]},{"api_code":"FLXG0V4B"}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":[]},{"api_code":"FLXG0V4B","success":true,"data":7},{"api_code":"FLXG0V4B","success":true,"data":false}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":1,"a":{"b":1}}},{"api_code":"DWBG8B4D","success":"true","data":"{\"a\":{\"b\":1},\"fraudScore\":1}"}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":1}},{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":1.0}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":null},{"api_code":"DWBG8B4D","success":true,"data":{}},{"api_code":"DWBG8B4D","success":1,"data":"{}"}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":false,"message":"a"},{"api_code":"DWBG8B4D","success":"x","message":"b"},{"api_code":"DWBG8B4D","success":true}]}`,
	`{"responses":[{"api_code":"110101199003074477"},{"api_code":"` + strings.Repeat("A", 33) + `"},{"api_code":"A-b_1"},{"api_code":7},{},1,null]}`,
	`{"responses":[{"api_code":" FLXG0V4B ","success":" 0 ","message":"\u0000x"},{"api_code":"\tDWBG8B4D","success":"\u0031","data":{"fraudScore":2}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":"` + strings.Repeat(`{\"a\":`, 290) + `1` + strings.Repeat(`}`, 290) + `"}]}`,
	// FLXG0V4B in the documented shape, and around it.
	`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"sxbzxr":[{"ah":"x"}],"entout":{"data":{"criminal":{"dzzm":"盗窃罪","pcjg":"拘役"},"civil":{"n_qsbdje":"(0,1000)"}}}}}]}`,
	`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"entout":{"data":{"criminal":{"dzzm":["a"," b ","",null,1,true],"pcjg":[]},"civil":{"n_qsbdje":12000.5}}}}}]}`,
	`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"entout":{"data":{"criminal":{"dzzm":[["a"]],"pcjg":[{}]},"civil":{"n_qsbdje":["1"]}}}}}]}`,
	`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"entout":{"data":{"criminal":{},"civil":null}},"xgbzxr":null}}]}`,
	`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"entout":null}},{"api_code":"DWBG8B4D","success":true,"data":{"riskWarning":{},"overdueRiskProduct":null}}]}`,
	`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"entout.data":{"criminal":{},"civil":{"n_qsbdje":"1"}},"entout":{"data.criminal":{}},"entout.data.criminal":null}}]}`,
	`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"entout":{"data":{"criminal":"x","civil":[],"zz":{}}}}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"overdueRiskProduct":{"totalLoanInstitutions":"(1,2)","currentOverdueInstitutionCount":"[0.5,3.5]","currentOverdueAmount":"(1,2)"}}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"overdueRiskProduct":{"totalLoanInstitutions":"(9007199254740992,9007199254740996)","currentOverdueInstitutionCount":"(1e308,+∞)"}}}]}`,
	`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"checkSuggest":"建议通过","fraudRule":"低风险"}}]}`,
	`{"x":null,"a":{"c":{}},"g":{"":null},"":{},"g.":{}}`, `{"x":{},"a":{"c":null}}`, `{"t":["a",["b"]],"a":["x","y"]}`,
}

// manyUnknowns is a payload with n unknown factors, every third given twice
// (first as an object, then as a string), with a name longer than what a
// fillState interns every seventh.
func manyUnknowns(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"xyp_cpl0001":"2"`)
	name := func(i int) string {
		if i%7 == 0 {
			return fmt.Sprintf("f%d_%s", i, strings.Repeat("x", 150))
		}
		return fmt.Sprintf("f%d", i)
	}
	for i := range n {
		if i%3 == 0 {
			fmt.Fprintf(&b, `,%q:{"a":%d}`, name(i), i)
		}
		fmt.Fprintf(&b, `,%q:"%d"`, name(i), i)
	}
	b.WriteString(`}`)
	return b.Bytes()
}

// diffPayloads returns the payloads the differential test fills: the fake
// vendor's, as it sends them, pretty-printed and with every non-ASCII
// character escaped, plus edgePayloads.
func diffPayloads(tb testing.TB, applicants int) [][]byte {
	var out [][]byte
	for _, set := range [][][]byte{
		syntheticPayloads(tb, tianyuantest.ProductMultiLending, applicants, 0),
		syntheticPayloads(tb, tianyuantest.ProductMultiLending, applicants, 3),
		syntheticPayloads(tb, tianyuantest.ProductRiskReport, applicants, 0),
	} {
		for i, pl := range set {
			out = append(out, pl)
			switch i % 4 {
			case 1:
				out = append(out, indented(tb, pl))
			case 2:
				out = append(out, asciiEscaped(pl))
			}
		}
	}
	for _, pl := range append(edgePayloads, testPayloads...) {
		out = append(out, []byte(pl))
	}
	return out
}

// TestFillMatchesReference fills every product from the same payloads with
// transform.Product and with the reference implementation and wants the
// same rows, statuses and unknowns.
func TestFillMatchesReference(t *testing.T) {
	products := diffProducts(t)
	payloads := diffPayloads(t, 1000)
	// Past the bound on interned names, then everything again: a
	// fillState that has interned all it may must count alike.
	payloads = append(payloads, manyUnknowns(300), manyUnknowns(10000))
	payloads = append(payloads, payloads...)
	for _, d := range products {
		for i, pl := range payloads {
			r := payloadReply(pl)
			got, want := d.fill(r, false), d.fill(r, true)
			if diff := d.diff(got, want); diff != "" {
				t.Errorf("%s, payload %d %.300q:\n\t%.2000s", d.name, i, pl, diff)
			}
		}
	}
}

// TestFillMatchesReferenceDeep: a value nested deeper than fastjson reads
// (fastjson.MaxDepth, the value itself counted: a string in 300 objects is
// 301 deep), or than encoding/json reads (10000), is cut where it is deeper
// than the catalog reads; both read such payloads alike, and the fields
// beside the deep value keep their values.
func TestFillMatchesReferenceDeep(t *testing.T) {
	for _, d := range diffProducts(t) {
		for _, depth := range []int{fastjson.MaxDepth - 2, fastjson.MaxDepth - 1, fastjson.MaxDepth, 5000, 10001, 30000} {
			for _, pl := range []string{
				nested(depth),
				`{"xyp_cpl0001":"1","zz":` + nested(depth) + `,"xyp_cpl0081":"0.5"}`,
				`{"xyp_cpl0001":"1","zz":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`,
				`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":87,"zz":` + nested(depth) + `}}],"zz":` + nested(depth) + `}`,
				`{"xyp_cpl0001":"1","zz":` + nested(depth) + `,}`, // not JSON, past the deep value
			} {
				r := payloadReply([]byte(pl))
				got, want := d.fill(r, false), d.fill(r, true)
				if diff := d.diff(got, want); diff != "" {
					t.Errorf("%s, depth %d, payload %.80q:\n\t%.2000s", d.name, depth, pl, diff)
				}
				msg, _ := got.row[base+2].v.(string)
				if strings.Contains(msg, "nested") || strings.Contains(msg, "not valid JSON") != strings.HasSuffix(pl, ",}") {
					t.Errorf("%s, depth %d, payload %.80q: message %q", d.name, depth, pl, msg)
				}
			}
		}
	}
}

// TestFillNotOK: replies without a payload to read fill alike.
func TestFillNotOK(t *testing.T) {
	for _, d := range diffProducts(t) {
		for _, r := range []*transform.Reply{
			{Status: transform.StatusFailed, Message: "boom", HasCode: true, Code: 1001},
			{Status: transform.StatusSkipped, Message: "no authorization"},
			{Status: transform.StatusNoRecord, HasCode: true, Code: 2001, QueriedAt: queriedAt, TransactionID: "T"},
			{Status: transform.StatusOK, HasCode: true},
		} {
			if diff := d.diff(d.fill(r, false), d.fill(r, true)); diff != "" {
				t.Errorf("%s, %+v:\n\t%s", d.name, r, diff)
			}
		}
	}
}

// TestFillConcurrent shares one Product between goroutines, as the pipeline
// does, and wants what filling one at a time gives.
func TestFillConcurrent(t *testing.T) {
	for _, d := range diffProducts(t) {
		payloads := diffPayloads(t, 200)
		want := make([]fillResult, len(payloads))
		for i, pl := range payloads {
			want[i] = d.fill(payloadReply(pl), true)
		}
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for w := range 8 {
			wg.Go(func() {
				for k := range payloads {
					i := (k + w*len(payloads)/8) % len(payloads)
					if diff := d.diff(d.fill(payloadReply(payloads[i]), false), want[i]); diff != "" {
						errs <- fmt.Sprintf("%s, payload %d: %s", d.name, i, diff)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	}
}

// TestFillAllocations: filling the fake vendor's replies allocates nothing
// once a Product has warmed up (its JSON parser and interned strings).
func TestFillAllocations(t *testing.T) {
	if testing.Short() || raceDetector {
		t.Skip("allocation counts (not in -short, not under the race detector)")
	}
	for _, d := range diffProducts(t)[:2] { // the fake vendor's products
		payloads := syntheticPayloads(t, d.name, 100, 0)
		var row transform.RowWriter = make(benchRow, len(d.p.Columns()))
		subs := make([]transform.Status, len(d.p.Catalog().Subs))
		replies := make([]transform.Reply, len(payloads))
		for i, pl := range payloads {
			replies[i] = *payloadReply(pl)
		}
		var u transform.Unknowns
		fillAll := func() {
			for i := range replies {
				d.p.FillSubs(row, 0, &replies[i], &u, subs)
			}
		}
		fillAll()
		// A sub-product that failed makes its message: a few per 100 rows.
		if n := testing.AllocsPerRun(20, fillAll); n > 10 {
			t.Errorf("%s: %v allocations per 100 rows, want at most 10", d.name, n)
		}
	}
}

// FuzzFill fills both products from arbitrary bytes with transform.Product
// and the reference implementation. They must agree on everything (a payload
// the reference cannot read is failed with the same message).
func FuzzFill(f *testing.F) {
	for _, pl := range append(edgePayloads, testPayloads...) {
		f.Add([]byte(pl))
	}
	for _, product := range []string{tianyuantest.ProductMultiLending, tianyuantest.ProductRiskReport} {
		for _, pl := range syntheticPayloads(f, product, 4, 1) {
			f.Add(pl)
			f.Add(asciiEscaped(pl))
		}
	}
	products := diffProducts(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, d := range products {
			r := payloadReply(payload)
			got, want := d.fill(r, false), d.fill(r, true)
			diff := d.diff(got, want)
			if diff == "" {
				continue
			}
			t.Errorf("%s, payload %.300q:\n\t%.2000s", d.name, payload, diff)
		}
	})
}
