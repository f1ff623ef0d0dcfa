package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"
)

func TestReplyRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 23, 8, 30, 0, 123e6, time.UTC)
	tests := []struct {
		name  string
		reply Reply
	}{
		{"answered", Reply{Product: "JRZQ9E2A", Code: 0, Message: "成功", TransactionID: "T20261123083000001", Data: "q83vEjRWeJA=", ReceivedAt: at}},
		{"no record", Reply{Product: "COMBTY11", Code: 1000, Message: "查询无结果", ReceivedAt: at}},
		{"empty fields", Reply{ReceivedAt: time.UnixMilli(0).UTC()}},
		{"negative code, long data", Reply{Product: "X", Code: -7, Data: strings.Repeat("A", 70000), ReceivedAt: at}},
	}
	for _, tt := range tests {
		for _, share := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, data shared %v", tt.name, share), func(t *testing.T) {
				got, err := decodeReply(encodeReply(&tt.reply), share)
				if err != nil {
					t.Fatalf("decodeReply: %v", err)
				}
				if *got != tt.reply {
					t.Errorf("got %+v, want %+v", *got, tt.reply)
				}
			})
		}
	}
}

func TestDamagedReplyRecord(t *testing.T) {
	rec := encodeReply(&Reply{Product: "JRZQ9E2A", Message: "成功", TransactionID: "T1", Data: "q83vEjRWeJA=", ReceivedAt: time.UnixMilli(1e12)})
	tests := map[string][]byte{
		"empty":               nil,
		"other version":       append([]byte{replyFormat + 1}, rec[1:]...),
		"length past the end": {replyFormat, 0, 0, 5, 'J'},
		"code overflows":      append([]byte{replyFormat}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
	}
	for n := 1; n < len(rec); n++ {
		tests[fmt.Sprintf("cut at %d of %d", n, len(rec))] = rec[:n]
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			for _, share := range []bool{false, true} {
				if r, err := decodeReply(b, share); !errors.Is(err, errDamagedReply) {
					t.Errorf("decodeReply(%q, %v) = %+v, %v; want errDamagedReply", b, share, r, err)
				}
			}
		})
	}
}

// FuzzDecodeReply checks that any bytes decode or fail without panicking,
// and that what decodes encodes back to a record that decodes the same.
func FuzzDecodeReply(f *testing.F) {
	f.Add(encodeReply(&Reply{Product: "JRZQ9E2A", Message: "成功", TransactionID: "T1", Data: "q83vEjRWeJA=", ReceivedAt: time.UnixMilli(1e12)}))
	f.Add([]byte{replyFormat, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{replyFormat, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeReply(b, false)
		shared, serr := decodeReply(b, true)
		if (err == nil) != (serr == nil) {
			t.Fatalf("decodeReply: %v copied, %v shared", err, serr)
		}
		if err != nil {
			return
		}
		if *shared != *r {
			t.Fatalf("shared: got %+v, want %+v", *shared, *r)
		}
		again, err := decodeReply(encodeReply(r), false)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if *again != *r {
			t.Fatalf("round trip: got %+v, want %+v", *again, *r)
		}
	})
}

// TestStoreKeyIsStable pins the store key to a value computed outside Go
// (Python's hmac module): a change of key would make every stored reply
// unreachable and paid again. Authorization parameters are left out.
func TestStoreKeyIsStable(t *testing.T) {
	s := NewKeyer([]byte("0123456789abcdef0123456789abcdef"), isAuthorization)
	params := map[string]string{"name": "张三", "id_card": "11010519491231002X", "mobile_no": "13800138000"}
	const want = "8ab671fbf32af264e4f317913c89d6a4"
	tests := []struct {
		name  string
		extra map[string]string
	}{
		{"identity only", nil},
		{"with authorization", map[string]string{"auth_authorize_file_code": "AUTH1", "authorization_url": "https://a/b", "auth_date": "20260101-20261231"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := maps.Clone(params)
			maps.Copy(p, tt.extra)
			for range 3 { // the pooled HMAC must give the same key every time
				if got := s.Key("JRZQ9E2A", p); hex.EncodeToString(got[:]) != want {
					t.Fatalf("Key = %x, want %s", got, want)
				}
			}
		})
	}
}

// TestStoreKeyFollowsParams keys calls whose parameter names change from
// one call to the next, as Key's memory of the last names must not hide:
// each key is the HMAC of the product and the identity parameters sorted
// by name.
func TestStoreKeyFollowsParams(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	s := NewKeyer(secret, isAuthorization)
	reference := func(product string, params map[string]string) string {
		var names []string
		for n := range params {
			if !isAuthorization(n) {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(product))
		for _, n := range names {
			fmt.Fprintf(mac, "\x00%s=%s", n, params[n])
		}
		return hex.EncodeToString(mac.Sum(nil)[:KeySize])
	}
	identity := map[string]string{"name": "张三", "id_card": "11010519491231002X", "mobile_no": "13800138000"}
	with := func(extra map[string]string, drop ...string) map[string]string {
		p := maps.Clone(identity)
		maps.Copy(p, extra)
		for _, n := range drop {
			delete(p, n)
		}
		return p
	}
	calls := []struct {
		name    string
		product string
		params  map[string]string
	}{
		{"identity", "JRZQ9E2A", identity},
		{"same names again", "JRZQ9E2A", with(map[string]string{"name": "李四"})},
		{"an authorization more", "JRZQ9E2A", with(map[string]string{"auth_date": "20260101-20261231"})},
		{"as many names, one other", "JRZQ9E2A", with(map[string]string{"auth_date": "20260101-20261231", "extra": "x"}, "mobile_no")},
		{"as many names, authorization swapped for identity", "JRZQ9E2A", with(map[string]string{"extra": "x", "mobile_no": "13800138000"})},
		{"another product", "COMBTY11", with(map[string]string{"auth_authorize_file_code": "AUTH1"})},
		{"first product again", "JRZQ9E2A", identity},
		{"a name fewer", "JRZQ9E2A", with(nil, "name")},
		{"no parameters", "JRZQ9E2A", map[string]string{}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			want := reference(c.product, c.params)
			if got := s.Key(c.product, c.params); hex.EncodeToString(got[:]) != want {
				t.Errorf("Key(%s, %d params) = %x, want %s", c.product, len(c.params), got, want)
			}
		})
	}
}

// TestStoreReadOrders reads back replies of many sizes (one larger than
// the read-ahead window) in several orders: the read-ahead window must
// serve each reply whole, whichever way the reads move.
func TestStoreReadOrders(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "replies.db"), []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 3000
	at := time.UnixMilli(1.7e12).UTC()
	keys := make([][KeySize]byte, n)
	want := make([]Reply, n)
	for i := range n {
		size := 200 + i%900
		if i == n/2 {
			size = readAheadSize + 1000
		}
		want[i] = Reply{Product: "JRZQ9E2A", TransactionID: fmt.Sprint("T", i), Data: strings.Repeat(string(rune('A'+i%26)), size), ReceivedAt: at}
		keys[i] = testKeys.Key("JRZQ9E2A", map[string]string{"id_card": fmt.Sprint(i)})
	}
	putAll(t, s, n, func(i int) []byte { return keys[i][:] }, want)
	orders := map[string]func(i int) int{
		"log order":      func(i int) int { return i },
		"reverse":        func(i int) int { return n - 1 - i },
		"locally mixed":  func(i int) int { return i/300*300 + (i%300*7)%300 },
		"far jumps":      func(i int) int { return (i * 1543) % n },
		"two interleave": func(i int) int { return i/2 + i%2*(n/2) },
	}
	// Replies whose data shares a window are checked only after 1,500
	// more have been read, when the window has moved on a few times: the
	// window they share must not have been read into again.
	const held = 1500
	type heldReply struct {
		r   *Reply
		win *Window
		j   int
	}
	for name, order := range orders {
		for _, share := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, data shared %v", name, share), func(t *testing.T) {
				s.forgetWindow()
				var hold []heldReply
				check := func(h heldReply) {
					if *h.r != want[h.j] {
						t.Fatalf("reply %d: got %.30v…, want %.30v…", h.j, *h.r, want[h.j])
					}
					h.win.Release()
				}
				for i := range n {
					j := order(i)
					var (
						h   = heldReply{j: j}
						ok  bool
						err error
					)
					if share {
						h.r, h.win, ok, err = s.GetShared(keys[j][:], time.Time{})
					} else {
						h.r, ok, err = s.Get(keys[j][:], time.Time{})
					}
					if err != nil || !ok {
						t.Fatalf("reply %d: ok %v, err %v", j, ok, err)
					}
					if hold = append(hold, h); len(hold) > held {
						check(hold[0])
						hold = hold[1:]
					}
				}
				for _, h := range hold {
					check(h)
				}
			})
		}
	}
}

// forgetWindow drops the read-ahead window, as if nothing had been read.
func (s *Store) forgetWindow() {
	s.ra.Lock()
	defer s.ra.Unlock()
	s.ra.win.Release()
	s.ra.win, s.ra.n = nil, 0
}

// TestStoreKnowsItsSecret opens a store with its own identity secret and
// with another one: the other is refused while the store holds replies,
// since none of them would be found and every row paid for again.
func TestStoreKnowsItsSecret(t *testing.T) {
	secretA, secretB := []byte("secret-A-0123456789abcdef"), []byte("secret-B-0123456789abcdef")
	path := filepath.Join(t.TempDir(), "replies.db")
	open := func(secret []byte, readOnly bool) error {
		var s *Store
		var err error
		if readOnly {
			s, err = OpenReadOnly(path, secret)
		} else {
			s, err = Open(path, secret)
		}
		if s != nil {
			s.Close()
		}
		return err
	}
	put := func(secret []byte) {
		s, err := Open(path, secret)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		key := testKeys.Key("JRZQ9E2A", map[string]string{"id_card": "1"})
		if err := s.Put(key[:], &Reply{Product: "JRZQ9E2A", ReceivedAt: time.UnixMilli(1e12)}); err != nil {
			t.Fatal(err)
		}
	}
	dropCheck := func() {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(metaBucket) }); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name     string
		do       func()
		secret   []byte
		readOnly bool
		refused  bool
	}{
		{"new store takes A", nil, secretA, false, false},
		{"empty store: B takes it over", nil, secretB, false, false},
		{"empty store read-only with A", nil, secretA, true, false},
		{"back to A, still empty", nil, secretA, false, false},
		{"A's reply stored; A again", func() { put(secretA) }, secretA, false, false},
		{"B refused", nil, secretB, false, true},
		{"B refused read-only", nil, secretB, true, true},
		{"A read-only", nil, secretA, true, false},
		{"no check, as an older store: B accepted, not adopted", dropCheck, secretB, false, false},
		{"no check: A accepted", nil, secretA, false, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.do != nil {
				st.do()
			}
			err := open(st.secret, st.readOnly)
			var ce *SecretError
			if got := errors.As(err, &ce); got != st.refused {
				t.Fatalf("open: %v; want refused %v", err, st.refused)
			}
			if st.refused && !strings.Contains(err.Error(), "another identity secret") {
				t.Errorf("message %q does not say why", err)
			}
		})
	}
}

// keyOf returns the store key of a JRZQ9E2A call.
func (s *Store) keyOf(params map[string]string) []byte {
	key := testKeys.Key("JRZQ9E2A", params)
	return key[:]
}

// reopenedStore makes a store at path holding want[i] under key(s, i) for
// every i below n, closes it and opens it again, as a rerun finds it.
func reopenedStore(t *testing.T, path string, secret []byte, n int, key func(s *Store, i int) []byte, want []Reply) *Store {
	t.Helper()
	s, err := Open(path, secret)
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, s, n, func(i int) []byte { return key(s, i) }, want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path, secret); err != nil {
		t.Fatal(err)
	}
	return s
}

// putAll stores want[i] under key(i) for every i below n, 50 at a time, as
// concurrent calls do: one sync a batch.
func putAll(t *testing.T, s *Store, n int, key func(i int) []byte, want []Reply) {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(50)
	for i := range n {
		g.Go(func() error { return s.Put(key(i), &want[i]) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// isAuthorization names the authorization parameters, as the pipeline's
// keys leave them out.
func isAuthorization(name string) bool {
	return name == "auth_authorize_file_code" || name == "authorization_url" || name == "auth_date"
}

// testKeys makes the keys of the tests' stores.
var testKeys = NewKeyer([]byte("0123456789abcdef"), isAuthorization)
