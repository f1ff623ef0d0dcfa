package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/shards"
	"github.com/scorepipe/scorepipe/store"
	"github.com/scorepipe/scorepipe/transform"
)

// replyStore is what the callers need of the reply store (store.Store).
//
// GetShared returns what the store holds under key; a Fresh reply's Data
// may share the store's memory, which the caller releases
// (Window.Release, nil-safe) once done with Data. Reserve sets aside room
// for one reply before the call that may bring it: once it fails, nothing
// more may be paid for. Room.Put returns once the reply is durable.
type replyStore interface {
	GetShared(key store.Key, notBefore time.Time) (store.Reply, *store.Window, store.Found, error)
	Reserve() (*store.Room, error)
}

var _ replyStore = (*store.Store)(nil)

// openStore opens the reply store, pruning what is older than
// cache.retain, and says what its check at open found.
func (r *run) openStore() error {
	if r.store != nil {
		return nil // opened by the budget check (see run.plan)
	}
	opts := store.Options{Secret: r.env.Secret, KeepSecret: true}
	if r.cfg.Cache.Retain > 0 {
		opts.PruneBefore = r.env.Now().Add(-r.cfg.Cache.Retain)
	}
	path := r.cfg.CachePath()
	if sh := r.env.Shard; sh.Sharded() {
		path = shards.StorePath(path, sh) // shards run at once: a store each
		r.manifest.Shard.Store = path
		r.manifest.Shard.KeyCheck = manifest.KeyCheck(r.env.Secret)
	}
	s, err := store.Open(path, opts)
	if err != nil {
		return err
	}
	r.store = s
	if hint := r.cfg.LegacyStoreHint(); hint != "" {
		r.log.Warn("the reply store is in the output directory, where runs kept it before: move it to the state directory, "+
			"so that runs into other output directories share its replies and no output directory holds the identity secret",
			"store", path, "hint", hint)
	}
	rep := s.Report()
	r.manifest.Store = &manifest.StoreCounts{Path: path, Replies: rep.Replies, Pruned: rep.Pruned, Reindexed: rep.Reindexed,
		Rebuilt: rep.Rebuilt, Lost: rep.Lost}
	if rep.Rebuilt != "" {
		r.log.Warn("the reply store's index was rebuilt from its log", "store", path, "why", rep.Rebuilt,
			"replies", rep.Replies, "lost", rep.Lost, "damaged_stretches", rep.Damaged, "damaged_index_moved_to", rep.MovedAside)
	}
	if rep.Reindexed > 0 {
		r.log.Info("replies stored by a run that stopped before indexing them were indexed", "store", path, "replies", rep.Reindexed)
	}
	if rep.Pruned > 0 {
		r.log.Info("replies older than cache.retain were removed", "store", path, "pruned", rep.Pruned, "retain", r.cfg.Cache.Retain)
	}
	return nil
}

// keyCheck returns the check of today's access key (see store.KeyCheck).
func (r *run) keyCheck() store.KeyCheck {
	if r.env.Cipher == nil {
		return store.KeyCheck{}
	}
	return r.env.Cipher.KeyCheck()
}

// newKeyer returns the store keyer of a run: authorization parameters do
// not change the vendor's answer, so keys leave them out.
func newKeyer(secret []byte) *store.Keyer {
	return store.NewKeyer(secret, transform.IsAuthorization)
}

// stored answers from the store when it can and merges identical calls in
// flight at the same time; persisted, further in, stores the replies.
type stored struct {
	next      tianyuan.Caller
	store     replyStore
	keys      *store.Keyer
	keyCheck  store.KeyCheck // of today's access key
	notBefore time.Time      // replies received earlier are not reused
	runStart  time.Time      // replies received since were paid by this run: a hit is a duplicate
	stats     *productStats
	audit     Auditor     // records the replies used without a request; nil records nothing
	workers   *workerPool // told when a call waits for an identical one; may be nil

	inFlight [16]inFlightShard // by the key's first byte: workers rarely wait on each other

	// possiblyBilled holds, by key, the failure of a call that the vendor
	// may have billed without an answer being read
	// (tianyuan.PossiblyBilled): an identical call later in the run gets
	// it without a request, so that an applicant costs at most the two
	// attempts of its first call (see tianyuan.CodePolicy.Retrier).
	possiblyBilled sync.Map // store.Key → error

	// answered, when set, is called once a call has its answer, before
	// identical calls waiting for it are let go: tests make one wait.
	answered func(key store.Key)
}

// inFlightShard holds the calls in flight whose keys fall in one shard.
type inFlightShard struct {
	sync.Mutex
	calls map[store.Key]*pendingCall
}

type pendingCall struct {
	// done is closed when the call has its answer. It is made by the
	// first identical call that waits for it, under the shard's lock:
	// most calls have none, and a channel each cost an allocation.
	done    chan struct{}
	reply   *tianyuan.Reply
	err     error
	earlier bool // the reply was paid by an earlier run
	// unchecked: paid by an earlier run, and stored without the check of
	// the key its data is encrypted with (see run.answer).
	unchecked bool
}

// call answers from the store, or from an identical call in flight, or
// calls the vendor, for the row of applicant (its key, under which a reply
// used without a request is recorded in the audit log). A call registers
// itself as in flight before it looks in the store, and its reply is
// stored before it unregisters, so two identical applicants are never both
// paid for. With again, only replies
// paid by this run are reused: the one stored earlier did not decrypt.
//
// It reports whether the reply was paid by an earlier run and stored
// without the check of its key (see run.answer). A reply from
// the store may share the store's memory (see replyStore.GetShared): when
// the returned window is not nil, the caller releases it once it has read
// the reply's Data. Identical calls that waited for this one get a copy
// of their own.
func (s *stored) call(ctx context.Context, product, applicant string, params tianyuan.Params, again bool) (*tianyuan.Reply, *store.Window, bool, error) {
	key := s.keys.Key(product, params)
	shard := &s.inFlight[key[0]%byte(len(s.inFlight))]
	shard.Lock()
	if p, ok := shard.calls[key]; ok {
		if p.done == nil {
			p.done = make(chan struct{})
		}
		done := p.done
		shard.Unlock()
		s.workers.waitBegins()
		defer s.workers.waitEnds()
		select {
		case <-done:
			// A row merged with a call answered from the store is a row
			// answered from the store: the counts do not depend on timing.
			if p.earlier {
				s.stats.stored.Add(1)
			} else {
				s.stats.merged.Add(1)
			}
			return p.reply, nil, p.unchecked, s.reused(product, applicant, params, p.reply, p.err, p.earlier)
		case <-ctx.Done():
			return nil, nil, false, ctx.Err()
		}
	}
	p := &pendingCall{}
	if shard.calls == nil {
		shard.calls = map[store.Key]*pendingCall{}
	}
	shard.calls[key] = p
	shard.Unlock()
	var win *store.Window
	defer func() {
		shard.Lock()
		delete(shard.calls, key)
		done := p.done
		shard.Unlock()
		if done != nil {
			if win != nil { // this call's caller releases win: the others need their own
				p.reply = ownReply(p.reply)
			}
			close(done)
		}
	}()

	notBefore := s.notBefore
	if again {
		notBefore = s.runStart
	}
	r, w, found, err := s.store.GetShared(key, notBefore)
	otherKey := found == store.Fresh && r.ReceivedAt.Before(s.runStart) && r.KeyCheck != (store.KeyCheck{}) && r.KeyCheck != s.keyCheck
	if otherKey {
		// Encrypted with another access key (the fake vendor's, or
		// before a rotation): it would not decrypt. Paid for again.
		w.Release()
		found = store.Missing
	}
	switch {
	case err != nil:
		p.err = &StoreError{Err: err}
	case found == store.Fresh:
		win = w
		if p.earlier = r.ReceivedAt.Before(s.runStart); p.earlier {
			s.stats.stored.Add(1)
		} else {
			s.stats.merged.Add(1) // an identical applicant earlier in this run
		}
		p.unchecked = p.earlier && r.KeyCheck == (store.KeyCheck{})
		p.reply = vendorReply(&r)
		p.err = s.reused(product, applicant, params, p.reply, replyError(p.reply), p.earlier)
	default:
		if prev, ok := s.possiblyBilled.Load(key); ok {
			s.stats.merged.Add(1) // failed as the identical call earlier in the run
			p.err = prev.(error)
			break
		}
		switch {
		case found == store.Damaged:
			s.stats.damaged.Add(1)
		case otherKey || again:
			s.stats.undecryptable.Add(1)
		}
		p.reply, p.err = s.next.Call(ctx, product, params) // stored by persisted, further in
		if tianyuan.PossiblyBilled(p.err) {
			s.possiblyBilled.Store(key, p.err)
		}
	}
	if s.answered != nil {
		s.answered(key)
	}
	return p.reply, win, p.unchecked, p.err
}

// answer calls product p for a row and turns what it returned into what
// the features need. A reply stored by an earlier run without the check of
// the key it was encrypted with (the store's first format) that does not
// decrypt with today's key is paid for again, once.
func (r *run) answer(ctx context.Context, it *item, p *productRun, params tianyuan.Params) (transform.Reply, error) {
	reply, win, unchecked, err := p.caller.call(ctx, p.code, it.key, params, false)
	out := r.reply(it, reply, err)
	undecryptable := unchecked && err == nil && out.Status == transform.StatusFailed && !r.decrypts(reply)
	win.Release() // the reply's data is decrypted: the store may read into its window again
	if !undecryptable {
		return out, err
	}
	p.stats.stored.Add(-1) // not answered from the store after all
	reply, win, _, err = p.caller.call(ctx, p.code, it.key, params, true)
	out = r.reply(it, reply, err)
	win.Release()
	return out, err
}

// decrypts reports whether a reply's payload decrypts with today's key.
func (r *run) decrypts(reply *tianyuan.Reply) bool {
	_, err := r.env.Cipher.Payload(reply)
	return !errors.Is(err, tianyuan.ErrDecrypt) && !errors.Is(err, tianyuan.ErrPayload)
}

// vendorReply is a stored reply as the vendor client gives it.
func vendorReply(r *store.Reply) *tianyuan.Reply {
	return &tianyuan.Reply{Product: r.Product, Code: r.Code, Message: r.Message, TransactionID: r.TransactionID,
		Data: r.Data, ReceivedAt: r.ReceivedAt}
}

// storeReply is a vendor reply as the store keeps it, with the check of
// the key its data is encrypted with.
func storeReply(r *tianyuan.Reply, check store.KeyCheck) *store.Reply {
	return &store.Reply{Product: r.Product, Code: r.Code, Message: r.Message, TransactionID: r.TransactionID,
		Data: r.Data, ReceivedAt: r.ReceivedAt, KeyCheck: check}
}

// ownReply returns a copy of r whose Data is its own.
func ownReply(r *tianyuan.Reply) *tianyuan.Reply {
	own := *r
	own.Data = strings.Clone(r.Data)
	return &own
}

// persisted stores each reply worth keeping (code 0 and the codes that
// mean "no record") before handing it on. It sits inside the limiter, so
// that a reply counts as in flight until it is on disk: at most
// products.<CODE>.concurrency paid replies are ever at risk of a crash.
// Room for the reply is set aside before the call: a full disk stops the
// run before it pays for a reply it could not keep.
type persisted struct {
	next     tianyuan.Caller
	store    replyStore
	keys     *store.Keyer
	keyCheck store.KeyCheck
	policy   tianyuan.CodePolicy
}

func (s *persisted) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	room, err := s.store.Reserve()
	if err != nil {
		return nil, &StoreError{Err: err}
	}
	defer room.Release()
	reply, err := s.next.Call(ctx, product, params)
	answer := err
	var ae *AuditError
	if errors.As(err, &ae) && reply != nil {
		// The vendor answered; only the audit line failed. The reply is
		// paid for: keep it, so that the rerun does not pay again, and
		// stop the run with the audit's failure.
		answer = replyError(reply)
	}
	if reply != nil && s.policy.BilledAnswer(reply, answer) {
		if perr := room.Put(s.keys.Key(product, params), storeReply(reply, s.keyCheck)); perr != nil {
			return reply, &StoreError{Err: perr}
		}
	}
	return reply, err
}

// replyError gives a stored reply the error its code carries.
func replyError(r *tianyuan.Reply) error {
	if r.Code == 0 {
		return nil
	}
	return &tianyuan.CodeError{Product: r.Product, Code: r.Code, Message: r.Message, TransactionID: r.TransactionID}
}

// StoreError is a failure of the reply store: the run stops (exit 3),
// since going on would pay for replies it cannot keep. The store's errors
// (store.WriteError) do not unwrap to the system's, so that no retry
// takes a full disk for a network fault.
type StoreError struct{ Err error }

func (e *StoreError) Error() string { return e.Err.Error() }
func (e *StoreError) Unwrap() error { return e.Err }
