package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/scorepipe/scorepipe/redact"
)

// vendorMessageLimit caps a vendor's message kept in <product>_message, in
// bytes.
const vendorMessageLimit = 120

// vendorMessageRead is how much of a vendor's message is read: the masking
// reads past vendorMessageLimit, so that a number cut short is masked
// whole.
const vendorMessageRead = 4096

// appendVendorMessage appends a message a vendor wrote (a sub-product's
// "message") as it may be shown: printable characters only, numbers that
// look like an ID number or a mobile (whatever separates their digits) and
// hex strings as long as a key masked (see redact.Text), and at most
// vendorMessageLimit bytes.
func appendVendorMessage(dst, msg []byte) []byte {
	shown := make([]byte, 0, min(len(msg), vendorMessageRead))
	for len(msg) > 0 && len(shown) < vendorMessageRead {
		r, n := utf8.DecodeRune(msg)
		msg = msg[n:]
		if r == utf8.RuneError || !unicode.IsPrint(r) { // invalid bytes and U+FFFD too
			r = ' '
		}
		shown = utf8.AppendRune(shown, r)
	}
	s := redact.Text(string(shown))
	if len(s) <= vendorMessageLimit && len(msg) == 0 {
		return append(dst, s...)
	}
	i := min(len(s), vendorMessageLimit)
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return append(append(dst, s[:i]...), "…"...)
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
	case errors.Is(err, errNotJSON):
		return "unreadable payload: not valid JSON"
	case strings.Contains(err.Error(), "too big depth"):
		return fmt.Sprintf("unreadable payload: a value nested deeper than %d levels", fastjson.MaxDepth)
	}
	return "unreadable payload: not a JSON object that can be read"
}
