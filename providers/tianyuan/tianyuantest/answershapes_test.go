package tianyuantest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// TestAnswerShapes: COMBTY11's sub-product answers carry data as a JSON
// string holding the very object the default answer carries, success spelt
// as Shapes.SubSuccess says (failed answers too), and the answers of
// ExtraSubs sub-products the catalog does not list; in the envelope and in
// the plain shape.
func TestAnswerShapes(t *testing.T) {
	tests := []struct {
		shapes     tianyuantest.Shapes
		yes, no    string // success as sent
		dataString bool
	}{
		{tianyuantest.Shapes{}, `true`, `false`, false},
		{tianyuantest.Shapes{SubSuccess: tianyuantest.SuccessBool}, `true`, `false`, false},
		{tianyuantest.Shapes{SubDataAsString: true}, `true`, `false`, true},
		{tianyuantest.Shapes{SubSuccess: tianyuantest.SuccessString}, `"true"`, `"false"`, false},
		{tianyuantest.Shapes{SubSuccess: tianyuantest.SuccessNumber, SubDataAsString: true}, `1`, `0`, true},
		{tianyuantest.Shapes{SubSuccess: tianyuantest.SuccessDigit, ExtraSubs: 2, Combo: tianyuantest.ComboPlain}, `"1"`, `"0"`, false},
		{tianyuantest.Shapes{SubDataAsString: true, ExtraSubs: 1, DataAsString: true, Judicial: tianyuantest.JudicialData}, `true`, `false`, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.shapes), func(t *testing.T) {
			tt.shapes.SubFailure = 0.3
			srv, v := tianyuantest.NewServer(tianyuantest.Options{Shapes: tt.shapes})
			defer srv.Close()
			c := demoClient(t, srv)
			plain := tt.shapes
			plain.SubDataAsString, plain.SubSuccess, plain.ExtraSubs, plain.DataAsString, plain.Combo = false, "", 0, false, ""
			ref, _ := tianyuantest.NewServer(tianyuantest.Options{Shapes: plain})
			defer ref.Close()
			rc := demoClient(t, ref)
			failed := 0
			for i := range 20 {
				params := applicant("COMBTY11", i)
				answers := func(call func() ([]byte, error)) []map[string]json.RawMessage {
					t.Helper()
					p, err := call()
					if err != nil {
						t.Fatalf("applicant %d: %v", i, err)
					}
					var report struct{ Responses []map[string]json.RawMessage }
					if err := json.Unmarshal(p, &report); err != nil {
						t.Fatalf("applicant %d: %v", i, err)
					}
					return report.Responses
				}
				got := answers(func() ([]byte, error) {
					r, err := c.Call(context.Background(), "COMBTY11", params)
					if err != nil {
						return nil, err
					}
					return c.Cipher().Payload(r)
				})
				want := answers(func() ([]byte, error) {
					r, err := rc.Call(context.Background(), "COMBTY11", params)
					if err != nil {
						return nil, err
					}
					return rc.Cipher().Payload(r)
				})
				if len(got) != len(want)+tt.shapes.ExtraSubs {
					t.Fatalf("applicant %d: %d answers, want %d", i, len(got), len(want)+tt.shapes.ExtraSubs)
				}
				for j, g := range got {
					if j >= len(want) {
						code := fmt.Sprintf("%q", tianyuantest.ExtraSub(j-len(want)+1))
						if string(g["api_code"]) != code || string(g["success"]) != tt.yes {
							t.Errorf("applicant %d: extra answer %d: api_code %s success %s, want %s %s", i, j, g["api_code"], g["success"], code, tt.yes)
						}
						continue
					}
					w := want[j]
					if !bytes.Equal(g["api_code"], w["api_code"]) || !bytes.Equal(g["message"], w["message"]) {
						t.Errorf("applicant %d, answer %d: %s %s, want %s %s", i, j, g["api_code"], g["message"], w["api_code"], w["message"])
					}
					wantSuccess := tt.yes
					if string(w["success"]) == "false" {
						wantSuccess = tt.no
						failed++
					}
					if string(g["success"]) != wantSuccess {
						t.Errorf("applicant %d, answer %d: success %s, want %s", i, j, g["success"], wantSuccess)
					}
					data := g["data"]
					if tt.dataString && string(w["data"]) != "null" {
						var inner string
						if err := json.Unmarshal(data, &inner); err != nil {
							t.Fatalf("applicant %d, answer %d: data %.30s…, want a JSON string", i, j, data)
						}
						data = json.RawMessage(inner)
					}
					if !sameJSON(t, data, w["data"]) {
						t.Errorf("applicant %d, answer %d: data %.200s, want %.200s", i, j, data, w["data"])
					}
				}
			}
			if failed == 0 {
				t.Errorf("no answer failed, want some (SubFailure 0.3)")
			}
			if got := v.Billed("COMBTY11"); got != 20 {
				t.Errorf("Billed = %d, want 20", got)
			}
		})
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%.40s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%.40s: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// TestAnswerShapesValidate: the answer shapes the fake does not know are
// refused, naming what is wrong.
func TestAnswerShapesValidate(t *testing.T) {
	tests := []struct {
		s    tianyuantest.Shapes
		want string
	}{
		{tianyuantest.Shapes{SubSuccess: tianyuantest.SuccessDigit, SubDataAsString: true, ExtraSubs: 3}, ""},
		{tianyuantest.Shapes{SubSuccess: "yes"}, "sub-product success"},
		{tianyuantest.Shapes{ExtraSubs: -1}, "ExtraSubs"},
		{tianyuantest.Shapes{ExtraSubs: 10000}, "ExtraSubs"},
	}
	for _, tt := range tests {
		err := tt.s.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: Validate = %v, want %q", tt.s, err, tt.want)
		}
	}
}
