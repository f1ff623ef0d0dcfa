package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/sinks"
)

// openStore opens the reply store and tells it about how many look-ups the
// inputs will make, so that it can read its index into memory at once.
func (r *run) openStore() error {
	store, err := OpenStore(r.cfg.CachePath(), r.env.Secret)
	if err != nil {
		return err
	}
	r.store = store
	rows := 0
	for _, f := range r.files {
		rows += f.rows
	}
	store.Expect(rows * len(r.prods)) // a look-up per product and row
	return nil
}

// wrapCallers builds each product's caller:
// store look-up ▸ retry ▸ limiter ▸ store write ▸ budget ▸ metering ▸ client.
func (r *run) wrapCallers() {
	runStart := time.Now()
	notBefore := time.Time{}
	switch {
	case r.env.Refresh:
		notBefore = runStart // only replies paid by this run, for identical applicants
	case r.cfg.Cache.ReuseWithin > 0:
		notBefore = r.env.Now().Add(-r.cfg.Cache.ReuseWithin)
	}
	spend := &budget{maxCalls: r.cfg.Limits.MaxCalls, maxCost: r.cfg.Limits.MaxCost}
	throttle := throttleRule{codes: r.cfg.Vendor.Codes.Throttle}
	for _, p := range r.prods {
		p.stats.pace = newPacer(p.code, p.cfg, r.cfg.Retry, defaultPacing, r.log)
		var c tianyuan.Caller = &metered{next: r.env.Caller, stats: p.stats}
		c = &budgeted{next: c, budget: spend, price: p.cfg.Price}
		c = &persisted{next: c, store: r.store, policy: r.policy}
		c = newLimited(c, p.stats.pace, throttle, p.cfg, r.cfg.Vendor.Timeout)
		c = &retrying{next: c, policy: r.policy, throttle: throttle, maxAttempts: r.cfg.Retry.MaxAttempts,
			base: r.cfg.Retry.BaseDelay, max: r.cfg.Retry.MaxDelay,
			onRetry: func(product string, attempt int, delay time.Duration, err error) {
				p.stats.retries.Add(1)
				r.log.Debug("retrying", "product", product, "attempt", attempt, "delay", delay, "error", err)
			}}
		p.caller = &stored{next: c, store: r.store, notBefore: notBefore,
			runStart: runStart, stats: p.stats}
	}
}

// openSinks creates the temporary output files.
func (r *run) openSinks() error {
	dir := r.cfg.Output.Dir
	for _, format := range r.cfg.Output.Formats {
		var (
			s    sinks.Sink
			name string
			err  error
		)
		switch format {
		case FormatParquet:
			name = FileParquet
			s, err = sinks.NewParquet(filepath.Join(dir, name), r.schema, sinks.ParquetOptions{RowGroupRows: r.cfg.Output.RowGroupRows})
		case FormatXLSX:
			name = FileXLSX
			s, err = sinks.NewExcel(filepath.Join(dir, name), r.schema, sinks.ExcelOptions{Dictionary: r.dictionary(), MaxRows: r.cfg.Output.XLSX.MaxRows})
		case FormatCSV:
			name = FileCSV
			s, err = sinks.NewCSV(filepath.Join(dir, name), r.schema)
		}
		if err != nil {
			return err
		}
		r.out = append(r.out, namedSink{name: name, sink: s})
	}
	rejects, err := sinks.NewRejects(filepath.Join(dir, FileRejects))
	if err != nil {
		return err
	}
	r.rejects = rejects
	return nil
}

// publish commits every file: the old _SUCCESS goes first, the data files
// next, then the rejects, the manifest and a new _SUCCESS.
func (r *run) publish() (*Manifest, error) {
	dir := r.cfg.Output.Dir
	if err := os.Remove(filepath.Join(dir, FileSuccess)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove old %s: %w", FileSuccess, err)
	}
	written := int(r.written.Load())
	for _, s := range r.out {
		if err := s.sink.Commit(); err != nil {
			return nil, err
		}
		rows := written
		if x, ok := s.sink.(*sinks.Excel); ok && x.Truncated() > 0 {
			rows -= x.Truncated()
			r.log.Warn("features.xlsx holds the first rows only (output.xlsx.max_rows); features.parquet has them all",
				"xlsx_rows", rows, "rows", written)
		}
		r.manifest.Outputs = append(r.manifest.Outputs, OutputFile{Name: s.name, Rows: rows})
	}
	if err := r.rejects.Commit(); err != nil {
		return nil, err
	}
	r.manifest.Outputs = append(r.manifest.Outputs, OutputFile{Name: FileRejects, Rows: r.rejects.Count()})
	r.manifest.PeakRSSMB = math.Round(peakResidentMB()*10) / 10
	if err := sinks.WriteJSONAtomic(filepath.Join(dir, FileManifest), r.manifest); err != nil {
		return nil, err
	}
	if err := sinks.WriteFileAtomic(filepath.Join(dir, FileSuccess), nil); err != nil {
		return nil, err
	}
	for _, p := range r.prods {
		if p.counts.Failed > 0 {
			return r.manifest, ErrRowsFailed
		}
	}
	return r.manifest, nil
}

// AbortError says why a run stopped early and what it kept: every reply
// received is in the reply store, and a rerun of the same command does not
// pay for them again. Nothing was published.
type AbortError struct {
	Cause       error
	Interrupted bool
	Billed      int64 // code-0 replies received by this run, all stored
	Stored      int   // replies in the store now
}

func (e *AbortError) Error() string {
	var b strings.Builder
	var (
		ce  *tianyuan.CodeError
		he  *tianyuan.HTTPError
		be  *BudgetError
		fix = "fix this and rerun the same command"
	)
	switch {
	case e.Interrupted:
		fmt.Fprintf(&b, "interrupted after %s paid calls", thousands(e.Billed))
		fix = "rerun the same command"
	case errors.As(e.Cause, &be):
		fmt.Fprintf(&b, "stopped at the budget: %s", be)
		fix = "raise the limit (e.g. --set " + be.Limit + "=…) and rerun the same command"
	case errors.As(e.Cause, &ce):
		fmt.Fprintf(&b, "the vendor says %s (%d) for %s after %s paid calls", tianyuan.CodeText(ce.Code), ce.Code, ce.Product, thousands(e.Billed))
		if ce.Code == tianyuan.CodeBalance {
			fix = "top up and rerun the same command"
		}
	case errors.As(e.Cause, &he):
		fmt.Fprintf(&b, "the vendor endpoint answered HTTP %d after %s paid calls: check SCOREPIPE_ENDPOINT / vendor.base_url and the credentials", he.StatusCode, thousands(e.Billed))
	default:
		fmt.Fprintf(&b, "stopped: %v, after %s paid calls", e.Cause, thousands(e.Billed))
	}
	fmt.Fprintf(&b, "; nothing was published; %s: %s replies are stored and will not be paid again", fix, thousands(int64(e.Stored)))
	return b.String()
}

func (e *AbortError) Unwrap() error { return e.Cause }

func (r *run) abortError() error {
	e := &AbortError{Cause: r.abortErr}
	var in *interrupted
	e.Interrupted = errors.As(r.abortErr, &in)
	for _, p := range r.prods {
		e.Billed += p.stats.billed.Load()
	}
	if n, err := r.store.Count(); err == nil {
		e.Stored = n
	}
	return e
}

// LoadSecret reads the identity secret from path, creating it with 32
// random bytes (hex, mode 0600) when it does not exist. Keys derived from
// it stay stable as long as the file is kept.
func LoadSecret(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(data))
		if len(s) < 16 {
			return nil, fmt.Errorf("identity secret %s: too short (at least 16 characters)", path)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("identity secret: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(buf)
	if err := mkdirPrivate(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("identity secret: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // created by a concurrent run
			return LoadSecret(path)
		}
		return nil, fmt.Errorf("identity secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("identity secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("identity secret: %w", err)
	}
	return []byte(s), nil
}

// mkdirPrivate creates dir with mode 0700, its missing parents with 0755.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}
