package sources

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/width"
)

// openCSVBytes reads data as a CSV file would be read: the fuzz targets
// run too often to write files.
func openCSVBytes(data []byte, opts Options) (Reader, error) {
	rd, err := newCSV("fuzz.csv", bytes.NewReader(data), opts)
	if err != nil {
		return nil, err
	}
	return rd, nil
}

// fuzzEncodings are what the fuzz targets set input.encoding to.
var fuzzEncodings = []string{"", "utf-8", "gb18030"}

// withLineEnding rewrites every LF of data as the line ending chosen by
// kind: LF, CRLF, CR, or a mixture.
func withLineEnding(data []byte, kind byte) []byte {
	ends := [][]byte{[]byte("\n"), []byte("\r\n"), []byte("\r")}
	if kind%4 < 3 {
		return bytes.ReplaceAll(data, []byte("\n"), ends[kind%4])
	}
	var out []byte
	for i, part := range bytes.Split(data, []byte("\n")) {
		if i > 0 {
			out = append(out, ends[i%3]...)
		}
		out = append(out, part...)
	}
	return out
}

// FuzzCSV reads arbitrary bytes after a header, in each encoding and with
// each kind of line break. Whatever the bytes: no panic; Open fails only
// with a *FileError; every Read gives a record or a *RowError for its
// row, with fields as many as the header's and valid UTF-8, rows
// increasing; and when the bytes hold no quote, every line that is not
// empty is one row (record, rejected or blank), numbered by its line.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"张三,110101199003071234,13800138000\n",
		"\"张\n三\",110101199003071234,1\n李四,2\n",
		",,\n\n  \n",
		"a,b,c,d\n\"unterminated,x\n",
		"a\"b,\"c\"\"d\",e\r\n",
		"\xd5\xc5\xc8\xfd,1,2\n", // 张三 in GBK
		"\x95\x34\xb2\x35,1,2\n", // 𠮷 in GB18030
		"\xff\xfe,1,2\n",
		"a;b;c\n\tx\ty\n",
		"\"\"\"\n\"\n",
		"\r\r\n\n\r",
		"x,\"y\rz\",w\r\"a,b\rc,d,e\r",
		"\"a\"b\"\n,,\n",
		"张\x00三,1,2\n",
		"a,\"b\x1bc\",\x7f\n",
		"\u0085x,\u009b,\t\n",
	} {
		for k := range byte(4) {
			f.Add([]byte(s), k, byte(0))
		}
	}
	header := []string{"name", "id_card", "mobile_no"}
	f.Fuzz(func(t *testing.T, data []byte, ending, encoding byte) {
		data = withLineEnding(data, ending)
		file := withLineEnding([]byte("name,id_card,mobile_no\n"), ending)
		file = append(file, data...)
		enc := fuzzEncodings[int(encoding)%len(fuzzEncodings)]
		rd, err := openCSVBytes(file, Options{Encoding: enc})
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Open() error = %T %v, want a *FileError", err, err)
			}
			return
		}
		defer rd.Close()
		if got := rd.Header(); !slices.Equal(got, header) {
			t.Fatalf("Header() = %q, want %q", got, header)
		}
		var rows []int
		prev := 1 // the header's line
		for n := 0; ; n++ {
			if n > len(data)+1 {
				t.Fatalf("more than %d reads of %d bytes", n, len(data))
			}
			rec, err := rd.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var re *RowError
				if !errors.As(err, &re) {
					t.Fatalf("Read() error = %T %v, want a *RowError or io.EOF", err, err)
				}
				if re.Row != rec.Row {
					t.Fatalf("RowError row %d, record row %d", re.Row, rec.Row)
				}
				if re.Reason == "" {
					t.Fatalf("RowError at row %d without a reason", re.Row)
				}
			}
			if len(rec.Fields) != len(header) {
				t.Fatalf("record at row %d has %d fields %q, want %d", rec.Row, len(rec.Fields), rec.Fields, len(header))
			}
			for i, f := range rec.Fields {
				if !utf8.ValidString(f) {
					t.Fatalf("row %d field %d = %q: not valid UTF-8", rec.Row, i, f)
				}
				if err == nil && strings.ContainsRune(f, utf8.RuneError) {
					t.Fatalf("row %d field %d = %q holds U+FFFD and was not rejected", rec.Row, i, f)
				}
				if err == nil && strings.ContainsFunc(f, isNonSpaceControl) {
					t.Fatalf("row %d field %d = %q holds a control character and was not rejected", rec.Row, i, f)
				}
			}
			if rec.Row <= prev {
				t.Fatalf("record row %d after row %d, want rows to increase", rec.Row, prev)
			}
			prev = rec.Row
			rows = append(rows, rec.Row)
		}
		if rd.Blank() < 0 {
			t.Fatalf("Blank() = %d", rd.Blank())
		}
		if bytes.IndexByte(data, '"') >= 0 {
			return
		}
		// Without quotes, a record is a line: count the lines that are not
		// empty, splitting as the reader does, and find each.
		var want []int
		text := strings.ReplaceAll(string(data), "\r\n", "\n")
		text = strings.ReplaceAll(text, "\r", "\n")
		for i, l := range strings.Split(text, "\n") {
			if l != "" {
				want = append(want, i+2) // the header is line 1
			}
		}
		if got := len(rows) + rd.Blank(); got != len(want) {
			t.Fatalf("%d rows and %d blank, want %d lines that are not empty (%v, got %v)", len(rows), rd.Blank(), len(want), want, rows)
		}
		for _, r := range rows {
			if !slices.Contains(want, r) {
				t.Fatalf("row %d is not a line that is not empty (%v)", r, want)
			}
		}
	})
}

// FuzzCSVRoundTrip writes cells as a CSV file should be written (quoted
// where they hold a delimiter, quote or line break), in an encoding and
// with a line ending, and reads it back: every record comes back as it
// was written (line breaks inside cells as LF), or rejected when a cell
// is not clean text (a control character but tab and line breaks
// included), or skipped as blank; nothing else.
func FuzzCSVRoundTrip(f *testing.F) {
	f.Add("张三\x1f110101199003071234\x1fnote", byte(0), byte(0))
	f.Add("a,b\x1f\"q\"\x1fx\ny\x1f\x1f\x1f\x1f𠮷\x1f\r\n\x1f,", byte(1), byte(1))
	f.Add(" \x1f\t\x1f\x1fa\x1fb\x1fc", byte(2), byte(2))
	f.Add("\xff\x1f\uFFFD\x1fx", byte(3), byte(0))
	const columns = 3
	f.Fuzz(func(t *testing.T, cells string, ending, encoding byte) {
		all := strings.Split(cells, "\x1f")
		var records [][]string
		for i := 0; i < len(all); i += columns {
			rec := make([]string, columns)
			copy(rec, all[i:])
			records = append(records, rec)
		}
		rowDelims := columns - 1
		eol := []string{"\n", "\r\n", "\r", "\r\n"}[ending%4]
		var b strings.Builder
		b.WriteString("name,id_card,note" + eol)
		for _, rec := range records {
			for i, cell := range rec {
				lines := strings.Split(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(cell), "\n")
				for j, l := range lines {
					if j > 0 && strings.Count(l, ",") >= rowDelims {
						t.Skip("a cell over lines with a line that reads as a row")
					}
				}
				if len(cell) >= 1<<20 {
					t.Skip("a cell longer than the longest line")
				}
				if i > 0 {
					b.WriteByte(',')
				}
				if strings.ContainsAny(cell, ",\"\r\n") {
					cell = `"` + strings.ReplaceAll(cell, `"`, `""`) + `"`
				}
				b.WriteString(cell)
			}
			b.WriteString(eol)
		}
		data := []byte(b.String())
		gb := encoding%2 == 1
		if gb {
			enc, err := simplifiedchinese.GB18030.NewEncoder().Bytes(data)
			if err != nil {
				t.Skip("cells GB18030 cannot encode")
			}
			if back, err := simplifiedchinese.GB18030.NewDecoder().Bytes(enc); err != nil || !bytes.Equal(back, data) {
				t.Skip("cells that x/text does not decode as it encodes them (private use characters)")
			}
			data = enc
		}
		opts := Options{}
		// Declare the encoding when the test says so, and when the bytes
		// could be either: GB18030 that is valid UTF-8, or UTF-8 that is
		// not (its bad bytes may be good GB18030).
		if gb && (encoding%4 == 1 || utf8.Valid(data)) || !gb && (encoding%4 == 2 || !utf8.Valid(data)) {
			opts.Encoding = map[bool]string{true: "gb18030", false: "utf-8"}[gb]
		}
		rd, err := openCSVBytes(data, opts)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Open() = %T %v, want a *FileError", err, err)
			}
			if opts.Encoding != "" {
				t.Fatalf("Open() = %v with the encoding set", err)
			}
			return // the encoding could not be told from the sample
		}
		defer rd.Close()
		blank := 0
		for _, rec := range records {
			if allBlankCells(rec) {
				blank++
				continue
			}
			got, err := rd.Read()
			if errors.Is(err, io.EOF) {
				t.Fatalf("io.EOF before record %q", rec)
			}
			clean := true
			for _, cell := range rec {
				clean = clean && utf8.ValidString(cell) && !strings.ContainsRune(cell, utf8.RuneError) && !strings.ContainsFunc(cell, isNonSpaceControl)
			}
			if !clean {
				var re *RowError
				if !errors.As(err, &re) {
					t.Fatalf("record %q read as %q, %v, want a *RowError", rec, got.Fields, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("record %q: Read() = %v", rec, err)
			}
			want := make([]string, len(rec))
			for i, cell := range rec {
				want[i] = strings.ReplaceAll(strings.ReplaceAll(cell, "\r\n", "\n"), "\r", "\n")
			}
			if !slices.Equal(got.Fields, want) {
				t.Fatalf("record read as %q, want %q", got.Fields, want)
			}
		}
		if got, err := rd.Read(); !errors.Is(err, io.EOF) {
			t.Fatalf("after the last record: %q, %v, want io.EOF", got.Fields, err)
		}
		if rd.Blank() != blank {
			t.Fatalf("Blank() = %d, want %d", rd.Blank(), blank)
		}
	})
}

func allBlankCells(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// FuzzHeader opens files whose first line is arbitrary: the header, when
// accepted, holds no ID number or mobile, no two names equal but for
// case, only valid UTF-8, and an id_card column; a refusal is a
// *FileError that repeats no run of digits long enough to be one.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		"姓名,身份证号,手机号",
		"张三,110101199003071234,13800138000",
		"id_card,Label,label",
		"id_card,\"a\nb\",c",
		"ＩＤ＿ＣＡＲＤ,１３８００１３８０００",
		"id_card,138-0013-8000",
		"\"id_card,x",
		"id_card\r13800138000",
		"id_card,la\x00bel",
		"id_card,\"a\tb\",\x1b[31m",
		"id_card,\u0085x,\u009fy",
	} {
		f.Add(s, byte(0), byte(0))
	}
	f.Fuzz(func(t *testing.T, header string, ending, encoding byte) {
		data := withLineEnding([]byte(header+"\n110101199003071234,x,y\n"), ending)
		enc := fuzzEncodings[int(encoding)%len(fuzzEncodings)]
		rd, err := openCSVBytes(data, Options{Encoding: enc})
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Open() = %T %v, want a *FileError", err, err)
			}
			if run := longestDigitRun(fe.Err.Error()); run >= 11 {
				t.Fatalf("Open() = %q: repeats a run of %d digits", err, run)
			}
			return
		}
		defer rd.Close()
		folded := map[string]bool{}
		hasID := false
		for _, h := range rd.Header() {
			if !utf8.ValidString(h) || strings.ContainsRune(h, utf8.RuneError) || strings.ContainsFunc(h, unicode.IsControl) {
				t.Fatalf("header name %q is not clean text", h)
			}
			if run := longestDigitRun(h); run >= 11 {
				t.Fatalf("header name %q holds a run of %d digits", h, run)
			}
			if folded[strings.ToLower(h)] {
				t.Fatalf("header %q has two names equal but for case", rd.Header())
			}
			folded[strings.ToLower(h)] = true
			hasID = hasID || h == "id_card"
		}
		if !hasID {
			t.Fatalf("header %q has no id_card", rd.Header())
		}
	})
}

// isNonSpaceControl reports whether r is a control character (C0, DEL,
// C1) other than a tab or a line break, which a cell may hold.
func isNonSpaceControl(r rune) bool {
	return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
}

// longestDigitRun is the length of the longest run of digits in s,
// spaces and dashes inside it and full-width forms allowed.
func longestDigitRun(s string) int {
	best, run := 0, 0
	for _, r := range width.Fold.String(s) {
		switch {
		case r >= '0' && r <= '9':
			run++
			best = max(best, run)
		case r == ' ' || r == '-':
		default:
			run = 0
		}
	}
	return best
}
