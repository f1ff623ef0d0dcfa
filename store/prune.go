package store

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// prune removes the replies received before before: their index entries
// go, then their records in the log are overwritten with zeros (their
// blocks given back where the file system can). It returns how many it
// removed. The log keeps its length; Compact shortens it.
func (s *Store) prune(before time.Time) (int, error) {
	cut := before.UnixMilli()
	if s.oldestMs < 0 || s.oldestMs >= cut {
		return 0, nil // nothing that old: the check at open saw every entry
	}
	var old []keyedEntry
	err := s.guardedView(func(tx *bolt.Tx) error {
		return tx.Bucket(indexBucket).ForEach(func(k, v []byte) error {
			if e, ok := decodeEntry(v); ok && len(v) == entrySize && e.ms < cut {
				old = append(old, keyedEntry{key: Key(k), entry: e})
			}
			return nil
		})
	})
	if err != nil {
		return 0, &CorruptError{Path: s.path, Err: err}
	}
	if len(old) == 0 {
		return 0, nil
	}
	var count int64
	err = s.guardedUpdate(func(tx *bolt.Tx) error {
		meta, b := tx.Bucket(metaBucket), tx.Bucket(indexBucket)
		st, _ := decodeState(meta.Get(stateKey))
		for i := range old {
			if err := deleteEntry(b, &st, old[i].key[:]); err != nil {
				return err
			}
		}
		count = st.count
		return meta.Put(stateKey, st.encode())
	})
	if err != nil {
		return 0, err
	}
	s.count.Store(count)
	for i := range old {
		s.mem.add(&old[i].key, entry{})
	}
	slices.SortFunc(old, func(a, b keyedEntry) int { return cmpInt64(a.off, b.off) })
	for i := 0; i < len(old); {
		off, end := old[i].off, old[i].off+int64(old[i].n)
		for i++; i < len(old) && old[i].off == end; i++ {
			end += int64(old[i].n)
		}
		if err := punch(s.log, off, end-off); err != nil {
			return 0, &WriteError{Path: s.path + ".log", Op: "remove old replies from", Err: err}
		}
	}
	if err := s.log.Sync(); err != nil {
		return 0, &WriteError{Path: s.path + ".log", Op: "sync", Err: err}
	}
	s.oldestMs = -1 // not known any more; a later prune reads the index again
	return len(old), nil
}

// CompactReport says what Compact did.
type CompactReport struct {
	Replies     int   // replies kept
	BytesBefore int64 // the log's size before
	BytesAfter  int64 // and after
}

// Compact rewrites the log with only the replies the index holds, every
// one in the current format (which a rebuild can read back whole), and
// makes a new index for it: what pruned, replaced and damaged records took
// is given back. It needs room for a second copy of the live replies.
func (s *Store) Compact() (CompactReport, error) {
	var rep CompactReport
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) > 0 || s.reserved > 0 {
		return rep, errors.New("store: Compact while replies are being stored")
	}
	rep.BytesBefore = s.end
	var live []keyedEntry
	err := s.guardedView(func(tx *bolt.Tx) error {
		return tx.Bucket(indexBucket).ForEach(func(k, v []byte) error {
			if e, ok := decodeEntry(v); ok {
				live = append(live, keyedEntry{key: Key(k), entry: e})
			}
			return nil
		})
	})
	if err != nil {
		return rep, &CorruptError{Path: s.path, Err: err}
	}
	slices.SortFunc(live, func(a, b keyedEntry) int { return cmpInt64(a.off, b.off) })

	tmpLog := s.path + ".log.compact"
	out, err := os.OpenFile(tmpLog, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return rep, &WriteError{Path: tmpLog, Op: "create", Err: err}
	}
	fail := func(op string, err error) (CompactReport, error) {
		out.Close()
		_ = os.Remove(tmpLog)
		return rep, &WriteError{Path: tmpLog, Op: op, Err: err}
	}
	st := indexState{logID: newLogID()}
	buf := appendHeaderRecord(nil, st.logID, s.secretCheck)
	var entries []keyedEntry
	var rec []byte
	for _, ke := range live {
		if cap(rec) < int(ke.n) {
			rec = make([]byte, ke.n)
		}
		rec = rec[:ke.n]
		if _, err := s.log.ReadAt(rec, ke.off); err != nil {
			return fail("read "+s.path+".log for", err)
		}
		var r Reply
		if !checkRecord(rec, ke.sum) {
			continue // damaged: paid for again when asked for
		}
		if _, err := decodeReply(rec, false, &r); err != nil {
			continue
		}
		off := int64(len(buf))
		if rec[0] == legacyFormat {
			buf = appendReplyRecord(buf, ke.key, &r) // its key goes with it from now on
		} else {
			buf = append(buf, rec...)
		}
		n := int64(len(buf)) - off
		entries = append(entries, keyedEntry{key: ke.key, entry: entry{off: rep.BytesAfter + off, n: uint32(n),
			sum: recordSum(buf[off:]), ms: r.ReceivedAt.UnixMilli()}})
		if len(buf) >= 1<<20 {
			if _, err := out.WriteAt(buf, rep.BytesAfter); err != nil {
				return fail("write", err)
			}
			rep.BytesAfter += int64(len(buf))
			buf = buf[:0]
		}
	}
	if _, err := out.WriteAt(buf, rep.BytesAfter); err != nil {
		return fail("write", err)
	}
	rep.BytesAfter += int64(len(buf))
	if err := out.Sync(); err != nil {
		return fail("sync", err)
	}
	slices.SortFunc(entries, func(a, b keyedEntry) int { return bytes.Compare(a.key[:], b.key[:]) })
	st.logEnd = rep.BytesAfter
	// The new log goes in first: should the new index not follow, the
	// next open finds a log the old index was not made for, and rebuilds
	// the index from it, whole, as every record in it has its key.
	if s.mem != nil {
		s.mem.free()
		s.mem = nil
	}
	if err := guard(s.db.Close); err != nil {
		s.db = nil
		return fail("close the index before replacing", err)
	}
	s.db = nil
	if err := os.Rename(tmpLog, s.path+".log"); err != nil {
		return fail("rename", err)
	}
	s.log.Close()
	s.log = out
	if err := s.writeIndex(entries, &st, s.secretCheck); err != nil {
		return rep, err
	}
	s.ra.Lock()
	s.ra.win.Release()
	s.ra.win, s.ra.n = nil, 0
	s.ra.Unlock()
	rep.Replies = len(entries)
	s.mu.Unlock()
	err = s.check(Options{})
	s.mu.Lock()
	return rep, err
}
