package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/store"
)

// TestWaitingCallGetsItsOwnReply has a call wait for an identical one
// answered from the store. The first call's caller releases the window its
// reply shares, and the window is read into again: the waiting call's
// reply must be a copy of its own, unchanged.
func TestWaitingCallGetsItsOwnReply(t *testing.T) {
	const n = 3000
	at := time.UnixMilli(1.7e12).UTC()
	params := make([]tianyuan.Params, n)
	want := make([]tianyuan.Reply, n)
	for i := range n {
		params[i] = tianyuan.Params{"id_card": fmt.Sprint(i)}
		want[i] = tianyuan.Reply{Product: "JRZQ9E2A", TransactionID: fmt.Sprint("T", i), Data: strings.Repeat(string(rune('A'+i%26)), 700), ReceivedAt: at}
	}
	secret := []byte("0123456789abcdef")
	keys := newKeyer(secret)
	keyOf := func(p tianyuan.Params) store.Key { return keys.Key("JRZQ9E2A", p) }
	s := filledStore(t, secret, n, func(i int) store.Key { return keyOf(params[i]) }, want)
	defer s.Close()

	const j = 10
	st := &stored{store: s, keys: keys, stats: &productStats{}, runStart: time.Now()}
	answered, waiting := make(chan struct{}), make(chan struct{})
	st.answered = func(key store.Key) {
		close(answered)
		<-waiting
	}
	var first, second *tianyuan.Reply
	var g errgroup.Group
	g.Go(func() error {
		r, win, _, err := st.call(context.Background(), "JRZQ9E2A", "", params[j], false)
		first = r
		win.Release()
		return err
	})
	<-answered
	st.answered = nil
	g.Go(func() error {
		r, win, _, err := st.call(context.Background(), "JRZQ9E2A", "", params[j], false)
		second = r
		if win != nil {
			t.Error("the waiting call's reply shares a window")
		}
		return err
	})
	key := keys.Key("JRZQ9E2A", params[j])
	shard := &st.inFlight[key[0]%byte(len(st.inFlight))]
	for registered := false; !registered; time.Sleep(time.Millisecond) {
		shard.Lock()
		registered = shard.calls[key] != nil && shard.calls[key].done != nil
		shard.Unlock()
	}
	close(waiting)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := st.stats.stored.Load(); got != 2 {
		t.Errorf("answered from the store: %d calls, want 2", got)
	}
	for i := range n { // the window moves on, and is read into again
		r, win, found, err := s.GetShared(keyOf(params[(i*1543)%n]), time.Time{})
		if err != nil || found != store.Fresh || r.Data != want[(i*1543)%n].Data {
			t.Fatalf("reply %d: found %v, err %v", (i*1543)%n, found, err)
		}
		win.Release()
	}
	if *second != want[j] {
		t.Errorf("the waiting call's reply = %.40v…, want %.40v…", *second, want[j])
	}
	_ = first // released: its data may have been overwritten
}

// filledStore makes a store holding want[i] under key(i) for every i below
// n, closes it and opens it again, as a rerun finds it.
func filledStore(t *testing.T, secret []byte, n int, key func(i int) store.Key, want []tianyuan.Reply) *store.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "replies.db")
	s, err := store.Open(path, store.Options{Secret: secret, KeepSecret: true})
	if err != nil {
		t.Fatal(err)
	}
	var g errgroup.Group
	g.SetLimit(50)
	for i := range n {
		g.Go(func() error { return s.Put(key(i), storeReply(&want[i], store.KeyCheck{})) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = store.Open(path, store.Options{Secret: secret, KeepSecret: true}); err != nil {
		t.Fatal(err)
	}
	return s
}

// countingCaller answers every call with err (a reply of code 0 when nil)
// and counts the calls.
type countingCaller struct {
	calls atomic.Int64
	err   error
}

func (c *countingCaller) Call(_ context.Context, product string, _ tianyuan.Params) (*tianyuan.Reply, error) {
	c.calls.Add(1)
	if c.err != nil {
		return nil, c.err
	}
	return &tianyuan.Reply{Product: product, ReceivedAt: time.Now()}, nil
}

// TestStoreFaultsAreNotRetried checks that a store that cannot keep a
// reply stops the run and is never retried as a vendor fault, each retry
// being a new paid call: its error is not retryable, the run takes it as
// fatal, and with no room in the log no call is made at all.
func TestStoreFaultsAreNotRetried(t *testing.T) {
	policy := tianyuan.DefaultCodePolicy()
	full := &StoreError{Err: &store.WriteError{Path: "replies.db.log", Op: "write", Err: &os.PathError{Op: "write", Path: "replies.db.log", Err: syscall.ENOSPC}}}
	if c := policy.Classify(full); c == tianyuan.Retryable {
		t.Errorf("a full disk under the store is classified %v", c)
	}
	if !(&run{policy: policy}).isFatal(full) {
		t.Error("a full disk under the store is not fatal to the run")
	}
	vendor := &countingCaller{err: full}
	retry := &retrying{next: vendor, policy: policy, maxAttempts: 5, base: time.Millisecond, max: time.Millisecond}
	if _, err := retry.Call(context.Background(), "JRZQ9E2A", tianyuan.Params{}); !errors.As(err, new(*StoreError)) {
		t.Fatalf("retrying returned %v, want the StoreError", err)
	}
	if got := vendor.calls.Load(); got != 1 {
		t.Errorf("a store fault was tried %d times, want once", got)
	}

	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, "replies.db.log")); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(filepath.Join(dir, "replies.db"), store.Options{Secret: []byte("0123456789abcdef"), KeepSecret: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	vendor = &countingCaller{}
	p := &persisted{next: vendor, store: s, keys: newKeyer([]byte("0123456789abcdef")), policy: policy}
	retry = &retrying{next: p, policy: policy, maxAttempts: 5, base: time.Millisecond, max: time.Millisecond}
	_, err = retry.Call(context.Background(), "JRZQ9E2A", tianyuan.Params{"id_card": "1"})
	if !errors.As(err, new(*StoreError)) || !strings.Contains(err.Error(), "full") {
		t.Errorf("with the disk full: %v, want a StoreError saying so", err)
	}
	if got := vendor.calls.Load(); got != 0 {
		t.Errorf("%d calls made with no room to keep their reply", got)
	}
}
