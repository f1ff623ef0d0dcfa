package sinks

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/parquet/compress"
)

func TestZstdCodecSameBytes(t *testing.T) {
	codec, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := codec.(*zstdCodec)
	if !ok {
		t.Fatalf("zstd codec is %T, want *zstdCodec", codec)
	}
	src := []byte(strings.Repeat("interval code (0,9) ", 5000))
	for _, level := range []int{compress.DefaultCompressionLevel, 1, 3, 9} {
		got := c.EncodeLevel(nil, src, level)
		want := c.Codec.EncodeLevel(nil, src, level)
		if !bytes.Equal(got, want) {
			t.Errorf("level %d: %d bytes, want the %d bytes of the arrow codec", level, len(got), len(want))
		}
		if back := c.Decode(nil, got); !bytes.Equal(back, src) {
			t.Errorf("level %d: round trip differs", level)
		}
	}
}
