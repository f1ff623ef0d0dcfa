package tianyuantest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// How a COMBTY11 sub-product answer's success is sent (Shapes.SubSuccess).
const (
	SuccessBool   = "bool"   // true or false; the default
	SuccessString = "string" // "true" or "false"
	SuccessNumber = "number" // 1 or 0
	SuccessDigit  = "digit"  // "1" or "0"
)

// ExtraSub names the i-th (from 1) sub-product the fake adds to every
// COMBTY11 report with Shapes.ExtraSubs: ZZZZ0001, ZZZZ0002, ... The
// documents list the "main" sub-products; a report may hold others.
func ExtraSub(i int) string { return fmt.Sprintf("ZZZZ%04d", i) }

// validateAnswers checks the shapes of COMBTY11's sub-product answers.
func (s Shapes) validateAnswers() error {
	if !slices.Contains([]string{"", SuccessBool, SuccessString, SuccessNumber, SuccessDigit}, s.SubSuccess) {
		return fmt.Errorf("tianyuantest: sub-product success %q, want %s, %s, %s or %s", s.SubSuccess, SuccessBool, SuccessString, SuccessNumber, SuccessDigit)
	}
	if s.ExtraSubs < 0 || s.ExtraSubs > 9999 {
		return fmt.Errorf("tianyuantest: ExtraSubs = %d, want 0 to 9999", s.ExtraSubs)
	}
	return nil
}

// reshapeAnswers applies the shapes of the sub-product answers to a
// COMBTY11 report: data sent as a JSON string holding the object, success
// spelt as a string or a number, answers of sub-products the catalog does
// not list. Other products' payloads are returned as they are.
func (s Shapes) reshapeAnswers(product string, payload []byte) []byte {
	if product != ProductRiskReport || !s.SubDataAsString && (s.SubSuccess == "" || s.SubSuccess == SuccessBool) && s.ExtraSubs == 0 {
		return payload
	}
	var report map[string]json.RawMessage
	var answers []map[string]json.RawMessage
	if json.Unmarshal(payload, &report) != nil || json.Unmarshal(report["responses"], &answers) != nil {
		return payload
	}
	for i := 1; i <= s.ExtraSubs; i++ {
		answers = append(answers, map[string]json.RawMessage{"api_code": mustMarshal(ExtraSub(i)),
			"success": json.RawMessage(`true`), "data": mustMarshal(map[string]int{"score": i})})
	}
	for _, a := range answers {
		if d := bytes.TrimSpace(a["data"]); s.SubDataAsString && len(d) > 0 && d[0] == '{' {
			a["data"] = mustMarshal(string(d))
		}
		yes := string(a["success"]) == "true"
		switch s.SubSuccess {
		case SuccessString:
			a["success"] = mustMarshal(fmt.Sprint(yes))
		case SuccessNumber:
			a["success"] = mustMarshal(successDigit(yes))
		case SuccessDigit:
			a["success"] = mustMarshal(fmt.Sprint(successDigit(yes)))
		}
	}
	report["responses"] = mustMarshal(answers)
	return mustMarshal(report)
}

func successDigit(yes bool) int {
	if yes {
		return 1
	}
	return 0
}
