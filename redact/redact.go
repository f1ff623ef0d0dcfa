// Package redact masks in text what must never be shown: numbers that look
// like an ID number or a mobile, whatever separates their digits; a given
// applicant's ID number or mobile written any such way; and known secrets.
package redact

import (
	"strings"
	"unicode/utf8"
)

// A number is a chain of digits (ASCII or fullwidth) in which any two
// digits may be separated by up to maxGap separators: a space (also the
// ideographic one), a tab, '-', '.', '/', '+', '_', the fullwidth hyphen,
// or the percent-encoding of one of them (%20, %2D, %2E, %2F, %2B, %5F,
// either case). "137-1652-6336", "510104 19760101 7207" and
// "510104%20197601017207" are each one number.
const maxGap = 3

// Thresholds of Text: a number of chainDigits digits or more is masked
// whole (a mobile has 11, an ID number 17 and a check character, 15 for
// the old ones); in a shorter one, a run of runDigits digits or more with
// nothing between them is masked (a part of one, or a bank card). Shorter
// numbers stay: codes such as 1002, amounts, dates (2026-01-10 has 8
// digits; with a time to the minute, 10).
const (
	chainDigits = 11
	runDigits   = 6
)

// keyHex is the length of a run of hex characters Text masks as a key: a
// 128-bit key written in hex.
const keyHex = 32

// digitAt returns the length in bytes of the digit s starts with at i
// (ASCII or fullwidth), 0 if none.
func digitAt(s string, i int) int {
	switch c := s[i]; {
	case c >= '0' && c <= '9':
		return 1
	case c == 0xEF && i+2 < len(s) && s[i+1] == 0xBC && s[i+2] >= 0x90 && s[i+2] <= 0x99: // U+FF10–U+FF19
		return 3
	}
	return 0
}

// Digits counts the digits of s, ASCII or fullwidth: a text holding fewer
// than a value has cannot hold it (see Value), whatever separates them.
func Digits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if w := digitAt(s, i); w > 0 {
			n++
			i += w - 1
		}
	}
	return n
}

// checkCharAt returns the length of an ID number's check character X at
// s[i:] (either case, or fullwidth), 0 if none.
func checkCharAt(s string, i int) int {
	switch {
	case i >= len(s):
		return 0
	case s[i] == 'X' || s[i] == 'x':
		return 1
	case strings.HasPrefix(s[i:], "Ｘ") || strings.HasPrefix(s[i:], "ｘ"):
		return 3
	}
	return 0
}

// separatorAt returns the length of one separator at s[i:], 0 if none.
func separatorAt(s string, i int) int {
	switch s[i] {
	case ' ', '\t', '-', '.', '/', '+', '_':
		return 1
	case '%':
		if i+2 < len(s) {
			switch strings.ToUpper(s[i+1 : i+3]) {
			case "20", "2D", "2E", "2F", "2B", "5F":
				return 3
			}
		}
	case 0xE3:
		if strings.HasPrefix(s[i:], "\u3000") {
			return 3
		}
	case 0xEF:
		if strings.HasPrefix(s[i:], "－") {
			return 3
		}
	}
	return 0
}

// gapAt returns the length of up to maxGap separators at s[i:].
func gapAt(s string, i int) int {
	j := i
	for range maxGap {
		if j >= len(s) {
			break
		}
		n := separatorAt(s, j)
		if n == 0 {
			break
		}
		j += n
	}
	return j - i
}

// Text masks with '*' the numbers in s that look like an ID number or a
// mobile (see chainDigits and runDigits; an ID number's check character X
// with them), whatever separates their digits, and runs of 32 or more hex
// characters (a key). Separators and everything else stay. It is meant
// for text a vendor wrote, which may echo what it was sent.
func Text(s string) string {
	s = maskHexRuns(s)
	var b []byte // nil until something is masked
	done := 0    // s[:done] is in b
	for i := 0; i < len(s); {
		if digitAt(s, i) == 0 {
			i++
			continue
		}
		end, digits, longest, last := chainAt(s, i)
		if digits < chainDigits && longest < runDigits {
			i = end
			continue
		}
		b = append(b, s[done:i]...)
		b = maskChain(b, s[i:end], digits >= chainDigits)
		done = end
		if n := checkCharAt(s, end); n > 0 && (digits >= chainDigits || last >= runDigits) {
			b = append(b, '*')
			done += n
		}
		i = done
	}
	if b == nil {
		return s
	}
	return string(append(b, s[done:]...))
}

// chainAt measures the number starting at s[i] (a digit): where it ends,
// how many digits it has, its longest run of digits with nothing between
// them and its last run.
func chainAt(s string, i int) (end, digits, longest, last int) {
	run := 0
	for j := i; j < len(s); {
		if n := digitAt(s, j); n > 0 {
			digits, run = digits+1, run+1
			longest = max(longest, run)
			j += n
			end = j
			continue
		}
		g := gapAt(s, j)
		if g == 0 || j+g >= len(s) || digitAt(s, j+g) == 0 {
			break
		}
		run = 0
		j += g
	}
	return end, digits, longest, run
}

// maskChain appends chain (one number) with its digits masked: all of them
// when whole, else those of its runs of runDigits or more.
func maskChain(b []byte, chain string, whole bool) []byte {
	for i := 0; i < len(chain); {
		if digitAt(chain, i) == 0 { // a gap: its percent-encodings hold digits
			g := max(gapAt(chain, i), 1)
			b = append(b, chain[i:i+g]...)
			i += g
			continue
		}
		j := i // the run of digits from i
		for j < len(chain) && digitAt(chain, j) > 0 {
			j += digitAt(chain, j)
		}
		if whole || utf8.RuneCountInString(chain[i:j]) >= runDigits {
			for range utf8.RuneCountInString(chain[i:j]) {
				b = append(b, '*')
			}
		} else {
			b = append(b, chain[i:j]...)
		}
		i = j
	}
	return b
}

// maskHexRuns masks runs of keyHex or more hex characters that hold a
// digit (a word of letters a to f alone is English).
func maskHexRuns(s string) string {
	var b []byte
	done := 0
	for i := 0; i < len(s); {
		if !isHex(s[i]) {
			i++
			continue
		}
		j, digit := i, false
		for j < len(s) && isHex(s[j]) {
			digit = digit || s[j] <= '9'
			j++
		}
		if j-i >= keyHex && digit {
			b = append(b, s[done:i]...)
			b = append(b, strings.Repeat("*", j-i)...)
			done = j
		}
		i = j
	}
	if b == nil {
		return s
	}
	return string(append(b, s[done:]...))
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// Value masks every occurrence in s of value (an applicant's ID number or
// mobile, say), its characters matched whatever separates them (see Text:
// spaces, dashes, dots, slashes and their percent-encodings), letters in
// either case and digits ASCII or fullwidth: in each, the characters at
// the positions i of value for which hidden(i) holds become '*', the
// separators stay. It reports whether it found any. A value shorter than
// four bytes is not looked for (it would match unrelated text).
func Value(s, value string, hidden func(i int) bool) (string, bool) {
	if len(value) < 4 || len(s) < len(value) {
		return s, false
	}
	var b []byte
	done := 0
	for i := 0; i < len(s); {
		ends, ok := matchAt(s, i, value)
		if !ok {
			i++
			continue
		}
		b = append(b, s[done:i]...)
		for k := range len(value) {
			from, to := ends[2*k], ends[2*k+1]
			if hidden(k) {
				b = append(b, '*')
			} else {
				b = append(b, s[from:to]...)
			}
			if k+1 < len(value) {
				b = append(b, s[to:ends[2*k+2]]...) // the separators
			}
		}
		done = ends[2*len(value)-1]
		i = done
	}
	if b == nil {
		return s, false
	}
	return string(append(b, s[done:]...)), true
}

// matchAt matches value at s[i:], its characters separated by gaps; it
// returns where each character starts and ends in s.
func matchAt(s string, i int, value string) ([]int, bool) {
	n := sameCharAt(s, i, value[0])
	if n == 0 {
		return nil, false
	}
	ends := make([]int, 0, 2*len(value))
	ends = append(ends, i, i+n)
	j := i + n
	for k := 1; k < len(value); k++ {
		if j >= len(s) {
			return nil, false
		}
		if n := sameCharAt(s, j, value[k]); n > 0 {
			ends = append(ends, j, j+n)
			j += n
			continue
		}
		g := gapAt(s, j)
		if g == 0 || j+g >= len(s) {
			return nil, false
		}
		n := sameCharAt(s, j+g, value[k])
		if n == 0 {
			return nil, false
		}
		ends = append(ends, j+g, j+g+n)
		j += g + n
	}
	return ends, true
}

// sameCharAt returns the length of the character at s[i:] when it is c
// (an ASCII byte) in either case, or c's fullwidth form; 0 otherwise.
func sameCharAt(s string, i int, c byte) int {
	d := s[i]
	switch {
	case d == c, d|0x20 == c|0x20 && c|0x20 >= 'a' && c|0x20 <= 'z':
		return 1
	case d == 0xEF && c > ' ' && c < 0x7F:
		r, n := utf8.DecodeRuneInString(s[i:])
		if w := rune(c) - ' ' + 0xFF00; r == w || c|0x20 >= 'a' && c|0x20 <= 'z' && r == rune(c^0x20)-' '+0xFF00 {
			return n
		}
	}
	return 0
}

// Secrets replaces known secrets in text, whatever the case of their ASCII
// letters. The zero value replaces nothing; it is safe for concurrent use
// once built.
type Secrets struct {
	list []secret
}

type secret struct {
	lower string // the secret, ASCII letters in lower case
	as    string
}

// minSecret is the shortest secret replaced: a shorter one would match
// unrelated text.
const minSecret = 4

// Add makes Replace put as in place of text, unless text is shorter than
// four bytes. Longer secrets are replaced first.
func (s *Secrets) Add(text, as string) {
	if len(text) < minSecret {
		return
	}
	lower := asciiLower(text)
	for _, e := range s.list {
		if e.lower == lower {
			return
		}
	}
	s.list = append(s.list, secret{lower: lower, as: as})
	for i := len(s.list) - 1; i > 0 && len(s.list[i].lower) > len(s.list[i-1].lower); i-- {
		s.list[i], s.list[i-1] = s.list[i-1], s.list[i]
	}
}

// Replace returns t with each secret replaced.
func (s *Secrets) Replace(t string) string {
	if s == nil || len(s.list) == 0 || t == "" {
		return t
	}
	for _, e := range s.list {
		lower := asciiLower(t) // same offsets as t: only ASCII letters change
		i := strings.Index(lower, e.lower)
		if i < 0 {
			continue
		}
		var b strings.Builder
		for i >= 0 {
			b.WriteString(t[:i])
			b.WriteString(e.as)
			t, lower = t[i+len(e.lower):], lower[i+len(e.lower):]
			i = strings.Index(lower, e.lower)
		}
		b.WriteString(t)
		t = b.String()
	}
	return t
}

// asciiLower lowers the ASCII letters of s only, so that byte offsets stay.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
