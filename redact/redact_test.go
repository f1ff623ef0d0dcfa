package redact

import (
	"strings"
	"testing"
)

func TestTextMasksIdentityNumbers(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"mobile plain", "mob 13716526336 x", "mob *********** x"},
		{"mobile dashed", "mob 137-1652-6336", "mob ***-****-****"},
		{"mobile spaced", "mob 137 1652 6336", "mob *** **** ****"},
		{"mobile 3 and 8", "mob 137 16526336", "mob *** ********"},
		{"mobile dotted", "137.1652.6336", "***.****.****"},
		{"mobile slashed", "137/1652/6336", "***/****/****"},
		{"mobile country code", "+86 137 1652 6336", "+** *** **** ****"},
		{"mobile percent space", "137%201652%206336", "***%20****%20****"},
		{"mobile percent dash lower", "137%2d1652%2d6336", "***%2d****%2d****"},
		{"mobile percent slash", "137%2F1652%2F6336", "***%2F****%2F****"},
		{"mobile spaced dash", "137 - 1652 - 6336", "*** - **** - ****"},
		{"mobile fullwidth", "１３７１６５２６３３６", "***********"},
		{"mobile ideographic space", "137\u30001652\u30006336", "***\u3000****\u3000****"},
		{"id plain", "id 510104197601017207", "id ******************"},
		{"id check X", "id 11010519491231002X.", "id ******************."},
		{"id check x", "id 11010519491231002x", "id ******************"},
		{"id split 6 8 4", "id 510104 19760101 7207 ok", "id ****** ******** **** ok"},
		{"id split 6 8 3X", "510104-19760101-720X", "******-********-****"},
		{"id percent space", "?id=510104%20197601017207", "?id=******%20************"},
		{"id every digit spaced", "5 1 0 1 0 4 1 9 7 6 0 1 0 1 7 2 0 7", "* * * * * * * * * * * * * * * * * *"},
		{"id in a word", "AUTH180-7358-7840", "AUTH***-****-****"},
		{"long run alone", "card 6222021234", "card **********"},
		{"six digits", "tx 123456 done", "tx ****** done"},
		{"key hex", "key 00112233445566778899aabbccddeeff used", "key ******************************** used"},
		{"key hex upper", "KEY 3F9A1C7BE20D4F6A8B5C9E1D2A7F0B4C", "KEY ********************************"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in); got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTextKeepsOrdinaryNumbers(t *testing.T) {
	for _, in := range []string{
		"vendor code 1002",
		"参数解密失败",
		"余额 12345.67 元",
		"amount 1,234,567",
		"on 2026-01-10",
		"at 2026-01-10 12:30:45",
		"2026/01/10 9:05",
		"retry in 30 s, code 2001",
		"http://127.0.0.1:8080/api/v1/JRZQ9E2A",
		"JRZQ9E2A FLXG0V4B",
		"3f9a1c7b-e20d-4f6a-8b5c-9e1d2a7f0b4c",
		"deadbeefdeadbeefdeadbeefdeadbeefcafe", // hex letters only: a word
		"X marks 12345X",
		"",
	} {
		t.Run(in, func(t *testing.T) {
			if got := Text(in); got != in {
				t.Errorf("Text(%q) = %q, want it unchanged", in, got)
			}
		})
	}
}

func TestValue(t *testing.T) {
	const id, mobile = "51010419760101720X", "18073587840"
	idHidden := func(i int) bool { return i >= 6 && i < 14 }
	mobHidden := func(i int) bool { return i >= 3 && i < 7 }
	tests := []struct {
		name, in, value string
		hidden          func(int) bool
		want            string
	}{
		{"id plain", "https://a/51010419760101720X.pdf", id, idHidden, "https://a/510104********720X.pdf"},
		{"id lower x", "AUTH-51010419760101720x", id, idHidden, "AUTH-510104********720x"},
		{"id percent space", "?id=510104%2019760101720X", id, idHidden, "?id=510104%20********720X"},
		{"id spaced", "510104 19760101 720X", id, idHidden, "510104 ******** 720X"},
		{"id dashed lower pct", "510104%2d19760101%2d720x", id, idHidden, "510104%2d********%2d720x"},
		{"id every char dotted", "5.1.0.1.0.4.1.9.7.6.0.1.0.1.7.2.0.X", id, idHidden, "5.1.0.1.0.4.*.*.*.*.*.*.*.*.7.2.0.X"},
		{"id fullwidth", "５１０１０４１９７６０１０１７２０Ｘ", id, idHidden, "５１０１０４********７２０Ｘ"},
		{"id twice", "51010419760101720X/51010419760101720X", id, idHidden, "510104********720X/510104********720X"},
		{"mobile dashed", "AUTH180-7358-7840", mobile, mobHidden, "AUTH180-****-7840"},
		{"mobile slashes pct", "180%2F7358%2F7840", mobile, mobHidden, "180%2F****%2F7840"},
		{"mobile plus", "180+7358+7840", mobile, mobHidden, "180+****+7840"},
		{"other number", "AUTH180-7358-7841", mobile, mobHidden, "AUTH180-7358-7841"},
		{"too many separators", "180----7358-7840", mobile, mobHidden, "180----7358-7840"},
		{"absent", "https://auth.example.com/5.pdf", mobile, mobHidden, "https://auth.example.com/5.pdf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := Value(tt.in, tt.value, tt.hidden)
			if got != tt.want || found != (tt.in != tt.want) {
				t.Errorf("Value(%q, %q) = %q, %v; want %q, %v", tt.in, tt.value, got, found, tt.want, tt.in != tt.want)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	var s Secrets
	s.Add("00112233445566778899aabbccddeeff", "[access key]")
	s.Add("indep-id", "[access id]")
	s.Add("abc", "[short]") // too short: left alone
	tests := []struct{ in, want string }{
		{"bad key 00112233445566778899aabbccddeeff for indep-id", "bad key [access key] for [access id]"},
		{"KEY 00112233445566778899AABBCCDDEEFF", "KEY [access key]"},
		{"İ 00112233445566778899AaBbCcDdEeFf İ", "İ [access key] İ"},
		{"twice indep-id/INDEP-ID", "twice [access id]/[access id]"},
		{"abc stays", "abc stays"},
		{"nothing", "nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := s.Replace(tt.in); got != tt.want {
				t.Errorf("Replace(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	var none *Secrets
	if got := none.Replace("x 00112233"); got != "x 00112233" {
		t.Errorf("nil Secrets: Replace = %q", got)
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"137-1652-6336", "510104%20197601017207", "１３７", "%2", "1 ", "\xef\xbc", "12345678901X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Text(s)
		// Every number of s that looks like an ID number or a mobile is in
		// got masked; read as Text reads s (a percent-encoded separator
		// inside a number is a separator, not digits).
		s = maskHexRuns(s)
		for i := 0; i < len(s); {
			if digitAt(s, i) == 0 {
				i++
				continue
			}
			end, digits, longest, _ := chainAt(s, i)
			if digits >= chainDigits || longest >= runDigits {
				if want := string(maskChain(nil, s[i:end], digits >= chainDigits)); !strings.Contains(got, want) {
					t.Fatalf("Text(%q) = %q: want %q in it", s, got, want)
				}
			}
			i = end
		}
	})
}

func TestDigits(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"", 0},
		{"AUTH00000001", 8},
		{"138-0013-8000", 11},
		{"１３８００１３８０００", 11},
		{"id=110101%2019900101123X", 19},
		{"https://auth.example.com/letters/张三.pdf", 0},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			if got := Digits(tt.s); got != tt.want {
				t.Errorf("Digits(%q) = %d, want %d", tt.s, got, tt.want)
			}
		})
	}
}
