package sources

import (
	"strings"
	"unicode/utf8"
)

// The reasons a row is rejected for the text of one of its fields. Each
// names no value: the field may hold an ID number.
const (
	reasonNotUTF8    = "bytes that are not valid UTF-8 (if the file is in GBK or GB18030, set input.encoding)"
	reasonNotGB18030 = "bytes that are not valid GBK/GB18030 (if the file is in UTF-8, set input.encoding)"
	reasonDamaged    = "the replacement character U+FFFD: text damaged by an earlier conversion"
)

// cleanText reports whether s is valid UTF-8 without U+FFFD, the
// character decoders put in place of bytes they could not read.
func cleanText(s string) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\uFFFD")
}

// textFault returns the first field that is not clean text and why, or
// -1. decoded says the text comes from a decoder (GBK/GB18030), where
// U+FFFD stands for bytes it could not read.
func textFault(fields []string, decoded bool) (int, string) {
	for i, f := range fields {
		switch {
		case !utf8.ValidString(f):
			return i, reasonNotUTF8
		case strings.Contains(f, "\uFFFD") && decoded:
			return i, reasonNotGB18030
		case strings.Contains(f, "\uFFFD"):
			return i, reasonDamaged
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
