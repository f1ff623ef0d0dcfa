package transform_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/transform"
)

// cell is one typed value a testRow records.
type cell struct {
	kind string // "" (never set), "null", "string", "int", "float", "time"
	v    any
}

// testRow is a transform.RowWriter that records every cell with its type.
type testRow []cell

var _ transform.RowWriter = testRow(nil)

func (r testRow) SetNull(i int)              { r[i] = cell{"null", nil} }
func (r testRow) SetString(i int, s string)  { r[i] = cell{"string", s} }
func (r testRow) SetInt(i int, v int64)      { r[i] = cell{"int", v} }
func (r testRow) SetFloat(i int, v float64)  { r[i] = cell{"float", v} }
func (r testRow) SetTime(i int, t time.Time) { r[i] = cell{"time", t} }

// want turns an expected Go value into the cell it should be: nil is null,
// int an int64 cell.
func want(v any) cell {
	switch x := v.(type) {
	case nil:
		return cell{"null", nil}
	case string:
		return cell{"string", x}
	case int:
		return cell{"int", int64(x)}
	case int64:
		return cell{"int", x}
	case float64:
		return cell{"float", x}
	case time.Time:
		return cell{"time", x}
	}
	panic(fmt.Sprintf("want(%T)", v))
}

func (c cell) String() string {
	if c.kind == "null" || c.kind == "" {
		return c.kind
	}
	return fmt.Sprintf("%s %v", c.kind, c.v)
}

// base is where the product's columns start in a testRow; the cells before
// it belong to someone else and must stay untouched.
const base = 2

type productTest struct {
	p   *transform.Product
	col map[string]int
}

func newProductTest(t *testing.T, product string) *productTest {
	t.Helper()
	set, err := mappings.Load("")
	if err != nil {
		t.Fatalf("mappings.Load(\"\") = %v", err)
	}
	c, err := set.Catalog(product)
	if err != nil {
		t.Fatal(err)
	}
	pt := &productTest{p: transform.NewProduct(c), col: map[string]int{}}
	for i, col := range pt.p.Columns() {
		if _, dup := pt.col[col.Name]; dup {
			t.Fatalf("%s: column %s appears twice", product, col.Name)
		}
		pt.col[col.Name] = i
	}
	return pt
}

// fill fills a fresh row from the reply and checks that every cell of the
// product was written and the cells before base were not.
func (pt *productTest) fill(t *testing.T, r *transform.Reply, u *transform.Unknowns) (testRow, transform.Status) {
	t.Helper()
	row := make(testRow, base+len(pt.p.Columns()))
	for i := range base {
		row[i] = cell{"string", "other"}
	}
	status := pt.p.Fill(row, base, r, u)
	for i := range base {
		if row[i] != (cell{"string", "other"}) {
			t.Errorf("Fill wrote cell %d, before its base %d", i, base)
		}
	}
	for i, c := range row[base:] {
		if c.kind == "" {
			t.Errorf("Fill left column %s unset", pt.p.Columns()[i].Name)
		}
	}
	return row, status
}

func (pt *productTest) get(t *testing.T, row testRow, name string) cell {
	t.Helper()
	i, ok := pt.col[name]
	if !ok {
		t.Fatalf("no column %s", name)
	}
	return row[base+i]
}

// check compares the named cells with the expected values.
func (pt *productTest) check(t *testing.T, row testRow, cells map[string]any) {
	t.Helper()
	for name, v := range cells {
		if got, w := pt.get(t, row, name), want(v); got != w {
			t.Errorf("column %s = %v, want %v", name, got, w)
		}
	}
}

// checkNullFeatures checks that every column after the status columns
// (the first n) is null.
func (pt *productTest) checkNullFeatures(t *testing.T, row testRow, n int) {
	t.Helper()
	for i, c := range row[base+n:] {
		if c.kind != "null" {
			t.Errorf("column %s = %v, want null", pt.p.Columns()[n+i].Name, c)
		}
	}
}

var queriedAt = time.Date(2024, 6, 1, 8, 30, 0, 0, time.UTC)

func okReply(payload string) *transform.Reply {
	return &transform.Reply{Status: transform.StatusOK, HasCode: true, Code: 0, TransactionID: "T-1",
		QueriedAt: queriedAt, Payload: []byte(payload)}
}

func TestProductColumnsJRZQ9E2A(t *testing.T) {
	pt := newProductTest(t, "JRZQ9E2A")
	cols := pt.p.Columns()
	var names []string
	for _, c := range cols[:8] {
		names = append(names, c.Name+":"+c.Kind.String())
	}
	wantNames := []string{"jrzq9e2a_status:string", "jrzq9e2a_code:int64", "jrzq9e2a_message:string",
		"jrzq9e2a_transaction_id:string", "jrzq9e2a_queried_at:timestamp",
		"xyp_cpl0001_code:string", "xyp_cpl0001_low:float64", "xyp_cpl0001_high:float64"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("JRZQ9E2A first columns = %v, want %v", names, wantNames)
	}
	// 5 status columns; 10 interval fields × 3; 3 flags; 4 scores.
	if got, w := len(cols), 5+10*3+3+4; got != w {
		t.Errorf("JRZQ9E2A has %d columns, want %d", got, w)
	}
	if pt.p.Catalog().Product != "JRZQ9E2A" {
		t.Errorf("Catalog().Product = %s, want JRZQ9E2A", pt.p.Catalog().Product)
	}
}

func TestFeaturesJRZQ9E2A(t *testing.T) {
	const statusCols = 5
	allEmpty := func() string {
		var parts []string
		for _, f := range []string{"0001", "0002", "0044", "0007", "0008", "0070", "0009", "0011", "0028", "0031",
			"0071", "0072", "0039", "0081"} {
			parts = append(parts, `"xyp_cpl`+f+`":""`)
		}
		parts = append(parts, `"xyp_model_score_high":""`, `"xyp_model_score_mid":""`, `"xyp_model_score_low":""`)
		return "{" + strings.Join(parts, ",") + "}"
	}()
	okStatus := map[string]any{"jrzq9e2a_status": "ok", "jrzq9e2a_code": 0, "jrzq9e2a_message": nil,
		"jrzq9e2a_transaction_id": "T-1", "jrzq9e2a_queried_at": queriedAt}
	tests := []struct {
		name     string
		reply    *transform.Reply
		status   transform.Status
		cells    map[string]any
		allNull  bool // every feature column null
		message  string
		unknowns transform.Unknowns
	}{
		{
			name: "known codes",
			reply: okReply(`{"xyp_cpl0001":"1","xyp_cpl0002":"6","xyp_cpl0072":"8","xyp_cpl0044":"1","xyp_cpl0028":"0",
				"xyp_cpl0031":"","xyp_cpl0081":"0.1234","xyp_model_score_high":"-1","xyp_model_score_mid":"612",
				"xyp_model_score_low":"","xyp_cpl9001":"3"}`),
			status: transform.StatusOK,
			cells: map[string]any{
				"xyp_cpl0001_code": "1", "xyp_cpl0001_low": 1.0, "xyp_cpl0001_high": 8.0, // (0,9), whole institutions
				"xyp_cpl0002_code": "6", "xyp_cpl0002_low": 100.0, "xyp_cpl0002_high": nil,
				"xyp_cpl0072_code": "8", "xyp_cpl0072_low": 100000.0, "xyp_cpl0072_high": nil,
				"xyp_cpl0007_code": nil, "xyp_cpl0007_low": nil, "xyp_cpl0007_high": nil,
				"xyp_cpl0044": 1, "xyp_cpl0028": 0, "xyp_cpl0031": nil,
				"xyp_cpl0081":          0.1234,
				"xyp_model_score_high": nil, "xyp_model_score_mid": 612.0, "xyp_model_score_low": nil,
			},
			// Code 1 is the documentation's (seed); 6 and the amount's 8 are
			// placeholders (sample): their bounded ends are counted.
			unknowns: transform.Unknowns{Fields: map[string]int64{"JRZQ9E2A.xyp_cpl9001": 1},
				Placeholders: map[string]int64{"xyp_cpl0002_low": 1, "xyp_cpl0072_low": 1}},
		},
		{
			name:   "score 612",
			reply:  okReply(`{"xyp_model_score_high":"612"}`),
			status: transform.StatusOK,
			cells:  map[string]any{"xyp_model_score_high": 612.0, "xyp_model_score_mid": nil},
		},
		{
			name:   "unknown code",
			reply:  okReply(`{"xyp_cpl0001":"9","xyp_cpl0002":"2"}`),
			status: transform.StatusOK,
			cells: map[string]any{"xyp_cpl0001_code": "9", "xyp_cpl0001_low": nil, "xyp_cpl0001_high": nil,
				"xyp_cpl0002_code": "2", "xyp_cpl0002_low": 9.0, "xyp_cpl0002_high": 19.0},
			unknowns: transform.Unknowns{Codes: map[string]int64{"xyp_cpl0001=9": 1},
				Placeholders: map[string]int64{"xyp_cpl0002_low": 1, "xyp_cpl0002_high": 1}},
		},
		{
			name:   "JSON numbers and booleans",
			reply:  okReply(`{"xyp_cpl0001":1,"xyp_cpl0044":true,"xyp_cpl0028":false,"xyp_cpl0031":"1.0","xyp_cpl0081":0.5,"xyp_model_score_high":-1,"xyp_model_score_mid":"-1.0","xyp_model_score_low":700}`),
			status: transform.StatusOK,
			cells: map[string]any{"xyp_cpl0001_code": "1", "xyp_cpl0001_low": 1.0, "xyp_cpl0001_high": 8.0,
				"xyp_cpl0044": 1, "xyp_cpl0028": 0, "xyp_cpl0031": 1, "xyp_cpl0081": 0.5,
				"xyp_model_score_high": nil, "xyp_model_score_mid": nil, "xyp_model_score_low": 700.0},
		},
		{
			name:   "values with spaces",
			reply:  okReply(`{"xyp_cpl0001":" 1 ","xyp_model_score_mid":" 612 "}`),
			status: transform.StatusOK,
			cells:  map[string]any{"xyp_cpl0001_code": "1", "xyp_cpl0001_high": 8.0, "xyp_model_score_mid": 612.0},
		},
		{
			name:   "unreadable values",
			reply:  okReply(`{"xyp_cpl0044":"2","xyp_cpl0081":"abc","xyp_cpl0002":{"a":1},"xyp_model_score_mid":"NaN"}`),
			status: transform.StatusOK,
			cells: map[string]any{"xyp_cpl0044": nil, "xyp_cpl0081": nil, "xyp_cpl0002_code": nil,
				"xyp_model_score_mid": nil},
			unknowns: transform.Unknowns{Unparsed: map[string]int64{"xyp_cpl0044": 1, "xyp_cpl0081": 1,
				"xyp_cpl0002": 1, "xyp_model_score_mid": 1}},
		},
		{
			name:    "every factor empty",
			reply:   okReply(allEmpty),
			status:  transform.StatusNoRecord,
			cells:   map[string]any{"jrzq9e2a_status": "no_record", "jrzq9e2a_code": 0, "jrzq9e2a_transaction_id": "T-1"},
			allNull: true,
		},
		{
			name:    "empty object",
			reply:   okReply(`{}`),
			status:  transform.StatusNoRecord,
			allNull: true,
		},
		{
			name: "failed",
			reply: &transform.Reply{Status: transform.StatusFailed, HasCode: true, Code: 1001, Message: "接口异常",
				TransactionID: "T-9", Payload: []byte(`{"xyp_cpl0001":"1"}`)},
			status: transform.StatusFailed,
			cells: map[string]any{"jrzq9e2a_status": "failed", "jrzq9e2a_code": 1001, "jrzq9e2a_message": "接口异常",
				"jrzq9e2a_transaction_id": "T-9", "jrzq9e2a_queried_at": nil},
			allNull: true,
		},
		{
			name:   "failed without a vendor code",
			reply:  &transform.Reply{Status: transform.StatusFailed, Message: "connection refused"},
			status: transform.StatusFailed,
			cells: map[string]any{"jrzq9e2a_status": "failed", "jrzq9e2a_code": nil, "jrzq9e2a_message": "connection refused",
				"jrzq9e2a_transaction_id": nil, "jrzq9e2a_queried_at": nil},
			allNull: true,
		},
		{
			name:   "skipped",
			reply:  &transform.Reply{Status: transform.StatusSkipped, Message: "missing auth_authorize_file_code"},
			status: transform.StatusSkipped,
			cells: map[string]any{"jrzq9e2a_status": "skipped", "jrzq9e2a_code": nil,
				"jrzq9e2a_message": "missing auth_authorize_file_code", "jrzq9e2a_transaction_id": nil, "jrzq9e2a_queried_at": nil},
			allNull: true,
		},
		{
			name:    "payload not JSON",
			reply:   okReply(`not json`),
			status:  transform.StatusFailed,
			cells:   map[string]any{"jrzq9e2a_status": "failed", "jrzq9e2a_code": 0},
			allNull: true,
			message: "unreadable payload",
		},
		{
			name:    "payload null",
			reply:   okReply(`null`),
			status:  transform.StatusFailed,
			allNull: true,
			message: "not a JSON object",
		},
		{
			name:    "payload a list",
			reply:   okReply(`[{"xyp_cpl0001":"1"}]`),
			status:  transform.StatusFailed,
			allNull: true,
			message: "unreadable payload",
		},
	}
	pt := newProductTest(t, "JRZQ9E2A")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u transform.Unknowns
			row, status := pt.fill(t, tt.reply, &u)
			if status != tt.status {
				t.Errorf("Fill() = %s, want %s", status, tt.status)
			}
			if got := pt.get(t, row, "jrzq9e2a_status"); got != want(string(tt.status)) {
				t.Errorf("jrzq9e2a_status = %v, want %s", got, tt.status)
			}
			if tt.status == transform.StatusOK {
				pt.check(t, row, okStatus)
			}
			pt.check(t, row, tt.cells)
			if tt.allNull {
				pt.checkNullFeatures(t, row, statusCols)
			}
			if tt.message != "" {
				if got := pt.get(t, row, "jrzq9e2a_message"); got.kind != "string" || !strings.Contains(got.v.(string), tt.message) {
					t.Errorf("jrzq9e2a_message = %v, want it to contain %q", got, tt.message)
				}
			}
			if !reflect.DeepEqual(u, tt.unknowns) {
				t.Errorf("Unknowns = %+v, want %+v", u, tt.unknowns)
			}
		})
	}
}

func TestFeaturesUnknownsAccumulate(t *testing.T) {
	pt := newProductTest(t, "JRZQ9E2A")
	var u transform.Unknowns
	for range 3 {
		pt.fill(t, okReply(`{"xyp_cpl0001":"9","xyp_cpl9001":"1","xyp_cpl9002":""}`), &u)
	}
	w := transform.Unknowns{
		Fields: map[string]int64{"JRZQ9E2A.xyp_cpl9001": 3, "JRZQ9E2A.xyp_cpl9002": 3},
		Codes:  map[string]int64{"xyp_cpl0001=9": 3},
	}
	if !reflect.DeepEqual(u, w) {
		t.Errorf("Unknowns after 3 rows = %+v, want %+v", u, w)
	}
}

const comboPayload = `{"responses":[
 {"api_code":"DWBG8B4D","success":true,"data":{
   "fraudScore":85,"creditScore":-1,"checkSuggest":"建议拒绝","fraudRule":"高风险",
   "riskWarning":{"totalRiskCounts":3,"hasCriminalRecord":1,"isKeyPerson":0,"hitExecutionCase":"1","newFlag":1},
   "overdueRiskProduct":{"hasUnsettledOverdue":"逾期","currentOverdueAmount":"(0,1000)",
     "currentOverdueInstitutionCount":"(3,+∞)","totalLoanInstitutions":"10+"}}},
 {"api_code":"FLXG0V4B","success":false,"message":"数据源异常","data":null}]}`

// comboJudicial is FLXG0V4B in the documented shape: sxbzxr and xgbzxr
// lists, entout.data.criminal {dzzm, pcjg}, entout.data.civil {n_qsbdje}.
const comboJudicial = `{"responses":[
 {"api_code":"DWBG8B4D","success":true,"data":{}},
 {"api_code":"FLXG0V4B","success":true,"data":{
   "sxbzxr":[{"ah":"(2023)京0101执1号"},{"ah":"(2024)京0101执2号"}],
   "xgbzxr":[],
   "entout":{"data":{"criminal":{"dzzm":"盗窃罪","pcjg":"有期徒刑六个月"},"civil":{"n_qsbdje":"[10000,50000)"}}}}}]}`

// judicialPayload is a combo reply whose FLXG0V4B data is entout.data,
// DWBG8B4D answering without data.
func judicialPayload(entoutData string) *transform.Reply {
	return okReply(`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":null},
		{"api_code":"FLXG0V4B","success":true,"data":{"entout":{"data":` + entoutData + `}}}]}`)
}

func TestProductColumnsCOMBTY11(t *testing.T) {
	pt := newProductTest(t, "COMBTY11")
	var names []string
	for _, c := range pt.p.Columns()[:8] {
		names = append(names, c.Name)
	}
	w := []string{"combty11_status", "combty11_code", "combty11_message", "combty11_transaction_id",
		"combty11_queried_at", "dwbg8b4d_status", "flxg0v4b_status", "dwbg8b4d_fraud_score"}
	if !reflect.DeepEqual(names, w) {
		t.Errorf("COMBTY11 first columns = %v, want %v", names, w)
	}
}

// comboCase is a COMBTY11 reply and what Fill must make of it.
type comboCase struct {
	name     string
	reply    *transform.Reply
	status   transform.Status
	cells    []map[string]any
	allNull  bool     // every feature column null
	messages []string // substrings of combty11_message; none means null
	absent   []string // what combty11_message must not hold (the reply's text)
	unknowns transform.Unknowns
}

// comboNull are DWBG8B4D's and FLXG0V4B's cells that must be null when the
// sub-product gives no data.
var (
	dwbgNull = map[string]any{"dwbg8b4d_fraud_score": nil, "dwbg8b4d_check_suggest": nil,
		"dwbg8b4d_risk_warning_has_criminal_record": nil, "dwbg8b4d_overdue_risk_product_current_overdue_amount_code": nil}
	flxgNull = map[string]any{"flxg0v4b_sxbzxr_count": nil, "flxg0v4b_xgbzxr_count": nil,
		"flxg0v4b_criminal_dzzm": nil, "flxg0v4b_criminal_pcjg": nil, "flxg0v4b_civil_n_qsbdje_code": nil,
		"flxg0v4b_civil_n_qsbdje_low": nil, "flxg0v4b_civil_n_qsbdje_high": nil}
)

// checkComboCases fills each case's reply and checks status, cells,
// message and unknowns.
func checkComboCases(t *testing.T, tests []comboCase) {
	t.Helper()
	const statusCols = 7 // product status columns and one per sub-product
	pt := newProductTest(t, "COMBTY11")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u transform.Unknowns
			row, status := pt.fill(t, tt.reply, &u)
			if status != tt.status {
				t.Errorf("Fill() = %s, want %s", status, tt.status)
			}
			if got := pt.get(t, row, "combty11_status"); got != want(string(tt.status)) {
				t.Errorf("combty11_status = %v, want %s", got, tt.status)
			}
			for _, cells := range tt.cells {
				pt.check(t, row, cells)
			}
			if tt.allNull {
				pt.checkNullFeatures(t, row, statusCols)
			}
			msg := pt.get(t, row, "combty11_message")
			if len(tt.messages) == 0 && msg.kind != "null" {
				t.Errorf("combty11_message = %v, want null", msg)
			}
			for _, m := range tt.messages {
				if msg.kind != "string" || !strings.Contains(msg.v.(string), m) {
					t.Errorf("combty11_message = %v, want it to contain %q", msg, m)
				}
			}
			for _, m := range tt.absent {
				if msg.kind == "string" && strings.Contains(msg.v.(string), m) {
					t.Errorf("combty11_message = %v, want it without %q", msg, m)
				}
			}
			if !reflect.DeepEqual(u, tt.unknowns) {
				t.Errorf("Unknowns = %+v, want %+v", u, tt.unknowns)
			}
		})
	}
}

func TestFeaturesCOMBTY11(t *testing.T) {
	tests := []comboCase{
		{
			name:   "fraud report ok, judicial failed",
			reply:  okReply(comboPayload),
			status: transform.StatusOK,
			cells: []map[string]any{{
				"combty11_status": "ok", "combty11_code": 0, "combty11_transaction_id": "T-1", "combty11_queried_at": queriedAt,
				"dwbg8b4d_status": "ok", "flxg0v4b_status": "failed",
				"dwbg8b4d_fraud_score":                                                 85.0,
				"dwbg8b4d_credit_score":                                                nil,
				"dwbg8b4d_check_suggest":                                               3,
				"dwbg8b4d_fraud_rule":                                                  3,
				"dwbg8b4d_risk_warning_total_risk_counts":                              3.0,
				"dwbg8b4d_risk_warning_has_criminal_record":                            1,
				"dwbg8b4d_risk_warning_is_key_person":                                  0,
				"dwbg8b4d_risk_warning_hit_execution_case":                             1,
				"dwbg8b4d_risk_warning_hit_current_overdue":                            nil,
				"dwbg8b4d_overdue_risk_product_has_unsettled_overdue":                  1,
				"dwbg8b4d_overdue_risk_product_current_overdue_amount_code":            "(0,1000)",
				"dwbg8b4d_overdue_risk_product_current_overdue_amount_low":             0.0,
				"dwbg8b4d_overdue_risk_product_current_overdue_amount_high":            1000.0,
				"dwbg8b4d_overdue_risk_product_current_overdue_institution_count_code": "(3,+∞)",
				"dwbg8b4d_overdue_risk_product_current_overdue_institution_count_low":  4.0, // (3,+∞) of whole institutions
				"dwbg8b4d_overdue_risk_product_current_overdue_institution_count_high": nil,
				"dwbg8b4d_overdue_risk_product_total_loan_institutions_code":           "10+",
				"dwbg8b4d_overdue_risk_product_total_loan_institutions_low":            10.0,
				"dwbg8b4d_overdue_risk_product_total_loan_institutions_high":           nil,
			}, flxgNull},
			messages: []string{"FLXG0V4B", "数据源异常"},
			unknowns: transform.Unknowns{Fields: map[string]int64{"COMBTY11.DWBG8B4D.riskWarning.newFlag": 1}},
		},
		{
			name:   "judicial ok with two dishonest-debtor records",
			reply:  okReply(comboJudicial),
			status: transform.StatusOK,
			cells: []map[string]any{{
				"combty11_status": "ok", "dwbg8b4d_status": "no_record", "flxg0v4b_status": "ok",
				"flxg0v4b_sxbzxr_count": 2, "flxg0v4b_xgbzxr_count": 0,
				"flxg0v4b_criminal_dzzm": "盗窃罪", "flxg0v4b_criminal_pcjg": "有期徒刑六个月",
				"flxg0v4b_civil_n_qsbdje_code": "[10000,50000)", "flxg0v4b_civil_n_qsbdje_low": 10000.0,
				"flxg0v4b_civil_n_qsbdje_high": 50000.0,
			}, dwbgNull},
		},
		{
			name: "judicial: several charges, an amount claimed",
			reply: judicialPayload(`{"criminal":{"dzzm":["诈骗罪"," 组织、领导传销活动罪 ",""],"pcjg":"有期徒刑一年，缓刑一年"},
				"civil":{"n_qsbdje":12000.5}}`),
			status: transform.StatusOK,
			cells: []map[string]any{{
				"flxg0v4b_status": "ok", "flxg0v4b_sxbzxr_count": nil,
				"flxg0v4b_criminal_dzzm": "诈骗罪; 组织、领导传销活动罪", "flxg0v4b_criminal_pcjg": "有期徒刑一年，缓刑一年",
				"flxg0v4b_civil_n_qsbdje_code": "12000.5", "flxg0v4b_civil_n_qsbdje_low": 12000.5, "flxg0v4b_civil_n_qsbdje_high": 12000.5,
			}},
		},
		{
			name:   "judicial: charges in one text, an amount as text, an open interval",
			reply:  judicialPayload(`{"criminal":{"dzzm":"盗窃罪,诈骗罪"},"civil":{"n_qsbdje":"(0,1000)"}}`),
			status: transform.StatusOK,
			cells: []map[string]any{{
				"flxg0v4b_criminal_dzzm": "盗窃罪,诈骗罪", "flxg0v4b_criminal_pcjg": nil,
				"flxg0v4b_civil_n_qsbdje_code": "(0,1000)", "flxg0v4b_civil_n_qsbdje_low": 0.0, "flxg0v4b_civil_n_qsbdje_high": 1000.0,
			}},
		},
		{
			name:   "judicial: no case",
			reply:  judicialPayload(`{"criminal":{},"civil":{"n_qsbdje":""}}`),
			status: transform.StatusNoRecord,
			cells:  []map[string]any{{"flxg0v4b_status": "no_record"}, flxgNull},
		},
		{
			name:   "judicial: shapes that are not the documented ones are counted, not guessed at",
			reply:  judicialPayload(`{"criminal":{"count":1,"cases":[{"dzzm":"盗窃罪"}],"dzzm":[{"a":1}]},"civil":{"n_qsbdje":"about 5000"}}`),
			status: transform.StatusOK,
			cells: []map[string]any{{
				"flxg0v4b_criminal_dzzm": nil, "flxg0v4b_civil_n_qsbdje_code": "about 5000",
				"flxg0v4b_civil_n_qsbdje_low": nil, "flxg0v4b_civil_n_qsbdje_high": nil,
			}},
			unknowns: transform.Unknowns{
				Fields: map[string]int64{"COMBTY11.FLXG0V4B.entout.data.criminal.count": 1,
					"COMBTY11.FLXG0V4B.entout.data.criminal.cases": 1},
				Unparsed: map[string]int64{"flxg0v4b_criminal_dzzm": 1, "flxg0v4b_civil_n_qsbdje": 1},
			},
		},
		{
			name: "judicial: criminal and civil beside sxbzxr, as the field table lists them",
			reply: okReply(`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"sxbzxr":[{"ah":"x"}],
				"criminal":{"dzzm":"盗窃罪","pcjg":"有期徒刑六个月"},"civil":{"n_qsbdje":"[10000,50000)"}}}]}`),
			status: transform.StatusOK,
			cells: []map[string]any{{
				"flxg0v4b_sxbzxr_count": 1, "flxg0v4b_criminal_dzzm": "盗窃罪", "flxg0v4b_criminal_pcjg": "有期徒刑六个月",
				"flxg0v4b_civil_n_qsbdje_code": "[10000,50000)", "flxg0v4b_civil_n_qsbdje_low": 10000.0, "flxg0v4b_civil_n_qsbdje_high": 50000.0,
			}},
			messages: []string{"DWBG8B4D: not in the reply"},
		},
		{
			name: "judicial: criminal and civil in entout itself",
			reply: okReply(`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{
				"entout":{"criminal":{"dzzm":"盗窃罪"},"civil":{"n_qsbdje":12000.5}}}}]}`),
			status: transform.StatusOK,
			cells: []map[string]any{{
				"flxg0v4b_criminal_dzzm": "盗窃罪", "flxg0v4b_criminal_pcjg": nil,
				"flxg0v4b_civil_n_qsbdje_code": "12000.5", "flxg0v4b_civil_n_qsbdje_low": 12000.5,
			}},
			messages: []string{"DWBG8B4D: not in the reply"},
		},
		{
			name: "judicial: entout.data first, the other places where it holds nothing",
			reply: okReply(`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{
				"criminal":{"dzzm":"诈骗罪","pcjg":"拘役三个月"},"civil":{"n_qsbdje":"(0,1000)"},
				"entout":{"data":{"criminal":{"dzzm":"盗窃罪","pcjg":null},"civil":{}}}}}]}`),
			status: transform.StatusOK,
			cells: []map[string]any{{
				"flxg0v4b_criminal_dzzm": "盗窃罪", "flxg0v4b_criminal_pcjg": "拘役三个月",
				"flxg0v4b_civil_n_qsbdje_code": "(0,1000)", "flxg0v4b_civil_n_qsbdje_high": 1000.0,
			}},
			messages: []string{"DWBG8B4D: not in the reply"},
		},
		{
			name:     "judicial: empty objects in every place",
			reply:    okReply(`{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"criminal":{},"civil":null,"entout":{"criminal":{},"data":{}}}}]}`),
			status:   transform.StatusNoRecord,
			cells:    []map[string]any{{"flxg0v4b_status": "no_record"}, flxgNull},
			messages: []string{"DWBG8B4D: not in the reply"},
		},
		{
			name: "placeholder entry of an enum",
			reply: okReply(`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"checkSuggest":"建议通过",
				"overdueRiskProduct":{"totalLoanInstitutions":"[1,5)","currentOverdueInstitutionCount":"(1,2)"}}}]}`),
			status: transform.StatusOK,
			cells: []map[string]any{{
				"dwbg8b4d_check_suggest": 1, "dwbg8b4d_overdue_risk_product_total_loan_institutions_low": 1.0,
				"dwbg8b4d_overdue_risk_product_total_loan_institutions_high":           4.0,
				"dwbg8b4d_overdue_risk_product_current_overdue_institution_count_code": "(1,2)",
				"dwbg8b4d_overdue_risk_product_current_overdue_institution_count_low":  nil,
			}},
			unknowns: transform.Unknowns{Placeholders: map[string]int64{"dwbg8b4d_check_suggest": 1},
				Unparsed: map[string]int64{"dwbg8b4d_overdue_risk_product_current_overdue_institution_count": 1}},
			messages: []string{"FLXG0V4B: not in the reply"},
		},
		{
			name: "both failed",
			reply: okReply(`{"responses":[{"api_code":"DWBG8B4D","success":false},
				{"api_code":"FLXG0V4B","success":false,"message":"数据源异常"}]}`),
			status:   transform.StatusFailed,
			cells:    []map[string]any{{"dwbg8b4d_status": "failed", "flxg0v4b_status": "failed", "combty11_code": 0}},
			allNull:  true,
			messages: []string{"DWBG8B4D: success false", "FLXG0V4B: 数据源异常"},
		},
		{
			name: "both answered without data",
			reply: okReply(`{"responses":[{"api_code":"DWBG8B4D","success":true,"data":null},
				{"api_code":"FLXG0V4B","success":true,"data":{}}]}`),
			status:  transform.StatusNoRecord,
			cells:   []map[string]any{{"combty11_status": "no_record", "dwbg8b4d_status": "no_record", "flxg0v4b_status": "no_record"}},
			allNull: true,
		},
		{
			name:     "only an unknown sub-product answered",
			reply:    okReply(`{"responses":[{"api_code":"ABCD1234","success":true,"data":{"x":1}}]}`),
			status:   transform.StatusFailed,
			cells:    []map[string]any{{"dwbg8b4d_status": "failed", "flxg0v4b_status": "failed"}},
			allNull:  true,
			messages: []string{"DWBG8B4D: not in the reply; FLXG0V4B: not in the reply"},
			unknowns: transform.Unknowns{Fields: map[string]int64{"COMBTY11.ABCD1234": 1}},
		},
		{
			name:     "no responses list",
			reply:    okReply(`{"data":{}}`),
			status:   transform.StatusFailed,
			cells:    []map[string]any{{"dwbg8b4d_status": "failed", "flxg0v4b_status": "failed"}},
			allNull:  true,
			messages: []string{"reply has no responses list"},
			unknowns: transform.Unknowns{Fields: map[string]int64{"COMBTY11.data": 1}},
		},
		{
			name:   "failed call",
			reply:  &transform.Reply{Status: transform.StatusFailed, HasCode: true, Code: 1007, Message: "余额不足"},
			status: transform.StatusFailed,
			cells: []map[string]any{{"combty11_status": "failed", "combty11_code": 1007,
				"dwbg8b4d_status": "failed", "flxg0v4b_status": "failed", "combty11_queried_at": nil}},
			allNull:  true,
			messages: []string{"余额不足"},
		},
		{
			name:   "skipped",
			reply:  &transform.Reply{Status: transform.StatusSkipped, Message: "missing authorization_url"},
			status: transform.StatusSkipped,
			cells: []map[string]any{{"combty11_status": "skipped", "combty11_code": nil,
				"dwbg8b4d_status": "skipped", "flxg0v4b_status": "skipped"}},
			allNull:  true,
			messages: []string{"missing authorization_url"},
		},
	}
	checkComboCases(t, tests)
}

// TestFeaturesDeterministic checks that filling the same reply twice gives
// the same cells, whatever the order Go walks maps in.
func TestFeaturesDeterministic(t *testing.T) {
	pt := newProductTest(t, "COMBTY11")
	var u transform.Unknowns
	first, _ := pt.fill(t, okReply(comboPayload), &u)
	for range 20 {
		again, _ := pt.fill(t, okReply(comboPayload), &u)
		if !reflect.DeepEqual(again, first) {
			t.Fatalf("Fill gave different rows for the same reply:\n%v\n%v", first, again)
		}
	}
}

func TestUnknownsMerge(t *testing.T) {
	var total transform.Unknowns
	if !total.Empty() {
		t.Error("zero Unknowns.Empty() = false, want true")
	}
	total.Merge(&transform.Unknowns{Fields: map[string]int64{"A.x": 2}})
	total.Merge(&transform.Unknowns{
		Fields:   map[string]int64{"A.x": 3, "A.y": 1},
		Codes:    map[string]int64{"c=9": 4},
		Unparsed: map[string]int64{"s": 1},
	})
	total.Merge(&transform.Unknowns{})
	w := transform.Unknowns{
		Fields:   map[string]int64{"A.x": 5, "A.y": 1},
		Codes:    map[string]int64{"c=9": 4},
		Unparsed: map[string]int64{"s": 1},
	}
	if !reflect.DeepEqual(total, w) {
		t.Errorf("merged Unknowns = %+v, want %+v", total, w)
	}
	if total.Empty() {
		t.Error("Unknowns.Empty() = true after merging counts, want false")
	}
}

func TestUnknownsSummary(t *testing.T) {
	u := transform.Unknowns{
		Fields:   map[string]int64{"JRZQ9E2A.b": 2, "JRZQ9E2A.a": 2, "JRZQ9E2A.c": 7},
		Codes:    map[string]int64{"xyp_cpl0001=9": 1},
		Unparsed: map[string]int64{},
	}
	tests := []struct {
		n    int
		want string
	}{
		{5, "fields not in the catalog: JRZQ9E2A.c ×7, JRZQ9E2A.a ×2, JRZQ9E2A.b ×2; codes not in their table: xyp_cpl0001=9 ×1"},
		{1, "fields not in the catalog: JRZQ9E2A.c ×7 and 2 more; codes not in their table: xyp_cpl0001=9 ×1"},
	}
	for _, tt := range tests {
		if got := u.Summary(tt.n); got != tt.want {
			t.Errorf("Summary(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	var empty transform.Unknowns
	if got := empty.Summary(3); got != "" {
		t.Errorf("empty Summary(3) = %q, want \"\"", got)
	}
	if got := (&transform.Unknowns{Unparsed: map[string]int64{"s": 1}}).Summary(3); got != "unreadable values: s ×1" {
		t.Errorf("Summary(3) = %q, want %q", got, "unreadable values: s ×1")
	}
}

func TestFeaturesNoNaN(t *testing.T) {
	pt := newProductTest(t, "JRZQ9E2A")
	var u transform.Unknowns
	row, _ := pt.fill(t, okReply(`{"xyp_cpl0081":"Infinity","xyp_model_score_mid":"1e400"}`), &u)
	for i, c := range row[base:] {
		if f, ok := c.v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			t.Errorf("column %s = %v, want a finite number or null", pt.p.Columns()[i].Name, f)
		}
	}
	pt.check(t, row, map[string]any{"xyp_cpl0081": nil, "xyp_model_score_mid": nil})
}

// Sub-product answers for the tests of how responses are read.
const (
	dwData = `{"fraudScore":87,"checkSuggest":"建议拒绝","riskWarning":{"hasCriminalRecord":1,"zz":1}}`
	flData = `{"sxbzxr":[{"ah":"x"}],"xgbzxr":[]}`
	dwOK   = `{"api_code":"DWBG8B4D","success":true,"data":` + dwData + `}`
	flOK   = `{"api_code":"FLXG0V4B","success":true,"data":` + flData + `}`
	idText = "110101199003074477" // an ID number the vendor might echo: never in a message
)

// comboOf is a combo reply of the given answers.
func comboOf(answers ...string) *transform.Reply {
	return okReply(`{"responses":[` + strings.Join(answers, ",") + `]}`)
}

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// dwAnswer is a DWBG8B4D answer with the given success and data (raw JSON;
// "" leaves the key out).
func dwAnswer(success, data string) string {
	var parts []string
	parts = append(parts, `"api_code":"DWBG8B4D"`)
	if success != "" {
		parts = append(parts, `"success":`+success)
	}
	if data != "" {
		parts = append(parts, `"data":`+data)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestFeaturesCOMBTY11Responses: each answer in responses is read as
// defensively as the envelope (see transform's "How Fill reads a combo
// reply"): data as a JSON string holding the object, success in its usual
// spellings, duplicates, answers naming no sub-product, sub-products with no
// answer, answers of the wrong shape.
func TestFeaturesCOMBTY11Responses(t *testing.T) {
	dwCells := map[string]any{"dwbg8b4d_status": "ok", "dwbg8b4d_fraud_score": 87.0, "dwbg8b4d_check_suggest": 3,
		"dwbg8b4d_risk_warning_has_criminal_record": 1}
	flCells := map[string]any{"flxg0v4b_status": "ok", "flxg0v4b_sxbzxr_count": 1, "flxg0v4b_xgbzxr_count": 0}
	zz := func(more ...string) transform.Unknowns {
		u := transform.Unknowns{Fields: map[string]int64{"COMBTY11.DWBG8B4D.riskWarning.zz": 1}}
		for _, m := range more {
			u.Fields[m]++
		}
		return u
	}
	flOnly := func(name, dw string, messages ...string) comboCase {
		return comboCase{name: name, reply: comboOf(dw, flOK), status: transform.StatusOK,
			cells: []map[string]any{{"dwbg8b4d_status": "failed"}, dwbgNull, flCells}, messages: messages,
			absent: []string{idText, "1101011990"}}
	}
	tests := []comboCase{
		{
			name:   "data as JSON strings holding the objects",
			reply:  comboOf(dwAnswer("true", jsonString(dwData)), `{"api_code":"FLXG0V4B","success":true,"data":`+jsonString(flData)+`}`),
			status: transform.StatusOK, cells: []map[string]any{dwCells, flCells}, unknowns: zz(),
		},
		{
			name:   "data as a string with white space and escapes",
			reply:  comboOf(dwAnswer("true", `" \n`+strings.Trim(jsonString(asciiEscapedText(dwData)), `"`)+` \t"`), flOK),
			status: transform.StatusOK, cells: []map[string]any{dwCells, flCells}, unknowns: zz(),
		},
		{
			name:   "data a string holding an empty object",
			reply:  comboOf(dwAnswer("true", `"{}"`), flOK),
			status: transform.StatusOK, cells: []map[string]any{{"dwbg8b4d_status": "no_record"}, dwbgNull, flCells},
		},
		flOnly("data an empty string", dwAnswer("true", `""`), "DWBG8B4D: data is an empty string"),
		flOnly("data a string holding a list", dwAnswer("true", `"[1,2]"`), "DWBG8B4D: data is a string that does not hold a JSON object"),
		flOnly("data a string holding null", dwAnswer("true", `"null"`), "DWBG8B4D: data is a string that does not hold a JSON object"),
		flOnly("data a string holding a number", dwAnswer("true", `"`+idText+`"`), "DWBG8B4D: data is a string that does not hold a JSON object"),
		flOnly("data a string holding a string holding the object", dwAnswer("true", jsonString(jsonString(dwData))),
			"DWBG8B4D: data is a string that does not hold a JSON object"),
		flOnly("data a string that is not JSON", dwAnswer("true", jsonString(`{"fraudScore":`+idText)), "DWBG8B4D: data is a string that is not valid JSON"),
		flOnly("data a string of text", dwAnswer("true", jsonString("查询 "+idText+" 成功")), "DWBG8B4D: data is a string that is not valid JSON"),
		{
			// Cut where it is deeper than the catalog reads (its deepest
			// path, 4 steps, and 5 more): no field in it.
			name:   "data a string holding an object nested too deep",
			reply:  comboOf(dwAnswer("true", jsonString(strings.Repeat(`{"a":`, 310)+`1`+strings.Repeat(`}`, 310))), flOK),
			status: transform.StatusOK, cells: []map[string]any{{"dwbg8b4d_status": "no_record"}, dwbgNull, flCells},
			unknowns: transform.Unknowns{Fields: map[string]int64{"COMBTY11.DWBG8B4D" + strings.Repeat(".a", 9): 1}},
		},
		flOnly("data a list", dwAnswer("true", `[`+dwData+`]`), "DWBG8B4D: data is a list, not an object"),
		flOnly("data an empty list", dwAnswer("true", `[]`), "DWBG8B4D: data is a list, not an object"),
		flOnly("data a number", dwAnswer("true", idText), "DWBG8B4D: data is a number, not an object"),
		flOnly("data a boolean", dwAnswer("true", `true`), "DWBG8B4D: data is a boolean, not an object"),
		{
			name:   "no data and null data: no record",
			reply:  comboOf(dwAnswer("true", ""), `{"api_code":"FLXG0V4B","success":"true","data":null}`),
			status: transform.StatusNoRecord, allNull: true,
			cells: []map[string]any{{"dwbg8b4d_status": "no_record", "flxg0v4b_status": "no_record"}},
		},
		flOnly("success false", dwAnswer("false", dwData), "DWBG8B4D: success false"),
		flOnly("success \"false\"", dwAnswer(`"false"`, dwData), "DWBG8B4D: success false"),
		flOnly("success \"FALSE\"", dwAnswer(`"FALSE"`, dwData), "DWBG8B4D: success false"),
		flOnly("success 0", dwAnswer(`0`, dwData), "DWBG8B4D: success false"),
		flOnly("success 0.0", dwAnswer(`0.0`, dwData), "DWBG8B4D: success false"),
		flOnly("success \"0\", with a message", `{"api_code":"DWBG8B4D","success":"0","message":"数据源异常"}`, "DWBG8B4D: 数据源异常"),
		flOnly("success a string that is no boolean", dwAnswer(`"yes"`, dwData), "DWBG8B4D: success is a string that is not true or false"),
		flOnly("success a string holding an ID number", dwAnswer(`"`+idText+`"`, dwData), "DWBG8B4D: success is a string that is not true or false"),
		flOnly("success a number other than 1 or 0", dwAnswer(`2`, dwData), "DWBG8B4D: success is a number other than 1 or 0"),
		flOnly("success an ID number", dwAnswer(idText, dwData), "DWBG8B4D: success is a number other than 1 or 0"),
		flOnly("success null", dwAnswer(`null`, dwData), "DWBG8B4D: success is null"),
		flOnly("success missing", dwAnswer("", dwData), "DWBG8B4D: success is missing"),
		flOnly("success an object", dwAnswer(`{"ok":true}`, dwData), "DWBG8B4D: success is an object"),
		flOnly("success a list", dwAnswer(`[true]`, dwData), "DWBG8B4D: success is a list"),
		flOnly("success missing, with a message", `{"api_code":"DWBG8B4D","message":"查询 `+idText+` 失败"}`,
			"DWBG8B4D: success is missing (message: 查询 ****************** 失败)"),
		{
			name:   "the same answer twice is one answer",
			reply:  comboOf(dwOK, flOK, dwOK),
			status: transform.StatusOK, cells: []map[string]any{dwCells, flCells}, unknowns: zz(),
		},
		{
			name: "the same data in another order, as a string, success spelt otherwise: one answer",
			reply: comboOf(dwOK, flOK, dwAnswer(`"1"`, jsonString(`{"riskWarning":{"zz":1,"hasCriminalRecord":1},"checkSuggest":"建议拒绝",`+
				`"fraudScore":87,"fraudScore":87}`))),
			status: transform.StatusOK, cells: []map[string]any{dwCells, flCells}, unknowns: zz(),
		},
		{
			name:   "no data, then an empty object: one answer",
			reply:  comboOf(dwAnswer("true", "null"), flOK, dwAnswer("true", `{}`), dwAnswer("1", `"{}"`)),
			status: transform.StatusOK, cells: []map[string]any{{"dwbg8b4d_status": "no_record"}, dwbgNull, flCells},
		},
		{
			name: "two failures: the first one's message",
			reply: comboOf(`{"api_code":"DWBG8B4D","success":false,"message":"第一"}`, flOK,
				`{"api_code":"DWBG8B4D","success":false,"message":"第二"}`),
			status: transform.StatusOK, cells: []map[string]any{{"dwbg8b4d_status": "failed"}, dwbgNull, flCells},
			messages: []string{"DWBG8B4D: 第一"}, absent: []string{"第二"},
		},
		flOnly("two answers with different data: none used", dwOK+`,`+dwAnswer("true", `{"fraudScore":99}`),
			"DWBG8B4D: answered 2 times, differently; none used"),
		flOnly("numbers are compared as written", dwAnswer("true", `{"fraudScore":87}`)+`,`+dwAnswer("true", `{"fraudScore":87.0}`),
			"DWBG8B4D: answered 2 times, differently; none used"),
		flOnly("success, then a failure: none used", dwOK+`,{"api_code":"DWBG8B4D","success":false,"message":"dup failed"}`,
			"DWBG8B4D: answered 2 times, differently; none used"),
		flOnly("a failure, then success: none used", `{"api_code":"DWBG8B4D","success":false}`+`,`+dwOK,
			"DWBG8B4D: answered 2 times, differently; none used"),
		flOnly("data, then no data: none used", dwOK+`,`+dwAnswer("true", "null"), "DWBG8B4D: answered 2 times, differently; none used"),
		flOnly("an unreadable answer, then success: none used", dwAnswer(`"yes"`, dwData)+`,`+dwOK,
			"DWBG8B4D: answered 2 times, differently; none used"),
		flOnly("three answers, one different", dwOK+`,`+dwOK+`,`+dwAnswer("true", `{"fraudScore":99}`),
			"DWBG8B4D: answered 3 times, differently; none used"),
		{
			name:   "a sub-product the catalog does not list is counted",
			reply:  comboOf(dwOK, flOK, `{"api_code":"ZZZZ0000","success":true,"data":{"x":1}}`, `{"api_code":"ZZZZ0000","success":false}`),
			status: transform.StatusOK, cells: []map[string]any{dwCells, flCells}, unknowns: zz("COMBTY11.ZZZZ0000", "COMBTY11.ZZZZ0000"),
		},
		{
			name:   "a sub-product missing from the reply",
			reply:  comboOf(dwOK),
			status: transform.StatusOK, cells: []map[string]any{dwCells, {"flxg0v4b_status": "failed"}, flxgNull},
			messages: []string{"FLXG0V4B: not in the reply"}, unknowns: zz(),
		},
		{
			name:   "an empty responses list",
			reply:  comboOf(),
			status: transform.StatusFailed, allNull: true,
			cells:    []map[string]any{{"dwbg8b4d_status": "failed", "flxg0v4b_status": "failed"}},
			messages: []string{"DWBG8B4D: not in the reply; FLXG0V4B: not in the reply"},
		},
		{
			name:   "answers that are not objects are counted",
			reply:  comboOf(`1`, `"DWBG8B4D"`, `null`, `[`+dwOK+`]`, `true`, dwOK, flOK),
			status: transform.StatusOK, cells: []map[string]any{dwCells, flCells}, unknowns: zz("COMBTY11.responses[]",
				"COMBTY11.responses[]", "COMBTY11.responses[]", "COMBTY11.responses[]", "COMBTY11.responses[]"),
		},
		{
			name: "api_code missing, empty, not text or not a product code is counted, never quoted",
			reply: comboOf(`{"success":true,"data":{"fraudScore":1}}`, `{"api_code":"","success":true}`, `{"api_code":"  ","success":true}`,
				`{"api_code":7,"success":true}`, `{"api_code":null}`, `{"api_code":["DWBG8B4D"]}`, `{"api_code":"`+idText+`"}`,
				`{"api_code":"DW `+idText+`"}`, `{"api_code":"`+strings.Repeat("A", 33)+`"}`, dwOK, flOK),
			status: transform.StatusOK, cells: []map[string]any{dwCells, flCells},
			unknowns: transform.Unknowns{Fields: map[string]int64{"COMBTY11.DWBG8B4D.riskWarning.zz": 1, "COMBTY11.responses[].api_code": 9}},
		},
		{
			name:   "api_code with white space around it",
			reply:  comboOf(`{"api_code":" DWBG8B4D\t","success":true,"data":`+dwData+`}`, flOK),
			status: transform.StatusOK, cells: []map[string]any{dwCells, flCells}, unknowns: zz(),
		},
		{
			name:   "api_code in lower case is another code",
			reply:  comboOf(`{"api_code":"dwbg8b4d","success":true,"data":`+dwData+`}`, flOK),
			status: transform.StatusOK, cells: []map[string]any{{"dwbg8b4d_status": "failed"}, dwbgNull, flCells},
			messages: []string{"DWBG8B4D: not in the reply"},
			unknowns: transform.Unknowns{Fields: map[string]int64{"COMBTY11.dwbg8b4d": 1}},
		},
		{
			name:   "every sub-product failing says why, in catalog order",
			reply:  comboOf(`{"api_code":"FLXG0V4B","success":"no"}`, dwAnswer("true", `"x"`)),
			status: transform.StatusFailed, allNull: true,
			cells:    []map[string]any{{"dwbg8b4d_status": "failed", "flxg0v4b_status": "failed"}},
			messages: []string{"DWBG8B4D: data is a string that is not valid JSON; FLXG0V4B: success is a string that is not true or false"},
		},
	}
	for _, s := range []string{`"true"`, `"True"`, `" TRUE "`, `1`, `1.0`, `"1"`, `1e0`} {
		tests = append(tests, comboCase{name: "success " + s, reply: comboOf(dwAnswer(s, dwData), flOK),
			status: transform.StatusOK, cells: []map[string]any{dwCells, flCells}, unknowns: zz()})
	}
	checkComboCases(t, tests)
}

// asciiEscapedText is JSON text with every non-ASCII character written as
// a \u escape.
func asciiEscapedText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

// answerForm rewrites the answers of a combo reply into another form the
// vendor may send them in.
type answerForm struct {
	name    string
	rewrite func(answers []map[string]json.RawMessage) []map[string]json.RawMessage
	extra   string // an unknown field each reply adds, "" for none
}

// respell gives success as the vendor might spell it.
func respell(yes, no string) func([]map[string]json.RawMessage) []map[string]json.RawMessage {
	return func(answers []map[string]json.RawMessage) []map[string]json.RawMessage {
		for _, a := range answers {
			switch string(a["success"]) {
			case "true":
				a["success"] = json.RawMessage(yes)
			case "false":
				a["success"] = json.RawMessage(no)
			}
		}
		return answers
	}
}

// dataAsString sends every answer's data object as a JSON string holding it.
func dataAsString(answers []map[string]json.RawMessage) []map[string]json.RawMessage {
	for _, a := range answers {
		if d := bytes.TrimSpace(a["data"]); len(d) > 0 && d[0] == '{' {
			a["data"] = json.RawMessage(jsonString(string(d)))
		}
	}
	return answers
}

// TestFeaturesCOMBTY11AnswerForms: the fake vendor's replies, with one
// sub-product failing in some, give exactly the same cells, statuses and
// unknowns whatever form their answers take: data as a JSON string holding
// the object, success spelt as a string or a number, every answer sent
// twice (once as a string), api_code with white space, an answer of a
// sub-product the catalog does not list (counted).
func TestFeaturesCOMBTY11AnswerForms(t *testing.T) {
	forms := []answerForm{
		{name: "data as a JSON string", rewrite: dataAsString},
		{name: `success "true"/"false"`, rewrite: respell(`"true"`, `"false"`)},
		{name: `success "True"/"False"`, rewrite: respell(`"True"`, `"False"`)},
		{name: "success 1/0", rewrite: respell(`1`, `0`)},
		{name: `success "1"/"0"`, rewrite: respell(`"1"`, `"0"`)},
		{name: "data as a string, success 1/0", rewrite: func(a []map[string]json.RawMessage) []map[string]json.RawMessage {
			return respell(`1`, `0`)(dataAsString(a))
		}},
		{name: "every answer twice, the second with data as a string", rewrite: func(answers []map[string]json.RawMessage) []map[string]json.RawMessage {
			var again []map[string]json.RawMessage
			for _, a := range answers {
				b := map[string]json.RawMessage{}
				maps.Copy(b, a)
				again = append(again, b)
			}
			return append(answers, dataAsString(again)...)
		}},
		{name: "api_code with white space", rewrite: func(answers []map[string]json.RawMessage) []map[string]json.RawMessage {
			for _, a := range answers {
				var code string
				_ = json.Unmarshal(a["api_code"], &code)
				a["api_code"] = json.RawMessage(jsonString(" " + code + "\n"))
			}
			return answers
		}},
		{name: "an unknown sub-product", extra: "COMBTY11.ZZZZ0000", rewrite: func(answers []map[string]json.RawMessage) []map[string]json.RawMessage {
			return append(answers, map[string]json.RawMessage{"api_code": json.RawMessage(`"ZZZZ0000"`),
				"success": json.RawMessage(`true`), "data": json.RawMessage(`{"x":1}`)})
		}},
	}
	pt := newProductTest(t, "COMBTY11")
	var payloads [][]byte
	for i, pl := range syntheticPayloads(t, tianyuantest.ProductRiskReport, 300, 0) {
		payloads = append(payloads, pl)
		if i%3 == 0 { // one sub-product failing, with a message or without
			var report struct{ Responses []map[string]json.RawMessage }
			if err := json.Unmarshal(pl, &report); err != nil {
				t.Fatal(err)
			}
			failed := report.Responses[i%2]
			failed["success"], failed["data"] = json.RawMessage(`false`), json.RawMessage(`null`)
			if i%2 == 0 {
				failed["message"] = json.RawMessage(`"查询失败"`)
			}
			payloads = append(payloads, mustJSON(t, map[string]any{"responses": report.Responses}))
		}
	}
	fill := func(pl []byte) (testRow, transform.Status, []transform.Status, transform.Unknowns) {
		row := make(testRow, len(pt.p.Columns()))
		subs := make([]transform.Status, 2)
		var u transform.Unknowns
		status := pt.p.FillSubs(row, 0, okReply(string(pl)), &u, subs)
		return row, status, subs, u
	}
	for _, form := range forms {
		t.Run(form.name, func(t *testing.T) {
			for i, pl := range payloads {
				var report struct{ Responses []map[string]json.RawMessage }
				if err := json.Unmarshal(pl, &report); err != nil {
					t.Fatal(err)
				}
				reformed := mustJSON(t, map[string]any{"responses": form.rewrite(report.Responses)})
				wantRow, wantStatus, wantSubs, wantU := fill(pl)
				if form.extra != "" {
					wantU.Fields = maps.Clone(wantU.Fields)
					if wantU.Fields == nil {
						wantU.Fields = map[string]int64{}
					}
					wantU.Fields[form.extra]++
				}
				row, status, subs, u := fill(reformed)
				if status != wantStatus || !slices.Equal(subs, wantSubs) {
					t.Errorf("payload %d: status %s, sub-products %v, want %s, %v", i, status, subs, wantStatus, wantSubs)
				}
				for c := range row {
					if row[c] != wantRow[c] {
						t.Errorf("payload %d: %s = %v, want %v", i, pt.p.Columns()[c].Name, row[c], wantRow[c])
					}
				}
				if !reflect.DeepEqual(u, wantU) {
					t.Errorf("payload %d: Unknowns = %+v, want %+v", i, u, wantU)
				}
				if t.Failed() {
					t.Fatalf("payload %.300s, as %.300s", pl, reformed)
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFeaturesDuplicateKeys: a key the catalog reads, given twice in one
// object, is one value when the values mean the same JSON; when they
// differ, the field (every field below it, for an object) is null and
// counted in Unparsed, and the rest of the row is filled as usual.
func TestFeaturesDuplicateKeys(t *testing.T) {
	tests := []struct {
		name     string
		product  string
		payload  string
		status   transform.Status
		cells    map[string]any
		message  string
		unknowns transform.Unknowns
	}{
		{name: "same value twice", product: "JRZQ9E2A",
			payload: `{"xyp_cpl0001":"1","xyp_cpl0081":"0.5","xyp_cpl0001":"1"}`, status: transform.StatusOK,
			cells: map[string]any{"xyp_cpl0001_code": "1", "xyp_cpl0001_low": 1.0, "xyp_cpl0081": 0.5}},
		{name: "same text, escaped differently", product: "JRZQ9E2A",
			payload: `{"xyp_cpl0001":"1","xyp_cpl0001":"\u0031"}`, status: transform.StatusOK,
			cells: map[string]any{"xyp_cpl0001_code": "1"}},
		{name: "different codes", product: "JRZQ9E2A",
			payload: `{"xyp_cpl0001":"1","xyp_cpl0081":"0.5","xyp_cpl0001":"5"}`, status: transform.StatusOK,
			cells:    map[string]any{"xyp_cpl0001_code": nil, "xyp_cpl0001_low": nil, "xyp_cpl0001_high": nil, "xyp_cpl0081": 0.5},
			unknowns: transform.Unknowns{Unparsed: map[string]int64{"xyp_cpl0001": 1}}},
		{name: "a string and a number", product: "JRZQ9E2A",
			payload: `{"xyp_model_score_high":"600","xyp_model_score_high":600,"xyp_cpl0081":"0.5"}`, status: transform.StatusOK,
			cells:    map[string]any{"xyp_model_score_high": nil, "xyp_cpl0081": 0.5},
			unknowns: transform.Unknowns{Unparsed: map[string]int64{"xyp_model_score_high": 1}}},
		{name: "numbers as written", product: "JRZQ9E2A",
			payload: `{"xyp_cpl0081":0.5,"xyp_cpl0081":0.50,"xyp_cpl0044":"1"}`, status: transform.StatusOK,
			cells:    map[string]any{"xyp_cpl0081": nil, "xyp_cpl0044": 1},
			unknowns: transform.Unknowns{Unparsed: map[string]int64{"xyp_cpl0081": 1}}},
		{name: "three times, the last one differs", product: "JRZQ9E2A",
			payload: `{"xyp_cpl0044":"1","xyp_cpl0044":"1","xyp_cpl0044":"0","xyp_cpl0081":"0.5"}`, status: transform.StatusOK,
			cells:    map[string]any{"xyp_cpl0044": nil},
			unknowns: transform.Unknowns{Unparsed: map[string]int64{"xyp_cpl0044": 1}}},
		{name: "three times, the middle one differs", product: "JRZQ9E2A",
			payload: `{"xyp_cpl0044":"1","xyp_cpl0044":"0","xyp_cpl0044":"1","xyp_cpl0081":"0.5"}`, status: transform.StatusOK,
			cells:    map[string]any{"xyp_cpl0044": nil},
			unknowns: transform.Unknowns{Unparsed: map[string]int64{"xyp_cpl0044": 1}}},
		{name: "empty then a value", product: "JRZQ9E2A",
			payload: `{"xyp_cpl0001":"","xyp_cpl0001":"1","xyp_cpl0081":"0.5"}`, status: transform.StatusOK,
			cells:    map[string]any{"xyp_cpl0001_code": nil},
			unknowns: transform.Unknowns{Unparsed: map[string]int64{"xyp_cpl0001": 1}}},
		{name: "the only field given differently: the row is still answered", product: "JRZQ9E2A",
			payload: `{"xyp_cpl0001":"1","xyp_cpl0001":"5"}`, status: transform.StatusOK,
			unknowns: transform.Unknowns{Unparsed: map[string]int64{"xyp_cpl0001": 1}}},
		{name: "an unknown key twice: counted once", product: "JRZQ9E2A",
			payload: `{"zz":1,"xyp_cpl0001":"1","zz":2}`, status: transform.StatusOK,
			cells:    map[string]any{"xyp_cpl0001_code": "1"},
			unknowns: transform.Unknowns{Fields: map[string]int64{"JRZQ9E2A.zz": 1}}},
		{name: "a sub-product's score twice", product: "COMBTY11",
			payload: `{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":87,"checkSuggest":"建议拒绝","fraudScore":99}}]}`,
			status:  transform.StatusOK, message: "FLXG0V4B: not in the reply",
			cells:    map[string]any{"dwbg8b4d_status": "ok", "dwbg8b4d_fraud_score": nil, "dwbg8b4d_check_suggest": 3},
			unknowns: transform.Unknowns{Unparsed: map[string]int64{"dwbg8b4d_fraud_score": 1}}},
		{name: "an object twice, alike but for the order of its keys", product: "COMBTY11",
			payload: `{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"riskWarning":{"hasCriminalRecord":1,"isKeyPerson":0},"riskWarning":{"isKeyPerson":0,"hasCriminalRecord":1}}}]}`,
			status:  transform.StatusOK, message: "FLXG0V4B: not in the reply",
			cells: map[string]any{"dwbg8b4d_risk_warning_has_criminal_record": 1, "dwbg8b4d_risk_warning_is_key_person": 0}},
		{name: "an object twice, differently: every field in it", product: "COMBTY11",
			payload: `{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":87,"riskWarning":{"hasCriminalRecord":1,"zz":1},"riskWarning":{"hasCriminalRecord":0}}}]}`,
			status:  transform.StatusOK, message: "FLXG0V4B: not in the reply",
			cells: map[string]any{"dwbg8b4d_fraud_score": 87.0, "dwbg8b4d_risk_warning_has_criminal_record": nil},
			unknowns: transform.Unknowns{Unparsed: map[string]int64{"dwbg8b4d_risk_warning_total_risk_counts": 1,
				"dwbg8b4d_risk_warning_has_criminal_record": 1, "dwbg8b4d_risk_warning_is_key_person": 1,
				"dwbg8b4d_risk_warning_hit_execution_case": 1, "dwbg8b4d_risk_warning_hit_current_overdue": 1,
				"dwbg8b4d_risk_warning_frequent_application_recent": 1, "dwbg8b4d_risk_warning_is_traffic_related": 1}}},
		{name: "a list twice, differently", product: "COMBTY11",
			payload: `{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"sxbzxr":[1],"xgbzxr":[],"sxbzxr":[1,2]}}]}`,
			status:  transform.StatusOK, message: "DWBG8B4D: not in the reply",
			cells:    map[string]any{"flxg0v4b_sxbzxr_count": nil, "flxg0v4b_xgbzxr_count": 0},
			unknowns: transform.Unknowns{Unparsed: map[string]int64{"flxg0v4b_sxbzxr_count": 1}}},
		{name: "a field given differently at its first path: its other paths are not tried", product: "COMBTY11",
			payload: `{"responses":[{"api_code":"FLXG0V4B","success":true,"data":{"entout":{"data":{"criminal":{"dzzm":"a","dzzm":"b"}}},"criminal":{"dzzm":"c"}}}]}`,
			status:  transform.StatusOK, message: "DWBG8B4D: not in the reply",
			cells:    map[string]any{"flxg0v4b_criminal_dzzm": nil},
			unknowns: transform.Unknowns{Unparsed: map[string]int64{"flxg0v4b_criminal_dzzm": 1}}},
		{name: "responses twice, differently", product: "COMBTY11",
			payload: `{"responses":[],"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":87}}]}`,
			status:  transform.StatusFailed, message: "reply gives responses more than once, differently; none used",
			cells: map[string]any{"dwbg8b4d_status": "failed", "dwbg8b4d_fraud_score": nil}},
		{name: "responses twice, alike", product: "COMBTY11",
			payload: `{"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":87}}],"responses":[{"api_code":"DWBG8B4D","success":true,"data":{"fraudScore":87}}]}`,
			status:  transform.StatusOK, message: "FLXG0V4B: not in the reply",
			cells: map[string]any{"dwbg8b4d_fraud_score": 87.0}},
	}
	for _, tt := range tests {
		for _, escaped := range []bool{false, true} { // read by fastjson as it is, and through encoding/json
			payload := tt.payload
			name := tt.name
			if escaped {
				payload = strings.Replace(payload, `{`, "{\"zz\\ud800\":0,", 1)
				name += ", read the slow way"
				if tt.unknowns.Fields == nil {
					tt.unknowns.Fields = map[string]int64{}
				}
				tt.unknowns.Fields = maps.Clone(tt.unknowns.Fields)
				tt.unknowns.Fields[tt.product+".zz\uFFFD"]++
			}
			t.Run(name, func(t *testing.T) {
				pt := newProductTest(t, tt.product)
				var u transform.Unknowns
				row, status := pt.fill(t, okReply(payload), &u)
				if status != tt.status {
					t.Errorf("Fill() = %s, want %s", status, tt.status)
				}
				pt.check(t, row, tt.cells)
				msg := pt.get(t, row, strings.ToLower(tt.product)+"_message")
				if tt.message == "" && msg.kind != "null" || tt.message != "" && (msg.kind != "string" || !strings.Contains(msg.v.(string), tt.message)) {
					t.Errorf("message = %v, want %q", msg, tt.message)
				}
				if !reflect.DeepEqual(u, tt.unknowns) {
					t.Errorf("Unknowns = %+v, want %+v", u, tt.unknowns)
				}
			})
		}
	}
}

// TestFeaturesControlCharacters: a value holding a control character
// (C0 but tab, line feed and carriage return; DEL; C1) is not text, in any
// field type: its cells are null and the field is counted in Unparsed, the
// row otherwise filled as usual; every output then writes the same null.
// Tab, line feed and carriage return inside a text are kept.
func TestFeaturesControlCharacters(t *testing.T) {
	controls := map[string]string{"NUL": "\x00", "SOH": "\x01", "BS": "\b", "VT": "\v", "FF": "\f", "ESC": "\x1b",
		"US": "\x1f", "DEL": "\x7f", "PAD U+0080": "\u0080", "NEL U+0085": "\u0085", "APC U+009F": "\u009f"}
	type field struct {
		product, path, column string
		value                 string   // a value the field takes, as JSON text with %s where the character goes
		nulls                 []string // its columns
	}
	fields := []field{
		{"JRZQ9E2A", "xyp_cpl0001", "xyp_cpl0001", `"1%s"`, []string{"xyp_cpl0001_code", "xyp_cpl0001_low", "xyp_cpl0001_high"}},
		{"JRZQ9E2A", "xyp_cpl0044", "xyp_cpl0044", `"1%s"`, []string{"xyp_cpl0044"}},
		{"JRZQ9E2A", "xyp_cpl0081", "xyp_cpl0081", `"0.5%s"`, []string{"xyp_cpl0081"}},
		{"JRZQ9E2A", "xyp_model_score_high", "xyp_model_score_high", `"6%s00"`, []string{"xyp_model_score_high"}},
		{"COMBTY11", "checkSuggest", "dwbg8b4d_check_suggest", `"建议%s拒绝"`, []string{"dwbg8b4d_check_suggest"}},
		{"COMBTY11", "fraudScore", "dwbg8b4d_fraud_score", `"87%s"`, []string{"dwbg8b4d_fraud_score"}},
		{"COMBTY11", "overdueRiskProduct.currentOverdueAmount", "dwbg8b4d_overdue_risk_product_current_overdue_amount", `"(0,1000)%s"`,
			[]string{"dwbg8b4d_overdue_risk_product_current_overdue_amount_code", "dwbg8b4d_overdue_risk_product_current_overdue_amount_low"}},
		{"COMBTY11", "entout.data.criminal.dzzm", "flxg0v4b_criminal_dzzm", `"盗窃%s罪"`, []string{"flxg0v4b_criminal_dzzm"}},
		{"COMBTY11", "entout.data.criminal.pcjg", "flxg0v4b_criminal_pcjg", `["有期徒刑","a%sb"]`, []string{"flxg0v4b_criminal_pcjg"}},
		{"COMBTY11", "entout.data.civil.n_qsbdje", "flxg0v4b_civil_n_qsbdje", `"(0,1000)%s"`,
			[]string{"flxg0v4b_civil_n_qsbdje_code", "flxg0v4b_civil_n_qsbdje_low", "flxg0v4b_civil_n_qsbdje_high"}},
	}
	// payload places value at the field's path, beside another field that
	// keeps the row answered.
	payload := func(f field, value string) string {
		parts := strings.Split(f.path, ".")
		obj := value
		for i := len(parts) - 1; i >= 0; i-- {
			obj = `{"` + parts[i] + `":` + obj + `}`
		}
		switch {
		case f.product == "JRZQ9E2A":
			return strings.TrimSuffix(obj, "}") + `,"xyp_cpl0028":"1"}`
		case strings.HasPrefix(f.column, "dwbg8b4d"):
			return `{"responses":[{"api_code":"DWBG8B4D","success":true,"data":` + strings.TrimSuffix(obj, "}") + `,"creditScore":700}}]}`
		}
		return `{"responses":[{"api_code":"FLXG0V4B","success":true,"data":` + strings.TrimSuffix(obj, "}") + `,"xgbzxr":[]}}]}`
	}
	for _, f := range fields {
		pt := newProductTest(t, f.product)
		for name, c := range controls {
			for _, escaped := range []bool{false, true} {
				ch := c
				if escaped {
					ch = fmt.Sprintf(`\u%04x`, []rune(c)[0])
				} else {
					ch = strings.Trim(jsonString(c), `"`) // JSON escapes C0 characters itself
				}
				t.Run(fmt.Sprintf("%s %s escaped=%v", f.column, name, escaped), func(t *testing.T) {
					var u transform.Unknowns
					row, status := pt.fill(t, okReply(payload(f, fmt.Sprintf(f.value, ch))), &u)
					if status != transform.StatusOK {
						t.Errorf("Fill() = %s, want ok", status)
					}
					if unicode.IsSpace([]rune(c)[0]) && strings.HasSuffix(strings.TrimSuffix(f.value, "]"), `%s"`) {
						// VT, FF and NEL are white space: trimmed from the
						// ends of a value like any other.
						if got := pt.get(t, row, f.nulls[0]); got.kind == "null" || !u.Empty() {
							t.Errorf("%s = %v, Unknowns %+v; want the value read, nothing counted", f.nulls[0], got, u)
						}
						return
					}
					for _, col := range f.nulls {
						if got := pt.get(t, row, col); got.kind != "null" {
							t.Errorf("%s = %v, want null", col, got)
						}
					}
					if got := u.Unparsed[f.column]; got != 1 || len(u.Codes) != 0 {
						t.Errorf("Unparsed[%s] = %d, Codes %v; want 1 and none", f.column, got, u.Codes)
					}
				})
			}
		}
	}
	t.Run("tab, line feed and carriage return inside a text", func(t *testing.T) {
		pt := newProductTest(t, "COMBTY11")
		var u transform.Unknowns
		row, _ := pt.fill(t, okReply(payload(fields[7], `"盗窃\t罪\r\n抢劫罪"`)), &u)
		pt.check(t, row, map[string]any{"flxg0v4b_criminal_dzzm": "盗窃\t罪\r\n抢劫罪"})
		if !u.Empty() {
			t.Errorf("Unknowns = %+v, want none", u)
		}
	})
}

// TestFeaturesDeepUnknownValue: a value nested deeper than the parser
// reads (300 levels; encoding/json's 10000 too) off the catalog's paths is
// cut where it is deeper than the catalog reads, replaced by null and
// counted as an unknown field by its path; the catalog's fields keep their
// values. Invalid JSON beside it is still reported as such.
func TestFeaturesDeepUnknownValue(t *testing.T) {
	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + `1` + strings.Repeat(`}`, n) }
	list := func(n int) string { return strings.Repeat(`[`, n) + strings.Repeat(`]`, n) }
	// JRZQ9E2A's paths are one step: values kept to 6 levels, the top
	// object being 1.
	cutName := "JRZQ9E2A.zz_deep" + strings.Repeat(".a", 5)
	tests := []struct {
		name     string
		payload  string
		status   transform.Status
		message  string
		unknowns transform.Unknowns
	}{
		{name: "301 levels", payload: `{"xyp_cpl0001":"1","zz_deep":` + deep(300) + `,"xyp_cpl0081":"0.5"}`, status: transform.StatusOK,
			unknowns: transform.Unknowns{Fields: map[string]int64{cutName: 1}}},
		{name: "600 levels, first", payload: `{"zz_deep":` + deep(600) + `,"xyp_cpl0001":"1","xyp_cpl0081":"0.5"}`, status: transform.StatusOK,
			unknowns: transform.Unknowns{Fields: map[string]int64{cutName: 1}}},
		{name: "100000 levels", payload: `{"xyp_cpl0001":"1","zz_deep":` + deep(100000) + `,"xyp_cpl0081":"0.5"}`, status: transform.StatusOK,
			unknowns: transform.Unknowns{Fields: map[string]int64{cutName: 1}}},
		{name: "lists 100000 levels", payload: `{"xyp_cpl0001":"1","zz_deep":` + list(100000) + `,"xyp_cpl0081":"0.5"}`, status: transform.StatusOK,
			unknowns: transform.Unknowns{Fields: map[string]int64{"JRZQ9E2A.zz_deep": 1}}},
		{name: "twice, and a catalog key twice alike", payload: `{"xyp_cpl0001":"1","zz_deep":` + deep(500) + `,"xyp_cpl0081":"0.5","zz_deep":` + deep(700) + `,"xyp_cpl0001":"1"}`,
			status: transform.StatusOK, unknowns: transform.Unknowns{Fields: map[string]int64{cutName: 1}}},
		{name: "with a string that is not UTF-8", payload: "{\"xyp_cpl0001\":\"1\",\"zz\":\"\xff\",\"zz_deep\":" + deep(400) + `,"xyp_cpl0081":"0.5"}`,
			status: transform.StatusOK, unknowns: transform.Unknowns{Fields: map[string]int64{cutName: 1, "JRZQ9E2A.zz": 1}}},
		{name: "not JSON past it", payload: `{"xyp_cpl0001":"1","zz_deep":` + deep(100000) + `,"xyp_cpl0081":}`,
			status: transform.StatusFailed, message: "unreadable payload: not valid JSON"},
		{name: "not JSON inside it", payload: `{"xyp_cpl0001":"1","zz_deep":` + strings.Replace(deep(100000), `1`, `01`, 1) + `}`,
			status: transform.StatusFailed, message: "unreadable payload: not valid JSON"},
		{name: "not JSON past it, under 10000 levels", payload: `{"xyp_cpl0001":"1","zz_deep":` + deep(500) + `,"xyp_cpl0081":}`,
			status: transform.StatusFailed, message: "unreadable payload: not valid JSON (at byte"},
	}
	pt := newProductTest(t, "JRZQ9E2A")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u transform.Unknowns
			row, status := pt.fill(t, okReply(tt.payload), &u)
			if status != tt.status {
				t.Errorf("Fill() = %s, want %s", status, tt.status)
			}
			msg := pt.get(t, row, "jrzq9e2a_message")
			if tt.message == "" && msg.kind != "null" || tt.message != "" && (msg.kind != "string" || !strings.HasPrefix(msg.v.(string), tt.message)) {
				t.Errorf("message = %v, want %q", msg, tt.message)
			}
			if tt.status == transform.StatusOK {
				pt.check(t, row, map[string]any{"xyp_cpl0001_code": "1", "xyp_cpl0081": 0.5})
			}
			if !reflect.DeepEqual(u, tt.unknowns) {
				t.Errorf("Unknowns = %+v, want %+v", u, tt.unknowns)
			}
		})
	}
}
