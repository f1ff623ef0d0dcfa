package tianyuan

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// TestClientRedactsItsCredentials: whatever reply carries the vendor's
// text (a code, an HTTP error, an unreadable reply), the client's access
// id and key, in any form the vendor might echo, appear neither in the
// reply nor in the error.
func TestClientRedactsItsCredentials(t *testing.T) {
	const accessID = "acct-7f3e-prod"
	rawKey := "my raw key 16 by and more"
	key := []byte(rawKey[:16])
	hexKey := hex.EncodeToString(key)
	forms := map[string]string{"hex": hexKey, "HEX": strings.ToUpper(hexKey), "base64": base64.StdEncoding.EncodeToString(key),
		"raw": string(key), "as configured": rawKey, "access id": accessID, "ACCESS ID": strings.ToUpper(accessID)}
	c, err := NewClient(ClientConfig{BaseURL: "http://127.0.0.1:1", AccessID: accessID, Key: key, AccessKey: rawKey})
	if err != nil {
		t.Fatal(err)
	}
	bodies := []struct {
		name   string
		status int
		body   string
	}{
		{"code error", 200, `{"code":2001,"message":"MSG","transaction_id":"T-MSG"}`},
		{"HTTP error with a code", 500, `{"code":1001,"message":"MSG","transaction_id":"T"}`},
		{"HTTP error without a code", 502, `{"message":"MSG"}`},
		{"unreadable reply", 200, `{"code":"x","message":"MSG","transaction_id":"T-MSG"}`},
		{"HTTP error with a success answer", 500, `{"code":0,"message":"MSG","data":null}`},
	}
	for _, b := range bodies {
		for form, secret := range forms {
			t.Run(b.name+"/"+form, func(t *testing.T) {
				body := strings.ReplaceAll(b.body, "MSG", "echo "+secret+" end")
				reply, err := c.reply("JRZQ9E2A", b.status, "", []byte(body), time.Now())
				if err == nil {
					t.Fatal("no error")
				}
				if reply != nil && (strings.Contains(reply.Message, secret) || strings.Contains(reply.TransactionID, secret)) {
					t.Errorf("reply holds the %s: %q, %q", form, reply.Message, reply.TransactionID)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error holds the %s: %v", form, err)
				}
				if !strings.Contains(err.Error(), "[access ") {
					t.Errorf("error does not say what was taken out: %v", err)
				}
			})
		}
	}
}

// TestSanitizeMasksNumbersCutShort: a number the limit cuts is masked as a
// whole, whatever separates its digits.
func TestSanitizeMasksNumbersCutShort(t *testing.T) {
	tests := []struct {
		name, in string
		limit    int
		want     string
	}{
		{"mobile dashed, cut", "mob 137-1652-6336", 10, "mob ***-**…"},
		{"ID spaced, cut", "id 510104 19760101 7207", 12, "id ****** **…"},
		{"mobile spaced, whole", "mob 137 1652 6336 end", 40, "mob *** **** **** end"},
		{"code kept", "vendor code 1002 on 2026-01-10", 40, "vendor code 1002 on 2026-01-10"},
		{"control characters", "a\x00b\n137\t1652\t6336", 40, "a b *** **** ****"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitize([]byte(tt.in), tt.limit); got != tt.want {
				t.Errorf("sanitize(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
			}
		})
	}
}
