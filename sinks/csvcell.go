package sinks

import (
	"bufio"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// formulaStarts are the characters that make a spreadsheet read a CSV
// cell as a formula (OWASP, "CSV Injection"): =, +, -, @, tab and carriage
// return.
const formulaStarts = "=+-@\t\r"

// IsFormulaLike reports whether a spreadsheet opening a CSV file would
// read text s as a formula.
func IsFormulaLike(s string) bool {
	return s != "" && strings.IndexByte(formulaStarts, s[0]) >= 0
}

// csvWriter writes CSV records as encoding/csv does (comma, "\n" line
// ends, a field quoted when it holds a comma, a quote, a line break or a
// leading space), except that a text field a spreadsheet would read as a
// formula is neutralised as OWASP advises: prefixed with a single quote
// and quoted, so that Excel and LibreOffice show it as text.
type csvWriter struct {
	w *bufio.Writer
}

func newCSVWriter(w io.Writer) *csvWriter {
	return &csvWriter{w: bufio.NewWriterSize(w, 64<<10)}
}

// write writes one record. A field whose verbatim[i] is true is written
// as it is: numbers and times that this package formats, which a
// spreadsheet reads as values, not formulas. A nil verbatim guards every
// field.
func (c *csvWriter) write(fields []string, verbatim []bool) error {
	for i, f := range fields {
		if i > 0 {
			c.w.WriteByte(',')
		}
		guard := verbatim == nil || !verbatim[i]
		switch {
		case guard && IsFormulaLike(f):
			c.w.WriteString(`"'`)
			c.quoted(f)
		case fieldNeedsQuotes(f):
			c.w.WriteByte('"')
			c.quoted(f)
		default:
			c.w.WriteString(f)
		}
	}
	return c.w.WriteByte('\n')
}

// quoted writes f with its quotes doubled, and the closing quote.
func (c *csvWriter) quoted(f string) {
	for {
		i := strings.IndexByte(f, '"')
		if i < 0 {
			break
		}
		c.w.WriteString(f[:i+1])
		c.w.WriteByte('"')
		f = f[i+1:]
	}
	c.w.WriteString(f)
	c.w.WriteByte('"')
}

// fieldNeedsQuotes is encoding/csv's rule for a comma-separated field.
func fieldNeedsQuotes(f string) bool {
	if f == "" {
		return false
	}
	if f == `\.` || strings.ContainsAny(f, ",\"\r\n") {
		return true
	}
	r, _ := utf8.DecodeRuneInString(f)
	return unicode.IsSpace(r)
}

// flush writes what is buffered and reports the first error of any write.
func (c *csvWriter) flush() error { return c.w.Flush() }
