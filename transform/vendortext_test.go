package transform

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendVendorMessage(t *testing.T) {
	tests := []struct{ name, msg, want string }{
		{"plain", "查询失败", "查询失败"},
		{"an ID number echoed", "身份证 11010119900307663X 无记录", "身份证 ****************** 无记录"},
		{"a mobile echoed", "mobile 13800138000 not found", "mobile *********** not found"},
		{"short numbers kept", "code 2001 at 12:30", "code 2001 at 12:30"},
		{"control characters", "a\x00b\nc", "a b c"},
		{"invalid bytes", "a\xffb", "a b"},
		{"long", strings.Repeat("错", 50), strings.Repeat("错", 40) + "…"},
		{"a mobile with dashes", "mob 137-1652-6336", "mob ***-****-****"},
		{"a mobile with spaces", "mob 137 1652 6336", "mob *** **** ****"},
		{"an ID number split 6 8 4", "id 110101 19900307 663X", "id ****** ******** ****"},
		{"an ID number split by %20", "?id=110101%2019900307663X", "?id=******%20************"},
		{"a key echoed", "key 3f9a1c7be20d4f6a8b5c9e1d2a7f0b4c bad", "key ******************************** bad"},
		{"a date kept", "on 2026-01-10", "on 2026-01-10"},
		{"a number cut by the limit is masked whole", strings.Repeat("错", 39) + "137-1652-6336", strings.Repeat("错", 39) + "***…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendVendorMessage(nil, []byte(tt.msg))); got != tt.want {
				t.Errorf("appendVendorMessage(%q) = %q, want %q", tt.msg, got, tt.want)
			}
		})
	}
}

// TestPayloadProblemQuotesNothing: whatever the payload, the message that
// says it cannot be read holds none of its text.
func TestPayloadProblemQuotesNothing(t *testing.T) {
	const secret = "11010119900307663X"
	payloads := []string{
		`{"name": "` + secret + `" ` + secret,
		`{"fraudScore": 12, "hasCriminalRecord": ` + secret + `}`,
		`["` + secret + `"]`,
		`"` + secret + `"`,
		`{"x": 1.}` + secret,
		`{"` + secret + "\x11" + `": 1}`,
		strings.Repeat(`{"a":`, 400) + `"` + secret + `"` + strings.Repeat("}", 400),
	}
	for _, p := range payloads {
		var st fillState
		_, err := st.parse([]byte(p))
		if err == nil {
			var v map[string]any
			err = json.Unmarshal([]byte(p), &v)
		}
		if err == nil {
			t.Errorf("%.40q: read, want an error", p)
			continue
		}
		msg := payloadProblem(err)
		if strings.Contains(msg, "110101") || strings.Contains(msg, "fraud") || strings.Contains(msg, "\x11") {
			t.Errorf("payloadProblem(%.40q) = %q: quotes the payload", p, msg)
		}
		if !strings.HasPrefix(msg, "unreadable payload: ") {
			t.Errorf("payloadProblem = %q, want it to say the payload is unreadable", msg)
		}
	}
}
