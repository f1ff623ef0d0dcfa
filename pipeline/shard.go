package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/publish"
	"github.com/scorepipe/scorepipe/shards"
	"github.com/scorepipe/scorepipe/sinks"
	"github.com/scorepipe/scorepipe/sources"
	"github.com/scorepipe/scorepipe/transform"
)

// shareConfig returns a copy of cfg with the share of one shard of n: each
// product's rate divided by n, its burst too (at least 1), its concurrency
// rounded up (at least 1); limits.max_calls (at least 1) and max_cost
// divided by n. The shards of a run together stay within what cfg allows.
func shareConfig(cfg *config.Config, n int) *config.Config {
	c := *cfg
	c.Products = make(map[string]config.ProductConfig, len(cfg.Products))
	for code, p := range cfg.Products {
		p.RatePerSecond /= float64(n)
		p.Burst = max(1, p.Burst/n)
		p.Concurrency = max(1, (p.Concurrency+n-1)/n)
		c.Products[code] = p
	}
	if c.Limits.MaxCalls > 0 {
		c.Limits.MaxCalls = max(1, c.Limits.MaxCalls/int64(n))
	}
	c.Limits.MaxCost /= float64(n)
	return &c
}

// startShard applies the run's shard: it returns the share of the
// configuration the shard runs with (see shareConfig) and starts the
// shard's part of the manifest. The manifest keeps the hash of the whole
// configuration, which every shard of a run shares.
func (r *run) startShard() (*config.Config, error) {
	s := r.env.Shard
	if r.cfg.Review.Baseline != "" {
		return nil, &config.ConfigError{Field: "review.baseline", Msg: "a shard holds a part of the applicants: review the collected dataset instead (scorepipe review DIR, once collect has published it)"}
	}
	r.cfg = shareConfig(r.cfg, s.Count)
	r.manifest.Shard = &manifest.ShardInfo{Index: s.Index, Count: s.Count, Part: s.Name(), Share: 1 / float64(s.Count)}
	if err := r.checkShardFormats(); err != nil {
		return nil, err
	}
	return r.cfg, nil
}

// holds reports whether a row read from file fi belongs to the run's shard:
// a valid row by its applicant key, a rejected one by its position.
func (r *run) holds(fi int, rec sources.Record, rowErr *sources.RowError, it *item, problems []transform.Problem) bool {
	s := r.env.Shard
	if !s.Sharded() {
		return true
	}
	if problems == nil && it != nil && it.key != "" {
		return s.HoldsKey(it.key)
	}
	row := rec.Row
	if rowErr != nil {
		row = rowErr.Row
	}
	return s.HoldsRow(fi, row)
}

// checkShardFormats refuses a shard run without Parquet (the dataset the
// shards write together) and drops xlsx, which collect writes once for
// the whole dataset.
func (r *run) checkShardFormats() error {
	if !r.env.Shard.Sharded() {
		return nil
	}
	var formats []string
	parquet := false
	for _, f := range r.cfg.Output.Formats {
		switch f {
		case config.FormatParquet:
			parquet = true
		case config.FormatXLSX:
			r.log.Info("a shard writes no workbook: collect writes one for the whole dataset", "shard", r.env.Shard.String())
			continue
		}
		formats = append(formats, f)
	}
	if !parquet {
		return &config.ConfigError{Field: "output.formats", Msg: "a sharded run (--shard) writes its rows as a part of a Parquet dataset: add parquet"}
	}
	out := *r.cfg
	out.Output.Formats = formats
	r.cfg = &out
	return nil
}

// outputFolder is where a run writes its files and publishes them: the
// whole output folder (publish.Folder), or a shard's part of it
// (publish.Part).
type outputFolder interface {
	Dir() string
	// Staging is the folder the run's files are written into.
	Staging() string
	// Path is where the run writes its file name (features.parquet,
	// rejects.csv…).
	Path(name string) string
	// Name is what the output folder calls that file: the name itself,
	// or the part's path (features/part-00003-of-00008.parquet).
	Name(name string) string
	Commit() error
	Close() error
}

// wholeFolder is a whole output folder, its files under their own names.
type wholeFolder struct{ *publish.Folder }

func (w wholeFolder) Name(name string) string { return name }

// partFolder is a shard's part of an output folder.
type partFolder struct {
	*publish.Part
	shard shards.Shard
}

// Path is where the shard writes the file name of a whole run.
func (p partFolder) Path(name string) string { return p.Part.Path(p.Name(name)) }

// Name is the path of the part's file in place of name.
func (p partFolder) Name(name string) string {
	s := p.shard
	switch name {
	case FileParquet:
		return s.File(shards.DirFeatures, ".parquet")
	case FileCSV:
		return s.File(shards.DirCSV, ".csv")
	case FileRejects:
		return s.File(shards.DirRejects, ".csv")
	case FileManifest:
		return s.File(shards.DirManifests, ".json")
	case FileMetrics:
		return s.File(shards.DirMetrics, ".prom")
	}
	return s.File(strings.TrimSuffix(name, filepath.Ext(name)), filepath.Ext(name))
}

// openPart locks the shard's part of the output folder and makes its
// staging folder. A folder that holds a whole run's set is refused: the
// parts of a dataset never mix with one.
func (r *run) openPart() error {
	s := r.env.Shard
	if err := checkPartsFolder(r.cfg.Output.Dir); err != nil {
		return &config.ConfigError{Field: "output.dir", Msg: err.Error()}
	}
	part, err := publish.OpenPart(r.cfg.Output.Dir, s.Name(), publish.PartOptions{
		Folders: shards.Dirs, Marker: s.Marker(), Check: checkPartsFolder,
		Logger: r.log, BeforeStep: publishBeforeStep, Wait: partWait})
	var fe *publish.FolderError
	switch {
	case errors.As(err, &fe):
		return &config.ConfigError{Field: "output.dir", Msg: err.Error()}
	case err != nil:
		return &AbortError{Cause: err}
	}
	r.folder = partFolder{Part: part, shard: s}
	return nil
}

// partWait is how long a shard waits for the folder lock to publish; 0 is
// publish.DefaultPartWait. Tests shorten it.
var partWait = 0 * publish.DefaultPartWait

// checkPartsFolder refuses an output folder that holds a whole run's set:
// features.parquet or features.csv, or a manifest.json that collect did
// not write.
func checkPartsFolder(dir string) error {
	for _, name := range []string{FileParquet, FileCSV} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("%s holds %s of a run that was not sharded: the parts of a sharded run go into a folder of their own (choose another, or remove that run's files)", dir, name)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, FileManifest))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var m struct {
		Shards json.RawMessage `json:"shards"`
	}
	if err != nil || json.Unmarshal(data, &m) != nil || len(m.Shards) == 0 {
		return fmt.Errorf("%s holds a %s that collect did not write: the parts of a sharded run go into a folder of their own (choose another, or remove that run's files)", dir, FileManifest)
	}
	return nil
}

// Dictionary returns the dictionary sheet a run of cfg writes into its
// workbook, for the workbook collect writes for a sharded dataset. It
// reads the mappings and the input files' headers; it writes nothing.
func Dictionary(cfg *config.Config) ([]sinks.DictionaryEntry, error) {
	r, err := newRun(cfg, Env{})
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.dictionary(), nil
}
