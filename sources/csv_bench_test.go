package sources_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/sources"
)

// BenchmarkCSVRead reads a file of made-up applicants; one op is one row.
func BenchmarkCSVRead(b *testing.B) {
	const rows = 20000
	path := filepath.Join(b.TempDir(), "applicants.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := tianyuantest.WriteApplicants(f, rows, 1); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	var rd sources.Reader
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
