package sinks

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/parquet/file"
)

func TestZZInspect(t *testing.T) {
	if os.Getenv("INSPECT") == "" {
		t.Skip()
	}
	s := featureSchema()
	rows := featureRows(32768)
	path := filepath.Join(t.TempDir(), "f.parquet")
	if d := os.Getenv("INSPECT_OUT"); d != "" {
		path = d
	}
	p, err := NewParquet(path, s, ParquetOptions{RowGroupRows: 16384})
	if err != nil {
		t.Fatal(err)
	}
	for lo := 0; lo < 65536; lo += 256 {
		if err := p.Write(rows[lo%32768 : lo%32768+256]); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	rg := rdr.MetaData().RowGroup(0)
	var tc, tu int64
	for i := 0; i < rg.NumColumns(); i++ {
		c, _ := rg.ColumnChunk(i)
		tc += c.TotalCompressedSize()
		tu += c.TotalUncompressedSize()
		fmt.Printf("%-32s %8d %8d %v\n", s[i].Name, c.TotalCompressedSize(), c.TotalUncompressedSize(), c.Encodings())
	}
	fmt.Println("total", tc, tu)
}
