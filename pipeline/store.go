package pipeline

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/transform"
)

// Store keeps every vendor reply worth keeping, so that no reply is paid
// for twice: the encrypted payload exactly as received, its code, transaction
// id and time, under a key that is an HMAC of product and request
// parameters. Nothing in it is plaintext PII.
type Store struct {
	db     *bolt.DB
	secret []byte
}

var repliesBucket = []byte("replies")

// storedReply is the form of a reply at rest.
type storedReply struct {
	Product       string    `json:"product"`
	Code          int       `json:"code"`
	Message       string    `json:"message,omitempty"`
	TransactionID string    `json:"transaction_id,omitempty"`
	Data          string    `json:"data,omitempty"` // encrypted, as received
	ReceivedAt    time.Time `json:"received_at"`
}

// OpenStore opens (creating if needed) the reply store at path. Only one
// process may have it open; a second one waits up to a few seconds and then
// gets an error.
func OpenStore(path string, secret []byte) (*Store, error) {
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
		_, err := tx.CreateBucketIfNotExists(repliesBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("reply store %s: %w", path, err)
	}
	return &Store{db: db, secret: secret}, nil
}

// OpenStoreReadOnly opens the reply store for reading only, sharing it
// with a run that may be writing it; a store that does not exist yet gives
// nil, nil.
func OpenStoreReadOnly(path string, secret []byte) (*Store, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("reply store %s: %w", path, err)
	}
	s := &Store{db: db, secret: secret}
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(repliesBucket) == nil {
			return errors.New("not a reply store")
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("reply store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Key returns the store key of a call: HMAC-SHA256 with the identity secret
// over the product and the parameters in name order, leaving out the
// authorization parameters: they do not change the reply, so the same
// applicant under another authorization reuses it.
func (s *Store) Key(product string, params tianyuan.Params) []byte {
	names := make([]string, 0, len(params))
	for n := range params {
		if !transform.IsAuthorization(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(product))
	for _, n := range names {
		mac.Write([]byte{0})
		mac.Write([]byte(n))
		mac.Write([]byte{'='})
		mac.Write([]byte(params[n]))
	}
	return mac.Sum(nil)
}

// Get returns the reply stored under key if it was received at or after
// notBefore.
func (s *Store) Get(key []byte, notBefore time.Time) (*tianyuan.Reply, bool, error) {
	var sr storedReply
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(repliesBucket).Get(key)
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &sr)
	})
	if err != nil {
		return nil, false, fmt.Errorf("reply store: %w", err)
	}
	if !found || sr.ReceivedAt.Before(notBefore) {
		return nil, false, nil
	}
	return &tianyuan.Reply{Product: sr.Product, Code: sr.Code, Message: sr.Message,
		TransactionID: sr.TransactionID, Data: sr.Data, ReceivedAt: sr.ReceivedAt}, true, nil
}

// Put stores a reply under key and returns once it is on disk. Concurrent
// Puts share a transaction and its fsync.
func (s *Store) Put(key []byte, r *tianyuan.Reply) error {
	v, err := json.Marshal(storedReply{Product: r.Product, Code: r.Code, Message: r.Message,
		TransactionID: r.TransactionID, Data: r.Data, ReceivedAt: r.ReceivedAt.UTC()})
	if err != nil {
		return err
	}
	err = s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(repliesBucket).Put(key, v)
	})
	if err != nil {
		return fmt.Errorf("reply store: %w", err)
	}
	return nil
}

// Count returns how many replies the store holds.
func (s *Store) Count() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(repliesBucket).Stats().KeyN
		return nil
	})
	return n, err
}

// stored answers from the store when it can, merges identical calls in
// flight at the same time, and stores each reply worth keeping (code 0 and
// the codes that mean "no record") before returning it.
type stored struct {
	next      tianyuan.Caller
	store     *Store
	policy    tianyuan.CodePolicy
	notBefore time.Time // replies received earlier are not reused
	runStart  time.Time // replies received since were paid by this run: a hit is a duplicate
	stats     *productStats

	mu       sync.Mutex
	inFlight map[string]*pendingCall
}

type pendingCall struct {
	done  chan struct{}
	reply *tianyuan.Reply
	err   error
}

// Call answers from the store, or from an identical call in flight, or
// calls the vendor. A call registers itself as in flight before it looks in
// the store, and stores its reply before it unregisters, so two identical
// applicants are never both paid for.
func (s *stored) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	key := s.store.Key(product, params)
	s.mu.Lock()
	if p, ok := s.inFlight[string(key)]; ok {
		s.mu.Unlock()
		s.stats.merged.Add(1)
		select {
		case <-p.done:
			return p.reply, p.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p := &pendingCall{done: make(chan struct{})}
	if s.inFlight == nil {
		s.inFlight = map[string]*pendingCall{}
	}
	s.inFlight[string(key)] = p
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inFlight, string(key))
		s.mu.Unlock()
		close(p.done)
	}()

	r, ok, err := s.store.Get(key, s.notBefore)
	switch {
	case err != nil:
		p.err = &StoreError{Err: err}
	case ok:
		if r.ReceivedAt.Before(s.runStart) {
			s.stats.stored.Add(1)
		} else {
			s.stats.merged.Add(1) // an identical applicant earlier in this run
		}
		p.reply, p.err = r, s.replyError(r)
	default:
		p.reply, p.err = s.next.Call(ctx, product, params)
		if p.reply != nil && s.keep(p.reply, p.err) {
			if err := s.store.Put(key, p.reply); err != nil {
				p.err = &StoreError{Err: err}
			}
		}
	}
	return p.reply, p.err
}

// keep reports whether a reply is worth storing: a billed answer.
func (s *stored) keep(r *tianyuan.Reply, err error) bool {
	return err == nil && r.Code == 0 || s.policy.ClassifyCode(r.Code) == tianyuan.NoRecord
}

// replyError gives a stored reply the error its code carries.
func (s *stored) replyError(r *tianyuan.Reply) error {
	if r.Code == 0 {
		return nil
	}
	return &tianyuan.CodeError{Product: r.Product, Code: r.Code, Message: r.Message, TransactionID: r.TransactionID}
}

// StoreError is a failure to keep a reply: the run stops, since going on
// would pay for replies it cannot keep.
type StoreError struct{ Err error }

func (e *StoreError) Error() string { return e.Err.Error() }
func (e *StoreError) Unwrap() error { return e.Err }
