package tianyuan

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// An independent vector, made with OpenSSL 3.0:
//
//	printf '%s' '{"auth_authorize_file_code":"AUTH20251210001","name":"张三"}' > pt.txt
//	(printf '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f'
//	 openssl enc -aes-128-cbc -K 2b7e151628aed2a6abf7158809cf4f3c \
//	   -iv 000102030405060708090a0b0c0d0e0f -in pt.txt) | base64 -w0
const (
	vectorKeyHex = "2b7e151628aed2a6abf7158809cf4f3c"
	vectorIVHex  = "000102030405060708090a0b0c0d0e0f"
	vectorPlain  = `{"auth_authorize_file_code":"AUTH20251210001","name":"张三"}`
	vectorB64    = "AAECAwQFBgcICQoLDA0OD5Blw1uDmecoA98Yqu4KtcQpQzr+Pso6jwk6Nk7fNwyCw+WGQ1ieiplo0b1bTsaUMeovBl+5LGAvlfmGZLHurbQ="
)

func vectorCipher(t testing.TB) *Cipher {
	t.Helper()
	key, err := ParseKey(vectorKeyHex, KeyHex)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOpenSSLVector(t *testing.T) {
	c := vectorCipher(t)
	t.Run("decrypt", func(t *testing.T) {
		got, err := c.Decrypt(vectorB64)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != vectorPlain {
			t.Errorf("Decrypt = %q, want %q", got, vectorPlain)
		}
	})
	t.Run("encrypt with fixed IV", func(t *testing.T) {
		iv, _ := hex.DecodeString(vectorIVHex)
		got, err := c.encryptWithIV([]byte(vectorPlain), iv)
		if err != nil {
			t.Fatal(err)
		}
		if got != vectorB64 {
			t.Errorf("encryptWithIV = %s, want %s", got, vectorB64)
		}
	})
}

func TestRoundTrip(t *testing.T) {
	c := vectorCipher(t)
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 1000} {
		plain := bytes.Repeat([]byte("a"), n)
		enc, err := c.Encrypt(plain)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(enc)
		if want := 16 + (n/16+1)*16; len(raw) != want {
			t.Errorf("len %d: ciphertext %d bytes, want %d", n, len(raw), want)
		}
		got, err := c.Decrypt(enc)
		if err != nil {
			t.Fatalf("len %d: %v", n, err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("len %d: round trip = %q", n, got)
		}
	}
	a, _ := c.Encrypt([]byte("same"))
	b, _ := c.Encrypt([]byte("same"))
	if a == b {
		t.Error("two encryptions share an IV")
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		format  KeyFormat
		want    string // hex of the key
		wantErr string
	}{
		{"hex default", vectorKeyHex, "", vectorKeyHex, ""},
		{"hex", strings.ToUpper(vectorKeyHex), KeyHex, vectorKeyHex, ""},
		{"hex short", "abcd", KeyHex, "", "expected 32 hex characters, got 4"},
		{"hex not hex", strings.Repeat("zz", 16), KeyHex, "", "expected 32 hex characters"},
		{"raw takes 16 bytes", vectorKeyHex, KeyRaw, hex.EncodeToString([]byte(vectorKeyHex[:16])), ""},
		{"raw short", "0123456789", KeyRaw, "", "at least 16 bytes, got 10"},
		{"unknown format", vectorKeyHex, "base64", "", "format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey(tt.key, tt.format)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				if len(tt.key) >= 4 && strings.Contains(err.Error(), tt.key) {
					t.Errorf("error quotes the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tt.want {
				t.Errorf("key = %x, want %s", got, tt.want)
			}
		})
	}
	// The same string read as hex and as raw gives different keys: a
	// reply encrypted under one does not open under the other.
	hk, _ := ParseKey(vectorKeyHex, KeyHex)
	rk, _ := ParseKey(vectorKeyHex, KeyRaw)
	hc, _ := NewCipher(hk)
	rc, _ := NewCipher(rk)
	enc, _ := hc.Encrypt([]byte(`{"a":"b"}`))
	if got, err := rc.Decrypt(enc); err == nil && string(got) == `{"a":"b"}` {
		t.Error("raw key opened hex-key ciphertext")
	}
}

func TestNewCipherKeyLength(t *testing.T) {
	for _, n := range []int{0, 15, 17, 24, 32} {
		if _, err := NewCipher(make([]byte, n)); err == nil {
			t.Errorf("NewCipher(%d bytes) = nil error", n)
		}
	}
}

func TestDecryptErrors(t *testing.T) {
	c := vectorCipher(t)
	iv, _ := hex.DecodeString(vectorIVHex)
	// A block whose padding byte is 0x00 and one whose last bytes are 03 03 02.
	badPad := func(tail []byte) string {
		block := append(bytes.Repeat([]byte{'x'}, 16-len(tail)), tail...)
		enc, _ := c.encryptWithIV(block, iv) // adds a full padding block
		raw, _ := base64.StdEncoding.DecodeString(enc)
		return base64.StdEncoding.EncodeToString(raw[:32]) // drop the padding block
	}
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"not base64", "!!!not base64!!!"},
		{"url base64", strings.NewReplacer("+", "-", "/", "_").Replace(vectorB64)},
		{"only IV", base64.StdEncoding.EncodeToString(make([]byte, 16))},
		{"short", base64.StdEncoding.EncodeToString(make([]byte, 20))},
		{"not block multiple", base64.StdEncoding.EncodeToString(make([]byte, 40))},
		{"padding zero", badPad([]byte{0})},
		{"padding too large", badPad([]byte{17})},
		{"padding inconsistent", badPad([]byte{3, 3, 2})},
		{"wrong key", func() string {
			other, _ := NewCipher(bytes.Repeat([]byte{7}, 16))
			s, _ := other.encryptWithIV([]byte("hello"), iv)
			return s
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Decrypt(tt.in)
			if err == nil {
				// A wrong key passes the padding check 1 time in 256; the
				// fixed IV and key here make it deterministic.
				t.Fatalf("Decrypt = %q, nil error", got)
			}
			if !errors.Is(err, ErrDecrypt) {
				t.Errorf("err = %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestPayload(t *testing.T) {
	c := vectorCipher(t)
	enc := func(s string) string {
		e, err := c.Encrypt([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	quoted, _ := json.Marshal(`{"xyp_cpl0001":"1"}`)
	tests := []struct {
		name    string
		data    string
		want    string
		wantErr error
	}{
		{"object", enc(`{"xyp_cpl0001":"1"}`), `{"xyp_cpl0001":"1"}`, nil},
		{"object with space and BOM", enc("\uFEFF  {\"a\":1}\n"), `{"a":1}`, nil},
		{"string holding object", enc(string(quoted)), `{"xyp_cpl0001":"1"}`, nil},
		{"empty data", "", "", ErrPayload},
		{"array", enc(`[1,2]`), "", ErrPayload},
		{"string holding array", enc(`"[1,2]"`), "", ErrPayload},
		{"number", enc(`42`), "", ErrPayload},
		{"not json", enc(`hello`), "", ErrPayload},
		{"broken object", enc(`{"a":`), "", ErrPayload},
		{"bad string", enc(`"abc`), "", ErrPayload},
		{"undecryptable", "AAAA", "", ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Payload(&Reply{Data: tt.data})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Payload = %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := c.Payload(nil); !errors.Is(err, ErrPayload) {
		t.Errorf("Payload(nil) err = %v", err)
	}
}

// TestObjectIntoReusesBuffer decrypts replies of several sizes, one after
// the other, into the same buffer: each result must be its own plaintext,
// whether the buffer is big enough or too small.
func TestObjectIntoReusesBuffer(t *testing.T) {
	c := vectorCipher(t)
	plains := []string{
		`{"a":1}`,
		`{"xyp_cpl0001":"` + strings.Repeat("长", 300) + `"}`,
		`{"b":2}`,
		vectorPlain,
	}
	buffers := []struct {
		name string
		buf  []byte
	}{
		{"nil", nil},
		{"too small", make([]byte, 0, 8)},
		{"big enough", make([]byte, 0, 4096)},
	}
	for _, bb := range buffers {
		t.Run(bb.name, func(t *testing.T) {
			for i, plain := range plains {
				data, err := c.Encrypt([]byte(plain))
				if err != nil {
					t.Fatal(err)
				}
				got, err := c.ObjectInto(bb.buf, &Reply{Data: data})
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != plain {
					t.Errorf("reply %d: ObjectInto = %.40s…, want %.40s…", i, got, plain)
				}
			}
			if _, err := c.ObjectInto(bb.buf, &Reply{Data: "AAAA"}); !errors.Is(err, ErrDecrypt) {
				t.Errorf("ObjectInto(undecryptable) err = %v, want ErrDecrypt", err)
			}
		})
	}
}

// TestDecryptConcurrently decrypts from several goroutines at once: the
// decrypters the Cipher reuses must never mix two replies' IVs.
func TestDecryptConcurrently(t *testing.T) {
	c := vectorCipher(t)
	const goroutines, rounds = 8, 200
	var wg sync.WaitGroup
	errs := make(chan string, goroutines)
	for g := range goroutines {
		plain := fmt.Sprintf(`{"goroutine":%d,"pad":"%s"}`, g, strings.Repeat("x", g*7))
		data, err := c.Encrypt([]byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				got, err := c.Decrypt(data)
				if err != nil || string(got) != plain {
					errs <- fmt.Sprintf("Decrypt = %q, %v; want %q", got, err, plain)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func FuzzDecrypt(f *testing.F) {
	f.Add(vectorB64)
	f.Add("")
	f.Add("AAAA")
	f.Add(base64.StdEncoding.EncodeToString(make([]byte, 32)))
	f.Add(base64.StdEncoding.EncodeToString(make([]byte, 48)))
	c := vectorCipher(f)
	f.Fuzz(func(t *testing.T, s string) {
		plain, err := c.Decrypt(s)
		if err != nil {
			if plain != nil {
				t.Errorf("error with non-nil plaintext")
			}
			return
		}
		// Whatever decrypts must round-trip.
		enc, err := c.Encrypt(plain)
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Decrypt(enc)
		if err != nil || !bytes.Equal(back, plain) {
			t.Errorf("round trip failed: %v", err)
		}
		_, _ = c.Payload(&Reply{Data: s})
	})
}
