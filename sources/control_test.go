package sources_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/sources"
)

// controlClasses are the control characters of each class a cell or a
// header may carry: C0 but tab and line breaks, DEL, C1.
var controlClasses = map[string]string{
	"NUL": "\x00", "BEL": "\a", "backspace": "\b", "vertical tab": "\v", "form feed": "\f", "ESC": "\x1b", "unit separator": "\x1f",
	"DEL": "\x7f", "C1 PAD": "\u0080", "C1 CSI": "\u009b", "C1 APC": "\u009f",
}

// TestCSVControlCharacters rejects a row with a control character in any
// of its fields, naming the column, in UTF-8 and GB18030 files, and keeps
// rows whose cells hold tabs and line breaks.
func TestCSVControlCharacters(t *testing.T) {
	const header = "姓名,身份证号,手机号,note\n"
	const good = "李四,110101199003071234,13800138001,ok\n"
	for class, c := range controlClasses {
		for col, name := range []string{"name", "id_card", "mobile_no", "note"} {
			for _, enc := range []string{"utf-8", "gb18030"} {
				if enc == "gb18030" && c >= "\u0080" && c <= "\u009f" {
					continue // GB18030 encodes C1 as it does any other character: covered by UTF-8
				}
				t.Run(class+" in "+name+" "+enc, func(t *testing.T) {
					fields := []string{"张三", "110101199003071234", "13800138000", "note"}
					fields[col] = fields[col][:3] + c + fields[col][3:]
					text := header + strings.Join(fields, ",") + "\n" + good
					data := []byte(text)
					if enc == "gb18030" {
						data = gbk(t, text)
					}
					rd, err := sources.Open(csvTestFile(t, "a.csv", data), sources.Options{Encoding: enc})
					if err != nil {
						t.Fatal(err)
					}
					defer rd.Close()
					rec, err := rd.Read()
					var re *sources.RowError
					if !errors.As(err, &re) || re.Row != 2 || re.Column != name || !strings.Contains(re.Reason, "control character") {
						t.Errorf("row 2: Read() = %q, %v; want a *RowError naming a control character in %s", rec.Fields, err, name)
					}
					if rec, err := rd.Read(); err != nil || rec.Row != 3 {
						t.Errorf("row 3: Read() = row %d, %v; want row 3", rec.Row, err)
					}
				})
			}
		}
	}
	t.Run("tabs and line breaks in cells", func(t *testing.T) {
		text := header + "张三,110101199003071234,13800138000,\"a\tb\r\nc\nd\"\n"
		rd, err := sources.Open(csvTestFile(t, "a.csv", []byte(text)), sources.Options{Delimiter: ","})
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		rows := csvReadAll(t, rd)
		if len(rows) != 1 || rows[0].Reason != "" || rows[0].Fields[3] != "a\tb\nc\nd" {
			t.Errorf("got %+v, want one row with the note a\\tb\\nc\\nd", rows)
		}
	})
}

// TestHeaderControlCharacters refuses a header with a control character,
// naming the column's position, in CSV and xlsx files; a tab or a line
// break in a header is folded into a space, as before.
func TestHeaderControlCharacters(t *testing.T) {
	for class, c := range controlClasses {
		t.Run(class, func(t *testing.T) {
			path := csvTestFile(t, "a.csv", []byte("姓名,身份证号,la"+c+"bel\n张三,110101199003071234,1\n"))
			rd, err := sources.Open(path, sources.Options{})
			if err == nil {
				rd.Close()
				t.Fatalf("Open() = header %q, want an error", rd.Header())
			}
			var fe *sources.FileError
			if !errors.As(err, &fe) || fe.File != path || !strings.Contains(err.Error(), "column 3: a control character") {
				t.Errorf("Open() = %T %v, want a *FileError naming column 3 and a control character", err, err)
			}
		})
	}
	t.Run("tab and line break folded", func(t *testing.T) {
		path := csvTestFile(t, "a.csv", []byte("姓名,身份证号,\"apply\tdate\nfirst\"\n张三,110101199003071234,1\n"))
		rd, err := sources.Open(path, sources.Options{Delimiter: ","})
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		if got := rd.Header()[2]; got != "apply date first" {
			t.Errorf("header %q, want \"apply date first\"", got)
		}
	})
}
