package sources

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestLineReader splits text at every kind of line break, whatever the
// size of its buffer and of the reads that fill it: a CR at the end of one
// read and an LF at the start of the next are one line break.
func TestLineReader(t *testing.T) {
	texts := []string{
		"a\nb\r\nc\rd",
		"a\r\r\n\n\rb\r",
		"\r\n\r\n",
		"\r",
		"",
		"one line",
		"x\r\ny\r\nz\r\n",
		strings.Repeat("long line ", 50) + "\r" + strings.Repeat("y", 300) + "\r\n",
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+err": iotest.DataErrReader,
	}
	for _, text := range texts {
		want := strings.Split(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(text), "\n")
		if strings.HasSuffix(text, "\n") || strings.HasSuffix(text, "\r") || text == "" {
			want = want[:len(want)-1] // a line break ends a line, it does not start one
		}
		for name, wrap := range readers {
			for _, size := range []int{1, 2, 3, 7, 64} {
				lr := newLineReader(wrap(strings.NewReader(text)), size)
				var got []string
				for n := 0; ; n++ {
					if n > len(text)+1 {
						t.Fatalf("%q %s size %d: no io.EOF", text, name, size)
					}
					ln, err := lr.next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("%q %s size %d: %v", text, name, size, err)
					}
					if ln.num != len(got)+1 {
						t.Errorf("%q %s size %d: line %q numbered %d, want %d", text, name, size, ln.text, ln.num, len(got)+1)
					}
					got = append(got, string(ln.text))
				}
				if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
					t.Errorf("%q %s size %d: lines %q, want %q", text, name, size, got, want)
				}
			}
		}
	}
}

// TestLineReaderUnread returns given-back lines first, in order, then
// goes on where it was.
func TestLineReaderUnread(t *testing.T) {
	lr := newLineReader(strings.NewReader("1\n2\n3\n4\n"), 4)
	var got []string
	read := func() {
		ln, err := lr.next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(ln.text))
	}
	read()
	read()
	lr.unread([]line{{text: []byte("a"), num: 2}, {text: []byte("b"), num: 3}})
	read()
	lr.unread([]line{{text: []byte("c"), num: 3}})
	read()
	read()
	read()
	read()
	if want := "1|2|a|c|b|3|4"; strings.Join(got, "|") != want {
		t.Errorf("lines %q, want %s", got, want)
	}
	if _, err := lr.next(); !errors.Is(err, io.EOF) {
		t.Errorf("next() at the end = %v, want io.EOF", err)
	}
}
