package store

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"
)

// Store keeps every vendor reply worth keeping, so that no reply is paid
// for twice: the encrypted payload exactly as received, its code,
// transaction id and time, under a key that is an HMAC of product and
// request parameters. Nothing in it is plaintext PII.
//
// It is two files: an append-only log of replies (<path>.log) and a bbolt
// index (<path>) from key to the reply's place in the log. Replies are read
// with pread, not through a memory mapping, so that a run over a million
// stored replies does not map them all into its resident memory; only the
// index, about 84 bytes a reply, is mapped. A run that looks up many
// replies reads the index into memory instead, 36 bytes a reply (see
// sortedIndex). A run reads the log ahead in windows of memory, and the
// replies it reads from a window share it until their data is decrypted
// (see window). A reply is synced to the log before its index entry
// commits: the index never points past the log.
// The index also keeps a check of the identity secret the keys are made
// with, so that a store is never used with another one.
type Store struct {
	db     *bolt.DB
	log    *os.File
	secret []byte // only for secretCheck

	mu     sync.Mutex // guards end and synced, and appends to the log
	end    int64      // where the next reply goes in the log
	synced int64      // the log is durable up to here

	// Until the first Put, look-ups share one read transaction: beginning
	// one per look-up cost more than the look-up itself. The first Put ends
	// it for good, since an open read transaction would hold up a commit
	// that grows the index file.
	shared struct {
		sync.RWMutex
		tx      *bolt.Tx
		index   *bolt.Bucket // of tx
		cursors sync.Pool    // of *bolt.Cursor: a Get makes one and grows its stack every time
		written bool         // a Put has begun: no more sharing
		// Once this many look-ups went through it, or Expect says this
		// many are coming, the index is read into memory (readIndex):
		// about one in 32 of its entries.
		readIndexAfter int64
	}
	lookups   atomic.Int64                // look-ups through the shared transaction
	mem       atomic.Pointer[sortedIndex] // the index in memory, once read
	indexRead atomic.Bool                 // readIndex has begun: it reads once
	reading   sync.WaitGroup              // a read of the index begun by Expect

	ra struct { // the read-ahead window
		sync.Mutex
		off    int64   // log offset of win.buf[0]
		win    *Window // nil before the first read ahead
		n      int     // the log's bytes in win.buf
		misses int     // reads outside the window in a row
	}
	windows windowPool // windows no reply shares any more, for the next reads ahead
}

var indexBucket = []byte("replies")

// The meta bucket holds secretCheckKey: what the store keeps to recognise
// the identity secret its keys were made with.
var (
	metaBucket     = []byte("meta")
	secretCheckKey = []byte("secret_check")
)

// secretCheck is an HMAC of a fixed text with the identity secret: it
// tells whether a secret is the store's without keeping the secret.
func secretCheck(secret []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("scorepipe reply store: identity secret check"))
	return mac.Sum(nil)[:KeySize]
}

// checkSecret fails when the store holds replies keyed with another
// identity secret: none of them would be found, and every row would be
// paid for again. A store without replies takes secret's check when adopt
// is set; one whose replies were kept before checks were has nothing to
// compare with, and keeps none.
func checkSecret(tx *bolt.Tx, path string, secret []byte, adopt bool) error {
	want := secretCheck(secret)
	if k, _ := tx.Bucket(indexBucket).Cursor().First(); k == nil { // no replies to lose
		if !adopt {
			return nil
		}
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		return meta.Put(secretCheckKey, want)
	}
	var got []byte
	if meta := tx.Bucket(metaBucket); meta != nil {
		got = meta.Get(secretCheckKey)
	}
	if got != nil && !hmac.Equal(got, want) {
		return &SecretError{Path: path}
	}
	return nil
}

// An index entry is the reply's offset and length in the log and its
// CRC-32 (Castagnoli), big-endian.
const entrySize = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// A reply in the log is a version byte, then the code and the time received
// (Unix ms) as varints, then product, message, transaction id and data
// (encrypted, as received), each as a uvarint length and its bytes.
const replyFormat = 1

func encodeReply(r *Reply) []byte {
	b := make([]byte, 0, 32+len(r.Product)+len(r.Message)+len(r.TransactionID)+len(r.Data))
	b = append(b, replyFormat)
	b = binary.AppendVarint(b, int64(r.Code))
	b = binary.AppendVarint(b, r.ReceivedAt.UnixMilli())
	for _, s := range []string{r.Product, r.Message, r.TransactionID, r.Data} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

var errDamagedReply = errors.New("damaged stored reply")

// decodeReply decodes a reply record. With shareData, the reply's Data is
// b's memory itself rather than a copy, and b must not change while the
// reply is used (see window); its other fields are copied either way.
func decodeReply(b []byte, shareData bool) (*Reply, error) {
	if len(b) == 0 || b[0] != replyFormat {
		return nil, errDamagedReply
	}
	rest := b[1:]
	code, n := binary.Varint(rest)
	if n <= 0 {
		return nil, errDamagedReply
	}
	rest = rest[n:]
	ms, n := binary.Varint(rest)
	if n <= 0 {
		return nil, errDamagedReply
	}
	rest = rest[n:]
	var at [4][2]int // where each field is in b
	for i := range at {
		l, n := binary.Uvarint(rest)
		if n <= 0 || l > uint64(len(rest)-n) {
			return nil, errDamagedReply
		}
		start := len(b) - len(rest) + n
		at[i] = [2]int{start, start + int(l)}
		rest = rest[n+int(l):]
	}
	// One string holds the fields that are copied, the length bytes
	// between them included; the fields are slices of it: one allocation.
	upTo := at[3][1]
	if shareData {
		upTo = at[2][1]
	}
	base := at[0][0]
	copied := string(b[base:upTo])
	field := func(i int) string { return copied[at[i][0]-base : at[i][1]-base] }
	r := &Reply{Code: int(code), ReceivedAt: time.UnixMilli(ms).UTC(), Product: field(0),
		Message: field(1), TransactionID: field(2)}
	switch {
	case !shareData:
		r.Data = field(3)
	case at[3][1] > at[3][0]:
		r.Data = unsafe.String(&b[at[3][0]], at[3][1]-at[3][0])
	}
	return r, nil
}

// OpenStore opens (creating if needed) the reply store at path. Only one
// process may have it open for writing; a second one waits up to a few
// seconds and then gets an error.
func Open(path string, secret []byte) (*Store, error) {
	if err := mkdirPrivate(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("reply store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("reply store %s is in use by another run", path)
		}
		return nil, fmt.Errorf("reply store %s: %w", path, err)
	}
	// Batch gathers concurrent Puts into one transaction; a short delay
	// keeps the time between a paid reply and its commit short.
	db.MaxBatchDelay = 2 * time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(indexBucket); err != nil {
			return err
		}
		return checkSecret(tx, path, secret, true)
	})
	var se *SecretError
	if errors.As(err, &se) {
		db.Close()
		return nil, err
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("reply store %s: %w", path, err)
	}
	log, err := os.OpenFile(path+".log", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("reply store: %w", err)
	}
	end, err := log.Seek(0, io.SeekEnd) // a reply cut short by a crash stays, unindexed
	if err != nil {
		log.Close()
		db.Close()
		return nil, fmt.Errorf("reply store: %w", err)
	}
	return &Store{db: db, log: log, secret: secret, end: end, synced: end}, nil
}

// OpenStoreReadOnly opens the reply store for reading only; it waits up to
// 5 s for a run that holds it. A store that does not exist yet gives nil, nil.
func OpenReadOnly(path string, secret []byte) (*Store, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("reply store %s: %w", path, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(indexBucket) == nil {
			return errors.New("not a reply store")
		}
		return checkSecret(tx, path, secret, false)
	})
	var se *SecretError
	if errors.As(err, &se) {
		db.Close()
		return nil, err
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("reply store %s: %w", path, err)
	}
	log, err := os.Open(path + ".log")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("reply store: %w", err)
	}
	info, err := log.Stat()
	if err != nil {
		log.Close()
		db.Close()
		return nil, fmt.Errorf("reply store: %w", err)
	}
	return &Store{db: db, log: log, secret: secret, end: info.Size(), synced: info.Size()}, nil
}

// StoreHoldsReplies reports whether the reply store at path holds replies
// (its log is not empty), without opening it.
func HoldsReplies(path string) (bool, error) {
	info, err := os.Stat(path + ".log")
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reply store: %w", err)
	}
	return info.Size() > 0, nil
}

// Close closes the store. Nothing may use it afterwards: the index in
// memory and bbolt's mapping are unmapped.
func (s *Store) Close() error {
	s.reading.Wait()
	s.endSharedRead()
	if ix := s.mem.Swap(nil); ix != nil { // nothing looks up any more
		ix.free()
	}
	err := s.db.Close()
	if lerr := s.log.Close(); err == nil {
		err = lerr
	}
	return err
}

// Get returns the reply stored under key if it was received at or after
// notBefore.
func (s *Store) Get(key []byte, notBefore time.Time) (*Reply, bool, error) {
	r, _, found, err := s.get(key, notBefore, false)
	return r, found, err
}

// getShared is Get for a reply whose data is read once, soon, and then
// dropped: its Data shares the read-ahead window it was read from, when
// the returned window is not nil, and the caller releases the window once
// it is done with Data. The reply's other fields are its own.
func (s *Store) GetShared(key []byte, notBefore time.Time) (*Reply, *Window, bool, error) {
	return s.get(key, notBefore, true)
}

func (s *Store) get(key []byte, notBefore time.Time, share bool) (*Reply, *Window, bool, error) {
	entry, found, err := s.lookup(key)
	if err != nil || !found {
		return nil, nil, false, err
	}
	off := int64(binary.BigEndian.Uint64(entry[0:8]))
	size := int64(binary.BigEndian.Uint32(entry[8:12]))
	r, win, err := s.readReply(off, size, binary.BigEndian.Uint32(entry[12:16]), share)
	if err != nil {
		return nil, nil, false, fmt.Errorf("reply store: reply at %d: %w", off, err)
	}
	if r.ReceivedAt.Before(notBefore) {
		win.Release()
		return nil, nil, false, nil
	}
	return r, win, true, nil
}

// lookup returns the index entry of key: from the index in memory once it
// is read (and until it is stale), else through the shared read
// transaction while nothing has been written, else through a transaction of
// its own.
func (s *Store) lookup(key []byte) (entry [entrySize]byte, found bool, err error) {
	if ix := s.mem.Load(); ix != nil && !ix.stale.Load() {
		entry, found = ix.find(key)
		return entry, found, nil
	}
	sh := &s.shared
	sh.RLock()
	if sh.index != nil {
		c, _ := sh.cursors.Get().(*bolt.Cursor)
		if c == nil || c.Bucket() != sh.index { // none yet, or of an ended transaction
			c = sh.index.Cursor()
		}
		if k, v := c.Seek(key); bytes.Equal(k, key) && len(v) == entrySize {
			copy(entry[:], v)
			found = true
		}
		sh.cursors.Put(c)
		read := s.lookups.Add(1) == sh.readIndexAfter
		sh.RUnlock()
		if read {
			s.readIndex()
		}
		return entry, found, nil
	}
	begin := !sh.written
	sh.RUnlock()
	if begin && s.beginSharedRead() {
		return s.lookup(key)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(indexBucket).Get(key); len(v) == entrySize {
			copy(entry[:], v)
			found = true
		}
		return nil
	})
	return entry, found, err
}

// A run reads the index into memory after minLookupsBeforeRead look-ups at
// least, and after one for every 32 entries the index can hold, or at once
// when Expect says as many are coming: reading it costs about as much as 32
// look-ups in bbolt would save, and a run that looks up a few replies in a
// large store leaves it be.
const minLookupsBeforeRead = 1024

// minEntryBytes is the least room an index entry takes in bbolt's file:
// its key, its value and the 16 bytes bbolt keeps for each in a leaf page.
// The file's size over it bounds the number of entries.
const minEntryBytes = KeySize + entrySize + 16

// beginSharedRead begins the shared read transaction, unless a Put has
// begun or the index is in memory, and reports whether look-ups can go
// through either.
func (s *Store) beginSharedRead() bool {
	sh := &s.shared
	sh.Lock()
	defer sh.Unlock()
	if sh.tx == nil && !sh.written && s.mem.Load() == nil {
		if tx, err := s.db.Begin(false); err == nil {
			sh.tx, sh.index = tx, tx.Bucket(indexBucket)
			sh.readIndexAfter = max(minLookupsBeforeRead, tx.Size()/minEntryBytes/32)
		}
	}
	return sh.index != nil || s.mem.Load() != nil
}

// Expect tells the store that about lookups look-ups are coming. When they
// are as many as would make a run read the index into memory (see
// minLookupsBeforeRead), it starts reading it now, beside the first
// look-ups, instead of after them: look-ups in bbolt's file before it is
// read cost many times those in memory, most of it in page faults.
func (s *Store) Expect(lookups int) {
	if !s.beginSharedRead() {
		return
	}
	sh := &s.shared
	sh.RLock()
	soon := sh.index != nil && int64(lookups) >= sh.readIndexAfter
	sh.RUnlock()
	if soon {
		s.reading.Add(1)
		go func() {
			defer s.reading.Done()
			s.readIndex()
		}()
	}
}

// readIndex reads the index into memory and ends the shared read
// transaction, unless a Put has begun: from then on the index in memory
// would have to follow every commit. It reads once; look-ups go on through
// the shared transaction while it does.
func (s *Store) readIndex() {
	if !s.indexRead.CompareAndSwap(false, true) {
		return
	}
	sh := &s.shared
	sh.RLock()
	if sh.written || sh.index == nil || s.mem.Load() != nil {
		sh.RUnlock()
		return
	}
	size := sh.tx.Size()
	ix := readSortedIndex(sh.index, int(size/minEntryBytes), func() { releaseMappedIndex(s.db, size) })
	if ix != nil {
		// No Put has begun: it would first have ended the shared read,
		// which waits for this read lock. So every Put from now on finds
		// the index in memory and adds its entry there.
		s.mem.Store(ix)
	}
	sh.RUnlock()
	if ix == nil {
		return
	}
	sh.Lock()
	defer sh.Unlock()
	if sh.written {
		// A Put has ended the shared read since, and its commit may have
		// moved bbolt's mapping: the pages are no longer ours to release.
		return
	}
	_ = sh.tx.Rollback()
	sh.tx, sh.index = nil, nil
	releaseMappedIndex(s.db, size)
}

// endSharedRead ends the shared read transaction for good.
func (s *Store) endSharedRead() {
	sh := &s.shared
	sh.Lock()
	defer sh.Unlock()
	sh.written = true
	if sh.tx != nil {
		_ = sh.tx.Rollback()
		sh.tx, sh.index = nil, nil
	}
}

// Put stores a reply under key and returns once both the reply and its
// index entry are on disk. Concurrent Puts share a sync and a transaction.
func (s *Store) Put(key []byte, r *Reply) error {
	s.endSharedRead()
	rec := encodeReply(r)
	s.mu.Lock()
	off := s.end
	_, err := s.log.WriteAt(rec, off)
	if err == nil {
		s.end += int64(len(rec))
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("reply store: %w", err)
	}
	var entry [entrySize]byte
	binary.BigEndian.PutUint64(entry[0:8], uint64(off))
	binary.BigEndian.PutUint32(entry[8:12], uint32(len(rec)))
	binary.BigEndian.PutUint32(entry[12:16], crc32.Checksum(rec, castagnoli))
	err = s.db.Batch(func(tx *bolt.Tx) error {
		if err := s.syncLog(off + int64(len(rec))); err != nil {
			return err
		}
		return tx.Bucket(indexBucket).Put(key, entry[:])
	})
	if err != nil {
		return fmt.Errorf("reply store: %w", err)
	}
	if ix := s.mem.Load(); ix != nil { // read before this Put began: it cannot be after
		ix.add(key, entry)
	}
	return nil
}

// syncLog makes the log durable up to at least upTo; one sync covers every
// reply appended before it.
func (s *Store) syncLog(upTo int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.synced >= upTo {
		return nil
	}
	end := s.end
	if err := s.log.Sync(); err != nil {
		return err
	}
	s.synced = end
	return nil
}

// Count returns how many replies the store holds.
func (s *Store) Count() (int, error) {
	if ix := s.mem.Load(); ix != nil && !ix.stale.Load() {
		return ix.count(), nil
	}
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(indexBucket).Stats().KeyN
		return nil
	})
	return n, err
}

// mkdirPrivate creates dir with mode 0700, its missing parents with 0755.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}
