package sinks

import (
	"sync"

	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// The zstd codec of arrow/go/v17's parquet package builds a new encoder for
// every page it compresses (compress.zstdCodec.EncodeLevel), which allocates
// megabytes per page and dominated the cost of writing Parquet. zstdCodec
// keeps one encoder per level, made with the same options, so the bytes
// written are the same. zstd.Encoder.EncodeAll is safe for concurrent use.
// Registering it replaces the codec for the whole process, which is fine:
// only writing changes, and only in speed.
func init() {
	base, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		return
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &zstdCodec{Codec: base})
}

type zstdCodec struct {
	compress.Codec // reading and streaming, unchanged

	mu       sync.Mutex
	encoders map[zstd.EncoderLevel]*zstd.Encoder
}

func (c *zstdCodec) encoder(level zstd.EncoderLevel) *zstd.Encoder {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.encoders[level]; ok {
		return e
	}
	e, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(level))
	if err != nil {
		return nil
	}
	if c.encoders == nil {
		c.encoders = make(map[zstd.EncoderLevel]*zstd.Encoder)
	}
	c.encoders[level] = e
	return e
}

// EncodeLevel compresses src at level, as the parquet codec does.
func (c *zstdCodec) EncodeLevel(dst, src []byte, level int) []byte {
	l := zstd.SpeedDefault
	if level != compress.DefaultCompressionLevel {
		l = zstd.EncoderLevelFromZstd(level)
	}
	e := c.encoder(l)
	if e == nil {
		return c.Codec.EncodeLevel(dst, src, level)
	}
	return e.EncodeAll(src, dst[:0])
}
