package transform

import (
	"strings"
	"unicode/utf8"
)

// The masks run for every output row. A normalised ID number and mobile are
// ASCII, so their masks slice bytes; anything else is masked by runes as
// []rune gives them (an invalid byte becomes U+FFFD).

// MaskIDCard keeps the region code and the last four characters:
// 110101********4477. Anything not 18 characters long is masked whole but
// for its last two characters.
func MaskIDCard(s string) string {
	if len(s) == 18 && isASCII(s) {
		return s[:6] + "********" + s[14:]
	}
	if r := []rune(s); len(r) == 18 {
		return string(r[:6]) + "********" + string(r[14:])
	}
	return maskTail(s, 2)
}

// MaskMobile keeps the first three and the last four digits: 138****8000.
// Anything not 11 characters long is masked whole but for its last two
// characters.
func MaskMobile(s string) string {
	if len(s) == 11 && isASCII(s) {
		return s[:3] + "****" + s[7:]
	}
	if r := []rune(s); len(r) == 11 {
		return string(r[:3]) + "****" + string(r[7:])
	}
	return maskTail(s, 2)
}

// MaskName keeps the first character: 张*, 欧阳娜娜 → 欧***.
func MaskName(s string) string {
	n := utf8.RuneCountInString(s)
	if n <= 1 {
		return strings.Repeat("*", n)
	}
	// One string built in place, rather than string(first rune) +
	// strings.Repeat: a single allocation.
	first, _ := utf8.DecodeRuneInString(s)
	var b strings.Builder
	b.Grow(utf8.RuneLen(first) + n - 1)
	b.WriteRune(first)
	for range n - 1 {
		b.WriteByte('*')
	}
	return b.String()
}

func maskTail(s string, keep int) string {
	r := []rune(s)
	if len(r) <= keep {
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-keep) + string(r[len(r)-keep:])
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// MaskIdentity returns MaskName(name), MaskIDCard(idCard) and
// MaskMobile(mobile), which an output row needs together: in one allocation
// when the ID number and mobile have their usual form.
func MaskIdentity(name, idCard, mobile string) (maskedName, maskedIDCard, maskedMobile string) {
	if len(idCard) != 18 || !isASCII(idCard) || len(mobile) != 11 || !isASCII(mobile) {
		return MaskName(name), MaskIDCard(idCard), MaskMobile(mobile)
	}
	n := utf8.RuneCountInString(name)
	first, _ := utf8.DecodeRuneInString(name)
	nameLen := n
	if n > 1 {
		nameLen = utf8.RuneLen(first) + n - 1
	}
	var b strings.Builder
	b.Grow(nameLen + 18 + 11)
	if n > 1 {
		b.WriteRune(first)
		n--
	}
	for range n {
		b.WriteByte('*')
	}
	b.WriteString(idCard[:6])
	b.WriteString("********")
	b.WriteString(idCard[14:])
	b.WriteString(mobile[:3])
	b.WriteString("****")
	b.WriteString(mobile[7:])
	s := b.String()
	return s[:nameLen], s[nameLen : nameLen+18], s[nameLen+18:]
}
