package store

import (
	"io"
	"sync"
	"sync/atomic"
)

// readAheadSize is the window a run reads the log by when it reads it in
// order, as a rerun of the same input does: one read serves hundreds of
// replies.
const readAheadSize = 1 << 20

// readBehindSize is how much of the log before the reply that moves the
// window a new window keeps: replies are in the log in the order they came
// back, a few hundred rows out of input order when many calls were in
// flight, and the workers ask for them a little out of order too.
const readBehindSize = 256 << 10

// A window is memory the log is read ahead into. Replies read from it may
// share it instead of being copied out (see Store.getShared): a reply is
// half a kilobyte, and copying each out of the window, with its allocation,
// cost about 7 % of a run's CPU. So a window is used again for another part
// of the log only once nothing refers to it: the store holds a reference
// while the window is its current one, and each reply sharing it holds one
// until released.
type Window struct {
	buf  []byte // readAheadSize long; the log's bytes in buf[:n]
	refs atomic.Int32
	pool *windowPool
}

// Release gives back a reference to w; the last one gives w back to its
// pool. A nil window has nothing to release.
func (w *Window) Release() {
	if w == nil {
		return
	}
	switch n := w.refs.Add(-1); {
	case n == 0:
		w.pool.put(w)
	case n < 0:
		panic("store: a read-ahead window released more often than held")
	}
}

// windowPool keeps a few windows that nothing refers to any more.
type windowPool struct {
	mu   sync.Mutex
	free []*Window
}

// keptWindows is how many free windows a pool keeps: replies are released
// within moments of being read, so one or two are enough.
const keptWindows = 4

// get returns a window with one reference, the caller's.
func (p *windowPool) get() *Window {
	p.mu.Lock()
	var w *Window
	if n := len(p.free); n > 0 {
		w, p.free = p.free[n-1], p.free[:n-1]
	}
	p.mu.Unlock()
	if w == nil {
		w = &Window{buf: make([]byte, readAheadSize), pool: p}
	}
	w.refs.Store(1)
	return w
}

func (p *windowPool) put(w *Window) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < keptWindows {
		p.free = append(p.free, w)
	}
}

// readAhead is the window the store read the log into last.
type readAhead struct {
	sync.Mutex
	off    int64   // log offset of win.buf[0]
	win    *Window // nil before the first read ahead
	n      int     // the log's bytes in win.buf
	misses int     // reads outside the window in a row
}

// readReply reads, checks and decodes into r the reply e locates, stored
// under key. Replies read in log order come from a read-ahead window;
// others are read alone. With share, the reply's Data shares the window it
// was read from (see GetShared), which is returned with a reference for
// the caller; a reply read alone has memory of its own and no window.
func (s *Store) readReply(e entry, key *Key, share bool, r *Reply) (*Window, error) {
	off, size := e.off, int64(e.n)
	s.ra.Lock()
	defer s.ra.Unlock()
	ra := &s.ra
	var inWindow []byte
	if ra.win != nil {
		inWindow = ra.win.buf[:ra.n]
	}
	if off >= ra.off && off+size <= ra.off+int64(len(inWindow)) {
		return s.decodeInWindow(inWindow[off-ra.off:off-ra.off+size], e.sum, key, share, r)
	}
	// In order: the reply starts near or after the window's end. Out of
	// order, replies are read alone, until enough of them in a row suggest
	// the reads have moved elsewhere in the log.
	ahead := len(inWindow) == 0 || off >= ra.off && off <= ra.off+int64(len(inWindow))+readAheadSize
	if !ahead {
		ra.misses++
	}
	if size > readAheadSize || !ahead && ra.misses < 32 {
		b := make([]byte, size)
		if _, err := s.log.ReadAt(b, off); err != nil {
			return nil, err
		}
		return nil, decodeChecked(b, e.sum, key, true, r) // b is the reply's own
	}
	ra.misses = 0
	// Only what is synced is whole: a reply being appended now may be
	// half written, and must not be served later from this window.
	s.mu.Lock()
	durable := s.synced
	s.mu.Unlock()
	start := off
	if ahead && len(inWindow) > 0 && off-ra.off >= readBehindSize && readBehindSize+size <= readAheadSize {
		start = off - readBehindSize // within the old window: the log is whole there
	}
	next := s.windows.get()
	n, err := s.log.ReadAt(next.buf[:max(min(readAheadSize, durable-start), off-start+size)], start)
	ra.win.Release() // the store's reference to the old window
	if int64(n) < off-start+size {
		next.Release()
		ra.win, ra.n = nil, 0
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	ra.off, ra.win, ra.n = start, next, n
	return s.decodeInWindow(next.buf[off-start:off-start+size], e.sum, key, share, r)
}

// decodeInWindow checks and decodes a reply in the current window; with
// share, its Data shares the window, and the window has a reference more,
// the caller's.
func (s *Store) decodeInWindow(b []byte, sum uint32, key *Key, share bool, r *Reply) (*Window, error) {
	if err := decodeChecked(b, sum, key, share, r); err != nil || !share {
		return nil, err
	}
	s.ra.win.refs.Add(1)
	return s.ra.win, nil
}

// decodeChecked checks the record rec against its index entry's checksum
// and key, and decodes it into r.
func decodeChecked(rec []byte, sum uint32, key *Key, share bool, r *Reply) error {
	if !checkRecord(rec, sum) {
		return errDamaged
	}
	got, err := decodeReply(rec, share, r)
	if err != nil {
		return err
	}
	if rec[0] != legacyFormat && got != *key {
		return errDamaged // the entry points at another key's reply
	}
	return nil
}
