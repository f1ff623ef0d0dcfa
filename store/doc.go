// Package store keeps every vendor reply worth keeping, so that no reply is
// paid for twice: the payload encrypted exactly as received, its code,
// transaction id and time, under a key that is an HMAC of the product and
// the call's parameters (see Keyer).
//
// # On disk
//
// A store at path is four files, all mode 0600 in a directory made 0700:
//
//   - path.log, the log, append-only and the source of truth. Each record
//     is framed: the magic F5 'S' 'P' 02, a kind byte, the body's length
//     (uint32, big-endian), the body and a CRC-32C of all before it. A reply
//     record's body is its key (16 bytes), the check of the access key its
//     data is encrypted with (8 bytes, see KeyCheck), the code and the time
//     received (Unix ms) as varints, then product, message, transaction id
//     and data, each as a uvarint length and its bytes. A header record
//     holds the log's random identity and the check of the identity secret
//     (an HMAC of a fixed text, not the secret). Zeros between records are
//     room set aside and not used, or replies removed by retention.
//   - path, the index (bbolt): bucket "replies" maps a key to its record's
//     offset, length, checksum and time (24 bytes, big-endian); bucket
//     "meta" holds the secret's check and the index's state: the log
//     identity it was made for, how far it covers the log, its number of
//     entries and a digest (XOR of a 64-bit mix of every key and entry).
//   - path.lock, held with flock while the store is open.
//   - path.damaged-<time>, only after a damaged index was moved aside.
//
// Stores written before the log carried keys (format 1) are read as they
// are: their records are a version byte 1 then the same fields, with no
// key and no checksum of their own, found only through the index (whose
// 16-byte entries carry the checksum). The first open converts such an
// index to the current one, keeping each reply whose record is whole; new
// replies go to the same log in the current format, and Compact rewrites
// the old ones in it. What a format 1 log cannot do: a reply of format 1
// cannot be found again once its index entry is lost (the index deleted
// or damaged), since its key is nowhere else; such replies are counted
// (OpenReport.Lost) and paid for again when asked for.
//
// # What it guarantees
//
//   - A reply is durable before Put returns: its record is synced to the log
//     before its index entry commits (bbolt syncs too).
//   - No plaintext PII: keys are HMACs, data stays encrypted as received.
//   - One writer at a time: Open takes path.lock and fails at once
//     (InUseError) while another process has the store open.
//   - Faults cost no money. Room for a reply is set aside in the log
//     (Reserve, RoomPerCall, with fallocate where the file system has it)
//     before the call that pays for it; a full disk or a file size limit
//     is found there, and from then on the store refuses every Reserve, so
//     a run stops before paying for a reply it could not keep. A failure to
//     write the index after the record is durable loses nothing: the next
//     open indexes the log's tail.
//   - The store checks itself at open and repairs what it can from the log,
//     without panicking (bbolt's panics and faults on a damaged file are
//     caught): an index that is missing, emptied, damaged (its digest or
//     structure does not check; it is moved aside), of an older format, or
//     out of step with the log (the log cut, replaced, or longer than
//     indexed) is rebuilt from the log; a record cut short at the end is
//     dropped. A damaged record (its checksum fails) is reported by Get as
//     Damaged, to be paid for again alone; Check reports every one.
//
// # What it costs
//
// About the reply's size in the log, plus 24 bytes of entry and bbolt's
// overhead in the index (some 80 bytes a reply). Open reads the whole index
// to check it (some 10 ms per 100,000 replies) and keeps it in memory
// outside the Go heap, 32 bytes a reply, so that a look-up touches no bbolt
// page; a rebuild reads the whole log. A Put costs an fsync of the log and
// a bbolt commit, shared by the Puts in flight at the same time. Retention
// (Options.PruneBefore) zeroes the records of old replies in place; only
// Compact, which needs room for a copy of the live replies, shortens the
// log.
package store
