package tianyuantest

import (
	"encoding/json"
	"fmt"
)

// makeOverdue rewrites a synthetic payload so that the applicant is
// currently overdue: JRZQ9E2A's xyp_cpl0044 becomes "1" (with one
// institution and the lowest amount currently overdue when none was),
// and COMBTY11's DWBG8B4D says hitCurrentOverdue 1 and hasUnsettledOverdue
// 逾期. Everything else stays as it was.
func makeOverdue(product string, payload []byte) ([]byte, error) {
	switch product {
	case ProductMultiLending:
		var m map[string]string
		if err := json.Unmarshal(payload, &m); err != nil {
			return nil, err
		}
		m["xyp_cpl0044"] = "1"
		if m["xyp_cpl0071"] == "" {
			m["xyp_cpl0071"], m["xyp_cpl0072"] = "1", "1"
		}
		return json.Marshal(m)
	case ProductRiskReport:
		var m struct {
			Responses []map[string]any `json:"responses"`
		}
		if err := json.Unmarshal(payload, &m); err != nil {
			return nil, err
		}
		for _, r := range m.Responses {
			data, _ := r["data"].(map[string]any)
			if r["api_code"] != "DWBG8B4D" || data == nil {
				continue
			}
			if rw, ok := data["riskWarning"].(map[string]any); ok {
				rw["hitCurrentOverdue"] = 1
			}
			if od, ok := data["overdueRiskProduct"].(map[string]any); ok {
				od["hasUnsettledOverdue"] = "逾期"
				if od["currentOverdueAmount"] == "" {
					od["currentOverdueAmount"] = "(0,1000)"
					od["currentOverdueInstitutionCount"] = "(0,1]"
				}
			}
		}
		return json.Marshal(m)
	}
	return nil, fmt.Errorf("tianyuantest: unknown product %q", product)
}
