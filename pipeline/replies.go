package pipeline

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/store"
	"github.com/scorepipe/scorepipe/transform"
)

// replyStore is what the callers need of the reply store (store.Store).
//
// GetShared returns the reply stored under key if it was received at or
// after notBefore; its Data may share a window of the store's memory, which
// the caller releases (Window.Release, nil-safe) once done with Data. Put
// returns once the reply is durable.
type replyStore interface {
	GetShared(key []byte, notBefore time.Time) (*store.Reply, *store.Window, bool, error)
	Put(key []byte, r *store.Reply) error
}

var _ replyStore = (*store.Store)(nil)

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
	notBefore time.Time // replies received earlier are not reused
	runStart  time.Time // replies received since were paid by this run: a hit is a duplicate
	stats     *productStats

	inFlight [16]inFlightShard // by the key's first byte: workers rarely wait on each other

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
}

// call answers from the store, or from an identical call in flight, or
// calls the vendor. A call registers itself as in flight before it looks in
// the store, and its reply is stored before it unregisters, so two
// identical applicants are never both paid for.
//
// A reply from the store may share the store's memory (see
// replyStore.GetShared): when the returned window is not nil, the caller
// releases it once it has read the reply's Data. Identical calls that
// waited for this one get a copy of their own.
func (s *stored) call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, *store.Window, error) {
	key := s.keys.Key(product, params)
	shard := &s.inFlight[key[0]%byte(len(s.inFlight))]
	shard.Lock()
	if p, ok := shard.calls[key]; ok {
		if p.done == nil {
			p.done = make(chan struct{})
		}
		done := p.done
		shard.Unlock()
		select {
		case <-done:
			// A row merged with a call answered from the store is a row
			// answered from the store: the counts do not depend on timing.
			if p.earlier {
				s.stats.stored.Add(1)
			} else {
				s.stats.merged.Add(1)
			}
			return p.reply, nil, p.err
		case <-ctx.Done():
			return nil, nil, ctx.Err()
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

	r, w, ok, err := s.store.GetShared(key[:], s.notBefore)
	switch {
	case err != nil:
		p.err = &StoreError{Err: err}
	case ok:
		win = w
		if p.earlier = r.ReceivedAt.Before(s.runStart); p.earlier {
			s.stats.stored.Add(1)
		} else {
			s.stats.merged.Add(1) // an identical applicant earlier in this run
		}
		p.reply = vendorReply(r)
		p.err = replyError(p.reply)
	default:
		p.reply, p.err = s.next.Call(ctx, product, params) // stored by persisted, further in
	}
	if s.answered != nil {
		s.answered(key)
	}
	return p.reply, win, p.err
}

// vendorReply is a stored reply as the vendor client gives it.
func vendorReply(r *store.Reply) *tianyuan.Reply {
	return &tianyuan.Reply{Product: r.Product, Code: r.Code, Message: r.Message, TransactionID: r.TransactionID,
		Data: r.Data, ReceivedAt: r.ReceivedAt}
}

// storeReply is a vendor reply as the store keeps it.
func storeReply(r *tianyuan.Reply) *store.Reply {
	return &store.Reply{Product: r.Product, Code: r.Code, Message: r.Message, TransactionID: r.TransactionID,
		Data: r.Data, ReceivedAt: r.ReceivedAt}
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
type persisted struct {
	next   tianyuan.Caller
	store  replyStore
	keys   *store.Keyer
	policy tianyuan.CodePolicy
}

func (s *persisted) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	reply, err := s.next.Call(ctx, product, params)
	if reply != nil && keep(s.policy, reply, err) {
		key := s.keys.Key(product, params)
		if perr := s.store.Put(key[:], storeReply(reply)); perr != nil {
			return reply, &StoreError{Err: perr}
		}
	}
	return reply, err
}

// keep reports whether a reply is worth storing: a billed answer.
func keep(policy tianyuan.CodePolicy, r *tianyuan.Reply, err error) bool {
	return err == nil && r.Code == 0 || policy.ClassifyCode(r.Code) == tianyuan.NoRecord
}

// replyError gives a stored reply the error its code carries.
func replyError(r *tianyuan.Reply) error {
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
