package tianyuan

import (
	"encoding/base64"
	"encoding/hex"
	"unicode/utf8"

	"github.com/scorepipe/scorepipe/redact"
)

// What a vendor's echo of the client's credentials becomes.
const (
	redactedKey      = "[access key]"
	redactedAccessID = "[access id]"
)

// credentialSecrets returns the client's credentials as a vendor might
// echo them: the access id, and the key as configured, as the hex and the
// base64 of its 16 bytes, and as those bytes when they are text (the raw
// key format).
func credentialSecrets(cfg ClientConfig) *redact.Secrets {
	var s redact.Secrets
	s.Add(cfg.AccessKey, redactedKey)
	s.Add(hex.EncodeToString(cfg.Key), redactedKey)
	s.Add(base64.StdEncoding.EncodeToString(cfg.Key), redactedKey)
	s.Add(base64.RawURLEncoding.EncodeToString(cfg.Key), redactedKey)
	if utf8.Valid(cfg.Key) {
		s.Add(string(cfg.Key), redactedKey)
	}
	s.Add(cfg.AccessID, redactedAccessID)
	return &s
}

// redactCredentials takes the client's credentials out of what the vendor
// wrote in a reply (its message and transaction id), before anything
// keeps, logs or shows it: the reply, the reply store, errors, the audit
// log and the output.
func (c *Client) redactCredentials(b *body, perr *ProtocolError) {
	b.message, b.transactionID = c.secrets.Replace(b.message), c.secrets.Replace(b.transactionID)
	if perr != nil {
		perr.Message, perr.TransactionID = c.secrets.Replace(perr.Message), c.secrets.Replace(perr.TransactionID)
	}
}
