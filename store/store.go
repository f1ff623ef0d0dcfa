package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store is an open reply store. It is safe for concurrent use.
type Store struct {
	path        string
	db          *bolt.DB
	log         logFile
	lock        *os.File
	secretCheck []byte

	syncMu    sync.Mutex // one sync of the log at a time
	mu        sync.Mutex // guards what follows, and appends to the log
	end       int64      // where the next record goes in the log
	synced    int64      // the log is durable up to here
	allocated int64      // the log file's size: from end to here, zeros set aside
	reserved  int64      // room promised to calls in flight (Reserve)
	pending   []int64    // offsets of records appended, not yet in the index
	failed    error      // a write failed: the store takes no more replies
	state     indexState // as last committed, or about to be
	appended  bool       // a record was appended since the store opened

	oldestMs int64 // the time of the oldest reply (Unix ms), or -1; for prune

	count   atomic.Int64 // replies in the index
	damaged atomic.Int64 // records found damaged by Get since the store opened
	opened  OpenReport

	mem     *sortedIndex // the index in memory, read at open
	ra      readAhead
	windows windowPool // windows no reply shares any more, for the next reads ahead
}

// logFile is the reply log: an *os.File, or in tests one that fails.
type logFile interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
}

// openLog opens the log file; tests replace it.
var openLog = func(path string) (logFile, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

// Bucket and meta key names in the index.
var (
	indexBucket    = []byte("replies")
	metaBucket     = []byte("meta")
	secretCheckKey = []byte("secret_check")
	stateKey       = []byte("state")
)

// An index entry is the reply's offset and length in the log, its checksum
// (recordSum) and the time it was received (Unix ms), big-endian. Stores
// from before the log carried keys have entries without the time.
const (
	entrySize       = 24
	legacyEntrySize = 16
)

// entry is an index entry, decoded.
type entry struct {
	off    int64
	n, sum uint32
	ms     int64
}

func (e entry) encode() []byte {
	b := make([]byte, entrySize)
	binary.BigEndian.PutUint64(b[0:], uint64(e.off))
	binary.BigEndian.PutUint32(b[8:], e.n)
	binary.BigEndian.PutUint32(b[12:], e.sum)
	binary.BigEndian.PutUint64(b[16:], uint64(e.ms))
	return b
}

func decodeEntry(v []byte) (entry, bool) {
	if len(v) != entrySize && len(v) != legacyEntrySize {
		return entry{}, false
	}
	e := entry{off: int64(binary.BigEndian.Uint64(v[0:])), n: binary.BigEndian.Uint32(v[8:]), sum: binary.BigEndian.Uint32(v[12:])}
	if len(v) == entrySize {
		e.ms = int64(binary.BigEndian.Uint64(v[16:]))
	}
	return e, e.off >= 0 && e.n > 0
}

// indexState is what the index keeps about itself, to be checked at open:
// which log it indexes, how far, and a digest of its entries.
type indexState struct {
	logID     [16]byte // the identity in the log's header record
	headerOff int64    // where that record is; -1 before the log has one
	logEnd    int64    // every record before it is in the index, or dead
	count     int64    // entries
	digest    uint64   // the XOR of entryHash over the entries
}

const stateVersion = 2

func (st indexState) encode() []byte {
	b := make([]byte, 0, 1+16+4*8)
	b = append(b, stateVersion)
	b = append(b, st.logID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(st.headerOff))
	b = binary.BigEndian.AppendUint64(b, uint64(st.logEnd))
	b = binary.BigEndian.AppendUint64(b, uint64(st.count))
	return binary.BigEndian.AppendUint64(b, st.digest)
}

func decodeState(b []byte) (indexState, bool) {
	if len(b) != 1+16+4*8 || b[0] != stateVersion {
		return indexState{}, false
	}
	st := indexState{logID: [16]byte(b[1:17])}
	st.headerOff = int64(binary.BigEndian.Uint64(b[17:]))
	st.logEnd = int64(binary.BigEndian.Uint64(b[25:]))
	st.count = int64(binary.BigEndian.Uint64(b[33:]))
	st.digest = binary.BigEndian.Uint64(b[41:])
	return st, true
}

// entryHash mixes a key and its entry into 64 bits for the index's digest:
// a changed byte anywhere in either changes the digest.
func entryHash(key, v []byte) uint64 {
	h := mix64(binary.BigEndian.Uint64(key[:8]) ^ 0x9e3779b97f4a7c15)
	h = mix64(h ^ binary.BigEndian.Uint64(key[8:]))
	for i := 0; i+8 <= len(v); i += 8 {
		h = mix64(h ^ binary.BigEndian.Uint64(v[i:]))
	}
	return mix64(h ^ uint64(len(v)))
}

// mix64 is SplitMix64's finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// secretCheckSize is the length of a secret check.
const secretCheckSize = 16

// secretCheck is an HMAC of a fixed text with the identity secret: it
// tells whether a secret is the store's without keeping the secret.
func secretCheck(secret []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("scorepipe reply store: identity secret check"))
	return mac.Sum(nil)[:secretCheckSize]
}

// Options say how to open a store.
type Options struct {
	// Secret is the identity secret the store's keys are made with; the
	// store keeps a check of it and refuses another one while it holds
	// replies (SecretError). Nil checks nothing: for commands that look
	// at the store, not for replies.
	Secret []byte
	// KeepSecret makes a store that holds no reply take Secret's check:
	// runs do; plan, which may be given a throwaway secret, does not.
	KeepSecret bool
	// MustExist makes Open return ErrNotFound rather than create a store.
	MustExist bool
	// PruneBefore, when not zero, removes the replies received before it
	// (see OpenReport.Pruned).
	PruneBefore time.Time
	// Rebuild rebuilds the index from the log whatever the check finds.
	Rebuild bool
}

// OpenReport says what Open found and did.
type OpenReport struct {
	Replies int // in the store once open
	// Rebuilt, when not empty, says why the index was rebuilt from the
	// log: it was missing, emptied, damaged, of an older format, or out of
	// step with the log.
	Rebuilt string
	// MovedAside is where a damaged index was moved before the rebuild.
	MovedAside string
	// Reindexed is how many replies written to the log but missing from
	// the index (a run stopped between the two) were indexed again.
	Reindexed int
	// Lost is how many replies the old index held that the rebuilt one
	// does not: their records are damaged or gone, or they are of the
	// first format and the old index could not be read. They are paid for
	// again when asked for.
	Lost int
	// Damaged is how many damaged stretches of the log the rebuild skipped.
	Damaged int
	// Pruned is how many replies received before Options.PruneBefore were
	// removed.
	Pruned int
}

// Open opens the reply store at path (the index; the log is path.log, the
// lock path.lock), creating it unless opts.MustExist. Only one process may
// have a store open: another gets an InUseError at once.
//
// Open checks the store (see the package comment) and repairs what it can
// from the log: a missing, damaged or outdated index is rebuilt, replies
// written to the log but not indexed are indexed. It returns a
// CorruptError when the store cannot be used and cannot be rebuilt, a
// WriteError when the repair could not write, a SecretError for another
// identity secret.
func Open(path string, opts Options) (*Store, error) {
	if opts.MustExist {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(path + ".log"); errors.Is(err, os.ErrNotExist) {
				return nil, ErrNotFound
			}
		}
	}
	if err := mkdirPrivate(filepath.Dir(path)); err != nil {
		return nil, &WriteError{Path: filepath.Dir(path), Op: "create the directory", Err: err}
	}
	lock, err := lockStore(path)
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, lock: lock}
	if err := s.open(opts); err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

// open opens the store's files and checks them.
func (s *Store) open(opts Options) error {
	log, err := openLog(s.path + ".log")
	if err != nil {
		if writeRefused(err) {
			return &WriteError{Path: s.path + ".log", Op: "create", Err: err}
		}
		return &CorruptError{Path: s.path + ".log", Err: err}
	}
	s.log = log
	if err := s.check(opts); err != nil {
		return err
	}
	if err := s.checkSecret(opts.Secret, opts.KeepSecret); err != nil {
		return err
	}
	if !opts.PruneBefore.IsZero() {
		n, err := s.prune(opts.PruneBefore)
		if err != nil {
			return err
		}
		s.opened.Pruned = n
	}
	s.opened.Replies = int(s.count.Load())
	return nil
}

// Report says what Open found and did.
func (s *Store) Report() OpenReport { return s.opened }

// checkSecret fails when the store holds replies keyed with another
// identity secret: none of them would be found, and every row would be
// paid for again. A store without replies takes secret's check when keep
// is set; one whose replies were kept before checks were has nothing to
// compare with, and keeps none.
func (s *Store) checkSecret(secret []byte, keep bool) error {
	if secret == nil {
		return nil // a command that looks at the store, not for replies
	}
	want := secretCheck(secret)
	if s.count.Load() == 0 {
		if !keep || hmac.Equal(s.secretCheck, want) {
			return nil
		}
		s.secretCheck = want
		return s.guardedUpdate(func(tx *bolt.Tx) error {
			return tx.Bucket(metaBucket).Put(secretCheckKey, want)
		})
	}
	if s.secretCheck != nil && !hmac.Equal(s.secretCheck, want) {
		return &SecretError{Path: s.path}
	}
	return nil
}

// HoldsReplies reports whether a reply store at path may hold replies
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

// Path returns the store's path (its index; the log is Path() + ".log").
func (s *Store) Path() string { return s.path }

// Count returns how many replies the store holds.
func (s *Store) Count() int { return int(s.count.Load()) }

// Damaged returns how many damaged records Get found since the store
// opened: each was taken as missing, and its reply paid for again.
func (s *Store) Damaged() int { return int(s.damaged.Load()) }

// Close closes the store: it records how far the index covers the log,
// gives back the room set aside beyond the last reply, and lets go of the
// lock. Nothing may use the store afterwards.
func (s *Store) Close() error {
	var err error
	s.mu.Lock()
	if s.db != nil && s.failed == nil && len(s.pending) == 0 && s.appended {
		end := s.end
		err = s.guardedUpdate(func(tx *bolt.Tx) error {
			meta := tx.Bucket(metaBucket)
			st, _ := decodeState(meta.Get(stateKey))
			st.logEnd = end
			return meta.Put(stateKey, st.encode())
		})
	}
	if s.log != nil && s.allocated > s.end {
		if terr := s.log.Truncate(s.end); terr != nil && err == nil {
			err = &WriteError{Path: s.path + ".log", Op: "truncate", Err: terr}
		}
	}
	s.mu.Unlock()
	if cerr := s.closeFiles(); err == nil {
		err = cerr
	}
	return err
}

// closeFiles closes what is open and gives back the index in memory.
func (s *Store) closeFiles() error {
	var err error
	if s.mem != nil {
		s.mem.free()
		s.mem = nil
	}
	if s.db != nil {
		err = guard(s.db.Close)
		s.db = nil
	}
	if s.log != nil {
		if lerr := s.log.Close(); err == nil {
			err = lerr
		}
		s.log = nil
	}
	if s.lock != nil {
		s.lock.Close() // lets go of the lock
		s.lock = nil
	}
	return err
}

// Found says what Get found under a key.
type Found int

const (
	Missing Found = iota // no reply under the key
	Fresh                // a reply received at or after notBefore
	Old                  // a reply received before notBefore: not returned
	Damaged              // a record that fails its checks: as good as missing, paid for again
)

// Get returns the reply stored under key if it was received at or after
// notBefore. The reply's memory is its own.
func (s *Store) Get(key Key, notBefore time.Time) (Reply, Found, error) {
	r, win, found, err := s.get(&key, notBefore, false)
	win.Release()
	return r, found, err
}

// GetShared is Get for a reply whose data is read once, soon, and then
// dropped: its Data shares a read-ahead window of the store's memory when
// the returned window is not nil, and the caller releases the window
// (Window.Release; nil-safe) once it is done with Data. The reply's other
// fields are its own.
func (s *Store) GetShared(key Key, notBefore time.Time) (Reply, *Window, Found, error) {
	return s.get(&key, notBefore, true)
}

func (s *Store) get(key *Key, notBefore time.Time, share bool) (Reply, *Window, Found, error) {
	e, ok, err := s.lookup(key)
	if err != nil || !ok {
		return Reply{}, nil, Missing, err
	}
	var r Reply
	win, err := s.readReply(e, key, share, &r)
	switch {
	case errors.Is(err, errDamaged):
		s.damaged.Add(1)
		return Reply{}, nil, Damaged, nil
	case err != nil:
		return Reply{}, nil, Missing, fmt.Errorf("reply store %s: read at %d: %w", s.path+".log", e.off, err)
	case r.ReceivedAt.Before(notBefore):
		win.Release()
		return Reply{}, nil, Old, nil
	}
	return r, win, Fresh, nil
}

// lookup returns the index entry of key: from the index in memory, or from
// bbolt once the one in memory is stale.
func (s *Store) lookup(key *Key) (entry, bool, error) {
	if ix := s.mem; ix != nil && !ix.stale.Load() {
		e, ok := ix.find(key)
		return e, ok, nil
	}
	var e entry
	var ok bool
	err := s.guardedView(func(tx *bolt.Tx) error {
		e, ok = decodeEntry(tx.Bucket(indexBucket).Get(key[:]))
		return nil
	})
	return e, ok, err
}

// guard runs fn and turns a panic, or a fault on bbolt's memory mapping of
// a damaged file, into an error: bbolt trusts its file, and a damaged one
// can make it panic.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = &indexFault{p: p}
		}
	}()
	return fn()
}

// indexFault is a panic of bbolt's, or a fault on its mapping.
type indexFault struct{ p any }

func (e *indexFault) Error() string { return fmt.Sprintf("the index is damaged (%v)", e.p) }

func (s *Store) guardedView(fn func(*bolt.Tx) error) error {
	return guard(func() error { return s.db.View(fn) })
}

func (s *Store) guardedUpdate(fn func(*bolt.Tx) error) error {
	err := guard(func() error { return s.db.Update(fn) })
	if err != nil {
		return &WriteError{Path: s.path, Op: "write", Err: err}
	}
	return nil
}

// mkdirPrivate creates dir with mode 0700, its missing parents with 0700
// too: the store and the identity secret are no one else's.
func mkdirPrivate(dir string) error {
	return os.MkdirAll(dir, 0o700)
}

// writeZeros writes zeros to the log from from to to.
func writeZeros(f logFile, from, to int64) error {
	zeros := make([]byte, min(to-from, 1<<20))
	for off := from; off < to; {
		n := min(int64(len(zeros)), to-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}
