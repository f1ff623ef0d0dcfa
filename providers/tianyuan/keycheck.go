package tianyuan

// KeyCheck returns 8 bytes that tell which access key a reply's data is
// encrypted with, without revealing the key: the first half of the key's
// AES encryption of a fixed block. The reply store keeps it beside each
// reply, so that a reply stored under another key (the fake vendor's, or
// before a rotation) is known at once not to decrypt with this one.
func (c *Cipher) KeyCheck() [8]byte {
	block := []byte("scorepipe keychk") // 16 bytes: one AES block
	var out [16]byte
	c.block.Encrypt(out[:], block)
	return [8]byte(out[:8])
}
