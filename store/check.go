package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// minEntryBytes is the least room an index entry takes in bbolt's file:
// its key, its value (an entry of the first format) and the 16 bytes bbolt
// keeps for each in a leaf page. The file's size over it bounds the number
// of entries.
const minEntryBytes = KeySize + legacyEntrySize + 16

// readBatch is how many entries the check at open reads between two
// releases of bbolt's pages: bbolt keeps about 50 in a page, so some 5 MB
// of its mapping. Tests make it small.
var readBatch = 1 << 16

// inspection is what reading the whole index found.
type inspection struct {
	db          *bolt.DB
	damaged     error // bbolt refused the file, panicked or faulted, or its structure is wrong
	state       indexState
	hasState    bool
	secretCheck []byte
	entries     int
	digest      uint64
	legacy      int   // entries of the first format (no time)
	beyond      int   // entries pointing past the end of the log
	oldestMs    int64 // of the entries with a time
	mem         *sortedIndex
}

// check opens the index and checks it against the log; it rebuilds the
// index from the log when it is missing, damaged, of an older format or out
// of step with the log, and indexes the replies the log holds beyond what
// the index covers. It leaves the store open and its index in memory.
func (s *Store) check(opts Options) error {
	info, err := s.log.Stat()
	if err != nil {
		return &CorruptError{Path: s.path + ".log", Err: err}
	}
	size := info.Size()
	var reason string
	if opts.Rebuild {
		reason = "asked for"
	}
	for attempt := 0; ; attempt++ {
		ins, err := s.inspect(size, false)
		if err != nil {
			return err
		}
		if reason == "" {
			reason = s.verdict(ins, size)
		}
		if reason == "" {
			s.db, s.mem, s.state, s.secretCheck = ins.db, ins.mem, ins.state, ins.secretCheck
			s.count.Store(int64(ins.entries))
			s.oldestMs = ins.oldestMs
			if s.mem == nil {
				s.mem = newSortedIndex(0)
				s.mem.finish()
			}
			if !ins.hasState { // a new store
				s.state = indexState{headerOff: -1}
				err := s.guardedUpdate(func(tx *bolt.Tx) error {
					if _, err := tx.CreateBucketIfNotExists(indexBucket); err != nil {
						return err
					}
					meta, err := tx.CreateBucketIfNotExists(metaBucket)
					if err != nil {
						return err
					}
					return meta.Put(stateKey, s.state.encode())
				})
				if err != nil {
					return err
				}
			}
			return s.indexTail(size)
		}
		if attempt > 0 {
			ins.close()
			return &CorruptError{Path: s.path, Err: fmt.Errorf("the index rebuilt from the log does not check: %s", reason)}
		}
		if err := s.rebuild(ins, reason, size); err != nil {
			return err
		}
		s.opened.Rebuilt = reason
		reason = ""
	}
}

// verdict says why the index cannot serve as it is, or "" when it can.
func (s *Store) verdict(ins *inspection, logSize int64) string {
	switch {
	case errors.Is(ins.damaged, os.ErrNotExist):
		return "the index is missing"
	case ins.damaged != nil:
		return fmt.Sprintf("the index is damaged (%v)", ins.damaged)
	case !ins.hasState && ins.entries == 0 && logSize == 0:
		return "" // a new store
	case !ins.hasState && ins.entries == 0:
		return "the index is missing or empty"
	case !ins.hasState || ins.legacy > 0:
		return "the index is of an older format"
	case ins.state.count != int64(ins.entries) || ins.state.digest != ins.digest:
		return fmt.Sprintf("the index does not match its own digest (%d entries, %d expected): it is damaged", ins.entries, ins.state.count)
	case ins.state.logEnd > logSize || ins.beyond > 0:
		return fmt.Sprintf("the log is shorter than the index says (%d bytes, %d indexed): it was cut or replaced", logSize, ins.state.logEnd)
	case ins.state.headerOff >= 0 && !s.headerAt(ins.state.headerOff, ins.state.logID):
		return "the log is not the one the index was made for"
	}
	return ""
}

// headerAt reports whether the log's header record at off holds logID.
func (s *Store) headerAt(off int64, logID [16]byte) bool {
	b := make([]byte, recordFrame+16+secretCheckSize)
	if _, err := s.log.ReadAt(b, off); err != nil {
		return false
	}
	n, ok := framedLength(b)
	if !ok || n != len(b) {
		return false
	}
	id, _, ok := headerBody(b)
	return ok && id == logID
}

// inspect opens the index and reads all of it, checking its structure and
// working out its digest, into an index in memory. A bbolt that refuses
// the file, panics or faults on it gives an inspection with damaged set.
func (s *Store) inspect(logSize int64, readOnly bool) (*inspection, error) {
	ins := &inspection{oldestMs: -1}
	var db *bolt.DB
	if readOnly {
		if _, err := os.Stat(s.path); err != nil {
			ins.damaged = err
			return ins, nil
		}
	}
	err := guard(func() error {
		var err error
		db, err = bolt.Open(s.path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: readOnly})
		return err
	})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil, &InUseError{Path: s.path}
	case errors.Is(err, os.ErrPermission):
		return nil, &CorruptError{Path: s.path, Err: err}
	case err != nil:
		ins.damaged = err
		return ins, nil
	}
	ins.db = db
	err = guard(func() error {
		return db.View(func(tx *bolt.Tx) error { return ins.read(tx, logSize) })
	})
	if err != nil {
		if ins.mem != nil {
			ins.mem.free()
			ins.mem = nil
		}
		ins.damaged = err
	}
	return ins, nil
}

// read reads the meta and every entry of the index.
func (ins *inspection) read(tx *bolt.Tx, logSize int64) error {
	if meta := tx.Bucket(metaBucket); meta != nil {
		ins.state, ins.hasState = decodeState(meta.Get(stateKey))
		if c := meta.Get(secretCheckKey); len(c) == secretCheckSize {
			ins.secretCheck = bytes.Clone(c)
		}
	}
	b := tx.Bucket(indexBucket)
	if b == nil {
		return nil
	}
	size := tx.Size()
	ins.mem = newSortedIndex(int(size/minEntryBytes) + 1)
	var prev []byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		e, ok := decodeEntry(v)
		switch {
		case len(k) != KeySize:
			return fmt.Errorf("a key of %d bytes", len(k))
		case prev != nil && bytes.Compare(prev, k) >= 0:
			return errors.New("keys out of order")
		case !ok:
			return fmt.Errorf("an entry of %d bytes", len(v))
		case !ins.mem.append(k, e):
			return errors.New("more entries than the file can hold")
		}
		prev = k
		ins.entries++
		ins.digest ^= entryHash(k, v)
		if len(v) == legacyEntrySize {
			ins.legacy++
		} else if ins.oldestMs < 0 || e.ms < ins.oldestMs {
			ins.oldestMs = e.ms
		}
		if e.off+int64(e.n) > logSize {
			ins.beyond++
		}
		if ins.entries%readBatch == 0 {
			releaseMappedIndex(tx.DB(), size)
		}
	}
	ins.mem.finish()
	releaseMappedIndex(tx.DB(), size)
	return nil
}

func (ins *inspection) close() {
	if ins.mem != nil {
		ins.mem.free()
		ins.mem = nil
	}
	if ins.db != nil {
		_ = guard(ins.db.Close)
		ins.db = nil
	}
}

// indexTail indexes the replies the log holds beyond what the index
// covers: appended by a run that stopped before their index entries were
// committed. What follows the last whole record (a record cut short, the
// room set aside for replies) is cut off.
func (s *Store) indexTail(size int64) error {
	if s.state.logEnd > size {
		return &CorruptError{Path: s.path + ".log", Err: errors.New("shorter than indexed")}
	}
	end := s.state.logEnd
	var found []keyedEntry
	header := s.state.headerOff
	var logID [16]byte
	err := scanLog(s.log, s.state.logEnd, size, func(sp span) error {
		if sp.kind != spanRecord {
			return nil
		}
		end = sp.off + sp.n
		switch sp.rec[4] {
		case kindReply:
			if ke, ok := replyEntry(sp); ok {
				found = append(found, ke)
			}
		case kindHeader:
			if id, _, ok := headerBody(sp.rec); ok && header < 0 {
				header, logID = sp.off, id
			}
		}
		return nil
	})
	if err != nil {
		return &CorruptError{Path: s.path + ".log", Err: err}
	}
	if end != s.state.logEnd || header != s.state.headerOff {
		st := s.state
		st.logEnd = end
		if header != st.headerOff {
			st.headerOff, st.logID = header, logID
		}
		err := s.guardedUpdate(func(tx *bolt.Tx) error {
			b := tx.Bucket(indexBucket)
			for i := range found {
				ke := &found[i]
				if old, ok := decodeEntry(b.Get(ke.key[:])); ok && old.off >= ke.off {
					continue // a later reply under the same key is already indexed
				}
				if err := putEntry(b, &st, ke.key[:], ke.entry); err != nil {
					return err
				}
			}
			return tx.Bucket(metaBucket).Put(stateKey, st.encode())
		})
		if err != nil {
			return err
		}
		s.state = st
		for i := range found {
			s.mem.add(&found[i].key, found[i].entry)
		}
		s.count.Store(st.count)
		s.opened.Reindexed = len(found)
	}
	if size > end {
		if err := s.log.Truncate(end); err != nil {
			return &WriteError{Path: s.path + ".log", Op: "truncate", Err: err}
		}
	}
	s.end, s.synced, s.allocated = end, end, end
	return nil
}

// putEntry puts an entry in the index and follows it in the state's count
// and digest.
func putEntry(b *bolt.Bucket, st *indexState, key []byte, e entry) error {
	v := e.encode()
	if old := b.Get(key); old != nil {
		st.digest ^= entryHash(key, old)
	} else {
		st.count++
	}
	st.digest ^= entryHash(key, v)
	return b.Put(key, v)
}

// deleteEntry removes key's entry from the index and follows it in the
// state's count and digest.
func deleteEntry(b *bolt.Bucket, st *indexState, key []byte) error {
	old := b.Get(key)
	if old == nil {
		return nil
	}
	st.digest ^= entryHash(key, old)
	st.count--
	return b.Delete(key)
}

// keyedEntry is an index entry with its key.
type keyedEntry struct {
	key Key
	entry
}

// replyEntry returns the key and index entry of a whole reply record.
func replyEntry(sp span) (keyedEntry, bool) {
	var r Reply
	key, err := decodeReplyHead(sp.rec, &r)
	if err != nil {
		return keyedEntry{}, false
	}
	return keyedEntry{key: key, entry: entry{off: sp.off, n: uint32(sp.n), sum: recordSum(sp.rec), ms: r.ReceivedAt.UnixMilli()}}, true
}

// decodeReplyHead decodes what comes before the strings of a reply
// record: its key and key check (format 2), code and time.
func decodeReplyHead(rec []byte, r *Reply) (Key, error) {
	var key Key
	var fields []byte
	switch {
	case len(rec) > 0 && rec[0] == legacyFormat:
		fields = rec[1:]
	case len(rec) >= recordFrame+KeySize+KeyCheckSize && rec[4] == kindReply:
		body := rec[recordHead:]
		copy(key[:], body)
		r.KeyCheck = KeyCheck(body[KeySize:])
		fields = body[KeySize+KeyCheckSize:]
	default:
		return key, errDamaged
	}
	code, n := binary.Varint(fields)
	if n <= 0 {
		return key, errDamaged
	}
	ms, m := binary.Varint(fields[n:])
	if m <= 0 {
		return key, errDamaged
	}
	r.Code, r.ReceivedAt = int(code), time.UnixMilli(ms).UTC()
	return key, nil
}

// rebuild makes a new index from the log. It keeps what of the old index
// can still serve: the entries of format 1 records, whose keys are nowhere
// else, when their records are whole, and the identity secret's check. A
// damaged index is moved aside first.
func (s *Store) rebuild(ins *inspection, reason string, logSize int64) error {
	var legacy []keyedEntry // the old index's entries, by offset
	if ins.damaged == nil && ins.db != nil {
		err := guard(func() error {
			return ins.db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(indexBucket)
				if b == nil {
					return nil
				}
				return b.ForEach(func(k, v []byte) error {
					if e, ok := decodeEntry(v); ok && len(k) == KeySize {
						legacy = append(legacy, keyedEntry{key: Key(k), entry: e})
					}
					return nil
				})
			})
		})
		if err != nil {
			legacy = nil
		}
	}
	oldEntries := ins.entries
	secretCheck := ins.secretCheck
	damaged := ins.damaged != nil
	ins.close()
	if damaged {
		aside := fmt.Sprintf("%s.damaged-%s", s.path, time.Now().UTC().Format("20060102T150405"))
		if err := os.Rename(s.path, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &CorruptError{Path: s.path, Err: fmt.Errorf("%v, and it cannot be moved aside: %w", ins.damaged, err)}
		}
		s.opened.MovedAside = aside
		oldEntries = 0
	}
	slices.SortFunc(legacy, func(a, b keyedEntry) int { return cmpInt64(a.off, b.off) })

	var entries []keyedEntry
	st := indexState{headerOff: -1}
	var end int64
	legacySpans := 0
	err := scanLog(s.log, 0, logSize, func(sp span) error {
		switch sp.kind {
		case spanRecord:
			end = sp.off + sp.n
			switch sp.rec[4] {
			case kindReply:
				if ke, ok := replyEntry(sp); ok {
					entries = append(entries, ke)
				}
			case kindHeader:
				if id, check, ok := headerBody(sp.rec); ok {
					if st.headerOff < 0 {
						st.headerOff, st.logID = sp.off, id
					}
					if check != nil {
						secretCheck = bytes.Clone(check)
					}
				}
			}
		case spanLegacy:
			end = sp.off + sp.n
			legacySpans++
			i, found := slices.BinarySearchFunc(legacy, sp.off, func(e keyedEntry, off int64) int { return cmpInt64(e.off, off) })
			if found && int64(legacy[i].n) == sp.n && checkRecord(sp.rec, legacy[i].sum) {
				ke := legacy[i]
				var r Reply
				if _, err := decodeReplyHead(sp.rec, &r); err == nil {
					ke.ms = r.ReceivedAt.UnixMilli()
					entries = append(entries, ke)
					legacySpans--
				}
			}
		case spanDamaged:
			s.opened.Damaged++
		}
		return nil
	})
	if err != nil {
		return &CorruptError{Path: s.path + ".log", Err: err}
	}
	// Later records win over earlier ones under the same key.
	slices.SortFunc(entries, func(a, b keyedEntry) int {
		if c := bytes.Compare(a.key[:], b.key[:]); c != 0 {
			return c
		}
		return cmpInt64(a.off, b.off)
	})
	last := entries[:0]
	for i, ke := range entries {
		if i+1 == len(entries) || entries[i+1].key != ke.key {
			last = append(last, ke)
		}
	}
	entries = last
	st.logEnd = end
	if err := s.writeIndex(entries, &st, secretCheck); err != nil {
		return err
	}
	if oldEntries == 0 { // the old index is gone: its first-format replies with it
		s.opened.Lost = legacySpans
	} else {
		s.opened.Lost = max(0, oldEntries-len(entries))
	}
	return nil
}

// writeIndex writes a new index holding entries (in key order) and st, in
// a file beside the old one, and puts it in the old one's place.
func (s *Store) writeIndex(entries []keyedEntry, st *indexState, secretCheck []byte) error {
	tmp := s.path + ".rebuild"
	_ = os.Remove(tmp)
	var db *bolt.DB
	fail := func(err error) error {
		if db != nil {
			_ = db.Close()
		}
		_ = os.Remove(tmp)
		return &WriteError{Path: tmp, Op: "write", Err: err}
	}
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second, NoGrowSync: false})
	if err != nil {
		return fail(err)
	}
	st.count, st.digest = 0, 0
	const batch = 50_000 // entries a transaction: memory stays bounded
	for i := 0; i == 0 || i < len(entries); i += batch {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(indexBucket)
			if err != nil {
				return err
			}
			b.FillPercent = 1 // keys come in order: full pages
			for _, ke := range entries[i:min(i+batch, len(entries))] {
				if err := putEntry(b, st, ke.key[:], ke.entry); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fail(err)
		}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if secretCheck != nil {
			if err := meta.Put(secretCheckKey, secretCheck); err != nil {
				return err
			}
		}
		return meta.Put(stateKey, st.encode())
	})
	if err != nil {
		return fail(err)
	}
	if err := db.Close(); err != nil {
		db = nil
		return fail(err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fail(err)
	}
	return syncDir(s.path)
}

// syncDir makes a rename in path's directory durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil // nothing to sync on this system
	}
	defer d.Close()
	_ = d.Sync()
	return nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// newLogID returns a random log identity.
func newLogID() [16]byte {
	var id [16]byte
	_, _ = rand.Read(id[:])
	return id
}
