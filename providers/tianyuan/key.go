package tianyuan

import (
	"encoding/hex"
	"fmt"
)

// KeySize is the AES-128 key length in bytes.
const KeySize = 16

// KeyFormat says how an access key string becomes the 16-byte AES key.
type KeyFormat string

const (
	// KeyHex hex-decodes a 32-character key into 16 bytes, as the vendor's
	// public clients do. It is the default.
	KeyHex KeyFormat = "hex"
	// KeyRaw takes the first 16 bytes of the key string itself, as the
	// Python sample in the vendor documentation does
	// (key.encode('utf-8')[:16]).
	KeyRaw KeyFormat = "raw"
)

// ParseKey turns an access key string into the AES key according to format
// ("" means [KeyHex]). Error messages give lengths, never the key.
func ParseKey(key string, format KeyFormat) ([]byte, error) {
	switch format {
	case "", KeyHex:
		if len(key) != 2*KeySize {
			return nil, fmt.Errorf("tianyuan: access key: expected %d hex characters, got %d", 2*KeySize, len(key))
		}
		b, err := hex.DecodeString(key)
		if err != nil {
			return nil, fmt.Errorf("tianyuan: access key: expected %d hex characters, got a non-hex character", 2*KeySize)
		}
		return b, nil
	case KeyRaw:
		if len(key) < KeySize {
			return nil, fmt.Errorf("tianyuan: access key: raw format needs at least %d bytes, got %d", KeySize, len(key))
		}
		b := make([]byte, KeySize)
		copy(b, key)
		return b, nil
	default:
		return nil, fmt.Errorf("tianyuan: access key format %q: want %q or %q", string(format), KeyHex, KeyRaw)
	}
}
