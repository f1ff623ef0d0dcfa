package transform

import "strings"

// MaskIDCard keeps the region code and the last four characters:
// 110101********4477. Anything not 18 characters long is masked whole but
// for its last two characters.
func MaskIDCard(s string) string {
	if r := []rune(s); len(r) == 18 {
		return string(r[:6]) + "********" + string(r[14:])
	}
	return maskTail(s, 2)
}

// MaskMobile keeps the first three and the last four digits: 138****8000.
// Anything not 11 characters long is masked whole but for its last two
// characters.
func MaskMobile(s string) string {
	if r := []rune(s); len(r) == 11 {
		return string(r[:3]) + "****" + string(r[7:])
	}
	return maskTail(s, 2)
}

// MaskName keeps the first character: 张*, 欧阳娜娜 → 欧***.
func MaskName(s string) string {
	r := []rune(s)
	if len(r) <= 1 {
		return strings.Repeat("*", len(r))
	}
	return string(r[0]) + strings.Repeat("*", len(r)-1)
}

func maskTail(s string, keep int) string {
	r := []rune(s)
	if len(r) <= keep {
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-keep) + string(r[len(r)-keep:])
}
