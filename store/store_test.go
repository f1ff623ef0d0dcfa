package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"
)

// testSecret is the identity secret of the tests' stores.
var testSecret = []byte("0123456789abcdef")

// isAuthorization names the authorization parameters, as the pipeline's
// keys leave them out.
func isAuthorization(name string) bool {
	return name == "auth_authorize_file_code" || name == "authorization_url" || name == "auth_date"
}

// testKeys makes the keys of the tests' stores.
var testKeys = NewKeyer(testSecret, isAuthorization)

// keyOf returns the key of the test call for applicant i.
func keyOf(i int) Key { return testKeys.Key("JRZQ9E2A", map[string]string{"id_card": fmt.Sprint(i)}) }

// testReplies returns n replies of various sizes, received at at.
func testReplies(n int, at time.Time) []Reply {
	want := make([]Reply, n)
	for i := range want {
		want[i] = Reply{Product: "JRZQ9E2A", Message: "成功", TransactionID: fmt.Sprint("T", i),
			Data: strings.Repeat(string(rune('A'+i%26)), 200+i%700), ReceivedAt: at, KeyCheck: KeyCheck{byte(i), 1}}
	}
	return want
}

// openStore opens the store at path for a run, failing the test on error.
func openStore(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{Secret: testSecret, KeepSecret: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// putAll stores want[i] under key(i) for every i below n, 50 at a time, as
// concurrent calls do: one sync a batch.
func putAll(t testing.TB, s *Store, n int, key func(i int) Key, want []Reply) {
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

// reopened makes a store at path holding want[i] under key(i) for every i
// below n, closes it and opens it again, as a rerun finds it.
func reopened(t testing.TB, path string, n int, key func(i int) Key, want []Reply) *Store {
	t.Helper()
	s := openStore(t, path)
	putAll(t, s, n, key, want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return openStore(t, path)
}

// checkAll checks that s holds want[i] under key(i), for every i with
// expect(i) (nil: all), and nothing for the others; it returns how many
// are missing or damaged.
func checkAll(t testing.TB, s *Store, want []Reply, key func(i int) Key) int {
	t.Helper()
	missing := 0
	for i := range want {
		got, found, err := s.Get(key(i), time.Time{})
		switch {
		case err != nil:
			t.Fatalf("reply %d: %v", i, err)
		case found == Fresh && got != want[i]:
			t.Fatalf("reply %d: got %.60v…, want %.60v…", i, got, want[i])
		case found != Fresh:
			missing++
		}
	}
	return missing
}

func TestReplyRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 23, 8, 30, 0, 123e6, time.UTC)
	tests := []struct {
		name  string
		reply Reply
	}{
		{"answered", Reply{Product: "JRZQ9E2A", Code: 0, Message: "成功", TransactionID: "T20261123083000001", Data: "q83vEjRWeJA=", ReceivedAt: at, KeyCheck: KeyCheck{1, 2, 3, 4, 5, 6, 7, 8}}},
		{"no record", Reply{Product: "COMBTY11", Code: 1000, Message: "查询无结果", ReceivedAt: at}},
		{"empty fields", Reply{ReceivedAt: time.UnixMilli(0).UTC()}},
		{"negative code, long data", Reply{Product: "X", Code: -7, Data: strings.Repeat("A", 70000), ReceivedAt: at}},
	}
	key := Key{1, 2, 3}
	for _, tt := range tests {
		rec := appendReplyRecord([]byte("before"), key, &tt.reply)[len("before"):]
		for _, share := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, data shared %v", tt.name, share), func(t *testing.T) {
				if !checkRecord(rec, recordSum(rec)) {
					t.Fatal("the record does not check")
				}
				if n, ok := framedLength(append(rec, "after"...)); !ok || n != len(rec) {
					t.Errorf("framedLength = %d, %v; want %d", n, ok, len(rec))
				}
				var got Reply
				gotKey, err := decodeReply(rec, share, &got)
				if err != nil {
					t.Fatalf("decodeReply: %v", err)
				}
				if got != tt.reply || gotKey != key {
					t.Errorf("got %+v under %x, want %+v under %x", got, gotKey, tt.reply, key)
				}
			})
		}
	}
}

// legacyRecord encodes r as the store's first format did.
func legacyRecord(r *Reply) []byte {
	b := []byte{legacyFormat}
	b = binary.AppendVarint(b, int64(r.Code))
	b = binary.AppendVarint(b, r.ReceivedAt.UnixMilli())
	for _, s := range []string{r.Product, r.Message, r.TransactionID, r.Data} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func TestLegacyRecord(t *testing.T) {
	r := Reply{Product: "JRZQ9E2A", Message: "成功", TransactionID: "T1", Data: "q83vEjRWeJA=", ReceivedAt: time.UnixMilli(1e12).UTC()}
	rec := legacyRecord(&r)
	if n, ok := legacyLength(append(rec, 9, 9)); !ok || n != len(rec) {
		t.Errorf("legacyLength = %d, %v; want %d", n, ok, len(rec))
	}
	for _, share := range []bool{false, true} {
		var got Reply
		if key, err := decodeReply(rec, share, &got); err != nil || got != r || key != (Key{}) {
			t.Errorf("decodeReply(shared %v) = %+v, %x, %v; want %+v and no key", share, got, key, err, r)
		}
	}
}

func TestDamagedReplyRecord(t *testing.T) {
	rec := appendReplyRecord(nil, Key{7}, &Reply{Product: "JRZQ9E2A", Message: "成功", TransactionID: "T1", Data: "q83vEjRWeJA=", ReceivedAt: time.UnixMilli(1e12)})
	sum := recordSum(rec)
	tests := map[string][]byte{"empty": nil}
	for n := 0; n < len(rec); n++ {
		tests[fmt.Sprintf("cut at %d of %d", n, len(rec))] = rec[:n]
		for _, bit := range []byte{1, 0x80} {
			flipped := slices.Clone(rec)
			flipped[n] ^= bit
			tests[fmt.Sprintf("bit %#x of byte %d flipped", bit, n)] = flipped
		}
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if checkRecord(b, sum) {
				t.Errorf("checkRecord(%q) = true", b)
			}
			if _, ok := framedLength(b); ok {
				t.Errorf("framedLength(%q) = true", b)
			}
		})
	}
}

// FuzzDecodeReply checks that any bytes decode or fail without panicking,
// and that what decodes encodes back to a record that decodes the same.
func FuzzDecodeReply(f *testing.F) {
	r := Reply{Product: "JRZQ9E2A", Message: "成功", TransactionID: "T1", Data: "q83vEjRWeJA=", ReceivedAt: time.UnixMilli(1e12)}
	f.Add(appendReplyRecord(nil, Key{1}, &r))
	f.Add(legacyRecord(&r))
	f.Add([]byte{legacyFormat, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{legacyFormat, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r, shared Reply
		key, err := decodeReply(b, false, &r)
		skey, serr := decodeReply(b, true, &shared)
		if (err == nil) != (serr == nil) {
			t.Fatalf("decodeReply: %v copied, %v shared", err, serr)
		}
		if err != nil {
			return
		}
		if shared != r || skey != key {
			t.Fatalf("shared: got %+v, want %+v", shared, r)
		}
		var again Reply
		if _, err := decodeReply(appendReplyRecord(nil, key, &r), false, &again); err != nil || again != r {
			t.Fatalf("round trip: got %+v, %v; want %+v", again, err, r)
		}
	})
}

// FuzzScanLog checks that the scan of any bytes neither panics nor loses
// its place: its spans follow each other from start to end, and each
// record it finds checks.
func FuzzScanLog(f *testing.F) {
	r := Reply{Product: "JRZQ9E2A", Message: "成功", TransactionID: "T1", Data: "q83vEjRWeJA=", ReceivedAt: time.UnixMilli(1e12)}
	rec := appendReplyRecord(nil, Key{1}, &r)
	f.Add(append(append(slices.Clone(rec), 0, 0, 0), rec...))
	f.Add(append(legacyRecord(&r), rec...))
	f.Add(append([]byte{9, 9, recordMagic[0]}, rec[:len(rec)-1]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		at := int64(0)
		err := scanLog(strings.NewReader(string(b)), 0, int64(len(b)), func(sp span) error {
			if sp.off != at || sp.n <= 0 {
				t.Fatalf("span at %d of %d bytes, want one at %d", sp.off, sp.n, at)
			}
			if sp.kind == spanRecord && !checkRecord(sp.rec, recordSum(sp.rec)) {
				t.Fatalf("a record at %d that does not check", sp.off)
			}
			at += sp.n
			return nil
		})
		if err != nil || at != int64(len(b)) {
			t.Fatalf("scan: %v, up to %d of %d", err, at, len(b))
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
	s := openStore(t, filepath.Join(t.TempDir(), "replies.db"))
	defer s.Close()
	const n = 3000
	at := time.UnixMilli(1.7e12).UTC()
	keys := make([]Key, n)
	want := make([]Reply, n)
	for i := range n {
		size := 200 + i%900
		if i == n/2 {
			size = readAheadSize + 1000
		}
		want[i] = Reply{Product: "JRZQ9E2A", TransactionID: fmt.Sprint("T", i), Data: strings.Repeat(string(rune('A'+i%26)), size), ReceivedAt: at}
		keys[i] = testKeys.Key("JRZQ9E2A", map[string]string{"id_card": fmt.Sprint(i)})
	}
	putAll(t, s, n, func(i int) Key { return keys[i] }, want)
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
		r   Reply
		win *Window
		j   int
	}
	for name, order := range orders {
		for _, share := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, data shared %v", name, share), func(t *testing.T) {
				s.forgetWindow()
				var hold []heldReply
				check := func(h heldReply) {
					if h.r != want[h.j] {
						t.Fatalf("reply %d: got %.30v…, want %.30v…", h.j, h.r, want[h.j])
					}
					h.win.Release()
				}
				for i := range n {
					j := order(i)
					var (
						h     = heldReply{j: j}
						found Found
						err   error
					)
					if share {
						h.r, h.win, found, err = s.GetShared(keys[j], time.Time{})
					} else {
						h.r, found, err = s.Get(keys[j], time.Time{})
					}
					if err != nil || found != Fresh {
						t.Fatalf("reply %d: found %v, err %v", j, found, err)
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
		s, err := Open(path, Options{Secret: secret, KeepSecret: !readOnly})
		if s != nil {
			s.Close()
		}
		return err
	}
	put := func(secret []byte) {
		s, err := Open(path, Options{Secret: secret, KeepSecret: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Put(keyOf(1), &Reply{Product: "JRZQ9E2A", ReceivedAt: time.UnixMilli(1e12)}); err != nil {
			t.Fatal(err)
		}
	}
	dropCheck := func() {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(metaBucket).Delete(secretCheckKey) }); err != nil {
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
		{"no check, as an older store: B accepted", dropCheck, secretB, false, false},
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

// TestStoreReopens stores replies, closes the store and opens it again:
// every reply is there, the count says so, and the check at open found
// nothing to repair.
func TestStoreReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replies.db")
	const n = 500
	want := testReplies(n, time.UnixMilli(1.7e12).UTC())
	s := reopened(t, path, n, keyOf, want)
	defer s.Close()
	if missing := checkAll(t, s, want, keyOf); missing != 0 {
		t.Errorf("%d of %d replies missing after reopening", missing, n)
	}
	if got, want := s.Report(), (OpenReport{Replies: n}); got != want {
		t.Errorf("report %+v, want %+v", got, want)
	}
	if got := s.Count(); got != n {
		t.Errorf("Count() = %d, want %d", got, n)
	}
	for _, name := range []string{"replies.db", "replies.db.log", "replies.db.lock"} {
		info, err := os.Stat(filepath.Join(filepath.Dir(path), name))
		if err != nil {
			t.Fatal(err)
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", name, mode)
		}
	}
}
