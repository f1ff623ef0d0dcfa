package tianyuantest

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// echo expands the placeholders of Faults.CodeMessage for a request with
// params.
func (v *Vendor) echo(message string, params map[string]string) string {
	id, mobile := params["id_card"], params["mobile_no"]
	split := func(s string, sep string, at ...int) string {
		if len(s) <= at[len(at)-1] {
			return s
		}
		parts, from := make([]string, 0, len(at)+1), 0
		for _, i := range at {
			parts = append(parts, s[from:i])
			from = i
		}
		return strings.Join(append(parts, s[from:]), sep)
	}
	k := hex.EncodeToString(v.key)
	return strings.NewReplacer(
		"{key}", k, "{KEY}", strings.ToUpper(k), "{access_id}", v.accessID,
		"{id_card}", id, "{id_card_spaced}", split(id, " ", 6, 14), "{id_card_pct}", split(id, "%20", 6),
		"{mobile}", mobile, "{mobile_dashed}", split(mobile, "-", 3, 7), "{mobile_spaced}", split(mobile, " ", 3, 7),
	).Replace(message)
}

// replyMessage answers code with message, as an envelope of strings.
func (v *Vendor) replyMessage(w http.ResponseWriter, product string, code int, message string) (int, int) {
	v.mu.Lock()
	v.seq++
	tx := fmt.Sprintf("%s-%06d-%08x", product, v.seq, v.rng.Uint32())
	v.mu.Unlock()
	body := mustMarshal(map[string]any{"code": code, "message": message, "transaction_id": tx})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return http.StatusOK, code
}
