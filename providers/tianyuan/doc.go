// Package tianyuan speaks the Tianyuan risk-data API: AES-128-CBC request and
// reply encryption, the JSON reply body in both its shapes, vendor codes as
// typed errors and their classification, and an HTTP client for one product
// call.
//
// A call is
//
//	POST {base}/api/v1/{PRODUCT}?t={13-digit unix ms}
//	Content-Type: application/json
//	Access-Id: {access id}
//
//	{"data": BASE64(IV ‖ AES-128-CBC(PKCS7(json params)))}
//
// and the vendor answers with an envelope
//
//	{"code": 0, "message": "...", "transaction_id": "...", "data": BASE64(IV ‖ ciphertext)}
//
// whose data is encrypted the same way, or, as COMBTY11's documentation
// reads it, with the report itself as plain JSON:
//
//	{"responses": [{"api_code": "DWBG8B4D", "success": true, "data": {...}}, ...]}
//
// The shape is decided by what the body holds. [Client.Call] returns either
// as a [Reply] whose Data is encrypted (an envelope's data as received, or a
// plain body encrypted with the client's key), so it can be stored as
// received without plaintext, and [Cipher.Payload] opens it.
//
// Errors come in six kinds: [*HTTPError] (a status that is not 2xx),
// [*RedirectError] (a 3xx: redirects are never followed), [*ProtocolError]
// (a reply that cannot be understood or read to its end, which the vendor
// may have billed), [*NoReplyError] (a request sent that got no reply,
// which the vendor may have billed too), [*CodeError] (a readable reply
// with a non-zero code) and wrapped transport errors (before the request
// was sent). [CodePolicy.Classify] sorts any of them into a [Class] that tells
// the caller whether to retry, stop the run, fail the row or record "no
// record", and [CodePolicy.Retrier] whether one more attempt is worth it.
//
// No error message of this package contains request parameters, the key or
// a piece of a reply's contents; the vendor's own message is kept, made
// printable, with long digit runs masked.
package tianyuan
