package transform

import (
	"strings"
	"testing"
)

// The masks by runes alone, as they were before their fast paths: what
// the masks must still return.

func maskIDCardByRunes(s string) string {
	if r := []rune(s); len(r) == 18 {
		return string(r[:6]) + "********" + string(r[14:])
	}
	return maskTail(s, 2)
}

func maskMobileByRunes(s string) string {
	if r := []rune(s); len(r) == 11 {
		return string(r[:3]) + "****" + string(r[7:])
	}
	return maskTail(s, 2)
}

func maskNameByRunes(s string) string {
	r := []rune(s)
	if len(r) <= 1 {
		return strings.Repeat("*", len(r))
	}
	return string(r[0]) + strings.Repeat("*", len(r)-1)
}

func checkMasks(t *testing.T, s string) {
	t.Helper()
	for _, m := range []struct {
		name      string
		got, want func(string) string
	}{
		{"MaskIDCard", MaskIDCard, maskIDCardByRunes},
		{"MaskMobile", MaskMobile, maskMobileByRunes},
		{"MaskName", MaskName, maskNameByRunes},
	} {
		// The values masked are personal data: the message names their
		// length, not them.
		if got, want := m.got(s), m.want(s); got != want {
			t.Fatalf("%s of %d bytes: got %d bytes, not what masking by runes gives (%d bytes)", m.name, len(s), len(got), len(want))
		}
	}
	for _, id := range []string{s, "110101199003071234"} {
		for _, mobile := range []string{s, "13800138000"} {
			n, i, m := MaskIdentity(s, id, mobile)
			if n != maskNameByRunes(s) || i != maskIDCardByRunes(id) || m != maskMobileByRunes(mobile) {
				t.Fatalf("MaskIdentity of %d, %d and %d bytes: not what masking by runes gives", len(s), len(id), len(mobile))
			}
		}
	}
}

func TestMasksByRunes(t *testing.T) {
	for _, s := range []string{
		"", "1", "12", "张", "张三", "欧阳娜娜", "\xff", "\xff张", "张\xff", "\xed\xa0\x80",
		"110101199003071234", "11010519491231002X", "110101900307123", "一二三四五六",
		"一二三四五六七八九十一二三四五六七八", "11010119900307123\xff", "1101011990030712３4",
		"13800138000", "1380013800\xff", "138001380０0", "１３８００１３８０００",
	} {
		checkMasks(t, s)
	}
}

func FuzzMasks(f *testing.F) {
	for _, s := range []string{"张三", "110101199003071234", "13800138000", "\xff张", "1380013800\xff"} {
		f.Add(s)
	}
	f.Fuzz(checkMasks)
}
