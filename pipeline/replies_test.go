package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
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
		r, win, _, err := st.call(context.Background(), "JRZQ9E2A", params[j], false)
		first = r
		win.Release()
		return err
	})
	<-answered
	st.answered = nil
	g.Go(func() error {
		r, win, _, err := st.call(context.Background(), "JRZQ9E2A", params[j], false)
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
