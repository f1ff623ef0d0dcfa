package sources

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
	"golang.org/x/text/width"
)

func foldWidth(s string) string { return width.Fold.String(s) }

// sniffSize is how much of a CSV file is read to detect its encoding and
// delimiter.
const sniffSize = 64 << 10

// reasonUnclosedQuote rejects the line a quoted field opens on when the
// field runs over a line break and then does not end as a field should:
// it reaches the end of the file or a line that holds a whole row's
// delimiters, a quote inside it stands alone, or it grows past maxLine.
// The lines after it are read again as rows of their own.
const reasonUnclosedQuote = "unclosed quote: the quoted field does not end on this line (the lines after it are read as rows of their own)"

// csvReader reads delimited text. Records are split by its own parser, not
// encoding/csv: it knows every kind of line break, and it can read again,
// as rows of their own, the lines a quote that never closes would take.
type csvReader struct {
	file    string
	f       *os.File
	lines   *lineReader
	comma   byte
	decoded bool // the text comes from the GBK/GB18030 decoder
	header  []string
	blank   int
	room    []string // for the fields of the next records: see newFields

	// The record being read: its fields unquoted, one after the other, and
	// where each ends; for a record over several lines, a copy of its first
	// line and its other lines, to read them again if it is at fault.
	buf   []byte
	ends  []int
	first []byte
	after []line
	bare  int // the first field with a quote inside quotes that stands alone, or -1

	// For EstimatedRows: the file's size, and the bytes and lines of the
	// sample read to detect the encoding.
	size                     int64
	sampleBytes, sampleLines int
}

// fieldsPerAlloc is how many records' fields newFields allocates at once.
const fieldsPerAlloc = 64

// newFields returns a slice for the fields of one record, as long as the
// header and without room to grow into the next record's. A slice per
// record cost a fifth of Read; one allocation serves fieldsPerAlloc of
// them.
func (c *csvReader) newFields() []string {
	n := len(c.header)
	if len(c.room) < n {
		c.room = make([]string, n*fieldsPerAlloc)
	}
	f := c.room[:n:n]
	c.room = c.room[n:]
	return f
}

func openCSV(path string, opts Options) (Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{path, err}
	}
	rd, err := newCSV(path, f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	rd.f = f
	if info, err := f.Stat(); err == nil {
		rd.size = info.Size()
	}
	return rd, nil
}

func newCSV(path string, in io.Reader, opts Options) (*csvReader, error) {
	br := bufio.NewReaderSize(in, sniffSize)
	sample, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, &FileError{path, err}
	}
	sampleBytes, sampleLines := len(sample), countLines(sample)
	var text io.Reader = br
	enc := strings.ToLower(strings.ReplaceAll(opts.Encoding, "_", "-"))
	if enc == "" {
		if enc, err = detectEncoding(sample, len(sample) < sniffSize); err != nil {
			return nil, &FileError{path, err}
		}
	}
	decoded := false
	switch enc {
	case "utf-8", "utf8":
		if bytes.HasPrefix(sample, []byte("\xef\xbb\xbf")) {
			_, _ = br.Discard(3)
			sample = sample[3:]
		}
	case "gbk", "gb18030", "gb2312", "cp936":
		decoded = true
		text = transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder())
		if s, _, err := transform.Bytes(simplifiedchinese.GB18030.NewDecoder(), sample); err == nil {
			sample = s
		}
	default:
		return nil, &FileError{path, fmt.Errorf("unknown encoding %q (utf-8, gbk or gb18030)", opts.Encoding)}
	}
	delim, err := delimiter(opts.Delimiter, sample)
	if err != nil {
		return nil, &FileError{path, err}
	}
	c := &csvReader{file: path, lines: newLineReader(text, sniffSize), comma: byte(delim), decoded: decoded,
		sampleBytes: sampleBytes, sampleLines: sampleLines}
	row, fault, col, err := c.readRecord(0)
	if errors.Is(err, io.EOF) {
		return nil, &FileError{path, errors.New("the file is empty: expected a header row")}
	}
	if err != nil {
		return nil, &FileError{path, fmt.Errorf("header row: %w", err)}
	}
	if fault != "" {
		return nil, &FileError{path, fmt.Errorf("the header row (line %d), column %d: %s", row, col+1, fault)}
	}
	header := c.fields(string(c.buf), make([]string, len(c.ends)))
	if i, reason := textFault(header, decoded); i >= 0 {
		return nil, &FileError{path, fmt.Errorf("the header row (line %d), column %d: %s", row, i+1, reason)}
	}
	names, err := Canonical(header, opts.Aliases)
	if err != nil {
		return nil, &FileError{path, err}
	}
	c.header = names
	return c, nil
}

// countLines counts the line breaks of b: LF, CRLF and CR.
func countLines(b []byte) int {
	return bytes.Count(b, []byte{'\n'}) + bytes.Count(b, []byte{'\r'}) - bytes.Count(b, []byte("\r\n"))
}

// detectEncoding tells UTF-8 (with or without BOM) from GB18030/GBK. complete
// says the sample is the whole file; otherwise a multi-byte character cut at
// the end of the sample is allowed. When neither reads every line of the
// sample, the one that fails on fewer lines is taken if those are few (one
// in ten): the rows with bytes it cannot read are rejected one by one.
func detectEncoding(sample []byte, complete bool) (string, error) {
	if bytes.HasPrefix(sample, []byte("\xef\xbb\xbf")) {
		return "utf-8", nil
	}
	if (bytes.HasPrefix(sample, []byte("\xff\xfe")) || bytes.HasPrefix(sample, []byte("\xfe\xff"))) && bytes.IndexByte(sample, 0) >= 0 {
		return "", errors.New("cannot detect the encoding: the file looks like UTF-16, which is not read; save it as UTF-8 (Excel: \"CSV UTF-8\") or GBK")
	}
	if validUTF8Prefix(sample, complete) {
		return "utf-8", nil
	}
	if validGB18030Prefix(sample, complete) {
		return "gb18030", nil
	}
	if !complete {
		if i := bytes.LastIndexAny(sample, "\r\n"); i >= 0 {
			sample = sample[:i]
		}
	}
	lines := bytes.FieldsFunc(sample, func(r rune) bool { return r == '\n' || r == '\r' })
	badUTF8, badGB := 0, 0
	decoder := simplifiedchinese.GB18030.NewDecoder()
	for _, l := range lines {
		if !utf8.Valid(l) {
			badUTF8++
		}
		if d, _, err := transform.Bytes(decoder, l); err != nil || bytes.ContainsRune(d, utf8.RuneError) {
			badGB++
		}
	}
	enc, bad := "utf-8", badUTF8
	if badGB < badUTF8 {
		enc, bad = "gb18030", badGB
	}
	if bad <= max(1, len(lines)/10) {
		return enc, nil
	}
	return "", errors.New("cannot detect the encoding (neither UTF-8 nor GBK/GB18030): set input.encoding")
}

func validUTF8Prefix(b []byte, complete bool) bool {
	if utf8.Valid(b) {
		return true
	}
	if complete {
		return false
	}
	for cut := 1; cut < utf8.UTFMax && cut < len(b); cut++ {
		if utf8.Valid(b[:len(b)-cut]) {
			return true
		}
	}
	return false
}

// validGB18030Prefix is validUTF8Prefix for GB18030, whose characters have
// up to four bytes.
func validGB18030Prefix(b []byte, complete bool) bool {
	for cut := 0; cut < 4 && cut < len(b); cut++ {
		decoded, _, err := transform.Bytes(simplifiedchinese.GB18030.NewDecoder(), b[:len(b)-cut])
		if err == nil && !bytes.ContainsRune(decoded, utf8.RuneError) {
			return true
		}
		if complete {
			return false
		}
	}
	return false
}

// delimiter returns the configured delimiter, or the one of comma, tab and
// semicolon that occurs most often, outside quotes, in the header line.
func delimiter(configured string, sample []byte) (rune, error) {
	switch configured {
	case ",", ";", "|":
		return rune(configured[0]), nil
	case "\t", `\t`, "tab":
		return '\t', nil
	case "":
	default:
		return 0, fmt.Errorf("unsupported delimiter %q (use \",\", \"\\t\", \";\" or \"|\")", configured)
	}
	counts := map[rune]int{}
	inQuotes := false
	for _, c := range string(sample) {
		if c == '"' {
			inQuotes = !inQuotes
			continue
		}
		if inQuotes {
			continue
		}
		if c == '\n' || c == '\r' {
			break
		}
		counts[c]++
	}
	best, n := ',', counts[',']
	for _, c := range []rune{'\t', ';'} {
		if counts[c] > n {
			best, n = c, counts[c]
		}
	}
	return best, nil
}

func (c *csvReader) Header() []string { return c.header }
func (c *csvReader) Blank() int       { return c.blank }

// EstimatedRows scales the lines of the sample read to detect the encoding
// to the file's size: exact for a file shorter than the sample, but for
// line breaks inside quotes and a last line without one.
func (c *csvReader) EstimatedRows() int {
	lines := float64(c.sampleLines)
	if c.sampleBytes >= sniffSize {
		if c.size <= 0 {
			return 0
		}
		lines = float64(c.size) * lines / float64(c.sampleBytes)
	}
	return max(0, int(lines+0.5)-1) // less the header
}

// Read returns the next row. A row that cannot be used comes back with a
// *RowError: a quote that does not close (the lines after its first are
// read again as rows), a line longer than maxLine, a field that is not
// clean text in the file's encoding, or the wrong number of fields. The
// fields of such a record hold valid UTF-8 only.
func (c *csvReader) Read() (Record, error) {
	for {
		row, fault, col, err := c.readRecord(len(c.header))
		if errors.Is(err, io.EOF) {
			return Record{}, io.EOF
		}
		if err != nil {
			return Record{}, &FileError{c.file, fmt.Errorf("after line %d: %w", c.lines.num, err)}
		}
		if fault == "" && len(bytes.TrimSpace(c.buf)) == 0 {
			c.blank++
			continue
		}
		rec := Record{File: c.file, Row: row, Fields: c.newFields()}
		c.fields(string(c.buf), rec.Fields)
		rowErr := func(col int, reason string) (Record, error) {
			sanitize(rec.Fields)
			name := ""
			if col >= 0 && col < len(c.header) {
				name = c.header[col]
			}
			return rec, &RowError{File: c.file, Row: row, Column: name, Reason: reason}
		}
		if fault != "" {
			return rowErr(col, fault)
		}
		if !c.cleanRecord() {
			return rowErr(c.fieldFault())
		}
		if n := len(c.ends); n != len(c.header) {
			if c.bare >= 0 {
				return rowErr(c.bare, fmt.Sprintf("has %d fields, the header has %d: a quote in a field is not closed where the field ends", n, len(c.header)))
			}
			return rowErr(-1, fmt.Sprintf("has %d fields, the header has %d", n, len(c.header)))
		}
		return rec, nil
	}
}

// fields cuts s, the text of c.buf, into the record's fields, as many as
// out holds; the rest of out stays empty.
func (c *csvReader) fields(s string, out []string) []string {
	start := 0
	for i, end := range c.ends {
		if i == len(out) {
			break
		}
		out[i] = s[start:end]
		start = end
	}
	return out
}

// cleanRecord reports whether every field of the record is clean text:
// valid UTF-8 without U+FFFD or a control character. The fields lie one after the other in
// c.buf: they are valid each if c.buf is and none starts inside a
// character, with a continuation byte ("\xd5" and "\xa1" make "ա").
// Decoded text is valid UTF-8, split at ASCII delimiters.
func (c *csvReader) cleanRecord() bool {
	if !c.decoded {
		if !utf8.Valid(c.buf) {
			return false
		}
		for _, end := range c.ends {
			if end < len(c.buf) && c.buf[end]&0xc0 == 0x80 {
				return false
			}
		}
	}
	return bytes.Index(c.buf, []byte("\uFFFD")) < 0 && !hasControl(c.buf)
}

// fieldFault returns the first field of the record that is not clean text
// and why.
func (c *csvReader) fieldFault() (int, string) {
	all := c.fields(string(c.buf), make([]string, len(c.ends)))
	return textFault(all, c.decoded)
}

// readRecord reads the next record, skipping empty lines, into c.buf and
// c.ends; want is the number of fields a record should have (0 for the
// header). It returns the line the record starts on and, when it cannot
// be read as one record, why and the column at fault: c.buf and c.ends
// then hold the fields of its first line alone, and the lines after it are
// read again as the next records.
func (c *csvReader) readRecord(want int) (row int, fault string, col int, err error) {
	var ln line
	for {
		if ln, err = c.lines.next(); err != nil {
			return 0, "", -1, err
		}
		if len(ln.text) > 0 || ln.long {
			break
		}
	}
	row = ln.num
	c.bare = -1
	if ln.long {
		c.splitLine(ln.text)
		return row, fmt.Sprintf("longer than %d MiB", maxLine>>20), -1, nil
	}
	c.buf, c.ends, c.after = c.buf[:0], c.ends[:0], c.after[:0]
	// A line inside a quoted field that holds this many delimiters is a
	// row of its own: the quote before it never closed.
	rowDelims := max(1, want-1)
	text := ln.text
	multi := false // the record runs over more than one line
	open := -1     // the first field that runs over a line break
fields:
	for {
		if len(text) == 0 || text[0] != '"' {
			i := bytes.IndexByte(text, c.comma)
			if i < 0 {
				c.buf = append(c.buf, text...)
				c.ends = append(c.ends, len(c.buf))
				break fields
			}
			c.buf = append(c.buf, text[:i]...)
			c.ends = append(c.ends, len(c.buf))
			text = text[i+1:]
			continue
		}
		text = text[1:]
		bare := false    // a quote inside the field stands alone
		crossed := false // the field runs over a line break
		for {
			i := bytes.IndexByte(text, '"')
			seg := text
			if i >= 0 {
				seg = text[:i]
			}
			if crossed && want > 0 && bytes.Count(seg, []byte{c.comma}) >= rowDelims {
				goto fault
			}
			c.buf = append(c.buf, seg...)
			if i >= 0 {
				text = text[i+1:]
				switch {
				case len(text) > 0 && text[0] == '"':
					c.buf = append(c.buf, '"')
					text = text[1:]
				case len(text) > 0 && text[0] == c.comma:
					c.ends = append(c.ends, len(c.buf))
					text = text[1:]
					continue fields
				case len(text) == 0:
					c.ends = append(c.ends, len(c.buf))
					break fields
				default:
					if crossed {
						goto fault
					}
					if !bare && c.bare < 0 {
						c.bare = len(c.ends)
					}
					bare = true
					c.buf = append(c.buf, '"')
				}
				continue
			}
			// The line ends inside the quotes: the field goes on on the
			// next line, if it is a field over lines and not a quote that
			// never closes.
			if !multi {
				c.first = append(c.first[:0], ln.text...)
				multi = true
			}
			if open < 0 {
				open = len(c.ends)
			}
			if bare {
				goto fault
			}
			crossed = true
			c.buf = append(c.buf, '\n')
			next, err := c.lines.next()
			if errors.Is(err, io.EOF) {
				goto fault
			}
			if err != nil {
				return 0, "", -1, err
			}
			next.text = bytes.Clone(next.text)
			c.after = append(c.after, next)
			if next.long || len(c.buf)+len(next.text) > maxLine {
				goto fault
			}
			text = next.text
		}
	}
	return row, "", -1, nil
fault: // only ever reached once the record runs over lines: c.first is its first line
	c.lines.unread(c.after)
	c.after = nil
	c.splitLine(c.first)
	return row, reasonUnclosedQuote, open, nil
}

// splitLine cuts one line into fields as readRecord would, but for a
// quoted field that does not close on the line: its quote is dropped and
// it ends at the next delimiter, so that the fields after it stay in their
// columns (the rejects show the row's identity where it is).
func (c *csvReader) splitLine(text []byte) {
	c.buf, c.ends = c.buf[:0], c.ends[:0]
	for {
		if len(text) > 0 && text[0] == '"' {
			if rest, ok := c.quotedOnLine(text[1:]); ok {
				c.ends = append(c.ends, len(c.buf))
				if rest == nil {
					return
				}
				text = rest
				continue
			}
			text = text[1:]
		}
		i := bytes.IndexByte(text, c.comma)
		if i < 0 {
			c.buf = append(c.buf, text...)
			c.ends = append(c.ends, len(c.buf))
			return
		}
		c.buf = append(c.buf, text[:i]...)
		c.ends = append(c.ends, len(c.buf))
		text = text[i+1:]
	}
}

// quotedOnLine appends to c.buf the quoted field that text (after its
// opening quote) starts with, when it closes on the line, and returns
// what follows its delimiter (nil at the end of the line). It appends
// nothing and reports false when the field does not close.
func (c *csvReader) quotedOnLine(text []byte) ([]byte, bool) {
	start := len(c.buf)
	for {
		i := bytes.IndexByte(text, '"')
		if i < 0 {
			c.buf = c.buf[:start]
			return nil, false
		}
		c.buf = append(c.buf, text[:i]...)
		text = text[i+1:]
		switch {
		case len(text) > 0 && text[0] == '"':
			c.buf = append(c.buf, '"')
			text = text[1:]
		case len(text) > 0 && text[0] == c.comma:
			return text[1:], true
		case len(text) == 0:
			return nil, true
		default:
			c.buf = append(c.buf, '"')
		}
	}
}

func (c *csvReader) Close() error {
	if c.f == nil {
		return nil
	}
	return c.f.Close()
}
