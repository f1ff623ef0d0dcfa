package tianyuantest_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

func TestCurrentlyOverdue(t *testing.T) {
	chosen := func(idCard string) bool { return strings.HasSuffix(idCard, "3") || strings.HasSuffix(idCard, "6") }
	srv, _ := tianyuantest.NewServer(tianyuantest.Options{CurrentlyOverdue: chosen})
	defer srv.Close()
	c := demoClient(t, srv)
	for _, product := range []string{"JRZQ9E2A", "COMBTY11"} {
		for i := range 40 {
			p := applicant(product, i)
			r, err := c.Call(context.Background(), product, p)
			if err != nil {
				t.Fatalf("%s applicant %d: %v", product, i, err)
			}
			got, err := c.Cipher().Payload(r)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := tianyuantest.SyntheticPayload(product, p, 0)
			if err != nil {
				t.Fatal(err)
			}
			overdue, rest := overdueOf(t, product, got)
			wasOverdue, plainRest := overdueOf(t, product, plain)
			if want := chosen(p["id_card"]) || wasOverdue; overdue != want {
				t.Errorf("%s applicant %d: overdue = %v, want %v", product, i, overdue, want)
			}
			if !maps.Equal(rest, plainRest) {
				t.Errorf("%s applicant %d: fields other than the overdue ones changed:\ngot  %v\nwant %v", product, i, rest, plainRest)
			}
		}
	}
}

// overdueOf says whether a payload has the applicant currently overdue,
// and returns its other fields, flattened to text.
func overdueOf(t *testing.T, product string, payload []byte) (bool, map[string]string) {
	t.Helper()
	rest := map[string]string{}
	if product == "JRZQ9E2A" {
		var m map[string]string
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range m {
			if k != "xyp_cpl0044" && k != "xyp_cpl0071" && k != "xyp_cpl0072" {
				rest[k] = v
			}
		}
		return m["xyp_cpl0044"] == "1", rest
	}
	var m struct {
		Responses []struct {
			APICode string          `json:"api_code"`
			Data    json.RawMessage `json:"data"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	overdue := false
	for _, r := range m.Responses {
		if r.APICode != "DWBG8B4D" {
			rest[r.APICode] = string(r.Data)
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(r.Data, &d); err != nil {
			t.Fatal(err)
		}
		rw := d["riskWarning"].(map[string]any)
		od := d["overdueRiskProduct"].(map[string]any)
		flag := rw["hitCurrentOverdue"].(float64) == 1
		if status := od["hasUnsettledOverdue"] == "逾期"; status != flag {
			t.Errorf("hitCurrentOverdue %v but hasUnsettledOverdue %v", rw["hitCurrentOverdue"], od["hasUnsettledOverdue"])
		}
		overdue = flag
		delete(rw, "hitCurrentOverdue")
		for _, k := range []string{"hasUnsettledOverdue", "currentOverdueAmount", "currentOverdueInstitutionCount"} {
			delete(od, k)
		}
		b, _ := json.Marshal(d)
		rest["DWBG8B4D"] = string(b)
	}
	return overdue, rest
}
