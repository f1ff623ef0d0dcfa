package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
	"unsafe"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// A record of format 2 is framed so that the log can be read without the
// index: the magic, the kind, the length of the body (uint32, big-endian),
// the body, and a CRC-32C of everything before it (uint32, big-endian).
var recordMagic = [4]byte{0xf5, 'S', 'P', 2}

const (
	recordHead    = len(recordMagic) + 1 + 4 // magic, kind, body length
	recordTrailer = 4                        // CRC-32C
	recordFrame   = recordHead + recordTrailer

	// maxRecordBody bounds a body's length: a vendor reply is at most a
	// few MB. A larger length is damage, not a record.
	maxRecordBody = 64 << 20
)

// Record kinds.
const (
	kindReply  = 'R' // a reply: its key, key check and fields
	kindHeader = 'H' // the log's identity and the identity secret's check
)

// legacyFormat is the first byte of a record of format 1: a version byte,
// the code and the time received (Unix ms) as varints, then product,
// message, transaction id and data, each as a uvarint length and its
// bytes. It carries no key and no checksum: only the index finds it.
const legacyFormat = 1

// KeyCheckSize is the length of a KeyCheck.
const KeyCheckSize = 8

// KeyCheck tells which access key a reply's data is encrypted with,
// without being the key (see tianyuan.Cipher.KeyCheck). The zero KeyCheck
// means unknown: replies stored before the store kept it.
type KeyCheck [KeyCheckSize]byte

// appendReplyRecord appends the record of r under key to b.
func appendReplyRecord(b []byte, key Key, r *Reply) []byte {
	start := len(b)
	b = append(b, recordMagic[:]...)
	b = append(b, kindReply, 0, 0, 0, 0) // the body's length, set below
	b = append(b, key[:]...)
	b = append(b, r.KeyCheck[:]...)
	b = binary.AppendVarint(b, int64(r.Code))
	b = binary.AppendVarint(b, r.ReceivedAt.UnixMilli())
	for _, s := range []string{r.Product, r.Message, r.TransactionID, r.Data} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return finishRecord(b, start)
}

// replyRecordSize is about the size of r's record, for memory to put it in.
func replyRecordSize(r *Reply) int {
	return recordFrame + KeySize + KeyCheckSize + 40 + len(r.Product) + len(r.Message) + len(r.TransactionID) + len(r.Data)
}

// appendHeaderRecord appends a header record to b: the log's identity and
// the check of the identity secret the keys in it are made with.
func appendHeaderRecord(b []byte, logID [16]byte, secretCheck []byte) []byte {
	start := len(b)
	b = append(b, recordMagic[:]...)
	b = append(b, kindHeader, 0, 0, 0, 0)
	b = append(b, logID[:]...)
	var check [secretCheckSize]byte // zeros: none kept
	copy(check[:], secretCheck)
	b = append(b, check[:]...)
	return finishRecord(b, start)
}

// finishRecord sets the body length of the record at b[start:] and appends
// its CRC.
func finishRecord(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start+len(recordMagic)+1:], uint32(len(b)-start-recordHead))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

var errDamaged = errors.New("damaged record")

// recordSum returns the checksum an index entry keeps for rec: the CRC of
// a format 2 record (its trailer), or of the whole of a format 1 record.
func recordSum(rec []byte) uint32 {
	if n := len(rec); n >= recordFrame && rec[0] == recordMagic[0] {
		return binary.BigEndian.Uint32(rec[n-recordTrailer:])
	}
	return crc32.Checksum(rec, castagnoli)
}

// checkRecord reports whether rec is whole: a format 2 record whose length
// and CRC agree, or a format 1 record whose CRC is sum.
func checkRecord(rec []byte, sum uint32) bool {
	if len(rec) > 0 && rec[0] == legacyFormat {
		return crc32.Checksum(rec, castagnoli) == sum
	}
	n := len(rec)
	if n < recordFrame || [4]byte(rec[:4]) != recordMagic || int(binary.BigEndian.Uint32(rec[5:9])) != n-recordFrame {
		return false
	}
	crc := binary.BigEndian.Uint32(rec[n-recordTrailer:])
	return crc == sum && crc32.Checksum(rec[:n-recordTrailer], castagnoli) == crc
}

// decodeReply decodes a checked reply record of either format into r and
// returns its key (the zero Key for format 1, which keeps none). With
// shareData, r.Data is rec's memory itself rather than a copy, and rec must
// not change while r is used (see Window); the other fields are copied
// either way, in one allocation.
func decodeReply(rec []byte, shareData bool, r *Reply) (Key, error) {
	var key Key
	var start, end int // where the fields are in rec
	switch {
	case len(rec) > 0 && rec[0] == legacyFormat:
		start, end = 1, len(rec)
	case len(rec) >= recordFrame+KeySize+KeyCheckSize && rec[4] == kindReply:
		body := rec[recordHead:]
		copy(key[:], body)
		r.KeyCheck = KeyCheck(body[KeySize:])
		start, end = recordHead+KeySize+KeyCheckSize, len(rec)-recordTrailer
	default:
		return key, errDamaged
	}
	fields := rec[start:end]
	code, n := binary.Varint(fields)
	if n <= 0 {
		return key, errDamaged
	}
	ms, m := binary.Varint(fields[n:])
	if m <= 0 {
		return key, errDamaged
	}
	base := start + n + m // where the strings start in rec
	rest := rec[base:end]
	var at [4][2]int // where each string is in rest
	pos := 0
	for i := range at {
		l, n := binary.Uvarint(rest[pos:])
		if n <= 0 || l > uint64(len(rest)-pos-n) {
			return key, errDamaged
		}
		at[i] = [2]int{pos + n, pos + n + int(l)}
		pos += n + int(l)
	}
	if rec[0] != legacyFormat && pos != len(rest) {
		return key, errDamaged // a framed body holds nothing more
	}
	// One string holds the fields that are copied, the length bytes
	// between them included; the fields are slices of it.
	upTo := at[3][1]
	if shareData {
		upTo = at[2][1]
	}
	copied := string(rest[:upTo])
	r.Code, r.ReceivedAt = int(code), time.UnixMilli(ms).UTC()
	r.Product, r.Message, r.TransactionID = copied[at[0][0]:at[0][1]], copied[at[1][0]:at[1][1]], copied[at[2][0]:at[2][1]]
	switch {
	case !shareData:
		r.Data = copied[at[3][0]:at[3][1]]
	case at[3][1] > at[3][0]:
		r.Data = unsafe.String(&rec[base+at[3][0]], at[3][1]-at[3][0])
	default:
		r.Data = ""
	}
	return key, nil
}

// legacyLength returns the length of the format 1 record at the start of
// b, or false when b does not start with a whole one.
func legacyLength(b []byte) (int, bool) {
	if len(b) == 0 || b[0] != legacyFormat {
		return 0, false
	}
	pos := 1
	for range 2 {
		_, n := binary.Varint(b[pos:])
		if n <= 0 {
			return 0, false
		}
		pos += n
	}
	for range 4 {
		l, n := binary.Uvarint(b[pos:])
		if n <= 0 || l > uint64(len(b)-pos-n) {
			return 0, false
		}
		pos += n + int(l)
	}
	return pos, true
}

// framedLength returns the length of the format 2 record at the start of
// b, when b holds all of it and its CRC agrees.
func framedLength(b []byte) (int, bool) {
	if len(b) < recordFrame || [4]byte(b[:4]) != recordMagic {
		return 0, false
	}
	body := binary.BigEndian.Uint32(b[5:9])
	if body > maxRecordBody || int(body) > len(b)-recordFrame {
		return 0, false
	}
	n := recordFrame + int(body)
	if crc32.Checksum(b[:n-recordTrailer], castagnoli) != binary.BigEndian.Uint32(b[n-recordTrailer:]) {
		return 0, false
	}
	return n, true
}

// headerBody returns the log identity and secret check of a header record.
func headerBody(rec []byte) (logID [16]byte, secretCheck []byte, ok bool) {
	if len(rec) != recordFrame+16+secretCheckSize || rec[4] != kindHeader {
		return logID, nil, false
	}
	body := rec[recordHead : len(rec)-recordTrailer]
	if check := body[16:]; [secretCheckSize]byte(check) != [secretCheckSize]byte{} {
		secretCheck = check
	}
	return [16]byte(body[:16]), secretCheck, true
}

// nextMagic returns the index of the next record magic in b at or after
// from, or -1.
func nextMagic(b []byte, from int) int {
	if from >= len(b) {
		return -1
	}
	i := bytes.Index(b[from:], recordMagic[:])
	if i < 0 {
		return -1
	}
	return from + i
}
