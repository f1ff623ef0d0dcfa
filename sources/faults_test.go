package sources_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/scorepipe/scorepipe/sources"
	"github.com/scorepipe/scorepipe/transform"
)

// person is one applicant of a generated file.
type person struct {
	name, id, mobile, note string
}

// people returns n applicants with valid, distinct ID numbers and mobiles;
// names cycle through ones that GBK holds and, with rare, when GBK does
// not (GB18030 writes those in four bytes).
func people(n int, rare bool) []person {
	names := []string{"张三", "李四", "欧阳娜娜", "王五"}
	if rare {
		names = append(names, "吉𠮷", "刘䶵", "㐀明", "陈𪚥")
	}
	out := make([]person, n)
	for i := range out {
		first17 := fmt.Sprintf("110101%04d0101%03d", 1950+i%50, i%1000)
		out[i] = person{
			name:   names[i%len(names)],
			id:     first17 + string(transform.IDCheckChar(first17)),
			mobile: fmt.Sprintf("139%08d", i),
			note:   fmt.Sprintf("note %d", i),
		}
	}
	return out
}

func (p person) fields() []string { return []string{p.name, p.id, p.mobile, p.note} }

const peopleHeader = "姓名,身份证号,手机号,备注"

var peopleColumns = []string{"name", "id_card", "mobile_no", "备注"}

// encodings turn UTF-8 text into the bytes of a file.
var encodings = []struct {
	name   string
	encode func(t testing.TB, s string) []byte
}{
	{"UTF-8", func(t testing.TB, s string) []byte { return []byte(s) }},
	{"UTF-8 BOM", func(t testing.TB, s string) []byte { return append([]byte("\xef\xbb\xbf"), s...) }},
	{"GB18030", func(t testing.TB, s string) []byte {
		b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatalf("GB18030 encode: %v", err)
		}
		return b
	}},
}

// lineEndings join lines; mixed cycles through all three.
var lineEndings = []struct {
	name string
	end  func(i int) string
}{
	{"LF", func(int) string { return "\n" }},
	{"CRLF", func(int) string { return "\r\n" }},
	{"CR", func(int) string { return "\r" }},
	{"mixed", func(i int) string { return []string{"\n", "\r\n", "\r"}[i%3] }},
}

// readAll reads rd to the end; any error but a *RowError stops the test.
// It checks what holds for every row: fields as long as the header, valid
// UTF-8, row numbers increasing, a RowError naming the record's row.
func readAll(t *testing.T, rd sources.Reader) []csvRow {
	t.Helper()
	var rows []csvRow
	prev := 0
	for n := 0; ; n++ {
		if n > 1_000_000 {
			t.Fatal("Read never returned io.EOF")
		}
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return rows
		}
		row := csvRow{Row: rec.Row, Fields: rec.Fields}
		if err != nil {
			var re *sources.RowError
			if !errors.As(err, &re) {
				t.Fatalf("Read() error = %T %v, want a *RowError or io.EOF", err, err)
			}
			if re.Row != rec.Row {
				t.Fatalf("RowError row %d, record row %d, want the same", re.Row, rec.Row)
			}
			row.Reason = re.Reason
			row.Column = re.Column
		}
		if len(rec.Fields) != len(rd.Header()) {
			t.Fatalf("row %d has %d fields, want %d", rec.Row, len(rec.Fields), len(rd.Header()))
		}
		for i, f := range rec.Fields {
			if !utf8.ValidString(f) {
				t.Fatalf("row %d field %d = %q: not valid UTF-8", rec.Row, i, f)
			}
		}
		if rec.Row <= prev {
			t.Fatalf("row %d after row %d, want rows to increase", rec.Row, prev)
		}
		prev = rec.Row
		rows = append(rows, row)
	}
}

// TestCSVLineEndings reads the same applicants with every kind of line
// break, mixed, with and without one at the end, with a cell over
// several lines, in every encoding.
func TestCSVLineEndings(t *testing.T) {
	ps := people(40, true)
	for _, enc := range encodings {
		for _, le := range lineEndings {
			for _, last := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s %s final break %v", enc.name, le.name, last), func(t *testing.T) {
					var b strings.Builder
					b.WriteString(peopleHeader)
					line := 1
					var wantRows []int
					for i, p := range ps {
						b.WriteString(le.end(line))
						line++
						wantRows = append(wantRows, line)
						note := p.note
						if i%7 == 3 { // a cell over two lines, its break of another kind
							note = "\"first" + le.end(line+1) + "second\""
							line++
						}
						b.WriteString(strings.Join([]string{p.name, p.id, p.mobile, note}, ","))
					}
					if last {
						b.WriteString(le.end(line))
					}
					rd, err := sources.Open(csvTestFile(t, "a.csv", enc.encode(t, b.String())), sources.Options{})
					if err != nil {
						t.Fatalf("Open() = %v", err)
					}
					defer rd.Close()
					if got := rd.Header(); !slices.Equal(got, peopleColumns) {
						t.Fatalf("Header() = %q, want %q", got, peopleColumns)
					}
					got := readAll(t, rd)
					if len(got) != len(ps) {
						t.Fatalf("read %d rows, want %d", len(got), len(ps))
					}
					for i, p := range ps {
						want := p.fields()
						if i%7 == 3 {
							want[3] = "first\nsecond"
						}
						if got[i].Reason != "" || got[i].Row != wantRows[i] || !slices.Equal(got[i].Fields, want) {
							t.Errorf("row %d = %d %q %q, want %d %q", i, got[i].Row, got[i].Fields, got[i].Reason, wantRows[i], want)
						}
					}
				})
			}
		}
	}
}

// TestCSVUnclosedQuote opens a quote that never closes in one row, in
// every column, at the start, middle and end of the file, with later rows
// that quote fields of their own or not: that row alone is rejected,
// naming its column, and every other row is read whole.
func TestCSVUnclosedQuote(t *testing.T) {
	ps := people(10, false)
	type variant struct {
		name   string
		quoted bool // the other rows quote their note
	}
	for _, enc := range encodings {
		for _, le := range lineEndings {
			for _, at := range []int{0, 4, 9} {
				for col := range 4 {
					for _, v := range []variant{{"plain rows", false}, {"quoted rows", true}} {
						name := fmt.Sprintf("%s %s row %d column %d %s", enc.name, le.name, at, col, v.name)
						t.Run(name, func(t *testing.T) {
							var b strings.Builder
							b.WriteString(peopleHeader)
							for i, p := range ps {
								b.WriteString(le.end(i))
								f := p.fields()
								if v.quoted {
									f[3] = `"` + f[3] + `, more"`
								}
								if i == at {
									f[col] = `"` + f[col]
								}
								b.WriteString(strings.Join(f, ","))
							}
							b.WriteString(le.end(0))
							rd, err := sources.Open(csvTestFile(t, "a.csv", enc.encode(t, b.String())), sources.Options{})
							if err != nil {
								t.Fatalf("Open() = %v", err)
							}
							defer rd.Close()
							got := readAll(t, rd)
							if len(got) != len(ps) {
								t.Fatalf("read %d rows %+v, want %d: every row accounted for", len(got), got, len(ps))
							}
							for i, p := range ps {
								g := got[i]
								if g.Row != i+2 {
									t.Errorf("row %d at line %d, want %d", i, g.Row, i+2)
								}
								want := p.fields()
								if v.quoted {
									want[3] += ", more"
								}
								if i == at && v.quoted && col == 3 {
									// ""note, more" is a quoted field starting with an escaped quote
									want[3] = `"` + want[3]
								} else if i == at {
									if !strings.Contains(g.Reason, "quote") || g.Column != peopleColumns[col] {
										t.Errorf("row %d error = %q in %q, want a quote not closed in %q", i, g.Reason, g.Column, peopleColumns[col])
									}
									if !v.quoted && !slices.Equal(g.Fields, p.fields()) {
										t.Errorf("rejected row %d = %q, want its fields in their columns %q", i, g.Fields, p.fields())
									}
									for _, other := range ps {
										if other != p && slices.ContainsFunc(g.Fields, func(f string) bool { return strings.Contains(f, other.id) }) {
											t.Errorf("rejected row %d holds another row's ID: %q", i, g.Fields)
										}
									}
									continue
								}
								if g.Reason != "" || !slices.Equal(g.Fields, want) {
									t.Errorf("row %d = %q %q, want %q", i, g.Fields, g.Reason, want)
								}
							}
						})
					}
				}
			}
		}
	}
}

// TestCSVQuotesOverLines keeps what is a cell over lines, and rejects
// alone the rows where a quote runs on into what reads as rows.
func TestCSVQuotesOverLines(t *testing.T) {
	header := "name,id_card,note\n"
	tests := []struct {
		name string
		data string
		rows []csvRow
	}{
		{"a cell over three lines", header + "张三," + id1 + ",\"a\nb\nc\"\n李四," + id2 + ",x\n",
			[]csvRow{{Row: 2, Fields: []string{"张三", id1, "a\nb\nc"}}, {Row: 5, Fields: []string{"李四", id2, "x"}}}},
		{"a cell over lines with an escaped quote", header + "张三," + id1 + ",\"a \"\"b\"\"\nc\"\n",
			[]csvRow{{Row: 2, Fields: []string{"张三", id1, "a \"b\"\nc"}}}},
		{"a cell over an empty line", header + "张三," + id1 + ",\"a\n\nc\"\n",
			[]csvRow{{Row: 2, Fields: []string{"张三", id1, "a\n\nc"}}}},
		{"the quote runs into a row", header + "张三,\"" + id1 + ",x\n李四," + id2 + ",y\n",
			[]csvRow{{Row: 2, Fields: []string{"张三", id1, "x"}, Reason: "unclosed quote"}, {Row: 3, Fields: []string{"李四", id2, "y"}}}},
		{"the quote runs to a lone quote", header + "\"张三," + id1 + ",x\nmore\nend\"tail,a,b\n李四," + id2 + ",y\n",
			[]csvRow{{Row: 2, Fields: []string{"张三", id1, "x"}, Reason: "unclosed quote"},
				{Row: 3, Fields: []string{"more", "", ""}, Reason: "has 1 fields"},
				{Row: 4, Fields: []string{"end\"tail", "a", "b"}},
				{Row: 5, Fields: []string{"李四", id2, "y"}}}},
		{"a closing quote with text after it", header + "\"张\"三," + id1 + ",x\n李四," + id2 + ",y\n",
			[]csvRow{{Row: 2, Fields: []string{"张\"三", id1, "x"}, Reason: "unclosed quote"}, {Row: 3, Fields: []string{"李四", id2, "y"}}}},
		{"a lone quote closed on its line", header + "\"张\"三\"," + id1 + ",x\n",
			[]csvRow{{Row: 2, Fields: []string{"张\"三", id1, "x"}}}},
		{"two rows with unclosed quotes", header + "\"张三," + id1 + ",x\n\"李四," + id2 + ",y\n王五," + id1 + ",z\n",
			[]csvRow{{Row: 2, Fields: []string{"张三", id1, "x"}, Reason: "unclosed quote"},
				{Row: 3, Fields: []string{"李四", id2, "y"}, Reason: "unclosed quote"},
				{Row: 4, Fields: []string{"王五", id1, "z"}}}},
		{"the last line", header + "张三," + id1 + ",x\n李四," + id2 + ",\"y",
			[]csvRow{{Row: 2, Fields: []string{"张三", id1, "x"}}, {Row: 3, Fields: []string{"李四", id2, "y"}, Reason: "unclosed quote"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := sources.Open(csvTestFile(t, "a.csv", []byte(tt.data)), sources.Options{})
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			defer rd.Close()
			got := readAll(t, rd)
			if len(got) != len(tt.rows) {
				t.Fatalf("read %d rows %+v, want %d %+v", len(got), got, len(tt.rows), tt.rows)
			}
			for i, w := range tt.rows {
				g := got[i]
				if g.Row != w.Row || !slices.Equal(g.Fields, w.Fields) || (w.Reason == "") != (g.Reason == "") || !strings.Contains(g.Reason, w.Reason) {
					t.Errorf("row %d = %d %q %q, want %d %q %q", i, g.Row, g.Fields, g.Reason, w.Row, w.Fields, w.Reason)
				}
			}
		})
	}
}

// TestCSVLongLines rejects a line over 1 MiB alone, and a quoted cell
// that grows past it, reading on after it.
func TestCSVLongLines(t *testing.T) {
	long := strings.Repeat("很长", 200_000) // 1.2 MB
	tests := []struct {
		name   string
		data   string
		reason string
	}{
		{"a long line", "name,id_card,note\n张三," + id1 + "," + long + "\n李四," + id2 + ",x\n", "longer than 1 MiB"},
		{"a long quoted cell", "name,id_card,note\n张三," + id1 + ",\"" + strings.Repeat("很长\n", 200_000) + "\"\n李四," + id2 + ",x\n", "unclosed quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := sources.Open(csvTestFile(t, "a.csv", []byte(tt.data)), sources.Options{})
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			defer rd.Close()
			got := readAll(t, rd)
			if len(got) < 2 || !strings.Contains(got[0].Reason, tt.reason) {
				t.Fatalf("first row error = %q, want %q", got[0].Reason, tt.reason)
			}
			last := got[len(got)-1]
			if want := []string{"李四", id2, "x"}; !slices.Equal(last.Fields, want) || last.Reason != "" {
				t.Errorf("last row = %q %q, want %q", last.Fields, last.Reason, want)
			}
		})
	}
}

// TestCSVInvalidBytes puts bytes the file's encoding cannot hold into one
// field of one row, before and after the part read to detect the
// encoding: that row alone is rejected, naming the column, its fields
// valid UTF-8.
func TestCSVInvalidBytes(t *testing.T) {
	utf8Faults := map[string]string{
		"lone 0xff":         "\xff",
		"cut 3-byte":        "\xe5\xbc",
		"overlong":          "\xc0\xaf",
		"surrogate":         "\xed\xa0\x80",
		"GBK bytes":         "\xd5\xc5",
		"replacement char":  "\uFFFD",
		"Latin-1 e acute":   "caf\xe9",
		"continuation only": "\x80\x80",
	}
	gbFaults := map[string]string{
		"lone 0xff":           "\xff",
		"lead then space":     "\x81 ",
		"cut 4-byte":          "\x81\x30\x81",
		"bad 4-byte 3rd byte": "\x81\x30\x20\x30",
	}
	type fileCase struct {
		enc    string
		faults map[string]string
		encode func(t testing.TB, s string) []byte
	}
	cases := []fileCase{
		{"UTF-8", utf8Faults, encodings[0].encode},
		{"GB18030", gbFaults, encodings[2].encode},
	}
	const rows = 1500 // about 90 KiB: past the 64 KiB sample
	ps := people(rows, true)
	for _, fc := range cases {
		for fault, bad := range fc.faults {
			for _, at := range []int{0, 700, rows - 1} {
				for _, col := range []int{0, 1, 3} {
					t.Run(fmt.Sprintf("%s %s row %d column %d", fc.enc, fault, at, col), func(t *testing.T) {
						var data []byte
						data = append(data, fc.encode(t, peopleHeader+"\n")...)
						for i, p := range ps {
							f := p.fields()
							if i != at {
								data = append(data, fc.encode(t, strings.Join(f, ",")+"\n")...)
								continue
							}
							f[col] = "\x00" // where the fault goes
							parts := strings.SplitN(strings.Join(f, ","), "\x00", 2)
							data = append(data, fc.encode(t, parts[0])...)
							data = append(data, bad...)
							data = append(data, fc.encode(t, parts[1]+"\n")...)
						}
						rd, err := sources.Open(csvTestFile(t, "a.csv", data), sources.Options{})
						if err != nil {
							t.Fatalf("Open() = %v", err)
						}
						defer rd.Close()
						got := readAll(t, rd)
						if len(got) != rows {
							t.Fatalf("read %d rows, want %d", len(got), rows)
						}
						for i, p := range ps {
							g := got[i]
							if i == at {
								if g.Reason == "" || g.Column != peopleColumns[col] {
									t.Errorf("row %d = %q %q in %q, want rejected in %q", i, g.Fields, g.Reason, g.Column, peopleColumns[col])
								}
								continue
							}
							if g.Reason != "" || !slices.Equal(g.Fields, p.fields()) {
								t.Errorf("row %d = %q %q, want %q", i, g.Fields, g.Reason, p.fields())
							}
						}
					})
				}
			}
		}
	}
}

// TestGB18030FourByte reads names written with GB18030's four-byte
// sequences, characters GBK does not have, detected and declared.
func TestGB18030FourByte(t *testing.T) {
	names := []string{"吉𠮷", "刘䶵", "㐀明", "陈𪚥", "𠀀"}
	var b strings.Builder
	b.WriteString(peopleHeader + "\n")
	ps := people(len(names), false)
	for i := range ps {
		ps[i].name = names[i]
		b.WriteString(strings.Join(ps[i].fields(), ",") + "\n")
	}
	data, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		enc, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(name)); err == nil {
			t.Fatalf("test data: GBK holds %q, want a name only GB18030 holds", name)
		}
		four := false
		for i := 0; i+3 < len(enc); i++ {
			if enc[i] >= 0x81 && enc[i+1] >= 0x30 && enc[i+1] <= 0x39 {
				four = true
			}
		}
		if !four {
			t.Fatalf("test data: %q is % x in GB18030, want a four-byte sequence", name, enc)
		}
	}
	for _, encoding := range []string{"", "gb18030", "gbk"} {
		t.Run("encoding "+encoding, func(t *testing.T) {
			rd, err := sources.Open(csvTestFile(t, "a.csv", data), sources.Options{Encoding: encoding})
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			defer rd.Close()
			got := readAll(t, rd)
			if len(got) != len(ps) {
				t.Fatalf("read %d rows, want %d", len(got), len(ps))
			}
			for i, p := range ps {
				if got[i].Reason != "" || !slices.Equal(got[i].Fields, p.fields()) {
					t.Errorf("row %d = %q %q, want %q", i, got[i].Fields, got[i].Reason, p.fields())
				}
			}
		})
	}
}

// TestCSVHeaderFaults refuses files whose header row cannot name the
// columns: a file without one (its first applicant would become column
// names), names differing only in case, a header that is not clean text
// or whose quote never closes. The message names the file and the column,
// never an ID number or mobile.
func TestCSVHeaderFaults(t *testing.T) {
	p := people(3, false)
	rows := func(end string) string {
		var b strings.Builder
		for _, x := range p {
			b.WriteString(strings.Join(x.fields(), ",") + end)
		}
		return b.String()
	}
	tests := []struct {
		name    string
		data    []byte
		message string
	}{
		{"no header row", []byte(rows("\n")), "column 2 holds what looks like an ID number"},
		{"no header row, CR", []byte(rows("\r")), "looks like data"},
		{"no header row, GBK", gbk(t, rows("\r\n")), "looks like data"},
		{"no header row, mobile first", []byte(p[0].mobile + "," + p[0].id + "\n"), "column 1 holds what looks like a mobile number"},
		{"mobile in groups", []byte("name,id_card,138 0013 8000\n"), "column 3 holds what looks like a mobile number"},
		{"15-digit ID", []byte("name,110101850612123,mobile\n"), "column 2 holds what looks like an ID number"},
		{"full-width ID", []byte("name,１１０１０１１９９００３０７１２３４\n"), "an ID number"},
		{"ID with x", []byte("11010119850612100x,name\n"), "an ID number"},
		{"a long number", []byte("id_card,6222021234567890123\n"), "column 2 holds what looks like a long number"},
		{"case only", []byte("id_card,Label,label\n" + id1 + ",1,0\n"), `columns 2 ("Label") and 3 ("label") differ only in case`},
		{"case only, other columns", []byte("id_card,Apply_Date,x,APPLY_DATE\n" + id1 + ",1,2,3\n"), "differ only in case"},
		{"header not UTF-8", []byte("id_card,n\xffame\n" + id1 + ",x\n"), "column 2: bytes that are not valid UTF-8"},
		{"header with U+FFFD", []byte("id_card,n\uFFFDame\n" + id1 + ",x\n"), "column 2: the replacement character"},
		{"header quote never closes", []byte("id_card,\"name,mobile\n" + id1 + ",x,y\n"), "column 2: unclosed quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := csvTestFile(t, "a.csv", tt.data)
			rd, err := sources.Open(path, sources.Options{})
			if err == nil {
				rd.Close()
				t.Fatalf("Open() = header %q, want an error", rd.Header())
			}
			var fe *sources.FileError
			if !errors.As(err, &fe) || fe.File != path {
				t.Fatalf("Open() = %T %v, want a *FileError for %s", err, err, path)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Open() = %q, want it to contain %q", err, tt.message)
			}
			for _, x := range p {
				if strings.Contains(err.Error(), x.id) || strings.Contains(err.Error(), x.mobile) || strings.Contains(err.Error(), x.name) {
					t.Errorf("Open() = %q: it repeats a value of the file", err)
				}
			}
		})
	}
}

// TestHeaderNotData keeps headers that hold digits but no ID number or
// mobile.
func TestHeaderNotData(t *testing.T) {
	for _, h := range [][]string{
		{"id_card", "2024-01-01", "score_2024", "月收入(元)", "x1234567890"},
		{"id_card", "身份证号(18位)", "手机号(11位)", "2024-01-01 12:00:00"},
	} {
		if _, err := sources.Canonical(h, nil); err != nil {
			t.Errorf("Canonical(%q) = %v, want no error", h, err)
		}
	}
}

// TestCSVCharacterAcrossFields rejects a row whose fields are each cut
// from one character: joined they would be valid UTF-8, apart they are not.
func TestCSVCharacterAcrossFields(t *testing.T) {
	for _, row := range []string{
		"张\xd5,\xa1" + id1 + ",x",  // "ա" cut at the delimiter
		"\"张\xe5\",\"\xbc\xa0\",x", // "张" cut, quoted
		"张三," + id1 + ",\xef\xbf",  // U+FFFD cut at the end of the row
	} {
		data := "name,id_card,note\n李四," + id2 + ",a\n" + row + "\n王五," + id1 + ",b\n"
		rd, err := sources.Open(csvTestFile(t, "a.csv", []byte(data)), sources.Options{Encoding: "utf-8"})
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		got := readAll(t, rd)
		rd.Close()
		if len(got) != 3 || got[0].Reason != "" || got[2].Reason != "" || !strings.Contains(got[1].Reason, "not valid UTF-8") {
			t.Errorf("%q: rows %+v, want the middle one rejected as not valid UTF-8", row, got)
		}
	}
}
