package tianyuan

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// ErrDecrypt is wrapped by every error of [Cipher.Decrypt]: the text is not
// base64, has a wrong length, or does not decrypt with the key.
var ErrDecrypt = errors.New("tianyuan: cannot decrypt")

// ErrPayload is wrapped by the errors of [Cipher.Payload] that concern the
// decrypted content: no data, or data that is not a JSON object.
var ErrPayload = errors.New("tianyuan: unusable payload")

// Cipher encrypts request parameters and decrypts reply data: AES-128-CBC,
// PKCS7 padding, a random 16-byte IV prepended to the ciphertext, the whole
// encoded as standard base64. A Cipher is safe for concurrent use.
type Cipher struct {
	block cipher.Block
	// CBC decrypters, reset with a new IV for each reply: making one copies
	// the expanded key, half a kilobyte, and there is one reply per row.
	decrypters sync.Pool // of ivBlockMode
}

// ivBlockMode is a BlockMode whose IV can be reset, as the CBC decrypters
// of crypto/cipher are.
type ivBlockMode interface {
	cipher.BlockMode
	SetIV([]byte)
}

// decryptCBC deciphers buf in place with iv.
func (c *Cipher) decryptCBC(iv, buf []byte) {
	m, ok := c.decrypters.Get().(ivBlockMode)
	if ok {
		m.SetIV(iv)
	} else {
		mode := cipher.NewCBCDecrypter(c.block, iv)
		if m, ok = mode.(ivBlockMode); !ok {
			mode.CryptBlocks(buf, buf)
			return
		}
	}
	m.CryptBlocks(buf, buf)
	c.decrypters.Put(m)
}

// NewCipher returns a Cipher for a 16-byte key (see [ParseKey]).
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("tianyuan: access key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("tianyuan: access key: %w", err)
	}
	return &Cipher{block: block}, nil
}

// Encrypt encrypts plain under a fresh random IV and returns
// base64(IV ‖ ciphertext).
func (c *Cipher) Encrypt(plain []byte) (string, error) {
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("tianyuan: random IV: %w", err)
	}
	return c.encryptWithIV(plain, iv)
}

func (c *Cipher) encryptWithIV(plain, iv []byte) (string, error) {
	if len(iv) != aes.BlockSize {
		return "", fmt.Errorf("tianyuan: IV must be %d bytes, got %d", aes.BlockSize, len(iv))
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := make([]byte, aes.BlockSize+len(plain)+pad)
	copy(buf, iv)
	copy(buf[aes.BlockSize:], plain)
	for i := aes.BlockSize + len(plain); i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	ct := buf[aes.BlockSize:]
	cipher.NewCBCEncrypter(c.block, iv).CryptBlocks(ct, ct)
	return base64.StdEncoding.EncodeToString(buf), nil
}

// Decrypt reverses [Cipher.Encrypt]. It checks the base64, the length (an IV
// and at least one block, a whole number of blocks) and the PKCS7 padding
// strictly; every failure wraps [ErrDecrypt]. It never panics.
func (c *Cipher) Decrypt(b64 string) ([]byte, error) {
	return c.decryptInto(nil, b64)
}

// decryptInto is Decrypt working in buf's memory, grown when it is too
// small: the ciphertext is copied to the front of buf and decoded behind
// it, and the plaintext, deciphered in place, is returned.
func (c *Cipher) decryptInto(buf []byte, b64 string) ([]byte, error) {
	b64 = strings.TrimSpace(b64)
	n := base64.StdEncoding.DecodedLen(len(b64))
	if need := len(b64) + n; cap(buf) < need {
		buf = make([]byte, need)
	}
	src := buf[:len(b64)]
	copy(src, b64)
	raw := buf[len(b64) : len(b64)+n]
	n, err := base64.StdEncoding.Decode(raw, src)
	if err != nil {
		return nil, fmt.Errorf("%w: not standard base64", ErrDecrypt)
	}
	raw = raw[:n]
	if len(raw) < 2*aes.BlockSize {
		return nil, fmt.Errorf("%w: %d bytes is too short for an IV and one block", ErrDecrypt, len(raw))
	}
	if len(raw)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte blocks", ErrDecrypt, len(raw), aes.BlockSize)
	}
	iv, plain := raw[:aes.BlockSize], raw[aes.BlockSize:]
	c.decryptCBC(iv, plain)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > aes.BlockSize {
		return nil, fmt.Errorf("%w: bad padding (wrong key?)", ErrDecrypt)
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, fmt.Errorf("%w: bad padding (wrong key?)", ErrDecrypt)
		}
	}
	return plain[:len(plain)-pad], nil
}

// Payload decrypts r.Data and returns the JSON object it holds. When the
// plaintext is a JSON string whose content is a JSON object, the object is
// returned. Empty data, data that does not decrypt (wrapping [ErrDecrypt])
// and data that is not an object (wrapping [ErrPayload]) are errors; the
// messages never quote the plaintext.
func (c *Cipher) Payload(r *Reply) (json.RawMessage, error) {
	plain, err := c.Object(r)
	if err != nil {
		return nil, err
	}
	if !json.Valid(plain) {
		return nil, fmt.Errorf("%w: decrypted data is not valid JSON", ErrPayload)
	}
	return json.RawMessage(plain), nil
}

// Object is Payload without the final validation of the whole JSON text:
// it decrypts, unwraps a JSON string holding the object, and checks that
// what remains starts as an object. For callers that parse the object
// anyway and report what they cannot read.
func (c *Cipher) Object(r *Reply) ([]byte, error) {
	return c.ObjectInto(nil, r)
}

// ObjectInto is Object working in buf's memory (grown when too small)
// rather than in new memory: the object returned may share buf, and is
// valid until buf is reused. For callers that decrypt many replies.
func (c *Cipher) ObjectInto(buf []byte, r *Reply) ([]byte, error) {
	if r == nil || r.Data == "" {
		return nil, fmt.Errorf("%w: the reply carries no data", ErrPayload)
	}
	plain, err := c.decryptInto(buf, r.Data)
	if err != nil {
		return nil, err
	}
	plain = trimJSON(plain)
	if len(plain) > 0 && plain[0] == '"' {
		var inner string
		if err := json.Unmarshal(plain, &inner); err != nil {
			return nil, fmt.Errorf("%w: decrypted data is not valid JSON", ErrPayload)
		}
		plain = trimJSON([]byte(inner))
	}
	if len(plain) == 0 || plain[0] != '{' {
		return nil, fmt.Errorf("%w: decrypted data is not a JSON object (found %s)", ErrPayload, jsonKind(plain))
	}
	return plain, nil
}

// trimJSON drops a UTF-8 byte order mark and surrounding white space.
func trimJSON(b []byte) []byte {
	b = bytes.TrimPrefix(bytes.TrimSpace(b), []byte("\uFEFF"))
	return bytes.TrimSpace(b)
}

// jsonKind names what a JSON text starts with, for error messages that must
// not quote the text.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "a number"
	}
	return "text that is not JSON"
}
