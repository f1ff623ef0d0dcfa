package transform

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
)

// Keyer derives identity keys: HMAC-SHA256 with a local secret over the
// normalised id_card|name|mobile. The key is the reply store's key and the
// applicant_key join column; without the secret it reveals nothing.
type Keyer struct {
	mac hash.Hash
	buf []byte
	sum []byte
}

// MinSecretLen is the shortest secret a Keyer accepts.
const MinSecretLen = 16

// NewKeyer returns a Keyer for the secret. A Keyer is not safe for
// concurrent use; make one per goroutine.
func NewKeyer(secret []byte) (*Keyer, error) {
	if len(secret) < MinSecretLen {
		return nil, errors.New("identity secret must have at least 16 bytes")
	}
	return &Keyer{mac: hmac.New(sha256.New, secret)}, nil
}

// Key returns the identity key of a normalised applicant: 32 hex characters
// (the first 128 bits of the HMAC).
func (k *Keyer) Key(a *Applicant) string {
	k.buf = append(k.buf[:0], a.IDCard...)
	k.buf = append(k.buf, '|')
	k.buf = append(k.buf, a.Name...)
	k.buf = append(k.buf, '|')
	k.buf = append(k.buf, a.Mobile...)
	k.mac.Reset()
	k.mac.Write(k.buf)
	k.sum = k.mac.Sum(k.sum[:0])
	return hex.EncodeToString(k.sum[:16])
}
