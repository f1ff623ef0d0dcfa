package sources

import (
	"bufio"
	"bytes"
	"encoding/csv"
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

type csvReader struct {
	file   string
	f      *os.File
	r      *csv.Reader
	header []string
	blank  int

	// For EstimatedRows: the file's size, and the bytes and lines of the
	// sample read to detect the encoding.
	size                     int64
	sampleBytes, sampleLines int
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
	sampleBytes, sampleLines := len(sample), bytes.Count(sample, []byte{'\n'})
	var text io.Reader = br
	enc := strings.ToLower(strings.ReplaceAll(opts.Encoding, "_", "-"))
	if enc == "" {
		if enc, err = detectEncoding(sample, len(sample) < sniffSize); err != nil {
			return nil, &FileError{path, err}
		}
	}
	switch enc {
	case "utf-8", "utf8":
		if bytes.HasPrefix(sample, []byte("\xef\xbb\xbf")) {
			_, _ = br.Discard(3)
			sample = sample[3:]
		}
	case "gbk", "gb18030", "gb2312", "cp936":
		decoder := simplifiedchinese.GB18030.NewDecoder()
		text = transform.NewReader(br, decoder)
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
	r := csv.NewReader(text)
	r.Comma = delim
	r.LazyQuotes = true
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{path, errors.New("the file is empty: expected a header row")}
	}
	if err != nil {
		return nil, &FileError{path, fmt.Errorf("header row: %w", err)}
	}
	names, err := Canonical(header, opts.Aliases)
	if err != nil {
		return nil, &FileError{path, err}
	}
	r.FieldsPerRecord = len(names)
	return &csvReader{file: path, r: r, header: names, sampleBytes: sampleBytes, sampleLines: sampleLines}, nil
}

// detectEncoding tells UTF-8 (with or without BOM) from GB18030/GBK. complete
// says the sample is the whole file; otherwise a multi-byte character cut at
// the end of the sample is allowed.
func detectEncoding(sample []byte, complete bool) (string, error) {
	if bytes.HasPrefix(sample, []byte("\xef\xbb\xbf")) {
		return "utf-8", nil
	}
	if validUTF8Prefix(sample, complete) {
		return "utf-8", nil
	}
	if validGB18030Prefix(sample, complete) {
		return "gb18030", nil
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
		if c == '\n' {
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

func (c *csvReader) Read() (Record, error) {
	for {
		fields, err := c.r.Read()
		line, _ := c.r.FieldPos(0)
		if errors.Is(err, io.EOF) {
			return Record{}, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rec := Record{File: c.file, Row: pe.StartLine, Fields: make([]string, len(c.header))}
				reason := pe.Err.Error()
				if errors.Is(pe.Err, csv.ErrFieldCount) {
					if allBlank(fields) {
						c.blank++
						continue
					}
					reason = fmt.Sprintf("has %d fields, the header has %d", len(fields), len(c.header))
					copy(rec.Fields, fields)
				}
				return rec, &RowError{File: c.file, Row: pe.StartLine, Reason: reason}
			}
			return Record{}, &FileError{c.file, err}
		}
		if allBlank(fields) {
			c.blank++
			continue
		}
		return Record{File: c.file, Row: line, Fields: append([]string(nil), fields...)}, nil
	}
}

func (c *csvReader) Close() error {
	if c.f == nil {
		return nil
	}
	return c.f.Close()
}
