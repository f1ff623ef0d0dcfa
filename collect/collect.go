// Package collect publishes a sharded dataset: once every shard of a run
// has published its part into the output folder (run --shard), Collect
// checks that the parts are all there and agree (one configuration, one
// identity secret, one set of inputs, one schema), then writes the
// combined manifest.json, metrics.prom, optionally one features.xlsx
// holding every row in input order, and the dataset's _SUCCESS last.
//
// Collect holds the output folder's lock while it checks and writes, so
// that no shard publishes meanwhile; a shard that publishes later removes
// _SUCCESS again, and the dataset waits for the next collect.
package collect

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/metrics"
	"github.com/scorepipe/scorepipe/publish"
	"github.com/scorepipe/scorepipe/rundir"
	"github.com/scorepipe/scorepipe/shards"
	"github.com/scorepipe/scorepipe/sinks"
)

// Options configures Collect. The zero value collects whatever shard count
// the folder's parts say, without a workbook.
type Options struct {
	// Shards is the shard count to collect; 0 takes the count of the
	// parts in the folder. With it set, the parts of other counts (an
	// earlier sharding of the same dataset) are removed.
	Shards int
	// XLSX writes features.xlsx: every row of the dataset in input order,
	// and a dictionary sheet. Without it a workbook of an earlier collect
	// is removed.
	XLSX bool
	// XLSXMaxRows caps the rows of the workbook (0: no cap).
	XLSXMaxRows int
	// Dictionary is the workbook's dictionary sheet; nil describes each
	// column by its type and the description the Parquet parts hold.
	Dictionary []sinks.DictionaryEntry
	// Wait bounds how long Collect waits for the folder lock while a
	// shard publishes; 0 means publish.DefaultPartWait.
	Wait time.Duration
	// Logger receives what Collect does; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// RunID names this collect in the combined manifest (each part's run
	// keeps its own); "" makes one.
	RunID string
	// Command is the command line, secrets redacted, for the combined
	// manifest.
	Command []string
	// MetricsJob labels the dataset's metrics.prom (scorepipe_job) and is
	// the job of its push; "" is config.DefaultMetricsJob.
	MetricsJob string
	// Pushgateway, when set, is where the dataset's figures are pushed
	// once published (grouped by job alone; the shards push theirs with a
	// shard label). A failed push is logged, not returned.
	Pushgateway string
	// BeforeWrite, when not nil, is called before each file Collect
	// writes (by name); an error it returns stops Collect there. It is
	// for fault-injection tests.
	BeforeWrite func(name string) error
}

// File names Collect writes into the output folder.
const (
	FileManifest = rundir.FileManifest
	FileXLSX     = rundir.FileXLSX
	FileMetrics  = rundir.FileMetrics
	FileSuccess  = publish.Marker
)

// NotPublishedError says shards of the dataset have not published their
// parts, or are running: the dataset is not complete.
type NotPublishedError struct {
	Dir     string
	Count   int
	Missing []int          // shards without a marker
	Running map[int]string // of Missing, those a run holds: what it wrote into its lock
	Failed  map[int]string // of Missing, those whose last run failed: why
}

func (e *NotPublishedError) Error() string {
	if e.Count == 0 {
		return fmt.Sprintf("no shard has published into %s: run the shards (run --shard INDEX/COUNT) first", e.Dir)
	}
	var b strings.Builder
	for i, idx := range e.Missing {
		if i > 0 {
			b.WriteString("; ")
		}
		if i == 5 && len(e.Missing) > 6 {
			fmt.Fprintf(&b, "and %d more shards have not published", len(e.Missing)-5)
			break
		}
		fmt.Fprintf(&b, "shard %d of %d ", idx, e.Count)
		switch {
		case e.Running[idx] != "":
			fmt.Fprintf(&b, "is still running (%s)", e.Running[idx])
		case e.Failed[idx] != "":
			fmt.Fprintf(&b, "has not published: %s", e.Failed[idx])
		default:
			b.WriteString("has not published")
		}
	}
	fmt.Fprintf(&b, " into %s: nothing was collected; rerun the missing shards (or wait for them), then collect again", e.Dir)
	return b.String()
}

// MismatchError says the parts in the folder do not make one dataset:
// shards of different runs, configurations, secrets or inputs, or files
// that are not parts.
type MismatchError struct {
	Dir string
	Msg string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: %s; nothing was collected", e.Dir, e.Msg)
}

// Collect publishes the sharded dataset in the output folder dir, as the
// package comment says, and returns the combined manifest. It returns a
// *NotPublishedError when a shard has not published (or is running), a
// *MismatchError when the parts do not make one dataset, a
// *publish.LockedError when another run holds the folder past
// Options.Wait. On any of those the dataset's _SUCCESS is not written. A
// dataset published whole whose parts are incomplete (rows failed at the
// vendor…) is returned with a *manifest.Incomplete holding the parts'
// reasons, as a run returns its own.
func Collect(dir string, opts Options) (*Manifest, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RunID == "" {
		opts.RunID = newRunID()
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a folder")
		}
		return nil, &MismatchError{Dir: dir, Msg: "no such output folder: " + err.Error()}
	}
	wait := opts.Wait
	if wait == 0 {
		wait = publish.DefaultPartWait
	}
	lock, err := publish.LockFolder(dir, wait)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	if n, err := publish.RemovePartStagings(dir, opts.Logger); err != nil {
		opts.Logger.Warn("could not remove what killed shard runs left", "dir", dir, "error", err)
	} else if n > 0 {
		opts.Logger.Info("removed what killed shard runs left", "dir", dir, "folders", n)
	}
	c := &collector{dir: dir, opts: opts, log: opts.Logger}
	if err := c.scan(); err != nil {
		return nil, err
	}
	if err := c.verify(); err != nil {
		return nil, err
	}
	if err := c.readParts(); err != nil {
		return nil, err
	}
	m, err := c.combine()
	if err != nil {
		return nil, err
	}
	if err := c.publish(m); err != nil {
		return nil, err
	}
	if opts.Pushgateway != "" {
		f := m.Figures()
		if err := f.Push(context.Background(), opts.Pushgateway, c.metricsJob(), nil); err != nil {
			c.log.Warn("could not push the dataset's metrics; it is published all the same", "error", err)
		}
	}
	if m.Exit.Code != 0 {
		return m, &manifest.Incomplete{Reasons: m.Exit.Reasons}
	}
	return m, nil
}

// collector is one Collect.
type collector struct {
	dir   string
	opts  Options
	log   *slog.Logger
	count int

	// files of the parts, by shard count and index: relative paths
	files   map[int]map[int][]string
	markers map[int]map[int]bool
	parts   []*part         // of count, by index
	hashes  map[string]File // of the parts' files, as verified, by slash-separated path
}

// part is one shard's published part.
type part struct {
	shard    shards.Shard
	manifest *manifest.Manifest
	files    []string // relative paths
	schema   *arrow.Schema
	rows     int64 // in its Parquet file
}

// scan lists the parts in the folder, chooses the shard count, removes the
// parts of other counts that no run holds, and checks that every shard of
// the count has published.
func (c *collector) scan() error {
	c.files = map[int]map[int][]string{}
	c.markers = map[int]map[int]bool{}
	add := func(m map[int]map[int][]string, s shards.Shard, rel string) {
		if m[s.Count] == nil {
			m[s.Count] = map[int][]string{}
		}
		m[s.Count][s.Index] = append(m[s.Count][s.Index], rel)
	}
	var strays []string
	for _, d := range shards.Dirs {
		entries, err := os.ReadDir(filepath.Join(c.dir, d))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return &MismatchError{Dir: c.dir, Msg: "cannot read " + d + ": " + err.Error()}
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue // a writer's temporary file: no reader takes it
			}
			s, ok := shards.ParseName(e.Name())
			if !ok || e.IsDir() {
				strays = append(strays, filepath.Join(d, e.Name()))
				continue
			}
			add(c.files, s, filepath.Join(d, e.Name()))
		}
	}
	if len(strays) > 0 {
		return &MismatchError{Dir: c.dir, Msg: "holds files that are not parts of a sharded run (" + list(strays) +
			"): readers of the dataset (features/*.parquet) would read them; move them out"}
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return &MismatchError{Dir: c.dir, Msg: "cannot read it: " + err.Error()}
	}
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), shards.MarkerPrefix)
		if !ok {
			continue
		}
		if s, ok := shards.ParseName(name); ok && !strings.Contains(name, ".") {
			if c.markers[s.Count] == nil {
				c.markers[s.Count] = map[int]bool{}
			}
			c.markers[s.Count][s.Index] = true
		}
	}
	c.count = c.opts.Shards
	if c.count == 0 {
		counts := sortedKeys(c.markers)
		switch len(counts) {
		case 0:
			if len(c.files) == 0 {
				return &NotPublishedError{Dir: c.dir}
			}
			c.count = sortedKeys(c.files)[len(c.files)-1] // parts without markers: say which are missing
		case 1:
			c.count = counts[0]
		default:
			names := make([]string, len(counts))
			for i, n := range counts {
				names[i] = strconv.Itoa(n)
			}
			return &MismatchError{Dir: c.dir, Msg: "holds the parts of " + strings.Join(names, " and ") +
				" shards: collect one of them with --shards N (the parts of other counts are then removed)"}
		}
	}
	if err := c.removeOtherCounts(); err != nil {
		return err
	}
	missing := &NotPublishedError{Dir: c.dir, Count: c.count, Running: map[int]string{}, Failed: map[int]string{}}
	for i := range c.count {
		s := shards.Shard{Index: i, Count: c.count}
		if c.markers[c.count][i] {
			continue
		}
		missing.Missing = append(missing.Missing, i)
		if locked, holder := publish.PartLocked(c.dir, s.Name()); locked {
			missing.Running[i] = cmp.Or(holder, "its lock is held")
		} else if why := lastRunFailed(c.dir, s); why != "" {
			missing.Failed[i] = why
		}
	}
	if len(missing.Missing) > 0 {
		return missing
	}
	for i := range c.count {
		s := shards.Shard{Index: i, Count: c.count}
		if locked, holder := publish.PartLocked(c.dir, s.Name()); locked {
			// Published, and running again: its part may change.
			return &NotPublishedError{Dir: c.dir, Count: c.count, Missing: []int{i}, Running: map[int]string{i: cmp.Or(holder, "its lock is held")}}
		}
	}
	return nil
}

// lastRunFailed reads the shard's metrics file (every run of a shard
// writes one, a run that fails too) and says how its last run failed, or
// "" when it did not or nobody knows.
func lastRunFailed(dir string, s shards.Shard) string {
	code, reason, ended, ok := metrics.ExitCode(filepath.Join(dir, s.File(shards.DirMetrics, ".prom")))
	if !ok || code == 0 || code == 2 {
		return ""
	}
	msg := fmt.Sprintf("its last run ended at %s with exit code %d", ended.Format(time.RFC3339), code)
	if reason != "" {
		msg += " (" + reason + ")"
	}
	return msg
}

// removeOtherCounts removes the parts and markers of shard counts other
// than the one collected, unless a run holds them.
func (c *collector) removeOtherCounts() error {
	for _, n := range sortedKeys(c.files) {
		if n == c.count {
			continue
		}
		if c.opts.Shards == 0 && len(c.markers[n]) > 0 {
			continue // cannot happen: several marked counts were refused
		}
		for i, rels := range c.files[n] {
			s := shards.Shard{Index: i, Count: n}
			if locked, holder := publish.PartLocked(c.dir, s.Name()); locked {
				return &MismatchError{Dir: c.dir, Msg: fmt.Sprintf("%s of %d shards is running (%s) while %d shards are collected", s.Describe(), n, holder, c.count)}
			}
			for _, rel := range rels {
				if err := os.Remove(filepath.Join(c.dir, rel)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return &MismatchError{Dir: c.dir, Msg: "cannot remove a part of an earlier sharding: " + err.Error()}
				}
			}
			c.log.Info("removed the part of an earlier sharding", "dir", c.dir, "part", s.Name(), "files", len(rels))
		}
	}
	for _, n := range sortedKeys(c.markers) {
		if n == c.count {
			continue
		}
		for i := range c.markers[n] {
			s := shards.Shard{Index: i, Count: n}
			if err := os.Remove(filepath.Join(c.dir, s.Marker())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return &MismatchError{Dir: c.dir, Msg: "cannot remove a marker of an earlier sharding: " + err.Error()}
			}
		}
	}
	return nil
}

// readParts reads every part's manifest and Parquet footer and checks that
// they make one dataset.
func (c *collector) readParts() error {
	c.parts = make([]*part, c.count)
	for i := range c.count {
		s := shards.Shard{Index: i, Count: c.count}
		p := &part{shard: s, files: c.files[c.count][i]}
		slices.Sort(p.files)
		rel := s.File(shards.DirManifests, ".json")
		data, err := os.ReadFile(filepath.Join(c.dir, rel))
		if err != nil {
			return &MismatchError{Dir: c.dir, Msg: s.Describe() + " is marked but its manifest cannot be read: " + err.Error()}
		}
		var m manifest.Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return &MismatchError{Dir: c.dir, Msg: rel + " is not a manifest: " + err.Error()}
		}
		if m.Shard == nil || m.Shard.Index != i || m.Shard.Count != c.count {
			return &MismatchError{Dir: c.dir, Msg: fmt.Sprintf("%s is not the manifest of %s (%s)", rel, s.Describe(), manifestShard(m.Shard))}
		}
		p.manifest = &m
		features := s.File(shards.DirFeatures, ".parquet")
		p.schema, p.rows, err = rundir.ReadFooter(filepath.Join(c.dir, features))
		if err != nil {
			return &MismatchError{Dir: c.dir, Msg: "cannot read " + features + ": " + err.Error()}
		}
		if p.rows != int64(m.Rows.Written) {
			return &MismatchError{Dir: c.dir, Msg: fmt.Sprintf("%s holds %d rows, its manifest wrote %d", features, p.rows, m.Rows.Written)}
		}
		for _, o := range m.Outputs {
			if _, err := os.Stat(filepath.Join(c.dir, o.Name)); err != nil {
				return &MismatchError{Dir: c.dir, Msg: fmt.Sprintf("%s lists %s: %v", rel, o.Name, err)}
			}
		}
		c.parts[i] = p
	}
	return c.agree()
}

// agree checks that the parts were run by one job: one configuration, one
// identity secret, the same inputs read whole, the same mappings and
// products, one schema.
func (c *collector) agree() error {
	first := c.parts[0]
	fm := first.manifest
	for _, p := range c.parts[1:] {
		m := p.manifest
		differ := func(what string, a, b any) error {
			return &MismatchError{Dir: c.dir, Msg: fmt.Sprintf("%s and %s differ in %s (%v, %v): they are not shards of one run; rerun them with the same configuration and inputs",
				first.shard.Describe(), p.shard.Describe(), what, a, b)}
		}
		switch {
		case m.ConfigSHA256 != fm.ConfigSHA256:
			return differ("their configuration", short(fm.ConfigSHA256), short(m.ConfigSHA256))
		case m.Shard.KeyCheck != fm.Shard.KeyCheck:
			return differ("their identity secret (keys would not shard alike)", fm.Shard.KeyCheck, m.Shard.KeyCheck)
		case m.Rows.Read+m.Shard.RowsOtherShards != fm.Rows.Read+fm.Shard.RowsOtherShards:
			return differ("the rows of their inputs", fm.Rows.Read+fm.Shard.RowsOtherShards, m.Rows.Read+m.Shard.RowsOtherShards)
		case !sameInputs(fm.Inputs, m.Inputs):
			return differ("their input files", inputNames(fm.Inputs), inputNames(m.Inputs))
		case !slices.Equal(sortedKeys(fm.Products), sortedKeys(m.Products)):
			return differ("their products", sortedKeys(fm.Products), sortedKeys(m.Products))
		case !sameMappings(fm, m):
			return differ("their mapping files", len(fm.Mappings), len(m.Mappings))
		case m.Vendor.Fake != fm.Vendor.Fake:
			return differ("their vendor (the fake vendor's synthetic data would mix with real data)", fm.Vendor.Fake, m.Vendor.Fake)
		case !rundir.SameFields(first.schema, p.schema):
			return differ("their columns", first.schema.NumFields(), p.schema.NumFields())
		}
	}
	return nil
}

// manifestShard says in words which shard a manifest says it is of.
func manifestShard(sh *manifest.ShardInfo) string {
	if sh == nil {
		return "it is not a shard's manifest"
	}
	return "it says it is " + shards.Shard{Index: sh.Index, Count: sh.Count}.Describe()
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func sameInputs(a, b []manifest.InputCounts) bool {
	return slices.EqualFunc(a, b, func(x, y manifest.InputCounts) bool { return inputID(x) == inputID(y) })
}

func inputNames(in []manifest.InputCounts) []string {
	out := make([]string, len(in))
	for i, f := range in {
		out[i] = inputID(f)
	}
	return out
}

func sameMappings(a, b *manifest.Manifest) bool {
	ja, _ := json.Marshal(a.Mappings)
	jb, _ := json.Marshal(b.Mappings)
	return string(ja) == string(jb)
}

// publish writes the combined files, _SUCCESS last. It removes _SUCCESS
// first: while the files change the dataset is not marked.
func (c *collector) publish(m *Manifest) error {
	success := filepath.Join(c.dir, FileSuccess)
	if err := os.Remove(success); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := sinks.SyncDir(c.dir); err != nil {
		return err
	}
	xlsx := filepath.Join(c.dir, FileXLSX)
	if c.opts.XLSX {
		if err := c.step(FileXLSX, func() error { return c.writeWorkbook(m, xlsx) }); err != nil {
			return err
		}
	} else if err := os.Remove(xlsx); err == nil {
		c.log.Info("removed the workbook of an earlier collect (ask for one with --xlsx)", "file", xlsx)
	}
	if err := c.step(FileManifest, func() error { return sinks.WriteJSONAtomic(filepath.Join(c.dir, FileManifest), m) }); err != nil {
		return err
	}
	if err := c.step(FileMetrics, func() error {
		f := m.Figures()
		return f.WriteFile(filepath.Join(c.dir, FileMetrics), prometheus.Labels{"scorepipe_job": c.metricsJob()})
	}); err != nil {
		return err
	}
	return c.step(FileSuccess, func() error { return sinks.WriteFileAtomic(success, nil) })
}

func (c *collector) step(name string, fn func() error) error {
	if c.opts.BeforeWrite != nil {
		if err := c.opts.BeforeWrite(name); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return fn()
}

// newRunID returns a random id of the form of a run's (a UUID).
func newRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (c *collector) metricsJob() string {
	if c.opts.MetricsJob != "" {
		return c.opts.MetricsJob
	}
	return config.DefaultMetricsJob
}

func list(names []string) string {
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	return strings.Join(names, ", ")
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}
