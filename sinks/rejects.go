package sinks

import (
	"fmt"
	"strconv"
	"sync"
)

// Reject is one input row that was not scored, and why. The identity fields
// arrive masked.
type Reject struct {
	File   string // input file
	Row    int    // row number in File, as a reader counts it; 0 if unknown
	Column string // the offending column, if one is to blame
	Reason string
	Name   string
	IDCard string
	Mobile string
}

// rejectsHeader is the header row of the rejects file.
var rejectsHeader = []string{"source_file", "source_row", "column", "reason", "name", "id_card", "mobile_no"}

// Rejects writes the rejected input rows to a CSV file (rejects.csv), which
// Commit publishes even when it holds only the header. Every cell is text,
// neutralised as CSV's text cells are (an input file named -x.csv, a
// masked name such as =****). It is safe for concurrent use: every stage
// may report rejects.
type Rejects struct {
	mu   sync.Mutex
	file *AtomicFile
	w    *csvWriter
	rec  []string
	n    int
	done bool
}

// NewRejects creates the temporary file for a rejects file published at
// path by Commit, and writes the header. The directory must exist. At most
// one CSVOptions may be given.
func NewRejects(path string, opts ...CSVOptions) (*Rejects, error) {
	o, err := csvOptions(path, opts)
	if err != nil {
		return nil, err
	}
	file, w, err := createCSV(path, rejectsHeader, o)
	if err != nil {
		return nil, err
	}
	return &Rejects{file: file, w: w, rec: make([]string, len(rejectsHeader))}, nil
}

// Add appends one reject.
func (r *Rejects) Add(x Reject) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return fmt.Errorf("rejects %s: %w", r.file.Final(), ErrClosed)
	}
	row := ""
	if x.Row > 0 {
		row = strconv.Itoa(x.Row)
	}
	r.rec[0], r.rec[1], r.rec[2], r.rec[3] = x.File, row, x.Column, x.Reason
	r.rec[4], r.rec[5], r.rec[6] = x.Name, x.IDCard, x.Mobile
	if err := r.w.write(r.rec, nil); err != nil {
		return fmt.Errorf("write %s: %w", r.file.Final(), err)
	}
	r.n++
	return nil
}

// Count returns the number of rejects added.
func (r *Rejects) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Commit flushes the rejects and publishes the file. On failure the
// temporary file is removed.
func (r *Rejects) Commit() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return fmt.Errorf("rejects %s: %w", r.file.Final(), ErrClosed)
	}
	r.done = true
	return commitCSV(r.w, r.file)
}

// Abort removes the temporary file. It is safe to call after Commit or
// twice.
func (r *Rejects) Abort() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil
	}
	r.done = true
	return r.file.Abort()
}
