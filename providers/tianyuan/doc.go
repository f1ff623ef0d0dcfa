// Package tianyuan speaks the Tianyuan risk-data API: AES-128-CBC request and
// reply encryption, the JSON reply envelope, vendor codes as typed errors and
// their classification, and an HTTP client for one product call.
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
// whose data is encrypted the same way. [Client.Call] returns the envelope as
// a [Reply] (data still encrypted, so it can be stored as received) and
// [Cipher.Payload] opens it.
//
// Errors come in four kinds: [*HTTPError] (non-2xx status), [*ProtocolError]
// (a body that is not a readable envelope), [*CodeError] (a readable envelope
// with a non-zero code) and wrapped transport errors. [CodePolicy.Classify]
// sorts any of them into a [Class] that tells the caller whether to retry,
// stop the run, fail the row or record "no record".
//
// No error message of this package contains request parameters or the key.
package tianyuan
