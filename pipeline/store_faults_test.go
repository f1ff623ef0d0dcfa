package pipeline_test

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// oneProduct is the sample config with JRZQ9E2A alone.
func oneProduct(t *testing.T) *config.Config {
	t.Helper()
	cfg := sampleConfig(t)
	cfg.Products = map[string]config.ProductConfig{"JRZQ9E2A": {Burst: 1, Concurrency: 4}}
	return cfg
}

// run runs cfg and fails the test on any error but failed rows.
func run(t *testing.T, cfg *config.Config, e pipeline.Env) *manifest.Manifest {
	t.Helper()
	m, err := pipeline.Run(context.Background(), cfg, e)
	if err != nil && !errors.Is(err, pipeline.ErrRowsFailed) {
		t.Fatalf("Run: %v", err)
	}
	return m
}

// TestStoreIndexLostPaysNothing reruns after the store's index was
// deleted or emptied: the index is rebuilt from the log, no reply is paid
// for again, and the manifest says why it was rebuilt.
func TestStoreIndexLostPaysNothing(t *testing.T) {
	faults := map[string]func(path string) error{
		"deleted": os.Remove,
		"emptied": func(path string) error { return os.Truncate(path, 0) },
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			v, client := fakeVendor(t, tianyuantest.Options{})
			cfg := oneProduct(t)
			first := run(t, cfg, env(client))
			billed := v.Billed("JRZQ9E2A")
			if err := fault(cfg.CachePath()); err != nil {
				t.Fatal(err)
			}
			m := run(t, cfg, env(client))
			if got := v.Billed("JRZQ9E2A"); got != billed {
				t.Errorf("rerun paid for %d replies again", got-billed)
			}
			if m.Store == nil || m.Store.Rebuilt == "" || m.Store.Replies != int(billed) {
				t.Errorf("manifest store = %+v, want the rebuild said and %d replies", m.Store, billed)
			}
			if p := m.Products["JRZQ9E2A"]; p.FromStore+p.Deduplicated != int64(first.Rows.Valid) {
				t.Errorf("from_store %d + deduplicated %d, want %d", p.FromStore, p.Deduplicated, first.Rows.Valid)
			}
		})
	}
}

// TestStoreDiskFullPaysNothing runs with a reply log on a device that is
// always full: the run stops (exit 3: an AbortError) before any call is
// paid for, saying what to free; once there is room, a rerun pays for each
// applicant once.
func TestStoreDiskFullPaysNothing(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	v, client := fakeVendor(t, tianyuantest.Options{})
	cfg := oneProduct(t)
	if err := os.MkdirAll(filepath.Dir(cfg.CachePath()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", cfg.CachePath()+".log"); err != nil {
		t.Fatal(err)
	}
	_, err := pipeline.Run(context.Background(), cfg, env(client))
	var abort *pipeline.AbortError
	if !errors.As(err, &abort) {
		t.Fatalf("Run with the disk full: %v, want an AbortError (exit 3)", err)
	}
	for _, want := range []string{cfg.CachePath() + ".log", "full", "free space"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not say %q", err, want)
		}
	}
	if got := v.Requests("JRZQ9E2A"); got != 0 {
		t.Errorf("%d calls made with no room to keep their replies", got)
	}
	if err := os.Remove(cfg.CachePath() + ".log"); err != nil {
		t.Fatal(err)
	}
	m := run(t, cfg, env(client))
	if n := paidTwice(t, v, "JRZQ9E2A"); n != 0 {
		t.Errorf("%d replies paid twice", n)
	}
	if p := m.Products["JRZQ9E2A"]; p.Billed+p.Deduplicated != int64(m.Rows.Valid) {
		t.Errorf("billed %d + deduplicated %d, want %d", p.Billed, p.Deduplicated, m.Rows.Valid)
	}
}

// TestKeyRotationPaysOnce fills the store with replies encrypted with one
// access key, then runs with another (a rotation, or a store filled by the
// fake vendor): each stored reply is paid for again once, counted as
// undecryptable_stored, and no row fails; the next run pays nothing. The
// same holds for replies stored without the check of their key, as the
// store's first format kept them: they are found out when they do not
// decrypt.
func TestKeyRotationPaysOnce(t *testing.T) {
	keyA := []byte("0123456789abcdef")
	keyB := []byte("fedcba9876543210")
	for _, forget := range []bool{false, true} {
		t.Run(map[bool]string{false: "key check kept", true: "stored without key check"}[forget], func(t *testing.T) {
			_, clientA := fakeVendor(t, tianyuantest.Options{Key: keyA})
			cfg := oneProduct(t)
			first := run(t, cfg, env(clientA))
			paid := first.Products["JRZQ9E2A"].Billed
			if forget {
				n, err := pipeline.ForgetKeyChecks(cfg, env(clientA))
				if err != nil || int64(n) != paid {
					t.Fatalf("ForgetKeyChecks: %d, %v; want %d", n, err, paid)
				}
			}
			v, clientB := fakeVendor(t, tianyuantest.Options{Key: keyB})
			m, err := pipeline.Run(context.Background(), cfg, env(clientB))
			if err != nil {
				t.Fatalf("run with the new key: %v", err)
			}
			p := m.Products["JRZQ9E2A"]
			if got := v.Billed("JRZQ9E2A"); got != paid || p.UndecryptableStored != paid {
				t.Errorf("billed %d, undecryptable_stored %d; want %d each", got, p.UndecryptableStored, paid)
			}
			if p.Failed != 0 || p.FromStore != 0 {
				t.Errorf("failed %d, from_store %d; want 0 and 0", p.Failed, p.FromStore)
			}
			if n := paidTwice(t, v, "JRZQ9E2A"); n != 0 {
				t.Errorf("%d replies paid twice with the new key", n)
			}
			again := run(t, cfg, env(clientB))
			if got := v.Billed("JRZQ9E2A"); got != paid {
				t.Errorf("the next run paid %d more", got-paid)
			}
			if q := again.Products["JRZQ9E2A"]; q.UndecryptableStored != 0 || q.FromStore+q.Deduplicated != int64(again.Rows.Valid) {
				t.Errorf("next run: %+v", q)
			}
		})
	}
}

// clock is a time that tests move.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// splitSample writes the sample applicants into two files, the first n
// rows and the rest, and returns their paths.
func splitSample(t *testing.T, n int) (string, string) {
	t.Helper()
	f, err := os.Open("../samples/applicants.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, rows [][]string) string {
		path := filepath.Join(t.TempDir(), name)
		out, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w := csv.NewWriter(out)
		w.WriteAll(append([][]string{recs[0]}, rows...))
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return write("a.csv", recs[1:n+1]), write("b.csv", recs[n+1:])
}

// TestRetention stores replies on two days forty days apart, then runs over
// both with cache.retain at 30 days: exactly the older replies are pruned
// (the manifest says how many), and paid for again, once each.
func TestRetention(t *testing.T) {
	c := &clock{now: time.Now().UTC()}
	start := c.Now()
	srv, v := tianyuantest.NewServer(tianyuantest.Options{Now: c.Now})
	t.Cleanup(srv.Close)
	client, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: srv.URL, AccessID: tianyuantest.DemoAccessID, Key: tianyuantest.DemoKey(), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := env(client)
	e.Now = c.Now
	cfg := oneProduct(t)
	cfg.Cache.ReuseWithin = 0 // reuse any: what goes is what retention removed
	a, b := splitSample(t, 100)

	cfg.Input.Files = []string{a}
	first := run(t, cfg, e)
	c.set(start.Add(40 * 24 * time.Hour))
	cfg.Input.Files = []string{b}
	run(t, cfg, e)
	paid := v.Billed("JRZQ9E2A")

	cfg.Input.Files = []string{a, b}
	cfg.Cache.Retain = 30 * 24 * time.Hour
	m := run(t, cfg, e)
	if m.Store == nil || int64(m.Store.Pruned) != first.Products["JRZQ9E2A"].Billed {
		t.Fatalf("manifest store = %+v, want %d pruned: the first day's replies", m.Store, first.Products["JRZQ9E2A"].Billed)
	}
	if got := v.Billed("JRZQ9E2A") - paid; got != int64(m.Store.Pruned) {
		t.Errorf("after pruning %d replies, %d were paid for again", m.Store.Pruned, got)
	}
	paid = v.Billed("JRZQ9E2A")
	again := run(t, cfg, e)
	if got := v.Billed("JRZQ9E2A") - paid; got != 0 || again.Store.Pruned != 0 {
		t.Errorf("the next run paid %d and pruned %d, want 0 and 0", got, again.Store.Pruned)
	}
}
