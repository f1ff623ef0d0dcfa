package sources_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/scorepipe/scorepipe/sources"
)

// csvTestFile writes data to a file of the given name in a fresh directory.
func csvTestFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gbk(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("GBK encode %q: %v", s, err)
	}
	return b
}

// csvRow is what the tests expect of one Read: a record, or a *RowError
// for the row when reason is set.
type csvRow struct {
	Row    int
	Fields []string
	Reason string // substring of the RowError reason; "" for a good row
	Column string // the RowError's column
}

// csvReadAll reads rd to io.EOF and returns every row; any error other than
// a *RowError stops the test.
func csvReadAll(t *testing.T, rd sources.Reader) []csvRow {
	t.Helper()
	var rows []csvRow
	for n := 0; ; n++ {
		if n > 10000 {
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
				t.Errorf("RowError row %d, record row %d, want the same", re.Row, rec.Row)
			}
			if re.File != rec.File {
				t.Errorf("RowError file %q, record file %q, want the same", re.File, rec.File)
			}
			row.Reason = re.Reason
		}
		rows = append(rows, row)
	}
}

const (
	id1 = "110101199003071234"
	id2 = "11010519491231002X"
)

var applicants = "姓名,身份证号,手机号\n张三," + id1 + ",13800138000\n李四," + id2 + ",13900139000\n"

var applicantRows = []csvRow{
	{Row: 2, Fields: []string{"张三", id1, "13800138000"}},
	{Row: 3, Fields: []string{"李四", id2, "13900139000"}},
}

func TestCSV(t *testing.T) {
	identity := []string{"name", "id_card", "mobile_no"}
	tests := []struct {
		name   string
		file   string
		data   []byte
		opts   sources.Options
		header []string
		rows   []csvRow
		blank  int
	}{
		{
			name: "UTF-8", file: "a.csv", data: []byte(applicants),
			header: identity, rows: applicantRows,
		},
		{
			name: "UTF-8 with BOM", file: "a.csv", data: []byte("\xef\xbb\xbf" + applicants),
			header: identity, rows: applicantRows,
		},
		{
			name: "UTF-8 with BOM, encoding set", file: "a.csv", data: []byte("\xef\xbb\xbf" + applicants),
			opts:   sources.Options{Encoding: "UTF_8"},
			header: identity, rows: applicantRows,
		},
		{
			name: "GBK", file: "a.csv", data: gbk(t, applicants),
			header: identity, rows: applicantRows,
		},
		{
			name: "GBK, encoding set", file: "a.csv", data: gbk(t, applicants),
			opts:   sources.Options{Encoding: "GBK"},
			header: identity, rows: applicantRows,
		},
		{
			name: "GB18030, encoding set", file: "a.csv", data: gbk(t, applicants),
			opts:   sources.Options{Encoding: "gb18030"},
			header: identity, rows: applicantRows,
		},
		{
			name: "TSV", file: "a.tsv", data: []byte(strings.ReplaceAll(applicants, ",", "\t")),
			header: identity, rows: applicantRows,
		},
		{
			name: "semicolons", file: "a.csv",
			data:   []byte("name;id_card;address\n张三;" + id1 + ";\"北京市,朝阳区\"\n"),
			header: []string{"name", "id_card", "address"},
			rows:   []csvRow{{Row: 2, Fields: []string{"张三", id1, "北京市,朝阳区"}}},
		},
		{
			name: "delimiters inside quotes in the header do not count", file: "a.csv",
			data:   []byte("\"a;b;c\",id_card,name\nx;y," + id1 + ",张三\n"),
			header: []string{"a;b;c", "id_card", "name"},
			rows:   []csvRow{{Row: 2, Fields: []string{"x;y", id1, "张三"}}},
		},
		{
			name: "pipe, delimiter set", file: "a.txt",
			data:   []byte("name|id_card|note\n张三|" + id1 + "|a,b;c\n"),
			opts:   sources.Options{Delimiter: "|"},
			header: []string{"name", "id_card", "note"},
			rows:   []csvRow{{Row: 2, Fields: []string{"张三", id1, "a,b;c"}}},
		},
		{
			name: "tab, delimiter set as a word", file: "a.dat",
			data:   []byte("name\tid_card\tnote\n张三\t" + id1 + "\ta,b,c;d\n"),
			opts:   sources.Options{Format: "CSV", Delimiter: "tab"},
			header: []string{"name", "id_card", "note"},
			rows:   []csvRow{{Row: 2, Fields: []string{"张三", id1, "a,b,c;d"}}},
		},
		{
			name: "comma, delimiter set against the majority", file: "a.csv",
			data:   []byte("name,id_card,note;x;y;z\n张三," + id1 + ",1;2\n"),
			opts:   sources.Options{Delimiter: ","},
			header: []string{"name", "id_card", "note;x;y;z"},
			rows:   []csvRow{{Row: 2, Fields: []string{"张三", id1, "1;2"}}},
		},
		{
			name: "quoted field with a line break", file: "a.csv",
			data:   []byte("name,id_card,note\n\"张\n三\"," + id1 + ",a\n李四," + id2 + ",\"x\r\ny\nz\"\n王五," + id1 + ",b\n"),
			header: []string{"name", "id_card", "note"},
			rows: []csvRow{
				{Row: 2, Fields: []string{"张\n三", id1, "a"}},
				{Row: 4, Fields: []string{"李四", id2, "x\ny\nz"}},
				{Row: 7, Fields: []string{"王五", id1, "b"}},
			},
		},
		{
			name: "CRLF", file: "a.csv",
			data:   []byte("name,id_card\r\n张三," + id1 + "\r\n李四," + id2 + "\r\n"),
			header: []string{"name", "id_card"},
			rows:   []csvRow{{Row: 2, Fields: []string{"张三", id1}}, {Row: 3, Fields: []string{"李四", id2}}},
		},
		{
			name: "no final line break", file: "a.csv",
			data:   []byte("name,id_card\n张三," + id1),
			header: []string{"name", "id_card"},
			rows:   []csvRow{{Row: 2, Fields: []string{"张三", id1}}},
		},
		{
			name: "blank rows", file: "a.csv",
			data:   []byte("name,id_card,mobile_no\n张三," + id1 + ",1\n,,\n  , ,\t\n\n   \n李四," + id2 + ",2\n,\n"),
			header: identity,
			rows:   []csvRow{{Row: 2, Fields: []string{"张三", id1, "1"}}, {Row: 7, Fields: []string{"李四", id2, "2"}}},
			blank:  4, // ",,", "  , ,\t", "   " and ","; an empty line is no row at all
		},
		{
			name: "wrong field counts", file: "a.csv",
			data:   []byte("name,id_card,mobile_no\n张三," + id1 + ",1\n李四," + id2 + "\n王五," + id1 + ",2,extra\n\"赵\n六\",x\n孙七," + id2 + ",3\n"),
			header: identity,
			rows: []csvRow{
				{Row: 2, Fields: []string{"张三", id1, "1"}},
				{Row: 3, Fields: []string{"李四", id2, ""}, Reason: "has 2 fields, the header has 3"},
				{Row: 4, Fields: []string{"王五", id1, "2"}, Reason: "has 4 fields, the header has 3"},
				{Row: 5, Fields: []string{"赵\n六", "x", ""}, Reason: "has 2 fields"},
				{Row: 7, Fields: []string{"孙七", id2, "3"}},
			},
		},
		{
			name: "stray quotes are kept", file: "a.csv",
			data:   []byte("name,id_card\n张\"三\"," + id1 + "\n"),
			header: []string{"name", "id_card"},
			rows:   []csvRow{{Row: 2, Fields: []string{"张\"三\"", id1}}},
		},
		{
			name: "header only", file: "a.csv", data: []byte("name,id_card\n"),
			header: []string{"name", "id_card"},
		},
		{
			name: "aliases in the header", file: "a.csv",
			data:   []byte("客户姓名,身份证,mobile,授权书编号,备注\n张三," + id1 + ",13800138000,A1,x\n"),
			header: []string{"name", "id_card", "mobile_no", "auth_authorize_file_code", "备注"},
			rows:   []csvRow{{Row: 2, Fields: []string{"张三", id1, "13800138000", "A1", "x"}}},
		},
		{
			name: "header with line breaks and full-width letters", file: "a.csv",
			data:   []byte("\"身份证\n号码\",\"ＭＯＢＩＬＥ\",\"Apply\r\nDate\"\n" + id1 + ",13800138000,2024-01-01\n"),
			header: []string{"id_card", "mobile_no", "Apply Date"},
			rows:   []csvRow{{Row: 4, Fields: []string{id1, "13800138000", "2024-01-01"}}}, // the header takes lines 1-3
		},
		{
			name: "extra aliases", file: "a.csv",
			data:   []byte("证件号,标签,Y\n" + id1 + ",1,0\n"),
			opts:   sources.Options{Aliases: map[string][]string{"id_card": {"证件号"}, "label": {"标签"}, "target": {"y"}}},
			header: []string{"id_card", "label", "target"},
			rows:   []csvRow{{Row: 2, Fields: []string{id1, "1", "0"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := csvTestFile(t, tt.file, tt.data)
			rd, err := sources.Open(path, tt.opts)
			if err != nil {
				t.Fatalf("Open(%s) = %v", tt.file, err)
			}
			defer rd.Close()
			if got := rd.Header(); !reflect.DeepEqual(got, tt.header) {
				t.Errorf("Header() = %q, want %q", got, tt.header)
			}
			got := csvReadAll(t, rd)
			if len(got) != len(tt.rows) {
				t.Fatalf("read %d rows %+v, want %d %+v", len(got), got, len(tt.rows), tt.rows)
			}
			for i, w := range tt.rows {
				g := got[i]
				if g.Row != w.Row || !reflect.DeepEqual(g.Fields, w.Fields) {
					t.Errorf("row %d = %d %q, want %d %q", i, g.Row, g.Fields, w.Row, w.Fields)
				}
				if w.Reason == "" && g.Reason != "" || !strings.Contains(g.Reason, w.Reason) {
					t.Errorf("row %d (line %d) error = %q, want %q", i, g.Row, g.Reason, w.Reason)
				}
			}
			if got := rd.Blank(); got != tt.blank {
				t.Errorf("Blank() = %d, want %d", got, tt.blank)
			}
			if err := rd.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
		})
	}
}

func TestCSVRecordFile(t *testing.T) {
	path := csvTestFile(t, "a.csv", []byte("name,id_card\n张三\n李四,"+id1+"\n"))
	rd, err := sources.Open(path, sources.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	_, err = rd.Read()
	var re *sources.RowError
	if !errors.As(err, &re) {
		t.Fatalf("Read() = %v, want a *RowError", err)
	}
	if re.File != path || re.Row != 2 {
		t.Errorf("RowError = %q row %d, want %q row 2", re.File, re.Row, path)
	}
	if want := path + " row 2: has 1 fields, the header has 2"; re.Error() != want {
		t.Errorf("RowError.Error() = %q, want %q", re.Error(), want)
	}
	rec, err := rd.Read()
	if err != nil || rec.File != path || rec.Row != 3 {
		t.Errorf("Read() = %q row %d, %v, want %q row 3", rec.File, rec.Row, err, path)
	}
	if _, err := rd.Read(); !errors.Is(err, io.EOF) {
		t.Errorf("Read() at the end = %v, want io.EOF", err)
	}
	if _, err := rd.Read(); !errors.Is(err, io.EOF) {
		t.Errorf("Read() after the end = %v, want io.EOF", err)
	}
}

// TestCSVRecordsNotReused checks that a record's fields stay as they were
// after the next Read.
func TestCSVRecordsNotReused(t *testing.T) {
	path := csvTestFile(t, "a.csv", []byte("name,id_card\n张三,"+id1+"\n李四,"+id2+"\n"))
	rd, err := sources.Open(path, sources.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	first, err := rd.Read()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Read(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"张三", id1}; !reflect.DeepEqual(first.Fields, want) {
		t.Errorf("first record after the second Read = %q, want %q", first.Fields, want)
	}
}

// TestCSVLargerThanSniff reads files longer than the part read to detect the
// encoding and delimiter (64 KiB), with a run of Chinese characters across
// that boundary, shifted so that every cut through a character happens.
func TestCSVLargerThanSniff(t *testing.T) {
	const sniff = 64 << 10
	encode := map[string]func(string) []byte{
		"UTF-8": func(s string) []byte { return []byte(s) },
		"GBK":   func(s string) []byte { return gbk(t, s) },
	}
	for _, enc := range []string{"UTF-8", "GBK"} {
		for shift := range 4 {
			t.Run(fmt.Sprintf("%s shift %d", enc, shift), func(t *testing.T) {
				var data []byte
				add := func(s string) { data = append(data, encode[enc](s)...) }
				add("姓名,身份证号,备注\n")
				rows := 0
				for len(data) < sniff-400 {
					add(fmt.Sprintf("row%d,%s,note\n", rows, id1))
					rows++
				}
				add(strings.Repeat("x", shift) + fmt.Sprintf("row%d,%s,%s\n", rows, id1, strings.Repeat("很长", 200)))
				rows++
				for range 100 {
					add(fmt.Sprintf("张三丰%d,%s,备注\n", rows, id1))
					rows++
				}
				rd, err := sources.Open(csvTestFile(t, "big.csv", data), sources.Options{})
				if err != nil {
					t.Fatalf("Open() = %v", err)
				}
				defer rd.Close()
				got := csvReadAll(t, rd)
				if len(got) != rows {
					t.Fatalf("read %d rows, want %d", len(got), rows)
				}
				last := got[rows-1]
				if want := fmt.Sprintf("张三丰%d", rows-1); last.Row != rows+1 || last.Fields[0] != want || last.Reason != "" {
					t.Errorf("last row = %d %q %q, want %d %q", last.Row, last.Fields, last.Reason, rows+1, want)
				}
				long := got[rows-101]
				if want := strings.Repeat("很长", 200); long.Fields[2] != want {
					t.Errorf("row %d field 3 = %q, want %q", long.Row, long.Fields[2], want)
				}
			})
		}
	}
}

func TestCSVFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		data    []byte
		opts    sources.Options
		message string
	}{
		{"empty file", "a.csv", nil, sources.Options{}, "empty"},
		{"only line breaks", "a.csv", []byte("\n\r\n\n"), sources.Options{}, "empty"},
		{"undetectable encoding", "a.csv", []byte("\xff\xfe\xfd,id_card\n\xff\xff," + id1 + "\n"), sources.Options{}, "cannot detect the encoding"},
		{"unknown extension", "applicants.json", []byte(applicants), sources.Options{}, `extension ".json"`},
		{"no extension", "applicants", []byte(applicants), sources.Options{}, "extension"},
		{"unknown format", "a.csv", []byte(applicants), sources.Options{Format: "parquet"}, `unknown format "parquet"`},
		{"unknown encoding", "a.csv", []byte(applicants), sources.Options{Encoding: "latin1"}, `unknown encoding "latin1"`},
		{"unsupported delimiter", "a.csv", []byte(applicants), sources.Options{Delimiter: ":"}, "unsupported delimiter"},
		{"no ID column", "a.csv", []byte("name,mobile\n张三,13800138000\n"), sources.Options{}, "no ID number column"},
		{"two name columns", "a.csv", []byte("姓名,name,身份证\n张三,张三," + id1 + "\n"), sources.Options{}, "are both name"},
		{"two ID columns", "a.csv", []byte("身份证号,证件号码\n" + id1 + "," + id1 + "\n"), sources.Options{}, "are both id_card"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := csvTestFile(t, tt.file, tt.data)
			rd, err := sources.Open(path, tt.opts)
			if err == nil {
				rd.Close()
				t.Fatalf("Open(%s) = header %q, nil error, want a *FileError", tt.file, rd.Header())
			}
			var fe *sources.FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Open(%s) error = %T %v, want a *FileError", tt.file, err, err)
			}
			if fe.File != path {
				t.Errorf("FileError.File = %q, want %q", fe.File, path)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Open(%s) error = %q, want it to contain %q", tt.file, err, tt.message)
			}
			if !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("Open(%s) error = %q, want it to start with the file", tt.file, err)
			}
		})
	}
}

func TestCSVMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.csv")
	_, err := sources.Open(path, sources.Options{})
	var fe *sources.FileError
	if !errors.As(err, &fe) || fe.File != path {
		t.Fatalf("Open(missing) = %v, want a *FileError for %s", err, path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want it to wrap fs.ErrNotExist", err)
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		extra  map[string][]string
		want   []string
	}{
		{"Chinese aliases", []string{"姓名", "身份证号", "手机号", "授权书编号"},
			nil, []string{"name", "id_card", "mobile_no", "auth_authorize_file_code"}},
		{"other aliases", []string{"name", "身份证", "mobile", "auth_authorize_file_code"},
			nil, []string{"name", "id_card", "mobile_no", "auth_authorize_file_code"}},
		{"combo aliases", []string{"客户姓名", "证件号码", "mobile_no", "授权书链接", "授权日期"},
			nil, []string{"name", "id_card", "mobile_no", "authorization_url", "auth_date"}},
		{"case, spaces, dashes", []string{"Name", " ID_CARD ", "Mobile-No", "Auth Date"},
			nil, []string{"name", "id_card", "mobile_no", "auth_date"}},
		{"line breaks", []string{"身份证\r\n号码", "手机\n号", "姓 名"},
			nil, []string{"id_card", "mobile_no", "name"}},
		{"full-width letters", []string{"ＩＤ＿ＣＡＲＤ", "ＭＯＢＩＬＥ", "ｎａｍｅ"},
			nil, []string{"id_card", "mobile_no", "name"}},
		{"BOM", []string{"\ufeff身份证号", "label"}, nil, []string{"id_card", "label"}},
		{"other columns kept", []string{"id_card", "Apply\nDate", " label ", "", "申请编号"},
			nil, []string{"id_card", "Apply Date", "label", "column_4", "申请编号"}},
		{"extra aliases", []string{"证件号", "标签", "Y", "target_2"},
			map[string][]string{"id_card": {"证件号"}, "label": {"标签"}, "target": {"y"}},
			[]string{"id_card", "label", "target", "target_2"}},
		{"extra canonical name", []string{"LABEL", "id"},
			map[string][]string{"label": nil, "id_card": {"id"}}, []string{"label", "id_card"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sources.Canonical(tt.header, tt.extra)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Canonical(%q) = %q, %v, want %q", tt.header, got, err, tt.want)
			}
		})
	}
}

func TestCanonicalErrors(t *testing.T) {
	tests := []struct {
		header  []string
		extra   map[string][]string
		message string
	}{
		{[]string{"姓名", "name", "身份证"}, nil, `columns 1 ("姓名") and 2 ("name") are both name`},
		{[]string{"身份证号", "身份证"}, nil, "are both id_card"},
		{[]string{"手机", "phone", "id_card"}, nil, "are both mobile_no"},
		{[]string{"id_card", "x", " x "}, nil, `columns 2 ("x") and 3 ("x") are both x`},
		{[]string{"id_card", "column_3", ""}, nil, "are both column_3"},
		{[]string{"证件号", "id_card"}, map[string][]string{"id_card": {"证件号"}}, "are both id_card"},
		{[]string{"name", "mobile"}, nil, "no ID number column"},
		{nil, nil, "no ID number column"},
	}
	for _, tt := range tests {
		got, err := sources.Canonical(tt.header, tt.extra)
		if err == nil || !strings.Contains(err.Error(), tt.message) {
			t.Errorf("Canonical(%q) = %q, %v, want an error containing %q", tt.header, got, err, tt.message)
		}
	}
}

// TestCSVEstimatedRows checks the estimate a run uses to decide how to read
// the reply store: exact for a small file, within a few per cent for a
// large one whose rows look like its first ones, in either encoding.
func TestCSVEstimatedRows(t *testing.T) {
	rowsOf := func(n int, row func(i int) string) string {
		var b strings.Builder
		b.WriteString("姓名,身份证号,手机号\n")
		for i := range n {
			b.WriteString(row(i))
		}
		return b.String()
	}
	usual := func(i int) string { return fmt.Sprintf("张三%d,%s,13800138000\n", i, id1) }
	tests := []struct {
		name     string
		data     []byte
		min, max int
	}{
		{"header only", []byte("姓名,身份证号,手机号\n"), 0, 0},
		{"three rows", []byte(rowsOf(3, usual)), 3, 3},
		{"three rows, no last line break", []byte(strings.TrimSuffix(rowsOf(3, usual), "\n")), 2, 3},
		{"three rows, CR", []byte(strings.ReplaceAll(rowsOf(3, usual), "\n", "\r")), 3, 3},
		{"three rows, CRLF", []byte(strings.ReplaceAll(rowsOf(3, usual), "\n", "\r\n")), 3, 3},
		{"100,000 rows, CR", []byte(strings.ReplaceAll(rowsOf(100_000, usual), "\n", "\r")), 95_000, 105_000},
		{"100,000 rows", []byte(rowsOf(100_000, usual)), 95_000, 105_000},
		{"100,000 rows in GBK", gbk(t, rowsOf(100_000, usual)), 95_000, 105_000},
		{"100,000 rows with varying names", []byte(rowsOf(100_000, func(i int) string {
			return fmt.Sprintf("%s%d,%s,13800138000\n", strings.Repeat("张", 1+i%7), i, id1)
		})), 95_000, 105_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := sources.Open(csvTestFile(t, "in.csv", tt.data), sources.Options{})
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			defer rd.Close()
			if got := rd.EstimatedRows(); got < tt.min || got > tt.max {
				t.Errorf("EstimatedRows() = %d, want %d to %d", got, tt.min, tt.max)
			}
		})
	}
}
