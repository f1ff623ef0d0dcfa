package store

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Ages counts replies by the time since they were received.
type Ages struct {
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
	// Counts by age, each bucket up to its bound: 1 day, 7, 30, 90, 365
	// days, and older.
	Day     int `json:"day"`
	Week    int `json:"week"`
	Month   int `json:"month"`
	Quarter int `json:"quarter"`
	Year    int `json:"year"`
	Older   int `json:"older"`
}

// add counts a reply received at ms (Unix ms).
func (a *Ages) add(ms int64, now time.Time) {
	at := time.UnixMilli(ms).UTC()
	if a.Oldest.IsZero() || at.Before(a.Oldest) {
		a.Oldest = at
	}
	if at.After(a.Newest) {
		a.Newest = at
	}
	switch age := now.Sub(at); {
	case age <= 24*time.Hour:
		a.Day++
	case age <= 7*24*time.Hour:
		a.Week++
	case age <= 30*24*time.Hour:
		a.Month++
	case age <= 90*24*time.Hour:
		a.Quarter++
	case age <= 365*24*time.Hour:
		a.Year++
	default:
		a.Older++
	}
}

// Stats are the counts, ages and sizes of an open store.
type Stats struct {
	Path       string `json:"path"`
	Replies    int    `json:"replies"`
	IndexBytes int64  `json:"index_bytes"`
	LogBytes   int64  `json:"log_bytes"`
	Ages       Ages   `json:"ages"`
}

// Stats counts the store's replies by age at now and gives its files'
// sizes.
func (s *Store) Stats(now time.Time) (Stats, error) {
	st := Stats{Path: s.path}
	err := s.guardedView(func(tx *bolt.Tx) error {
		return tx.Bucket(indexBucket).ForEach(func(k, v []byte) error {
			if e, ok := decodeEntry(v); ok {
				st.Replies++
				st.Ages.add(e.ms, now)
			}
			return nil
		})
	})
	if err != nil {
		return st, &CorruptError{Path: s.path, Err: err}
	}
	st.IndexBytes = fileSize(s.path)
	s.mu.Lock()
	st.LogBytes = s.end
	s.mu.Unlock()
	return st, nil
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

// CheckReport is what Check found in a store.
type CheckReport struct {
	Path       string `json:"path"`
	IndexBytes int64  `json:"index_bytes"`
	LogBytes   int64  `json:"log_bytes"`
	// Index is "ok", or what is wrong with the index: what the next open
	// (or store repair) rebuilds it for.
	Index string `json:"index"`
	// Replies are the index's entries; Whole, those whose record checks.
	Replies int `json:"replies"`
	Whole   int `json:"whole"`
	// DamagedReplies are entries whose record is damaged or gone: each
	// such reply is paid for again when asked for.
	DamagedReplies int `json:"damaged_replies"`
	// DamagedStretches are stretches of the log that are no record, of
	// DamagedBytes in all.
	DamagedStretches int   `json:"damaged_stretches"`
	DamagedBytes     int64 `json:"damaged_bytes"`
	// Unindexed are whole replies in the log beyond what the index covers
	// (a run stopped before indexing them): the next open indexes them.
	Unindexed int `json:"unindexed"`
	// DeadBytes are records no entry points to (replaced by a later
	// reply) and zeros (pruned replies, room set aside): Compact gives
	// them back.
	DeadBytes int64 `json:"dead_bytes"`
	Ages      Ages  `json:"ages"`
	// Rebuild says the index is missing, damaged, of an older format or
	// out of step with the log (Index says which): the next open (a run,
	// or store repair) rebuilds it from the log. LogReplies are then the
	// whole replies the log holds, the latest of each key: what a run
	// finds, and does not pay for again, once the index is rebuilt; Ages,
	// their ages, and DeadBytes the records they replace. LostWithIndex
	// are replies of the first format, which only the index located: the
	// rebuild loses them.
	Rebuild       bool `json:"rebuild"`
	LogReplies    int  `json:"log_replies"`
	LostWithIndex int  `json:"lost_with_index"`
}

// Healthy reports whether the check found nothing damaged.
func (r *CheckReport) Healthy() bool {
	return r.Index == "ok" && r.DamagedReplies == 0 && r.DamagedStretches == 0
}

// Check reads the whole store at path, its index and every record of its
// log, and reports; it changes nothing. It takes the store's lock: it
// fails at once (InUseError) while a run has the store open.
func Check(path string, now time.Time) (*CheckReport, error) {
	if _, err := os.Stat(path + ".log"); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, ErrNotFound
		}
	}
	lock, err := lockStore(path)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	log, err := os.Open(path + ".log")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, &CorruptError{Path: path + ".log", Err: err}
	}
	rep := &CheckReport{Path: path, IndexBytes: fileSize(path), LogBytes: fileSize(path + ".log")}
	s := &Store{path: path}
	if log != nil {
		defer log.Close()
		s.log = log
	} else {
		s.log = emptyLog{}
	}
	ins, err := s.inspect(rep.LogBytes, true)
	if err != nil {
		return nil, err
	}
	defer ins.close()
	if rep.Index = s.verdict(ins, rep.LogBytes); rep.Index == "" {
		rep.Index = "ok"
	}
	rep.Rebuild = rep.Index != "ok"
	// With an index to rebuild, what the rebuild finds: the log's replies,
	// as Store.rebuild reads them.
	var logEntries []keyedEntry
	var freeBytes int64
	logLegacy := 0
	// The index's entries, by offset, to meet the log's records.
	var entries []keyedEntry
	if ins.damaged == nil && ins.db != nil {
		_ = guard(func() error {
			return ins.db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(indexBucket)
				if b == nil {
					return nil
				}
				return b.ForEach(func(k, v []byte) error {
					if e, ok := decodeEntry(v); ok && len(k) == KeySize {
						entries = append(entries, keyedEntry{key: Key(k), entry: e})
					}
					return nil
				})
			})
		})
	}
	rep.Replies = len(entries)
	slices.SortFunc(entries, func(a, b keyedEntry) int { return cmpInt64(a.off, b.off) })
	entryAt := func(off int64) *keyedEntry {
		i, found := slices.BinarySearchFunc(entries, off, func(e keyedEntry, off int64) int { return cmpInt64(e.off, off) })
		if !found {
			return nil
		}
		return &entries[i]
	}
	err = scanLog(s.log, 0, rep.LogBytes, func(sp span) error {
		if rep.Rebuild {
			switch {
			case sp.kind == spanFree:
				freeBytes += sp.n
			case sp.kind == spanRecord && sp.rec[4] == kindReply:
				if ke, ok := replyEntry(sp); ok {
					logEntries = append(logEntries, ke)
				}
			case sp.kind == spanLegacy:
				logLegacy++
				if e := entryAt(sp.off); e != nil && int64(e.n) == sp.n && checkRecord(sp.rec, e.sum) {
					var r Reply
					if _, err := decodeReplyHead(sp.rec, &r); err == nil {
						ke := *e
						ke.ms = r.ReceivedAt.UnixMilli()
						logEntries = append(logEntries, ke)
						logLegacy--
					}
				}
			}
		}
		switch sp.kind {
		case spanFree:
			rep.DeadBytes += sp.n
		case spanDamaged:
			rep.DamagedStretches++
			rep.DamagedBytes += sp.n
		case spanRecord, spanLegacy:
			e := entryAt(sp.off)
			var r Reply
			key, herr := decodeReplyHead(sp.rec, &r)
			switch {
			case sp.kind == spanRecord && sp.rec[4] == kindHeader:
			case e != nil && int64(e.n) == sp.n && checkRecord(sp.rec, e.sum) && herr == nil && (sp.kind == spanLegacy || key == e.key):
				rep.Whole++
				rep.Ages.add(r.ReceivedAt.UnixMilli(), now)
			case sp.kind == spanRecord && ins.hasState && sp.off >= ins.state.logEnd:
				rep.Unindexed++
			default:
				rep.DeadBytes += sp.n
			}
		}
		return nil
	})
	if err != nil {
		return nil, &CorruptError{Path: path + ".log", Err: err}
	}
	rep.DamagedReplies = rep.Replies - rep.Whole
	if rep.Rebuild {
		rebuilt(rep, logEntries, freeBytes, logLegacy, now)
	}
	return rep, nil
}

// rebuilt sets what the rebuild of the index finds in the log (see
// CheckReport.Rebuild): of the log's replies, the latest of each key;
// the others, and the free stretches, dead.
func rebuilt(rep *CheckReport, entries []keyedEntry, freeBytes int64, legacyLost int, now time.Time) {
	slices.SortFunc(entries, func(a, b keyedEntry) int {
		if c := bytes.Compare(a.key[:], b.key[:]); c != 0 {
			return c
		}
		return cmpInt64(a.off, b.off)
	})
	rep.Ages = Ages{}
	rep.DeadBytes = freeBytes
	rep.LogReplies = 0
	for i, ke := range entries {
		if i+1 < len(entries) && entries[i+1].key == ke.key {
			rep.DeadBytes += int64(ke.n) // replaced by a later reply
			continue
		}
		rep.LogReplies++
		rep.Ages.add(ke.ms, now)
	}
	if rep.Replies == 0 {
		rep.LostWithIndex = legacyLost
	} else {
		rep.LostWithIndex = max(0, rep.Replies-rep.LogReplies)
	}
}

// emptyLog is the log of a store that has none.
type emptyLog struct{}

func (emptyLog) ReadAt([]byte, int64) (int, error)  { return 0, errors.New("no log") }
func (emptyLog) WriteAt([]byte, int64) (int, error) { return 0, errors.New("no log") }
func (emptyLog) Sync() error                        { return nil }
func (emptyLog) Truncate(int64) error               { return nil }
func (emptyLog) Stat() (os.FileInfo, error)         { return nil, errors.New("no log") }
func (emptyLog) Close() error                       { return nil }
