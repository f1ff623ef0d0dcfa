package transform

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

func TestHasSpecialByte(t *testing.T) {
	naive := func(b []byte) bool {
		return bytes.IndexFunc(b, func(r rune) bool { return r < 0x20 || r == '\\' }) >= 0
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\"{}:,0\x00\x1f\x20\x7f\\\x80\xff\t\n")
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = 'a'
			if r.IntN(8) == 0 {
				b[i] = alphabet[r.IntN(len(alphabet))]
			}
		}
		if got, want := hasSpecialByte(b), naive(b); got != want {
			t.Fatalf("hasSpecialByte(%q) = %v, want %v", b, got, want)
		}
	}
	for c := range 256 {
		for pos := range 17 {
			b := bytes.Repeat([]byte{'a'}, 17)
			b[pos] = byte(c)
			if got, want := hasSpecialByte(b), c < 0x20 || c == '\\'; got != want {
				t.Fatalf("hasSpecialByte(%q) = %v, want %v", b, got, want)
			}
		}
	}
}

func TestValidNumber(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "1", "-1", "10", "1.5", "-0.0", "1e2", "1E+2", "1e-2", "0.5e10", "123456789012345678901234567890",
		"", "-", "+1", "01", "-01", "1.", ".5", "1e", "1e+", "1.e5", "--1", "1-2", "1.2.3", "0x10", "NaN", "nan", "inf", "-inf", "1 ", " 1", "1e2e3",
	} {
		want := json.Valid([]byte(s)) && s != "" && s[0] != ' ' && s[len(s)-1] != ' '
		if got := validNumber([]byte(s)); got != want {
			t.Errorf("validNumber(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestStringsReadAlike(t *testing.T) {
	for _, tc := range []struct {
		json string
		want bool
	}{
		{`{"a":"b"}`, true},
		{"{\n\t\"a\": \"b\"\r\n}", true},
		{`{"a\"b":"\\\"\/\b\f\n\r\t\u0000\u4e2d\uFFFF\u00e9"}`, true},
		{`{"a":"\\"}`, true},
		{`{"a":"\\ud800"}`, true}, // an escaped backslash, then text
		{"{\"a\":\"\x01\"}", false},
		{"{\"a\":\"\x11\\b\"}", false},
		{"{\"a\x1f\":1}", false},
		{"{\"a\":\"\t\"}", false},
		{`{"a":"\x"}`, false},
		{`{"a":"\u12"}`, false},
		{`{"a":"\u12g4"}`, false},
		{`{"a":"\ud800"}`, false},
		{`{"a":"\uDBFF\uDFFF"}`, false},
		{`{"a":"\udc00"}`, false},
		{`{"a":"\ud7ff\ue000"}`, true},
		{`{"a":"b`, false},
		{`{"a":"b\`, false},
	} {
		if got := stringsReadAlike([]byte(tc.json)); got != tc.want {
			t.Errorf("stringsReadAlike(%q) = %v, want %v", tc.json, got, tc.want)
		}
	}
}
