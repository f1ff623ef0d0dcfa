package sources

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

// The reasons a row is rejected for the text of one of its fields. Each
// names no value: the field may hold an ID number.
const (
	reasonNotUTF8    = "bytes that are not valid UTF-8 (if the file is in GBK or GB18030, set input.encoding)"
	reasonNotGB18030 = "bytes that are not valid GBK/GB18030 (if the file is in UTF-8, set input.encoding)"
	reasonDamaged    = "the replacement character U+FFFD: text damaged by an earlier conversion"
	reasonControl    = "a control character (such as NUL or ESC; tab and line breaks excepted), which is not text: remove it from the file"
)

// controlAt returns the index of the first control character of s that is
// not a tab or a line break (C0 but for tab, LF and CR; DEL; C1), or -1.
// s is valid UTF-8: a C1 character is the byte 0xC2 then 0x80 to 0x9F.
// No output takes these as text: XML, and so xlsx, cannot hold most of
// them, and NUL ends strings in the C readers of CSV and Parquet.
func controlAt[T string | []byte](s T) int {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r', c == 0x7f:
			return i
		case c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f:
			return i
		}
	}
	return -1
}

// hasControl reports whether b holds a control character (see controlAt),
// eight bytes at a time while they are printable ASCII, as most of a
// record is: only a word holding a byte below 0x20 or from 0x7f up is
// looked at byte by byte.
func hasControl(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		below := (w - ones*0x20) &^ w & highs // a byte below 0x20
		above := (w + ones) | w               // a byte from 0x7f up has its high bit set
		if below|above&highs == 0 {
			continue
		}
		for k := i; k < i+8; k++ {
			if controlByteAt(b, k) {
				return true
			}
		}
	}
	for ; i < len(b); i++ {
		if controlByteAt(b, i) {
			return true
		}
	}
	return false
}

// controlByteAt reports whether a control character starts at b[i] (see
// controlAt).
func controlByteAt(b []byte, i int) bool {
	switch c := b[i]; {
	case c < 0x20 && c != '\t' && c != '\n' && c != '\r', c == 0x7f:
		return true
	case c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f:
		return true
	}
	return false
}

// cleanText reports whether s is valid UTF-8 without U+FFFD, the
// character decoders put in place of bytes they could not read, and
// without a control character (see controlAt).
func cleanText(s string) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\uFFFD") && controlAt(s) < 0
}

// textFault returns the first field that is not clean text (see
// cleanText) and why, or -1. decoded says the text comes from a decoder
// (GBK/GB18030), where U+FFFD stands for bytes it could not read.
func textFault(fields []string, decoded bool) (int, string) {
	for i, f := range fields {
		switch {
		case !utf8.ValidString(f):
			return i, reasonNotUTF8
		case strings.Contains(f, "\uFFFD") && decoded:
			return i, reasonNotGB18030
		case strings.Contains(f, "\uFFFD"):
			return i, reasonDamaged
		case controlAt(f) >= 0:
			return i, reasonControl
		}
	}
	return -1, ""
}

// sanitize replaces, in place, what is not valid UTF-8 in fields with
// U+FFFD, so that a rejected row carries nothing an output cannot hold.
func sanitize(fields []string) {
	for i, f := range fields {
		if !utf8.ValidString(f) {
			fields[i] = strings.ToValidUTF8(f, "\uFFFD")
		}
	}
}
