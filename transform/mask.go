package transform

import "strings"

// MaskIDCard keeps the region code and the last four characters:
// 110101********4477. Anything not 18 characters long is masked whole but
// for its last two characters.
func MaskIDCard(s string) string {
	if len(s) == 18 {
		return s[:6] + "********" + s[14:]
	}
	return maskTail(s, 2)
}

// MaskMobile keeps the first three and the last four digits: 138****8000.
func MaskMobile(s string) string {
	if len(s) == 11 {
		return s[:3] + "****" + s[7:]
	}
	return maskTail(s, 2)
}

// MaskName keeps the first character: 张*, 欧阳** .
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
