package audit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func intp(n int) *int { return &n }

func TestEntryRoundTrip(t *testing.T) {
	at := time.Date(2026, 5, 4, 8, 0, 1, 250e6, time.UTC)
	tests := []struct {
		name string
		e    Entry
	}{
		{"request", Entry{Time: at, RunID: "0196-run", Event: EventRequest, RequestNo: 7, Product: "JRZQ9E2A",
			ApplicantKey: "3f2a", AuthCode: "AUTH0001", Source: SourceVendor, Billed: BilledPossibly}},
		{"result", Entry{Time: at, RunID: "r", Event: EventResult, RequestNo: 1 << 40, Product: "COMBTY11",
			ApplicantKey: "k", AuthURL: "https://auth.example.com/letters/a.pdf?x=1&y=<2>", AuthDate: "20250101-20351231",
			Source: SourceVendor, TransactionID: "T-1", Code: intp(0), Outcome: OutcomeOK, Billed: BilledYes}},
		{"failed with a code", Entry{Time: at, RunID: "r", Event: EventResult, RequestNo: 2, Product: "P", ApplicantKey: "k",
			Source: SourceVendor, Code: intp(1001), Outcome: OutcomeFailed, Billed: BilledNo, Error: "vendor code 1001: \"busy\"\n"}},
		{"reuse", Entry{Time: at, RunID: "r", Event: EventReuse, Product: "P", ApplicantKey: "k", AuthCode: "授权书-01",
			Source: SourceStore, TransactionID: "T", Code: intp(0), Outcome: OutcomeOK, Billed: BilledNo,
			RepliedAt: at.Add(-48 * time.Hour)}},
		{"hostile text", Entry{Time: at, RunID: "r\"}\n{", Event: EventReuse, Product: "P\\", ApplicantKey: "k\x00\x1f\x7f",
			AuthCode: "a\u2028b\u2029c\ttab\rcr", Source: SourceRun, Billed: BilledNo, Code: intp(-3)}},
		{"local time zone", Entry{Time: at.In(time.FixedZone("CST", 8*3600)), RunID: "r", Event: EventReuse, Product: "P",
			ApplicantKey: "k", Source: SourceRun, Billed: BilledNo}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := tt.e.AppendJSON(nil)
			if !strings.HasSuffix(string(line), "}\n") || strings.Count(string(line), "\n") != 1 {
				t.Fatalf("AppendJSON = %q, want one line ending in }\\n", line)
			}
			if !json.Valid(line) {
				t.Fatalf("AppendJSON = %q, not valid JSON", line)
			}
			if !strings.HasPrefix(string(line), linePrefix) {
				t.Errorf("AppendJSON = %q, want it to start with %s", line, linePrefix)
			}
			got, err := ParseLine(line)
			if err != nil {
				t.Fatalf("ParseLine(%q) = %v", line, err)
			}
			want := tt.e
			want.Time = want.Time.UTC()
			if !equalEntries(got, want) {
				t.Errorf("ParseLine(AppendJSON(e)) = %+v, want %+v", got, want)
			}
			if tm, ok := lineTime(line[:len(line)-1]); !ok || !tm.Equal(want.Time) {
				t.Errorf("lineTime = %v, %v; want %v", tm, ok, want.Time)
			}
		})
	}
}

func equalEntries(a, b Entry) bool {
	ca, cb := a.Code, b.Code
	a.Code, b.Code = nil, nil
	if (ca == nil) != (cb == nil) || ca != nil && *ca != *cb {
		return false
	}
	ta, tb, ra, rb := a.Time, b.Time, a.RepliedAt, b.RepliedAt
	a.Time, b.Time, a.RepliedAt, b.RepliedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b && ta.Equal(tb) && ra.Equal(rb)
}

func TestAppendStringAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `"q"`, `back\slash`, "\x00\x01\x1f", "张三", "\xff\xfe", "a\xc3", "\u2028\u2029",
		"<tag>&amp;", strings.Repeat("字", 10)} {
		t.Run(s, func(t *testing.T) {
			var got string
			if err := json.Unmarshal(appendString(nil, s), &got); err != nil {
				t.Fatalf("appendString(%q) = %q: %v", s, appendString(nil, s), err)
			}
			want := strings.ToValidUTF8(s, "\uFFFD")
			// encoding/json replaces each invalid byte on its own.
			var viaJSON string
			data, _ := json.Marshal(s)
			_ = json.Unmarshal(data, &viaJSON)
			if got != viaJSON && got != want {
				t.Errorf("appendString(%q) reads back as %q, want %q", s, got, viaJSON)
			}
		})
	}
}

func TestAppendStringCapsLongFields(t *testing.T) {
	for _, s := range []string{strings.Repeat("a", maxField+10), strings.Repeat("字", maxField), strings.Repeat("ab字", maxField)} {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("appendString(long) = %v", err)
		}
		if len(got) > maxField+len("…") || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
			t.Errorf("appendString(%d bytes) read back as %d bytes (valid %t), want at most %d ending in …",
				len(s), len(got), utf8.ValidString(got), maxField+len("…"))
		}
		if !strings.HasPrefix(s, strings.TrimSuffix(got, "…")) {
			t.Errorf("appendString(long) is not a prefix of the text")
		}
	}
}

func TestParseLineDamaged(t *testing.T) {
	good := (&Entry{Time: time.Unix(1, 0), RunID: "r", Event: EventReuse, Product: "P", Source: SourceStore, Billed: BilledNo}).AppendJSON(nil)
	tests := []struct {
		name, line string
	}{
		{"empty", ""},
		{"not JSON", "hello"},
		{"cut short", string(good[:len(good)/2])},
		{"array", "[1,2]"},
		{"no time", `{"run_id":"r","event":"reuse","product":"P"}`},
		{"bad time", `{"time":"yesterday","run_id":"r","event":"reuse","product":"P"}`},
		{"no run", `{"time":"2026-01-01T00:00:00.000Z","event":"reuse","product":"P"}`},
		{"unknown event", `{"time":"2026-01-01T00:00:00.000Z","run_id":"r","event":"lookup","product":"P"}`},
		{"no product", `{"time":"2026-01-01T00:00:00.000Z","run_id":"r","event":"reuse"}`},
		{"code not a number", `{"time":"2026-01-01T00:00:00.000Z","run_id":"r","event":"reuse","product":"P","code":"0"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLine([]byte(tt.line))
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("ParseLine(%q) = %v, want an error wrapping ErrDamaged", tt.line, err)
			}
		})
	}
}

// FuzzEntryRoundTrip checks that whatever text the fields hold, a line is
// one line of valid JSON that reads back as written.
func FuzzEntryRoundTrip(f *testing.F) {
	f.Add("run", "JRZQ9E2A", "key", "AUTH", "https://a/b.pdf", "20250101-20351231", "T1", "err", int64(1), 0, int64(1700000000000))
	f.Add("\x00", "\n", "\"", "\\", "\u2028", "\xff", "字", "", int64(0), -1, int64(-1))
	f.Fuzz(func(t *testing.T, run, product, key, code, url, date, txn, msg string, no int64, c int, ms int64) {
		if run == "" || product == "" {
			return // damaged by definition
		}
		ms %= 1 << 43 // years 1691 to 2248: four-digit years
		e := Entry{Time: time.UnixMilli(ms), RunID: run, Event: EventResult, RequestNo: no, Product: product,
			ApplicantKey: key, AuthCode: code, AuthURL: url, AuthDate: date, Source: SourceVendor, TransactionID: txn,
			Code: &c, Outcome: OutcomeFailed, Billed: BilledNo, Error: msg}
		line := e.AppendJSON(nil)
		if n := strings.Count(string(line), "\n"); n != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("AppendJSON = %q: %d newlines, want one at the end", line, n)
		}
		if !json.Valid(line) {
			t.Fatalf("AppendJSON = %q, not valid JSON", line)
		}
		if len(line) > maxLine {
			t.Fatalf("AppendJSON gave %d bytes, more than a reader takes", len(line))
		}
		got, err := ParseLine(line)
		if err != nil {
			t.Fatalf("ParseLine(%q) = %v", line, err)
		}
		clean := func(s string) string {
			if len(s) > maxField {
				return s // cut: checked elsewhere
			}
			var b []byte
			for _, r := range s { // each invalid byte becomes U+FFFD
				b = utf8.AppendRune(b, r)
			}
			return string(b)
		}
		want := e
		want.RunID, want.Product, want.ApplicantKey = clean(run), clean(product), clean(key)
		want.AuthCode, want.AuthURL, want.AuthDate, want.TransactionID, want.Error = clean(code), clean(url), clean(date), clean(txn), clean(msg)
		if len(run) > maxField || len(product) > maxField || len(key) > maxField || len(code) > maxField ||
			len(url) > maxField || len(date) > maxField || len(txn) > maxField || len(msg) > maxField {
			return
		}
		if !equalEntries(got, want) {
			t.Errorf("ParseLine(AppendJSON(e)) = %+v, want %+v", got, want)
		}
	})
}

func TestAppendTime(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 5, 4, 8, 0, 1, 250e6, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 1, 1, 7, 59, 59, 999e6, time.FixedZone("CST", 8*3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(1e9, 123456789),
	} {
		want := tm.UTC().AppendFormat(nil, timeLayout)
		if got := appendTime(nil, tm); string(got) != string(want) {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
