package sources_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/sources"
)

// BenchmarkCSVRead reads a file of made-up applicants; one op is one row.
func BenchmarkCSVRead(b *testing.B) {
	benchmarkCSV(b, func(data []byte) []byte { return data })
}

// BenchmarkCSVReadGBK reads the same applicants encoded in GBK.
func BenchmarkCSVReadGBK(b *testing.B) {
	benchmarkCSV(b, func(data []byte) []byte {
		out, err := simplifiedchinese.GBK.NewEncoder().Bytes(data)
		if err != nil {
			b.Fatal(err)
		}
		return out
	})
}

func benchmarkCSV(b *testing.B, encode func([]byte) []byte) {
	const rows = 20000
	var buf bytes.Buffer
	if err := tianyuantest.WriteApplicants(&buf, rows, 1); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "applicants.csv")
	if err := os.WriteFile(path, encode(buf.Bytes()), 0o644); err != nil {
		b.Fatal(err)
	}
	var (
		rd  sources.Reader
		err error
	)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if rd == nil {
			if rd, err = sources.Open(path, sources.Options{}); err != nil {
				b.Fatal(err)
			}
		}
		_, err := rd.Read()
		if errors.Is(err, io.EOF) {
			rd.Close()
			rd = nil
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if rd != nil {
		rd.Close()
	}
}
