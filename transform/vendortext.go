package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// vendorMessageLimit caps a vendor's message kept in <product>_message, in
// bytes.
const vendorMessageLimit = 120

// appendVendorMessage appends a message a vendor wrote (a sub-product's
// "message") as it may be shown: printable characters only, runs of six
// digits or more (an ID number or a mobile a vendor might echo) masked,
// and at most vendorMessageLimit bytes.
func appendVendorMessage(dst, msg []byte) []byte {
	start, used := len(dst), 0
	for len(msg) > 0 {
		r, n := utf8.DecodeRune(msg)
		msg = msg[n:]
		if r == utf8.RuneError || !unicode.IsPrint(r) { // invalid bytes and U+FFFD too
			r = ' '
		}
		if used+utf8.RuneLen(r) > vendorMessageLimit {
			dst = append(dst, "…"...)
			break
		}
		used += utf8.RuneLen(r)
		dst = utf8.AppendRune(dst, r)
	}
	shown := dst[start:]
	for i := 0; i < len(shown); {
		j := i
		for j < len(shown) && shown[j] >= '0' && shown[j] <= '9' {
			j++
		}
		if j-i >= 6 {
			if j < len(shown) && (shown[j] == 'X' || shown[j] == 'x') {
				j++
			}
			for k := i; k < j; k++ {
				shown[k] = '*'
			}
		}
		i = max(j, i+1)
	}
	return dst
}

// payloadProblem describes why a decrypted payload could not be read,
// without quoting any of it: parsers' messages do (encoding/json names the
// character it stopped at, fastjson the text after it).
func payloadProblem(err error) string {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("unreadable payload: not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		return "unreadable payload: not a JSON object"
	case strings.Contains(err.Error(), "too big depth"):
		return fmt.Sprintf("unreadable payload: a value nested deeper than %d levels", fastjson.MaxDepth)
	}
	return "unreadable payload: not a JSON object that can be read"
}
