package audit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileName is the audit log's name in the state directory, beside the
// reply store.
const FileName = "audit.jsonl"

// Options tune a Log; the zero value is the default.
type Options struct {
	// SyncEvery is how often lines not asked to be durable (reuses) are
	// synced at the latest; 0 means one second.
	SyncEvery time.Duration
	// Now is the clock of the lines' times; nil means time.Now.
	Now func() time.Time
	// MustExist makes Open return ErrNotFound rather than create the log.
	MustExist bool
}

// flushAt is how many bytes of lines not asked to be durable are held in
// memory before they are written (without waiting for a sync).
const flushAt = 256 << 10

// Log is an open audit log: one writer, appends only. It is safe for
// concurrent use.
//
// Append writes a line; with durable set it returns once the line is on
// disk (synced), sharing the sync with every line appended meanwhile
// (group commit: while one caller syncs, the others' lines gather for the
// next sync). Lines not asked to be durable are written in batches and
// synced within Options.SyncEvery, by the next durable Append, by Flush
// or by Close, whichever comes first.
type Log struct {
	path string
	lock *os.File
	now  func() time.Time

	wmu sync.Mutex // held while writing to f, and while Prune replaces it
	f   *os.File   // opened for appending

	mu       sync.Mutex
	cond     *sync.Cond // broadcast when a sync ends
	buf      []byte     // lines appended, not yet written
	spare    []byte     // the buffer last written, for the next lines
	appended int64      // lines appended since Open
	written  int64      // of them, written to f
	synced   int64      // of them, durable
	syncing  bool       // a caller is syncing
	failed   error      // a write or sync failed: the log takes no more lines
	closed   bool

	stop    chan struct{}
	stopped chan struct{}
}

// InUseError says another process has the audit log open.
type InUseError struct{ Path string }

func (e *InUseError) Error() string {
	return fmt.Sprintf("the audit log %s is in use by another process (a run, or a prune): try again once it has finished", e.Path)
}

// WriteError is a failure to write the audit log: a run stops, since it
// may not send a request it could not record.
//
// It does not unwrap to the system's error (Err holds it): a caller that
// sorts errors by what they wrap would take an errno for a network fault
// and retry, and a retry is a new paid call.
type WriteError struct {
	Path string
	Op   string
	Err  error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("audit log %s: %s: %v", e.Path, e.Op, e.Err)
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit log closed")

// ErrNotFound is returned by Open with Options.MustExist when there is no
// log.
var ErrNotFound = errors.New("no audit log")

// Open opens the audit log at path for appending, creating it (mode 0600,
// its directory 0700) when it does not exist. It takes path.lock with
// flock, and fails at once with an *InUseError while another process holds
// it. A last line cut short by a crash is ended with a newline, so that
// the next line starts on its own (readers skip the cut one as damaged).
func Open(path string, opts Options) (*Log, error) {
	if opts.MustExist {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, ErrNotFound
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &WriteError{Path: path, Op: "create its directory", Err: err}
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	f, created, err := openAppend(path)
	if err != nil {
		lock.Close()
		return nil, err
	}
	if created {
		if err := syncDir(dir); err != nil {
			f.Close()
			lock.Close()
			return nil, &WriteError{Path: path, Op: "sync its directory", Err: err}
		}
	}
	l := &Log{path: path, lock: lock, f: f, now: opts.Now, stop: make(chan struct{}), stopped: make(chan struct{})}
	if l.now == nil {
		l.now = time.Now
	}
	l.cond = sync.NewCond(&l.mu)
	every := opts.SyncEvery
	if every <= 0 {
		every = time.Second
	}
	go l.syncLoop(every)
	return l, nil
}

// openAppend opens the log for appending, with mode 0600, ending a last
// line cut short. created says whether the file is new.
func openAppend(path string) (*os.File, bool, error) {
	_, statErr := os.Lstat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, &WriteError{Path: path, Op: "open", Err: err}
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, &WriteError{Path: path, Op: "stat", Err: err}
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, false, &WriteError{Path: path, Op: "open", Err: errors.New("not a regular file")}
	}
	if info.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return nil, false, &WriteError{Path: path, Op: "make it private (mode 0600)", Err: err}
		}
	}
	if size := info.Size(); size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil {
			f.Close()
			return nil, false, &WriteError{Path: path, Op: "read", Err: err}
		}
		if last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				f.Close()
				return nil, false, &WriteError{Path: path, Op: "end a line cut short in", Err: err}
			}
		}
	}
	return f, created, nil
}

// Path returns the log's path.
func (l *Log) Path() string { return l.path }

// Lines returns how many lines were appended since Open.
func (l *Log) Lines() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appended
}

// Append appends e as a line, its time set to now when zero. With durable
// it returns once the line is synced to disk; otherwise once it is in
// memory (see Log). Once a write has failed, every Append returns the
// same *WriteError.
func (l *Log) Append(e *Entry, durable bool) error {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	line := getLine()
	*line = e.AppendJSON((*line)[:0])
	l.mu.Lock()
	if err := l.refuse(); err != nil {
		l.mu.Unlock()
		putLine(line)
		return err
	}
	l.buf = append(l.buf, *line...)
	l.appended++
	n := l.appended
	full := len(l.buf) >= flushAt
	l.mu.Unlock()
	putLine(line)
	if durable {
		return l.syncUpTo(n)
	}
	if full {
		return l.write()
	}
	return nil
}

// refuse returns why no line may be appended; l.mu is held.
func (l *Log) refuse() error {
	if l.failed != nil {
		return l.failed
	}
	if l.closed {
		return ErrClosed
	}
	return nil
}

// Flush makes every line appended so far durable.
func (l *Log) Flush() error {
	l.mu.Lock()
	n := l.appended
	l.mu.Unlock()
	return l.syncUpTo(n)
}

// syncUpTo returns once the first n lines are durable. One caller syncs
// at a time; the others wait, and the next of them syncs what gathered
// meanwhile.
func (l *Log) syncUpTo(n int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.synced < n && l.failed == nil {
		if l.syncing {
			l.cond.Wait()
			continue
		}
		l.syncing = true
		l.mu.Unlock()
		upTo, err := l.writeOut()
		if err == nil {
			if serr := l.f.Sync(); serr != nil {
				err = &WriteError{Path: l.path, Op: "sync", Err: serr}
			}
		}
		l.mu.Lock()
		l.syncing = false
		if err != nil {
			l.fail(err)
		} else {
			l.synced = max(l.synced, upTo)
		}
		l.cond.Broadcast()
	}
	return l.failed
}

// write writes the lines held in memory, without a sync.
func (l *Log) write() error {
	_, err := l.writeOut()
	if err != nil {
		l.mu.Lock()
		l.fail(err)
		l.mu.Unlock()
	}
	return err
}

// writeOut writes the lines held in memory to the file and returns how
// many lines the file holds since Open. Writes keep the order of the
// lines: the buffer is taken while wmu is held.
func (l *Log) writeOut() (int64, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	if l.failed != nil {
		err := l.failed
		l.mu.Unlock()
		return 0, err
	}
	data, upTo := l.buf, l.appended
	l.buf, l.spare = l.spare[:0], nil
	l.mu.Unlock()
	var err error
	if len(data) > 0 {
		if _, werr := l.f.Write(data); werr != nil {
			err = &WriteError{Path: l.path, Op: "write", Err: werr}
		}
	}
	l.mu.Lock()
	if err == nil {
		l.written = upTo
	}
	if cap(data) <= 4*flushAt {
		l.spare = data[:0]
	}
	l.mu.Unlock()
	return upTo, err
}

// fail marks the log failed; l.mu is held.
func (l *Log) fail(err error) {
	if l.failed == nil {
		l.failed = err
	}
}

// syncLoop syncs the lines not asked to be durable, every so often.
func (l *Log) syncLoop(every time.Duration) {
	defer close(l.stopped)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			behind := l.synced < l.appended && l.failed == nil
			l.mu.Unlock()
			if behind {
				_ = l.Flush() // a failure is kept in l.failed, for the next Append
			}
		}
	}
}

// Close makes every line durable and closes the log, releasing its lock.
// It returns the first write failure, if any. Appends after Close fail
// with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.stopped
	err := l.Flush()
	l.wmu.Lock()
	if cerr := l.f.Close(); cerr != nil && err == nil {
		err = &WriteError{Path: l.path, Op: "close", Err: cerr}
	}
	l.wmu.Unlock()
	l.lock.Close() // releases the flock
	return err
}

// linePool holds the buffers lines are encoded in.
var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func getLine() *[]byte { return linePool.Get().(*[]byte) }

func putLine(b *[]byte) {
	if cap(*b) <= 64<<10 {
		linePool.Put(b)
	}
}

// syncDir syncs a directory, so that a file created or renamed in it
// survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

var _ io.Closer = (*Log)(nil)
