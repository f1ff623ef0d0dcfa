package tianyuantest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
)

// The fake carries its own small implementation of the vendor's encryption,
// independent of package tianyuan, so that a mistake there shows up as a
// failed call instead of being mirrored here.

var errDecrypt = errors.New("cannot decrypt")

func encrypt(block cipher.Block, plain []byte) string {
	n := aes.BlockSize - len(plain)%aes.BlockSize
	buf := make([]byte, aes.BlockSize+len(plain)+n)
	rand.Read(buf[:aes.BlockSize])
	copy(buf[aes.BlockSize:], plain)
	for i := aes.BlockSize + len(plain); i < len(buf); i++ {
		buf[i] = byte(n)
	}
	ct := buf[aes.BlockSize:]
	cipher.NewCBCEncrypter(block, buf[:aes.BlockSize]).CryptBlocks(ct, ct)
	return base64.StdEncoding.EncodeToString(buf)
}

func decrypt(block cipher.Block, s string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(raw) < 2*aes.BlockSize || len(raw)%aes.BlockSize != 0 {
		return nil, errDecrypt
	}
	plain := make([]byte, len(raw)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, raw[:aes.BlockSize]).CryptBlocks(plain, raw[aes.BlockSize:])
	n := int(plain[len(plain)-1])
	if n < 1 || n > aes.BlockSize {
		return nil, errDecrypt
	}
	for _, b := range plain[len(plain)-n:] {
		if int(b) != n {
			return nil, errDecrypt
		}
	}
	return plain[:len(plain)-n], nil
}
