package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pacing"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/publish"
	"github.com/scorepipe/scorepipe/review"
	"github.com/scorepipe/scorepipe/shards"
	"github.com/scorepipe/scorepipe/sinks"
)

// wrapCallers builds each product's caller:
// store look-up ▸ retry ▸ limiter ▸ store write ▸ budget ▸ audit ▸ metering ▸ client.
func (r *run) wrapCallers() {
	runStart := time.Now()
	notBefore := time.Time{}
	switch {
	case r.env.Refresh:
		notBefore = runStart // only replies paid by this run, for identical applicants
	case r.cfg.Cache.ReuseWithin > 0:
		notBefore = r.env.Now().Add(-r.cfg.Cache.ReuseWithin)
	}
	keys, check := newKeyer(r.env.Secret), r.keyCheck()
	spend := &budget{maxCalls: r.cfg.Limits.MaxCalls, maxCost: r.cfg.Limits.MaxCost}
	throttle := pacing.ThrottleRule{Codes: r.cfg.Vendor.Codes.Throttle}
	r.workers = &workerPool{}
	for _, p := range r.prods {
		p.stats.pace = newPacer(p.code, p.cfg, r.cfg.Retry, defaultPacing, r.log)
		var c tianyuan.Caller = &metered{next: r.env.Caller, stats: p.stats}
		c = &audited{next: c, audit: r.audit.rec}
		c = &budgeted{next: c, budget: spend, price: p.cfg.Price}
		c = &persisted{next: c, store: r.store, keys: keys, keyCheck: check, policy: r.policy}
		c = newLimited(c, p.stats.pace, throttle, p.cfg, r.cfg.Vendor.Timeout)
		c = &retrying{next: c, policy: r.policy, throttle: throttle, maxAttempts: r.cfg.Retry.MaxAttempts,
			base: r.cfg.Retry.BaseDelay, max: r.cfg.Retry.MaxDelay,
			onRetry: func(product string, attempt int, delay time.Duration, err error) {
				p.stats.retries.Add(1)
				r.log.Debug("retrying", "product", product, "attempt", attempt, "delay", delay, "error", err)
			}}
		c = &pooled{next: c, pool: r.workers}
		p.caller = &stored{next: c, store: r.store, keys: keys, keyCheck: check, notBefore: notBefore,
			runStart: runStart, stats: p.stats, audit: r.audit.rec, workers: r.workers}
	}
}

// ownedNames are the entries of an output folder that runs write: a run
// replaces them all, and those its new set does not hold (a format not
// asked for this time) are dropped. review.xlsx, review.json and
// changes.parquet are the portfolio review's, the folders of shards.Dirs
// and the markers _SUCCESS.part-* a sharded run's parts, and metrics.prom
// the run's metrics. Every other entry is the user's, and carried over.
var ownedNames = append([]string{FileParquet, FileXLSX, FileCSV, FileRejects, FileManifest, FileSuccess,
	"review.xlsx", "review.json", "changes.parquet", FileMetrics, shards.MarkerPrefix + "part-*"}, shards.Dirs...)

// keptDirs are the folders of an output folder that a run carries over:
// .scorepipe is where earlier versions kept the reply store and the
// identity secret.
var keptDirs = []string{".scorepipe"}

// publishBeforeStep is the publish.Options.BeforeStep of every run; tests
// set it to inject faults.
var publishBeforeStep func(step string) error

// openFolder locks the output folder, removes what killed runs left and
// makes the staging folder the outputs are written into.
func (r *run) openFolder() error {
	if r.env.Shard.Sharded() {
		return r.openPart()
	}
	names := append(slices.Clone(ownedNames), r.previousOutputs()...)
	owned := slices.Clone(names)
	for _, n := range names {
		// Temporary files of sinks, which earlier versions wrote in the
		// output folder itself.
		owned = append(owned, "."+n+".tmp-*", "."+n+".spill-*")
	}
	folder, err := publish.Open(r.cfg.Output.Dir, publish.Options{Owned: owned, KeepDirs: keptDirs,
		Logger: r.log, BeforeStep: publishBeforeStep})
	var fe *publish.FolderError
	switch {
	case errors.As(err, &fe):
		return &config.ConfigError{Field: "output.dir", Msg: err.Error()}
	case err != nil:
		return &AbortError{Cause: err}
	}
	r.folder = wholeFolder{folder}
	return nil
}

// previousOutputs returns the names of the outputs the folder's manifest
// lists, so that a run drops what an earlier version wrote under names
// this one does not know.
func (r *run) previousOutputs() []string {
	data, err := os.ReadFile(filepath.Join(r.cfg.Output.Dir, FileManifest))
	if err != nil {
		return nil
	}
	var m struct {
		Outputs []manifest.OutputFile `json:"outputs"`
	}
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var names []string
	for _, o := range m.Outputs {
		if o.Name != "" && o.Name == filepath.Base(o.Name) && !strings.HasPrefix(o.Name, ".") {
			names = append(names, o.Name)
		}
	}
	return names
}

// openSinks creates the output files in the staging folder.
func (r *run) openSinks() error {
	csvOpts := sinks.CSVOptions{BOM: r.cfg.Output.CSV.BOM}
	for _, format := range r.cfg.Output.Formats {
		var (
			s    sinks.Sink
			name string
			err  error
		)
		switch format {
		case config.FormatParquet:
			name = FileParquet
			s, err = sinks.NewParquet(r.folder.Path(name), r.schema, sinks.ParquetOptions{RowGroupRows: r.cfg.Output.RowGroupRows, Metadata: r.manifest.FileMetadata()})
		case config.FormatXLSX:
			name = FileXLSX
			s, err = sinks.NewExcel(r.folder.Path(name), r.schema, sinks.ExcelOptions{Dictionary: r.dictionary(), MaxRows: r.cfg.Output.XLSX.MaxRows, About: r.manifest.About()})
		case config.FormatCSV:
			name = FileCSV
			s, err = sinks.NewCSV(r.folder.Path(name), r.schema, csvOpts)
		}
		if err != nil {
			return err
		}
		r.out = append(r.out, namedSink{name: name, sink: s})
	}
	rejects, err := sinks.NewRejects(r.folder.Path(FileRejects), csvOpts)
	if err != nil {
		return err
	}
	r.rejects = rejects
	return nil
}

// publish finishes every file in the staging folder (the data files, the
// rejects, then the manifest) and swaps it with the output folder in one
// step, _SUCCESS included: the folder holds the old set or the new one,
// never a mix. A failure leaves the old set and gives an *AbortError.
func (r *run) publish() (*manifest.Manifest, error) {
	written := int(r.written.Load())
	for _, s := range r.out {
		if err := r.writeStep(s.name, s.sink.Commit); err != nil {
			return nil, r.publishFailed(err)
		}
		rows := written
		if x, ok := s.sink.(*sinks.Excel); ok && x.Truncated() > 0 {
			rows -= x.Truncated()
			r.log.Warn("features.xlsx holds the first rows only (output.xlsx.max_rows); features.parquet has them all",
				"xlsx_rows", rows, "rows", written)
		}
		out, err := r.outputFile(s.name, rows)
		if err != nil {
			return nil, r.publishFailed(err)
		}
		r.manifest.Outputs = append(r.manifest.Outputs, out)
	}
	if err := r.writeStep(FileRejects, r.rejects.Commit); err != nil {
		return nil, r.publishFailed(err)
	}
	out, err := r.outputFile(FileRejects, r.rejects.Count())
	if err != nil {
		return nil, r.publishFailed(err)
	}
	r.manifest.Outputs = append(r.manifest.Outputs, out)
	if r.review != nil {
		if err := r.writeStep(review.FileWorkbook, r.writeReview); err != nil {
			return nil, r.publishFailed(err)
		}
	}
	r.manifest.PeakRSSMB = math.Round(peakResidentMB()*10) / 10
	err = r.writeStep(FileManifest, func() error { return sinks.WriteJSONAtomic(r.folder.Path(FileManifest), r.manifest) })
	if err != nil {
		return nil, r.publishFailed(err)
	}
	if err := r.writeStep(FileMetrics, r.writePublishedMetrics); err != nil {
		return nil, r.publishFailed(err)
	}
	if err := r.folder.Commit(); err != nil {
		return nil, r.publishFailed(err)
	}
	r.published = true
	return r.manifest, exitError(r.manifest.Exit)
}

// outputFile is the manifest's entry of the finished file name: an
// unsharded run records its size and SHA-256, which readers (review, a
// baseline) check before reading it; a shard's part records them in its
// marker.
func (r *run) outputFile(name string, rows int) (manifest.OutputFile, error) {
	out := manifest.OutputFile{Name: r.folder.Name(name), Rows: rows}
	if r.env.Shard.Sharded() {
		return out, nil
	}
	n, sum, err := publish.HashFile(r.folder.Path(name))
	if err != nil {
		return out, fmt.Errorf("hash %s: %w", name, err)
	}
	out.Bytes, out.SHA256 = n, sum
	return out, nil
}

// stepWrite prefixes the steps of publishing that finish a file of the new
// set in the staging folder ("write features.parquet"), as
// publishBeforeStep sees them; the folder's own steps follow.
const stepWrite = "write "

// writeStep finishes the file name of the new set with fn.
func (r *run) writeStep(name string, fn func() error) error {
	if publishBeforeStep != nil {
		if err := publishBeforeStep(stepWrite + name); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return fn()
}

// PublishError is a failure while publishing: writing a file of the new
// set, or swapping it in. The output folder still holds the old set.
type PublishError struct {
	Dir string
	Err error
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("could not publish into %s: %v", e.Dir, e.Err)
}

func (e *PublishError) Unwrap() error { return e.Err }

// publishFailed turns a failure while publishing into the run's
// *AbortError.
func (r *run) publishFailed(err error) error {
	r.abortErr = &PublishError{Dir: r.folder.Dir(), Err: err}
	return r.abortError()
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
		le  *publish.LockedError
		pe  *PublishError
		fix = "fix this and rerun the same command"
	)
	if errors.As(e.Cause, &le) {
		return le.Error() + ": nothing was done; rerun the same command once that run has finished"
	}
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
	case errors.As(e.Cause, &pe):
		fmt.Fprintf(&b, "%v, after %s paid calls; the folder holds what it held before", pe, thousands(e.Billed))
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
	e.Stored = r.store.Count()
	return e
}
