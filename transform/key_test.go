package transform_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"unicode/utf8"

	"github.com/scorepipe/scorepipe/transform"
)

func TestMasks(t *testing.T) {
	tests := []struct {
		name string
		mask func(string) string
		in   string
		want string
	}{
		{"MaskIDCard", transform.MaskIDCard, "110101199003071234", "110101********1234"},
		{"MaskIDCard", transform.MaskIDCard, "11010519491231002X", "110105********002X"},
		{"MaskIDCard", transform.MaskIDCard, "110101900307123", "*************23"},
		{"MaskIDCard", transform.MaskIDCard, "12", "**"},
		{"MaskIDCard", transform.MaskIDCard, "1", "*"},
		{"MaskIDCard", transform.MaskIDCard, "", ""},
		{"MaskIDCard", transform.MaskIDCard, "一二三四五六", "****五六"}, // 18 bytes, 6 characters
		{"MaskIDCard", transform.MaskIDCard, "一二三四五六七八九十一二三四五六七八", "一二三四五六********五六七八"},
		{"MaskMobile", transform.MaskMobile, "13800138000", "138****8000"},
		{"MaskMobile", transform.MaskMobile, "1380013800", "********00"},
		{"MaskMobile", transform.MaskMobile, "+8613800138000", "************00"},
		{"MaskMobile", transform.MaskMobile, "7", "*"},
		{"MaskMobile", transform.MaskMobile, "", ""},
		{"MaskMobile", transform.MaskMobile, "手机号12", "***12"}, // 11 bytes, 5 characters
		{"MaskName", transform.MaskName, "张三", "张*"},
		{"MaskName", transform.MaskName, "欧阳娜娜", "欧***"},
		{"MaskName", transform.MaskName, "王", "*"},
		{"MaskName", transform.MaskName, "", ""},
		{"MaskName", transform.MaskName, "Li Lei", "L*****"},
	}
	for _, tt := range tests {
		got := tt.mask(tt.in)
		if got != tt.want {
			t.Errorf("%s(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("%s(%q) = %q, not valid UTF-8", tt.name, tt.in, got)
		}
	}
}

func TestKeyer(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	k, err := transform.NewKeyer(secret)
	if err != nil {
		t.Fatalf("NewKeyer() = %v", err)
	}
	a := transform.Applicant{Name: "张三", IDCard: withCheck("11010119900307123"), Mobile: "13800138000", AuthCode: "A1"}
	key := k.Key(&a)

	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(a.IDCard + "|" + a.Name + "|" + a.Mobile))
	if want := hex.EncodeToString(mac.Sum(nil)[:16]); key != want {
		t.Errorf("Key() = %s, want %s (HMAC-SHA256 of id|name|mobile, first 16 bytes)", key, want)
	}
	if len(key) != 32 {
		t.Errorf("Key() = %q, want 32 characters", key)
	}
	if _, err := hex.DecodeString(key); err != nil {
		t.Errorf("Key() = %q, not hex: %v", key, err)
	}

	if again := k.Key(&a); again != key {
		t.Errorf("Key() again = %s, want %s", again, key)
	}
	same := a
	same.AuthCode, same.AuthURL, same.AuthDate = "other", "u", "d"
	if got := k.Key(&same); got != key {
		t.Errorf("Key() with other authorization = %s, want %s (only identity counts)", got, key)
	}
	k2, _ := transform.NewKeyer(append([]byte(nil), secret...))
	if got := k2.Key(&a); got != key {
		t.Errorf("second Keyer Key() = %s, want %s", got, key)
	}

	tests := []struct {
		name string
		a    transform.Applicant
	}{
		{"other name", transform.Applicant{Name: "李四", IDCard: a.IDCard, Mobile: a.Mobile}},
		{"other mobile", transform.Applicant{Name: a.Name, IDCard: a.IDCard, Mobile: "13900139000"}},
		{"other ID", transform.Applicant{Name: a.Name, IDCard: withCheck("11010119900307124"), Mobile: a.Mobile}},
		{"fields swapped", transform.Applicant{Name: a.Mobile, IDCard: a.IDCard, Mobile: a.Name}},
	}
	for _, tt := range tests {
		if got := k.Key(&tt.a); got == key {
			t.Errorf("Key(%s) = %s, the same as the original applicant's", tt.name, got)
		}
	}

	other, err := transform.NewKeyer([]byte("another secret, 16+ bytes"))
	if err != nil {
		t.Fatal(err)
	}
	if got := other.Key(&a); got == key {
		t.Errorf("Key() with another secret = %s, want a different key", got)
	}
}

func TestNewKeyerShortSecret(t *testing.T) {
	for _, n := range []int{0, 1, 15} {
		if _, err := transform.NewKeyer(make([]byte, n)); err == nil {
			t.Errorf("NewKeyer(%d bytes) = nil error, want one", n)
		}
	}
	if _, err := transform.NewKeyer(make([]byte, transform.MinSecretLen)); err != nil {
		t.Errorf("NewKeyer(%d bytes) = %v, want nil", transform.MinSecretLen, err)
	}
}
