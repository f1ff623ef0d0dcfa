package store

import (
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// RoomPerCall is the room set aside in the log for each call in flight,
// before it is made (Reserve). A reply's record is about its size as the
// vendor sent it; one larger than this needs more room when it arrives,
// which a full disk may refuse.
const RoomPerCall = 256 << 10

// growBy is how much room the log is given beyond what is needed, at a time.
const growBy = 1 << 20

// Room is room in the log set aside for one reply, by Reserve, before the
// call that may bring it is made.
type Room struct {
	s    *Store
	used bool
}

// Reserve sets aside room in the log for one reply. A call to the vendor
// is made only once it has room for its reply: a disk that is full, or a
// file size limit, is found here, before anything is paid for. Once
// setting room aside has failed, the store takes no more replies: every
// Reserve fails with the same WriteError, and the run stops. The room
// is given back by Room.Put or Room.Release.
func (s *Store) Reserve() (*Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return nil, s.failed
	}
	if err := s.makeRoom(RoomPerCall); err != nil {
		return nil, err
	}
	s.reserved += RoomPerCall
	return &Room{s: s}, nil
}

// Release gives back room that Put did not use. It may be called after
// Put, and more than once.
func (rm *Room) Release() {
	if rm == nil || rm.used {
		return
	}
	rm.used = true
	rm.s.mu.Lock()
	rm.s.reserved -= RoomPerCall
	rm.s.mu.Unlock()
}

// makeRoom makes sure the log has n bytes of room beyond its end and what
// is set aside; s.mu is held.
func (s *Store) makeRoom(n int64) error {
	need := s.end + s.reserved + n
	if need <= s.allocated {
		return nil
	}
	size := need + growBy
	if err := allocate(s.log, s.allocated, size); err != nil {
		if info, serr := s.log.Stat(); serr == nil {
			s.allocated = max(s.allocated, info.Size()) // part of it may have been allocated
		}
		s.failed = &WriteError{Path: s.path + ".log", Op: "set aside room for replies in", Err: err}
		return s.failed
	}
	s.allocated = size
	return nil
}

// Put stores a reply under key, in room set aside for it, and returns once
// the reply is durable in the log and in the index. Concurrent Puts share a
// sync and an index transaction.
func (rm *Room) Put(key Key, r *Reply) error {
	s := rm.s
	if rm.used {
		return errors.New("store: room used twice")
	}
	rec := appendReplyRecord(make([]byte, 0, replyRecordSize(r)), key, r)
	s.mu.Lock()
	rm.used = true
	s.reserved -= RoomPerCall
	off, err := s.append(rec)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	e := entry{off: off, n: uint32(len(rec)), sum: recordSum(rec), ms: r.ReceivedAt.UnixMilli()}
	var added bool
	err = guard(func() error {
		return s.db.Batch(func(tx *bolt.Tx) error {
			if err := s.syncLog(off + int64(len(rec))); err != nil {
				return err
			}
			meta := tx.Bucket(metaBucket)
			st, ok := decodeState(meta.Get(stateKey))
			if !ok {
				st = indexState{headerOff: -1}
			}
			b := tx.Bucket(indexBucket)
			added = b.Get(key[:]) == nil
			if err := putEntry(b, &st, key[:], e); err != nil {
				return err
			}
			s.mu.Lock()
			st.logEnd = max(st.logEnd, s.indexedUpTo(off))
			if st.headerOff < 0 && s.state.headerOff >= 0 {
				st.headerOff, st.logID = s.state.headerOff, s.state.logID
			}
			s.mu.Unlock()
			return meta.Put(stateKey, st.encode())
		})
	})
	if err != nil {
		// The record stays among the pending ones: the index is not
		// said to cover it, and the next open indexes it from the log.
		var we *WriteError
		if !errors.As(err, &we) {
			err = &WriteError{Path: s.path, Op: "write the index entry of a reply to", Err: err}
		}
		s.mu.Lock()
		if s.failed == nil {
			s.failed = err
		}
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	if i := slices.Index(s.pending, off); i >= 0 {
		s.pending = slices.Delete(s.pending, i, i+1)
	}
	s.mu.Unlock()
	if added {
		s.count.Add(1)
	}
	s.mem.add(&key, e)
	return nil
}

// Put stores a reply under key, setting room aside for it first (see
// Reserve), and returns once it is durable.
func (s *Store) Put(key Key, r *Reply) error {
	rm, err := s.Reserve()
	if err != nil {
		return err
	}
	defer rm.Release()
	return rm.Put(key, r)
}

// append writes rec at the end of the log, after a header record if the
// log has none yet, and returns where rec is; s.mu is held.
func (s *Store) append(rec []byte) (int64, error) {
	if s.state.headerOff < 0 {
		id := newLogID()
		header := appendHeaderRecord(nil, id, s.secretCheck)
		if err := s.write(header); err != nil {
			return 0, err
		}
		s.state.headerOff, s.state.logID = s.end-int64(len(header)), id
	}
	off := s.end
	if err := s.write(rec); err != nil {
		return 0, err
	}
	s.pending = append(s.pending, off)
	return off, nil
}

// write writes b at the end of the log, in room set aside if it fits, and
// moves the end past it; s.mu is held.
func (s *Store) write(b []byte) error {
	if s.end+int64(len(b)) > s.allocated {
		// Larger than its room: more is needed now. The store is not
		// marked failed for it, so that a smaller reply still finds room.
		need := s.end + int64(len(b)) + s.reserved + growBy
		if err := allocate(s.log, s.allocated, need); err != nil {
			return &WriteError{Path: s.path + ".log", Op: fmt.Sprintf("find room for a reply of %d bytes in", len(b)), Err: err}
		}
		s.allocated = need
	}
	if _, err := s.log.WriteAt(b, s.end); err != nil {
		s.failed = &WriteError{Path: s.path + ".log", Op: "write", Err: err}
		return s.failed
	}
	s.end += int64(len(b))
	s.appended = true
	return nil
}

// indexedUpTo returns where the index will cover the log up to once the
// record at off is indexed: to the first record still waiting for its
// index entry, or to the end; s.mu is held.
func (s *Store) indexedUpTo(off int64) int64 {
	upTo := s.end
	for _, p := range s.pending {
		if p != off && p < upTo {
			upTo = p
		}
	}
	return upTo
}

// syncLog makes the log durable up to at least upTo; one sync covers every
// record appended before it.
// s.mu is not held during the sync: calls about to be made wait on it to
// set their room aside, and would leave in a bunch after a slow sync.
func (s *Store) syncLog(upTo int64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	synced, end := s.synced, s.end
	s.mu.Unlock()
	if synced >= upTo {
		return nil
	}
	err := s.log.Sync()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed = &WriteError{Path: s.path + ".log", Op: "sync", Err: err}
		return s.failed
	}
	s.synced = max(s.synced, end)
	return nil
}
