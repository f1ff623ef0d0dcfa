// Package pipeline runs a scoring job: it reads and validates applicants,
// calls the vendor for each under per-product rate limits with retries and a
// reply store, turns the replies into feature rows and writes them, in input
// order, to the configured sinks.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/inputs"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/pacing"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/publish"
	"github.com/scorepipe/scorepipe/rundir"
	"github.com/scorepipe/scorepipe/shards"
	"github.com/scorepipe/scorepipe/sinks"
	"github.com/scorepipe/scorepipe/sources"
	"github.com/scorepipe/scorepipe/store"
	"github.com/scorepipe/scorepipe/transform"
)

// Env is what a run takes from its surroundings.
type Env struct {
	Caller   tianyuan.Caller  // the vendor client; Run wraps it in limiter, retry and store
	Cipher   *tianyuan.Cipher // decrypts reply payloads
	Secret   []byte           // identity secret (see config.LoadSecret)
	Logger   *slog.Logger
	Progress io.Writer // where progress goes; nil for none
	Terminal bool      // Progress is a terminal: draw a bar rather than log lines
	Now      func() time.Time
	Version  string
	Refresh  bool // call again: replies stored by earlier runs are not reused

	Vendor  manifest.VendorInfo // the vendor Caller reaches, for Run (Job.Run takes it with the caller)
	Build   manifest.Build      // the build that runs, for the manifest
	Command []string            // the command line, secrets redacted, for the manifest
	RunID   string              // "" makes a new one

	// Shard, when set, makes the run one shard of a sharded run: it takes
	// the rows of its shard, a share of each rate and limit, and publishes
	// its files as a part of the dataset in the output folder.
	Shard shards.Shard
}

// ErrRowsFailed is returned, with the manifest, when the run completed but
// is not complete: see Incomplete.
var ErrRowsFailed = manifest.ErrRowsFailed

// Incomplete is returned, with the manifest, when the run finished and
// published but is not complete (see manifest.Incomplete).
type Incomplete = manifest.Incomplete

// Output file names.
const (
	FileParquet  = rundir.FileFeatures
	FileXLSX     = rundir.FileXLSX
	FileCSV      = rundir.FileCSV
	FileRejects  = rundir.FileRejects
	FileManifest = manifest.FileName
	FileMetrics  = rundir.FileMetrics
	FileSuccess  = publish.Marker
)

// Run executes a job: it reads every input file, validates each row, calls
// the configured products for the valid ones and writes the feature files,
// the rejects file and the manifest into the output directory, all or
// nothing. It returns the manifest; with an *Incomplete (ErrRowsFailed)
// when the run is not complete; with an *OverBudget when the plan already
// exceeds limits (no call made); with an *AbortError when it stopped early
// (a fatal vendor error, a store or disk failure, or ctx cancelled), in
// which case nothing is published. It is Prepare, then Job.Run.
func Run(ctx context.Context, cfg *config.Config, env Env) (*manifest.Manifest, error) {
	j, err := Prepare(cfg, env)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	return j.Run(ctx, Vendor{Caller: env.Caller, Cipher: env.Cipher, VendorInfo: env.Vendor})
}

// Job is a run whose configuration, mappings, input files and headers are
// checked, ready to start. Preparing one writes nothing and needs no
// vendor, so that a mistake in them is told before anything starts.
type Job struct {
	r       *run
	checked bool // CheckBudget was called
}

// Vendor is what a job calls, and what the run writes about it.
type Vendor struct {
	Caller tianyuan.Caller  // the vendor client; Run wraps it in limiter, retry and store
	Cipher *tianyuan.Cipher // decrypts reply payloads
	manifest.VendorInfo
}

// Prepare loads the mappings, opens every input file and reads its
// header, and checks the columns, without writing anything; it refuses an
// output folder that is, is inside or holds a folder of the run's state
// (config.CheckOutputFolder). env.Caller and env.Cipher are not used.
func Prepare(cfg *config.Config, env Env) (*Job, error) {
	if err := config.CheckOutputFolder("output.dir", cfg.Output.Dir, cfg.StateFolders()); err != nil {
		return nil, err
	}
	r, err := newRun(cfg, env)
	if err != nil {
		return nil, err
	}
	return &Job{r: r}, nil
}

// EstimatedRows is about how many data rows the input files hold, or 0
// when it cannot be told cheaply.
func (j *Job) EstimatedRows() int {
	n := 0
	for _, f := range j.r.files {
		n += f.Rows
	}
	return n
}

// SetSecret sets the identity secret (see config.LoadSecret), for a job prepared
// without one: applicant keys and store keys are made with it.
func (j *Job) SetSecret(secret []byte) { j.r.env.Secret = secret }

// RunID is the run's id, as the manifest and the files' metadata give it.
func (j *Job) RunID() string { return j.r.manifest.RunID }

// Inputs returns the paths of the input files, globs expanded.
func (j *Job) Inputs() []string { return j.r.Inputs() }

// Inputs returns the paths of the input files, globs expanded.
func (r *run) Inputs() []string {
	paths := make([]string, len(r.files))
	for i, f := range r.files {
		paths[i] = f.Path
	}
	return paths
}

// Lock locks the output folder, so that a second run into it fails at
// once, removes what killed runs left beside it and makes the staging
// folder. CheckBudget and Run lock it first when it is not yet.
func (j *Job) Lock() error {
	if j.r.folder != nil {
		return nil
	}
	return j.r.openFolder()
}

// CheckBudget works out what the run would pay, as Plan does (billable
// calls after duplicates in the input and replies in the store, with
// --refresh counting no stored reply), and returns an *OverBudget when
// that already exceeds limits.max_calls or limits.max_cost. With no limit
// set it reads nothing and returns a nil report. It calls nothing. It
// locks the output folder first (see Lock).
func (j *Job) CheckBudget(ctx context.Context) (*Report, error) {
	if err := j.Lock(); err != nil {
		return nil, err
	}
	j.checked = true
	r := j.r
	l := r.cfg.Limits
	if l.MaxCalls == 0 && l.MaxCost == 0 {
		return nil, nil
	}
	rep, err := r.plan(ctx, !r.env.Refresh)
	r.resetCounts()
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, &AbortError{Cause: &interrupted{}, Interrupted: true}
	}
	over := &OverBudget{Products: rep.Products}
	for _, p := range rep.Products {
		over.Calls += int64(p.Billable)
		over.Cost += p.Cost
	}
	switch {
	case l.MaxCalls > 0 && over.Calls > l.MaxCalls:
		over.Limit, over.Value = "limits.max_calls", thousands(l.MaxCalls)
	case l.MaxCost > 0 && over.Cost > l.MaxCost+1e-9:
		over.Limit, over.Value = "limits.max_cost", fmt.Sprintf("%.2f", l.MaxCost)
	default:
		return rep, nil
	}
	return rep, over
}

// Run starts the job against v: the budget check first (when CheckBudget
// was not called), then the run. See the package function Run.
func (j *Job) Run(ctx context.Context, v Vendor) (*manifest.Manifest, error) {
	if !j.checked {
		if _, err := j.CheckBudget(ctx); err != nil {
			return nil, err
		}
	}
	r := j.r
	r.env.Caller, r.env.Cipher, r.env.Vendor = v.Caller, v.Cipher, v.VendorInfo
	r.manifest.Vendor = v.VendorInfo
	return r.execute(ctx)
}

// Close releases what the job holds. A job runs once.
func (j *Job) Close() { j.r.close() }

// OverBudget says the plan of a run already exceeds a limit: the run
// stopped before any vendor call.
type OverBudget struct {
	Limit    string // limits.max_calls or limits.max_cost
	Value    string // the limit
	Calls    int64  // billable calls of the plan, all products
	Cost     float64
	Products map[string]*ProductPlan
}

func (e *OverBudget) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the plan already exceeds %s = %s: %s billable calls costing %.2f (", e.Limit, e.Value, thousands(e.Calls), e.Cost)
	codes := make([]string, 0, len(e.Products))
	for code := range e.Products {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for i, code := range codes {
		p := e.Products[code]
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s rows, %s duplicates, %s stored, %s billable, %.2f",
			code, thousands(int64(p.Rows)), thousands(int64(p.Duplicates)), thousands(int64(p.Stored)), thousands(int64(p.Billable)), p.Cost)
	}
	fmt.Fprintf(&b, "); no call was made and nothing was published; raise the limit (--set %s=…) or score fewer rows", e.Limit)
	return b.String()
}

type run struct {
	cfg     *config.Config
	policy  tianyuan.CodePolicy // cfg's vendor codes
	env     Env
	log     *slog.Logger
	today   time.Time
	set     *mappings.Set
	prods   []*productRun
	files   []inputs.File
	schema  sinks.Schema
	store   *store.Store
	folder  outputFolder // the output folder (or the shard's part of it), locked
	review  *reviewPlan  // nil without review.baseline
	out     []namedSink
	rejects *sinks.Rejects

	planOnly bool // the run only plans (Plan) and leaves the store as it is (see run.plan)

	manifest *manifest.Manifest
	unknowns transform.Unknowns
	read     atomic.Int64
	rejected atomic.Int64
	written  atomic.Int64

	otherShards int  // rows of the inputs left to other shards (scan's goroutine only)
	closed      bool // close was called
	published   bool // the outputs were published

	abortOnce sync.Once
	abortErr  error       // read only after the workers are done
	aborting  atomic.Bool // abort was called
	mu        sync.Mutex  // guards unknowns while workers merge theirs
	rows      sync.Pool   // of sinks.Row, reused once written
	plains    sync.Pool   // of *[]byte: memory to decrypt replies in, reused once the row is built
	items     sync.Pool   // of *item, reused once their row is written
	stop      context.CancelCauseFunc
	audit     *auditTrail // the consent audit trail (see audit.go)
	workers   *workerPool // starts the workers (see workers.go)
}

type productRun struct {
	code    string
	cfg     config.ProductConfig
	catalog *mappings.Catalog
	fill    *transform.Product
	caller  *stored
	stats   *productStats
	counts  *manifest.ProductCounts
	base    int // first column of the product in the schema

	skipReasons map[string]int // why the product was skipped, over the written rows
}

type namedSink struct {
	name string
	sink sinks.Sink
}

func newRun(cfg *config.Config, env Env) (*run, error) {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	if env.RunID == "" {
		env.RunID = manifest.NewRunID(env.Now())
	}
	if env.Version == "" {
		env.Version = env.Build.Version
	}
	r := &run{cfg: cfg, policy: cfg.CodePolicy(), env: env, log: env.Logger, today: env.Now()}
	r.manifest = &manifest.Manifest{Tool: "scorepipe", Version: env.Version, RunID: env.RunID, Build: env.Build,
		Command: env.Command, StartedAt: env.Now().UTC(), Exit: manifest.Exit{Reasons: []string{}}, Vendor: env.Vendor,
		Config: cfg.Effective(), ConfigSHA256: cfg.Hash(), Products: map[string]*manifest.ProductCounts{}, Rejects: map[string]int{}}
	if env.Shard.Sharded() {
		var err error
		if cfg, err = r.startShard(); err != nil {
			return nil, err
		}
	}
	set, err := mappings.Load(cfg.Mappings.Dir)
	if err != nil {
		return nil, err
	}
	r.set = set
	r.manifest.Mappings = set.Files
	if r.files, err = inputs.Open(cfg.Input); err != nil {
		return nil, err
	}
	for _, f := range r.files {
		r.manifest.Inputs = append(r.manifest.Inputs, *f.Counts)
	}
	if r.schema, err = inputs.Schema(r.files, cfg.Output.PII != "keep", cfg.Input.Passthrough); err != nil {
		return nil, err
	}
	for _, code := range cfg.ProductCodes() {
		catalog, err := set.Catalog(code)
		if err != nil {
			return nil, &config.ConfigError{Field: "products." + code, Msg: err.Error()}
		}
		p := &productRun{code: code, cfg: cfg.Products[code], catalog: catalog, fill: transform.NewProduct(catalog),
			stats: &productStats{}, counts: &manifest.ProductCounts{Price: cfg.Products[code].Price}, base: len(r.schema)}
		if len(catalog.Subs) > 0 {
			p.counts.SubProducts = map[string]*manifest.StatusCounts{}
			for _, s := range catalog.Subs {
				p.counts.SubProducts[s.Code] = &manifest.StatusCounts{}
			}
		}
		for _, c := range p.fill.Columns() {
			r.schema = append(r.schema, sinks.Column{Name: c.Name, Type: sinkType(c.Kind), Description: c.DescriptionZH, Distinct: c.Distinct})
		}
		r.prods = append(r.prods, p)
		r.manifest.Products[code] = p.counts
	}
	if err := r.checkRequired(); err != nil {
		return nil, err
	}
	base := len(r.schema)
	if len(r.prods) > 0 {
		base = r.prods[0].base
	}
	if err := inputs.CheckColumns(r.files, r.schema, base); err != nil {
		return nil, err
	}
	if err := r.checkPlaceholders(); err != nil {
		return nil, err
	}
	if err := r.prepareReview(); err != nil {
		return nil, err
	}
	return r, nil
}

func sinkType(k mappings.ColumnKind) sinks.Type {
	switch k {
	case mappings.KindInt:
		return sinks.Int64
	case mappings.KindFloat:
		return sinks.Float64
	case mappings.KindTime:
		return sinks.Timestamp
	}
	return sinks.String
}

func (r *run) close() {
	if r.closed {
		return
	}
	r.closed = true
	for _, s := range r.out {
		_ = s.sink.Abort()
	}
	if r.rejects != nil {
		_ = r.rejects.Abort()
	}
	if r.store != nil {
		_ = r.store.Close()
	}
	r.closeAudit()
	if r.folder != nil {
		_ = r.folder.Close() // removes the staging folder unless published, and unlocks
	}
}

// item is one valid row on its way through the run.
type item struct {
	seq      int
	file     int
	row      int // the row's number in its file
	app      transform.Applicant
	key      string
	pass     []inputs.Value    // passed-through input values
	replies  []transform.Reply // per product, in r.prods order
	plains   []*[]byte         // from run.plains: the memory the payloads of replies live in
	aborted  bool
	out      sinks.Row          // the output row, once built
	statuses []transform.Status // per product, once built
	subs     [][]transform.Status

	// Room for the per-product slices of the usual run, of one or two
	// products, inside the item: one allocation per row instead of three.
	replyRoom  [2]transform.Reply
	statusRoom [2]transform.Status
}

// newItem returns an item for a row of file fi sent to n products, one
// that a row written earlier has given back when there is one.
func (r *run) newItem(fi, row int, n int) *item {
	it, _ := r.items.Get().(*item)
	if it == nil {
		it = &item{}
	}
	it.file, it.row = fi, row
	if n <= len(it.replyRoom) {
		it.replies, it.statuses = it.replyRoom[:n], it.statusRoom[:n]
	} else {
		it.replies, it.statuses = make([]transform.Reply, n), make([]transform.Status, n)
	}
	return it
}

// freeItem gives back an item that nothing uses any more: its row is
// written or dropped. The memory of its passed-through values is kept.
func (r *run) freeItem(it *item) {
	clear(it.pass)
	pass := it.pass[:0]
	*it = item{pass: pass}
	r.items.Put(it)
}

func (r *run) execute(ctx context.Context) (*manifest.Manifest, error) {
	if err := r.checkBaselineKeys(); err != nil {
		return nil, err
	}
	if r.folder == nil {
		if err := r.openFolder(); err != nil {
			return nil, err
		}
	}
	if err := r.openStore(); err != nil {
		return nil, err
	}
	if err := r.openAudit(); err != nil {
		return nil, err
	}
	if err := r.openSinks(); err != nil {
		return nil, err
	}
	r.wrapCallers()

	dctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	r.stop = stop
	hashed := r.hashInputs(dctx)
	progress := r.startProgress()

	// The reader takes a window slot for each valid row and the writer
	// gives it back once the row is written: at most window rows are
	// between the two, whatever the input size. Workers call the vendor
	// (or the store) and build each row's features, in any order; the
	// writer puts the rows back in input order.
	const window = 1024
	working := 2*runtime.GOMAXPROCS(0) + 8
	workers := working // at most: one for every call the vendor may have in flight, and then some
	for _, p := range r.prods {
		workers += 2 * p.cfg.Concurrency
	}
	slots := make(chan struct{}, window)
	work := make(chan *item, workers)
	done := make(chan *item, window)
	var readErr error
	go func() {
		defer close(work)
		readErr = r.readAll(dctx, work, slots)
	}()
	var wg sync.WaitGroup
	worker := func() {
		defer wg.Done()
		var unknowns transform.Unknowns
		params := make([]tianyuan.Params, len(r.prods))
		for it := range work {
			r.enrich(dctx, it, params)
			if !it.aborted {
				r.fillRow(it, &unknowns)
			}
			done <- it
		}
		r.mu.Lock()
		r.unknowns.Merge(&unknowns)
		r.mu.Unlock()
	}
	// A worker is started by the pool, at first or by a worker about to
	// wait: the count is never zero before they all are done.
	r.workers.begin(working, workers, func() { wg.Add(1); go worker() })
	go func() {
		wg.Wait()
		close(done)
	}()

	writeErr := r.writeInOrder(done, slots, window)
	progress()
	if readErr != nil {
		r.abort(readErr)
	}
	if writeErr != nil {
		r.abort(writeErr)
	}
	if ctx.Err() != nil {
		r.abort(&interrupted{})
	}
	r.finishCounts()
	if r.abortErr != nil {
		return nil, r.abortError()
	}
	if err := hashed(); err != nil {
		return nil, err
	}
	r.manifest.Exit = r.verdict()
	if err := r.flushAudit(); err != nil {
		r.abortErr = err
		return nil, r.abortError()
	}
	return r.publish()
}

// abort stops dispatching new calls; the first reason wins.
func (r *run) abort(err error) {
	r.abortOnce.Do(func() {
		r.aborting.Store(true)
		r.abortErr = err
		if r.stop != nil {
			r.stop(err)
		}
	})
}

type interrupted struct{}

func (*interrupted) Error() string { return "interrupted" }

// readAll reads every input file, writes the rejected rows to the rejects
// file and sends the valid rows, numbered in input order, each once it has
// a window slot.
func (r *run) readAll(ctx context.Context, items chan<- *item, slots chan<- struct{}) error {
	reject := func(f *inputs.File, rec sources.Record, app *transform.Applicant, problems []transform.Problem) error {
		return r.rejects.Add(r.rejectRecord(f, rec, app, problems))
	}
	return r.scan(ctx, reject, func(it *item) error {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		items <- it // never blocks for long: workers drain it until it is closed
		return nil
	})
}

// scan reads every input file, validates each row and hands it, in input
// order, to reject or to valid (numbered). It stops early, without error,
// when ctx is cancelled.
func (r *run) scan(ctx context.Context,
	reject func(*inputs.File, sources.Record, *transform.Applicant, []transform.Problem) error,
	valid func(*item) error) error {
	seq := 0
	keyer, err := transform.NewKeyer(r.env.Secret)
	if err != nil {
		return err
	}
	for fi := range r.files {
		f := &r.files[fi]
		rd, err := sources.Open(f.Path, inputs.ReaderOptions(r.cfg.Input))
		if err != nil {
			return err
		}
		err = func() error {
			defer rd.Close()
			for ctx.Err() == nil {
				rec, err := rd.Read()
				if errors.Is(err, io.EOF) {
					if r.env.Shard.Index == 0 { // blank lines are counted by one shard
						f.Counts.Blank = rd.Blank()
					}
					return nil
				}
				var rowErr *sources.RowError
				if err != nil && !errors.As(err, &rowErr) {
					return err
				}
				var problems []transform.Problem
				var it *item
				if rowErr != nil {
					problems = []transform.Problem{{Column: rowErr.Column, Reason: rowErr.Reason}}
				} else {
					it, problems = r.validate(keyer, fi, rec)
				}
				if !r.holds(fi, rec, rowErr, it, problems) {
					r.otherShards++ // another shard's row: neither read nor rejected here
					if it != nil {
						r.freeItem(it)
					}
					continue
				}
				f.Counts.Read++
				r.read.Add(1)
				if problems != nil {
					f.Counts.Rejected++
					r.rejected.Add(1)
					for _, p := range problems {
						r.manifest.Rejects[p.Reason]++
					}
					var app *transform.Applicant
					if it != nil {
						app = &it.app
					}
					if err := reject(f, rec, app, problems); err != nil {
						return err
					}
					continue
				}
				f.Counts.Valid++
				it.seq = seq
				seq++
				if err := valid(it); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
			}
			return nil
		}()
		if err != nil || ctx.Err() != nil {
			return err
		}
	}
	return nil
}

// validate normalises a row's applicant and decides which products it may
// be sent to; a row no product may be called for is rejected.
func (r *run) validate(keyer *transform.Keyer, fi int, rec sources.Record) (*item, []transform.Problem) {
	f := &r.files[fi]
	field := func(name string) string {
		if i, ok := f.Identity[name]; ok {
			return rec.Fields[i]
		}
		return ""
	}
	raw := transform.Applicant{Name: field(transform.ParamName), IDCard: field(transform.ParamIDCard),
		Mobile: field(transform.ParamMobile), AuthCode: field(transform.ParamAuthCode),
		AuthURL: field(transform.ParamAuthURL), AuthDate: field(transform.ParamAuthDate)}
	app, problems := transform.Normalize(raw, r.today)
	if i, ok := f.Identity[transform.ParamIDCard]; ok && rec.IsNumeric(i) {
		problems = slices.DeleteFunc(problems, func(p transform.Problem) bool { return p.Column == transform.ParamIDCard })
		problems = append(problems, transform.Problem{Column: transform.ParamIDCard, Reason: transform.ErrIDAsNumber.Error()})
	}
	it := r.newItem(fi, rec.Row, len(r.prods))
	it.app = app
	var passProblems []transform.Problem
	it.pass, passProblems = f.Values(rec, r.schema, it.pass)
	problems = append(problems, passProblems...)
	if problems != nil {
		return it, problems
	}
	callable := 0
	var skipped []string
	for i, p := range r.prods {
		if reason := transform.Authorization(&app, p.catalog.Params, r.today); reason != "" {
			it.replies[i] = transform.Reply{Status: transform.StatusSkipped, Message: reason}
			skipped = append(skipped, p.code+": "+reason)
			continue
		}
		callable++
	}
	if callable == 0 {
		return it, []transform.Problem{{Column: "authorization", Reason: "no product may be called: " + strings.Join(skipped, "; ")}}
	}
	it.key = keyer.Key(&app)
	return it, nil
}

// rejectRecord describes a rejected row for the rejects file, identity masked.
func (r *run) rejectRecord(f *inputs.File, rec sources.Record, app *transform.Applicant, problems []transform.Problem) sinks.Reject {
	columns, reasons := transform.Problems(problems)
	rj := sinks.Reject{File: f.Path, Row: rec.Row, Column: columns, Reason: reasons}
	if app == nil {
		app = &transform.Applicant{}
		field := func(name string) string {
			if i, ok := f.Identity[name]; ok && i < len(rec.Fields) {
				return strings.TrimSpace(rec.Fields[i])
			}
			return ""
		}
		app.Name, app.IDCard, app.Mobile = field(transform.ParamName), field(transform.ParamIDCard), field(transform.ParamMobile)
	}
	rj.Name, rj.IDCard, rj.Mobile = transform.MaskIdentity(app.Name, app.IDCard, app.Mobile)
	return rj
}

// enrich calls every product the row may be sent to. params holds a map
// per product that enrich fills anew for each call: the callers do not
// keep it once they have returned.
func (r *run) enrich(ctx context.Context, it *item, params []tianyuan.Params) {
	for i, p := range r.prods {
		if it.replies[i].Status == transform.StatusSkipped {
			continue
		}
		if ctx.Err() != nil {
			it.aborted = true
			return
		}
		if params[i] == nil {
			params[i] = make(tianyuan.Params, len(p.catalog.Params))
		}
		it.app.FillParams(params[i], p.catalog.Params)
		var err error
		it.replies[i], err = r.answer(ctx, it, p, params[i])
		if err != nil && r.isFatal(err) {
			if ctx.Err() == nil {
				r.abort(err)
			}
			it.aborted = true
			return
		}
	}
}

func (r *run) isFatal(err error) bool {
	var (
		se *StoreError
		be *BudgetError
		ae *AuditError
		te *pacing.ThrottleBudgetError
	)
	return errors.As(err, &se) || errors.As(err, &be) || errors.As(err, &ae) || errors.As(err, &te) || r.policy.Classify(err) == tianyuan.Fatal
}

// plainSize is the size of the buffers replies are decrypted in; a larger
// reply is decrypted in memory of its own.
const plainSize = 16 << 10

// reply turns what a call returned into what the features need. The
// payload is decrypted in a buffer of r.plains, held by it until its row
// is built.
func (r *run) reply(it *item, reply *tianyuan.Reply, err error) transform.Reply {
	var out transform.Reply
	if reply != nil {
		out = transform.Reply{Code: reply.Code, HasCode: true, TransactionID: reply.TransactionID, QueriedAt: reply.ReceivedAt}
	}
	if err == nil {
		buf, _ := r.plains.Get().(*[]byte)
		if buf == nil {
			b := make([]byte, plainSize)
			buf = &b
		}
		it.plains = append(it.plains, buf)
		payload, perr := r.env.Cipher.ObjectInto(*buf, reply) // the features parse it whole
		if perr != nil {
			out.Status, out.Message = transform.StatusFailed, "cannot read the reply: "+perr.Error()
			return out
		}
		out.Status, out.Payload = transform.StatusOK, payload
		return out
	}
	if r.policy.Classify(err) == tianyuan.NoRecord {
		out.Status = transform.StatusNoRecord
		return out
	}
	out.Status, out.Message = transform.StatusFailed, err.Error()
	return out
}

// writeInOrder receives built rows in any order and writes them in input
// order, freeing a window slot for each row written.
func (r *run) writeInOrder(done <-chan *item, slots <-chan struct{}, window int) error {
	const batchSize = 1024
	batch := make([]sinks.Row, 0, batchSize)
	var writeErr error
	flush := func() {
		if len(batch) > 0 && writeErr == nil {
			for _, s := range r.out {
				if err := s.sink.Write(batch); err != nil {
					writeErr = fmt.Errorf("write %s: %w", s.name, err)
					r.abort(writeErr)
					break
				}
			}
		}
		for _, row := range batch {
			r.rows.Put(row)
		}
		batch = batch[:0]
	}
	ring := make([]*item, window) // item seq s waits at s % window
	next := 0
	for it := range done {
		ring[it.seq%window] = it
		for {
			it := ring[next%window]
			if it == nil || it.seq != next {
				break
			}
			ring[next%window] = nil
			next++
			<-slots
			if it.aborted || r.aborting.Load() {
				if it.out != nil {
					r.rows.Put(it.out)
				}
				r.freeItem(it)
				continue
			}
			r.count(it)
			batch = append(batch, it.out)
			r.freeItem(it)
			r.written.Add(1)
			if len(batch) == batchSize {
				flush()
			}
		}
	}
	flush()
	return writeErr
}

// fillRow builds the output row of an enriched item.
func (r *run) fillRow(it *item, u *transform.Unknowns) {
	row, _ := r.rows.Get().(sinks.Row)
	if row == nil {
		row = sinks.NewRow(len(r.schema))
	}
	row.Reset()
	it.out = row
	f := &r.files[it.file]
	row.SetString(inputs.ColSourceFile, f.Path)
	row.SetInt(inputs.ColSourceRow, int64(it.row))
	row.SetString(inputs.ColApplicantKey, it.key)
	if r.cfg.Output.PII == "keep" {
		row.SetString(inputs.ColName, it.app.Name)
		row.SetString(inputs.ColIDCard, it.app.IDCard)
		row.SetString(inputs.ColMobile, it.app.Mobile)
	} else {
		name, idCard, mobile := transform.MaskIdentity(it.app.Name, it.app.IDCard, it.app.Mobile)
		row.SetString(inputs.ColName, name)
		row.SetString(inputs.ColIDCard, idCard)
		row.SetString(inputs.ColMobile, mobile)
	}
	for _, p := range it.pass {
		row[p.Col] = p.V
	}
	for i, p := range r.prods {
		var subs []transform.Status
		if len(p.catalog.Subs) > 0 {
			if it.subs == nil {
				it.subs = make([][]transform.Status, len(r.prods))
			}
			subs = make([]transform.Status, len(p.catalog.Subs))
			it.subs[i] = subs
		}
		it.statuses[i] = p.fill.FillSubs(row, p.base, &it.replies[i], u, subs)
		it.replies[i].Payload = nil // done with it
	}
	for _, b := range it.plains {
		r.plains.Put(b)
	}
	it.plains = nil
}

// count adds a written row's outcomes to the product counts.
func (r *run) count(it *item) {
	for i, p := range r.prods {
		p.counts.Add(it.statuses[i])
		if it.statuses[i] == transform.StatusSkipped {
			p.countSkip(&it.replies[i])
		}
		for j, s := range p.catalog.Subs {
			p.counts.SubProducts[s.Code].Add(it.subs[i][j])
		}
	}
}

func (r *run) finishCounts() {
	m := r.manifest
	m.Inputs = m.Inputs[:0]
	m.Rows = manifest.RowCounts{Written: int(r.written.Load())}
	if m.Shard != nil {
		m.Shard.RowsOtherShards = r.otherShards
	}
	for _, f := range r.files {
		m.Inputs = append(m.Inputs, *f.Counts)
		m.Rows.Read += f.Counts.Read
		m.Rows.Valid += f.Counts.Valid
		m.Rows.Rejected += f.Counts.Rejected
	}
	m.Cost = 0
	for _, p := range r.prods {
		p.counts.Calls = p.stats.attempts.Load()
		p.counts.Billed = p.stats.billed.Load()
		p.counts.PossiblyBilled = p.stats.possiblyBilled.Load()
		if p.counts.PossiblyBilled > 0 {
			r.log.Warn("answers could not be read, or never came, after the requests were sent; the vendor may have billed them (their rows failed)",
				"product", p.code, "possibly_billed", p.counts.PossiblyBilled,
				"possible_cost", roundMoney(float64(p.counts.PossiblyBilled)*p.cfg.Price))
		}
		p.counts.Cost = roundMoney(float64(p.counts.Billed) * p.cfg.Price)
		m.Cost += p.counts.Cost
		p.counts.Retries = p.stats.retries.Load()
		p.counts.FromStore = p.stats.stored.Load()
		p.counts.Deduplicated = p.stats.merged.Load()
		p.counts.UndecryptableStored = p.stats.undecryptable.Load()
		p.counts.DamagedStored = p.stats.damaged.Load()
		p.counts.LatencyMS = p.stats.percentiles()
		// The limiter idles when the calls in flight cannot cover
		// latency × rate: say so, with the concurrency that would.
		if need := p.counts.LatencyMS.P95 / 1000 * p.cfg.RatePerSecond; p.counts.Calls > 100 && need > float64(p.cfg.Concurrency) {
			r.log.Warn("concurrency is too low to reach the rate limit at this latency", "product", p.code,
				"concurrency", p.cfg.Concurrency, "rate_per_second", p.cfg.RatePerSecond,
				"latency_p95_ms", p.counts.LatencyMS.P95, "hint", fmt.Sprintf("set products.%s.concurrency to %d or more", p.code, int(need)+1))
		}
	}
	m.Cost = roundMoney(m.Cost)
	m.Unknowns = r.unknowns
	m.PlaceholderValues = r.placeholderValues()
	m.FinishedAt = r.env.Now().UTC()
	m.Seconds = m.FinishedAt.Sub(m.StartedAt).Seconds()
	r.finishPacing()
}
