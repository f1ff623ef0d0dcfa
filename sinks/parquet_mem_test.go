package sinks

import (
	"bytes"
	"testing"
)

func TestReusingAllocator(t *testing.T) {
	var a reusingAllocator
	b := a.Allocate(100)
	if len(b) != 100 || cap(b) != 128 {
		t.Fatalf("Allocate(100): len %d cap %d, want 100 and 128", len(b), cap(b))
	}
	for i := range b {
		b[i] = 0xff
	}
	a.Free(b)
	c := a.Allocate(120)
	if &c[:1][0] != &b[:1][0] {
		t.Error("Allocate(120) after freeing 128 bytes did not reuse them")
	}
	if !bytes.Equal(c, make([]byte, 120)) {
		t.Error("a reused buffer is not zeroed")
	}
	for i := range c {
		c[i] = byte(i)
	}
	c = a.Reallocate(60, c)
	c = a.Reallocate(128, c) // within capacity: bytes 60 on are new
	for i, v := range c {
		if want := byte(i); i >= 60 && v != 0 || i < 60 && v != want {
			t.Fatalf("after shrinking and growing, byte %d = %d", i, v)
		}
	}
	d := a.Reallocate(1000, c) // moves
	if len(d) != 1000 || d[59] != 59 || !bytes.Equal(d[60:], make([]byte, 940)) {
		t.Error("Reallocate(1000) did not keep the bytes and zero the rest")
	}
	if e := a.Allocate(128); &e[:1][0] != &c[:1][0] {
		t.Error("Reallocate did not free the buffer it moved from")
	}
	if big := a.Allocate(1 << 26); len(big) != 1<<26 {
		t.Errorf("Allocate(64 MiB): len %d", len(big))
	}
	if z := a.Allocate(0); len(z) != 0 {
		t.Errorf("Allocate(0): len %d", len(z))
	}
}
