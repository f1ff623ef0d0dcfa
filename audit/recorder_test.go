package audit

import (
	"net/url"
	"syscall"
	"testing"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/transform"
)

func TestMaskIdentityIn(t *testing.T) {
	params := tianyuan.Params{transform.ParamName: "张三丰", transform.ParamIDCard: "11010119900307663X",
		transform.ParamMobile: "13800138000"}
	mName, mID, mMobile := transform.MaskIdentity("张三丰", "11010119900307663X", "13800138000")
	tests := []struct {
		name, ref, want string
		params          tianyuan.Params
	}{
		{"nothing to mask", "AUTH2026000001", "AUTH2026000001", params},
		{"empty", "", "", params},
		{"the ID number", "AUTH-11010119900307663X", "AUTH-" + mID, params},
		{"the ID number, lower case", "https://a/11010119900307663x.pdf", "https://a/110101********663x.pdf", params},
		{"the mobile", "M13800138000", "M" + mMobile, params},
		{"the name", "https://a/张三丰.pdf", "https://a/" + mName + ".pdf", params},
		{"the name, percent-encoded", "https://a/?n=" + url.QueryEscape("张三丰"), "https://a/?n=" + url.QueryEscape(mName), params},
		{"the name in a path, percent-encoded", "https://a/" + url.PathEscape("张三丰"), "https://a/" + url.PathEscape(mName), params},
		{"all of them", "张三丰/11010119900307663X/13800138000", mName + "/" + mID + "/" + mMobile, params},
		{"a name of one character is left alone", "https://a/b.pdf", "https://a/b.pdf",
			tianyuan.Params{transform.ParamName: "b", transform.ParamIDCard: "11010119900307663X", transform.ParamMobile: "13800138000"}},
		{"no identity in params", "AUTH-1", "AUTH-1", tianyuan.Params{}},
		{"the mobile with dashes", "AUTH138-0013-8000", "AUTH138-****-8000", params},
		{"the mobile with spaces", "138 0013 8000", "138 **** 8000", params},
		{"the mobile with dots", "m.138.0013.8000", "m.138.****.8000", params},
		{"the mobile with slashes", "https://a/138/0013/8000.pdf", "https://a/138/****/8000.pdf", params},
		{"the mobile with %2D", "?m=138%2D0013%2D8000", "?m=138%2D****%2D8000", params},
		{"the mobile with %20, lower case hex", "?m=138%200013%2d8000", "?m=138%20****%2d8000", params},
		{"the mobile in fullwidth digits", "１３８００１３８０００", "１３８****８０００", params},
		{"the ID number split by %20", "https://a/?id=110101%2019900307663X", "https://a/?id=110101%20********663X", params},
		{"the ID number split 6 8 4", "110101 19900307 663x", "110101 ******** 663x", params},
		{"the ID number with dashes and lower x", "110101-19900307-663x", "110101-********-663x", params},
		{"the ID number with %2F", "110101%2F19900307%2F663X", "110101%2F********%2F663X", params},
		{"the ID number with a space before X", "11010119900307663 X", "110101********663 X", params},
		{"the ID number every digit dotted", "1.1.0.1.0.1.1.9.9.0.0.3.0.7.6.6.3.X", "1.1.0.1.0.1.*.*.*.*.*.*.*.*.6.6.3.X", params},
		{"another applicant's mobile is not this one's", "AUTH138-0013-8001", "AUTH138-0013-8001", params},
		{"the ID number and the mobile formatted", "110101 19900307 663X/138-0013-8000", "110101 ******** 663X/138-****-8000", params},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maskIdentityIn(tt.ref, tt.params); got != tt.want {
				t.Errorf("maskIdentityIn(%q) = %q, want %q", tt.ref, got, tt.want)
			}
		})
	}
}

func TestReplyFacts(t *testing.T) {
	tests := []struct {
		name    string
		reply   *tianyuan.Reply
		err     error
		wantTxn string
		want    *int
	}{
		{"a reply", &tianyuan.Reply{Code: 0, TransactionID: "T1"}, nil, "T1", intp(0)},
		{"a code in the reply", &tianyuan.Reply{Code: 2001, TransactionID: "T2"}, &tianyuan.CodeError{Code: 2001}, "T2", intp(2001)},
		{"a code error alone", nil, &tianyuan.CodeError{Code: 1001, TransactionID: "T3"}, "T3", intp(1001)},
		{"an HTTP error with a code", nil, &tianyuan.HTTPError{StatusCode: 500, Code: 1007, TransactionID: "T4"}, "T4", intp(1007)},
		{"an HTTP error", nil, &tianyuan.HTTPError{StatusCode: 503}, "", nil},
		{"an unreadable reply", nil, &tianyuan.ProtocolError{StatusCode: 200, TransactionID: "T5"}, "T5", nil},
		{"a transport error", nil, syscall.ECONNRESET, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			txn, code := replyFacts(tt.reply, tt.err)
			if txn != tt.wantTxn || (code == nil) != (tt.want == nil) || code != nil && *code != *tt.want {
				t.Errorf("replyFacts = %q, %v; want %q, %v", txn, code, tt.wantTxn, tt.want)
			}
		})
	}
}
