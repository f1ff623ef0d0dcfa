// Package config is a job's configuration: the YAML file and its --set
// overrides read over the defaults, checked field by field with messages
// that name the file, line and field; and where a job keeps its state (the
// reply store, the identity secret, the audit log).
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/review"
	"github.com/scorepipe/scorepipe/sources"
	"github.com/scorepipe/scorepipe/transform"
)

// Config is a job's configuration, read from YAML. Relative paths in a
// config file are relative to the file's directory.
type Config struct {
	Input    InputConfig              `yaml:"input" json:"input"`
	Output   OutputConfig             `yaml:"output" json:"output"`
	Vendor   VendorConfig             `yaml:"vendor" json:"vendor"`
	Products map[string]ProductConfig `yaml:"products" json:"products"`
	Retry    RetryConfig              `yaml:"retry" json:"retry"`
	Cache    CacheConfig              `yaml:"cache" json:"cache"`
	Identity IdentityConfig           `yaml:"identity" json:"identity"`
	Mappings MappingsConfig           `yaml:"mappings" json:"mappings"`
	Limits   LimitsConfig             `yaml:"limits" json:"limits"`
	Review   review.Config            `yaml:"review" json:"review"`
	Metrics  MetricsConfig            `yaml:"metrics" json:"metrics"`

	dir string // directory of the config file, for relative paths
}

// InputConfig says which applicant files to read and how.
type InputConfig struct {
	Files     []string            `yaml:"files" json:"files"`         // paths or globs
	Format    string              `yaml:"format" json:"format"`       // csv or xlsx; "" by extension
	Encoding  string              `yaml:"encoding" json:"encoding"`   // CSV: utf-8, gbk, gb18030; "" detects
	Delimiter string              `yaml:"delimiter" json:"delimiter"` // CSV: "," "\t" ";"; "" detects
	Sheet     string              `yaml:"sheet" json:"sheet"`         // XLSX: "" is the first sheet
	Columns   map[string][]string `yaml:"columns" json:"columns"`     // canonical column → header names
	// Passthrough, when not empty, lists the input columns to pass through
	// to the outputs, each with its type: string, int, float or date. When
	// empty, every input column other than identity and authorization passes
	// through as a string.
	Passthrough map[string]string `yaml:"passthrough" json:"passthrough"`
	XLSX        InputXLSXConfig   `yaml:"xlsx" json:"xlsx"`
}

// InputXLSXConfig caps what an xlsx input may unpack to, against zip
// bombs; a workbook past a cap is refused before it is read.
type InputXLSXConfig struct {
	MaxBytes int64 `yaml:"max_bytes" json:"max_bytes"` // all the parts of the workbook, unpacked
	MaxCells int64 `yaml:"max_cells" json:"max_cells"` // cells of the sheet read, and shared strings
}

// OutputConfig says what to write where.
type OutputConfig struct {
	Dir          string     `yaml:"dir" json:"dir"`
	Formats      []string   `yaml:"formats" json:"formats"` // parquet, xlsx, csv
	PII          string     `yaml:"pii" json:"pii"`         // mask (default) or keep
	RowGroupRows int        `yaml:"row_group_rows" json:"row_group_rows"`
	XLSX         XLSXConfig `yaml:"xlsx" json:"xlsx"`
	CSV          CSVConfig  `yaml:"csv" json:"csv"`
}

// CSVConfig shapes features.csv and rejects.csv.
type CSVConfig struct {
	// BOM starts both files with a UTF-8 byte order mark (the default), so
	// that Excel reads their Chinese text as UTF-8 in every locale.
	BOM bool `yaml:"bom" json:"bom"`
}

// XLSXConfig shapes the Excel output. excelize assembles the whole workbook
// in memory before writing it, so very large runs cap it and keep Parquet
// complete (see docs/PERFORMANCE.md for the memory per row).
type XLSXConfig struct {
	MaxRows int `yaml:"max_rows" json:"max_rows"` // rows written to features.xlsx at most; 0 means no cap
}

// VendorConfig says how to reach the vendor. Credentials never come from
// the file: SCOREPIPE_ACCESS_ID, SCOREPIPE_ACCESS_KEY, and SCOREPIPE_ENDPOINT
// to override BaseURL.
type VendorConfig struct {
	BaseURL string `yaml:"base_url" json:"base_url"`
	// Fake runs the built-in fake vendor on loopback (synthetic replies,
	// the real protocol); everything the run writes says so. Without it,
	// a run needs SCOREPIPE_ACCESS_ID and SCOREPIPE_ACCESS_KEY.
	Fake      bool          `yaml:"fake" json:"fake"`
	KeyFormat string        `yaml:"key_format" json:"key_format"` // hex (default) or raw
	Timeout   time.Duration `yaml:"timeout" json:"timeout"`       // per attempt
	Codes     CodesConfig   `yaml:"codes" json:"codes"`
}

// CodesConfig overrides how vendor codes are treated.
type CodesConfig struct {
	Retryable []int `yaml:"retryable" json:"retryable"`
	Fatal     []int `yaml:"fatal" json:"fatal"`
	NoRecord  []int `yaml:"no_record" json:"no_record"`
	// Throttle lists the codes that mean "slow down": like HTTP 429 they
	// lower the product's rate and are retried without counting as
	// attempts. A code listed here and in Retryable is a throttling code.
	Throttle []int `yaml:"throttle" json:"throttle"`
}

// ProductConfig enables a product and sets its limits.
type ProductConfig struct {
	RatePerSecond float64 `yaml:"rate_per_second" json:"rate_per_second"` // 0 means unlimited
	Burst         int     `yaml:"burst" json:"burst"`
	Concurrency   int     `yaml:"concurrency" json:"concurrency"` // calls in flight at most
	Price         float64 `yaml:"price" json:"price"`             // per billed call, for plan and budgets
}

// RetryConfig shapes retries of transient failures.
type RetryConfig struct {
	MaxAttempts int           `yaml:"max_attempts" json:"max_attempts"`
	BaseDelay   time.Duration `yaml:"base_delay" json:"base_delay"`
	MaxDelay    time.Duration `yaml:"max_delay" json:"max_delay"`
	// ThrottleBudget is how long a product may be answered by nothing but
	// throttling before the run stops (exit 3, resumable); 0 means no
	// limit. A run that gets some answers through is never stopped by
	// throttling: throttled calls are retried until answered.
	ThrottleBudget time.Duration `yaml:"throttle_budget" json:"throttle_budget"`
}

// CacheConfig locates the reply store and says how long replies are used
// and kept.
type CacheConfig struct {
	Path        string        `yaml:"path" json:"path"`                 // "" → replies.db in the state directory (see CachePath)
	ReuseWithin time.Duration `yaml:"reuse_within" json:"reuse_within"` // 0 → reuse any stored reply
	// Retain is how long replies are kept: older ones are removed from
	// the store at the start of a run and by scorepipe store prune. 0
	// keeps them for ever.
	Retain time.Duration `yaml:"retain" json:"retain"`
}

// IdentityConfig locates the secret of the identity keys.
type IdentityConfig struct {
	SecretFile string `yaml:"secret_file" json:"secret_file"` // "" → identity.secret beside the reply store (see SecretPath)
}

// LimitsConfig caps what a run may spend; 0 means no cap. A run that would
// go past a cap stops before the call that would do it (exit 3, resumable).
type LimitsConfig struct {
	MaxCalls int64   `yaml:"max_calls" json:"max_calls"` // paid calls, all products
	MaxCost  float64 `yaml:"max_cost" json:"max_cost"`   // sum of products.<CODE>.price over paid calls
}

// MappingsConfig points at user mapping files.
type MappingsConfig struct {
	Dir string `yaml:"dir" json:"dir"`
	// RequireOfficial refuses to start (a ConfigError) while a table the
	// configured products use still holds placeholder entries (source
	// sample): for production configs.
	RequireOfficial bool `yaml:"require_official" json:"require_official"`
}

// Output formats.
const (
	FormatParquet = "parquet"
	FormatXLSX    = "xlsx"
	FormatCSV     = "csv"
)

// DefaultConfig returns the configuration every file starts from.
func DefaultConfig() *Config {
	return &Config{
		Input: InputConfig{XLSX: InputXLSXConfig{MaxBytes: sources.DefaultXLSXMaxBytes, MaxCells: sources.DefaultXLSXMaxCells}},
		Output: OutputConfig{Dir: "scorepipe-out", Formats: []string{FormatParquet, FormatXLSX}, PII: "mask", RowGroupRows: 16384,
			CSV: CSVConfig{BOM: true}},
		Vendor: VendorConfig{BaseURL: "https://api.tianyuanapi.com", KeyFormat: "hex", Timeout: 15 * time.Second,
			Codes: codesFromPolicy(tianyuan.DefaultCodePolicy())},
		Products: map[string]ProductConfig{},
		Retry:    RetryConfig{MaxAttempts: 5, BaseDelay: 200 * time.Millisecond, MaxDelay: 30 * time.Second, ThrottleBudget: 10 * time.Minute},
		Cache:    CacheConfig{ReuseWithin: 720 * time.Hour},
	}
}

// DefaultProduct is the setting of a product listed without one.
var DefaultProduct = ProductConfig{RatePerSecond: 20, Burst: 5, Concurrency: 8}

func codesFromPolicy(p tianyuan.CodePolicy) CodesConfig {
	return CodesConfig{Retryable: p.Retryable, Fatal: p.Fatal, NoRecord: p.NoRecord, Throttle: []int{}}
}

// CodePolicy returns the vendor code policy the config describes.
func (c *Config) CodePolicy() tianyuan.CodePolicy {
	return tianyuan.CodePolicy{Retryable: c.Vendor.Codes.Retryable, Fatal: c.Vendor.Codes.Fatal, NoRecord: c.Vendor.Codes.NoRecord}
}

// ConfigError is a mistake in the configuration. It names where the value
// was written: the file and line, or the command-line flag.
type ConfigError struct {
	File  string // "" for flags
	Line  int    // line in File, when known
	Flag  string // the flag that gave the value, as given: --set KEY=VALUE
	Field string // e.g. products.JRZQ9E2A.burst
	Msg   string

	related []string // other fields the mistake involves, to find where it was written
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	switch {
	case e.Flag != "":
		b.WriteString(e.Flag + ": ")
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// LoadConfig reads a YAML config over the defaults. Unknown keys are
// errors. Each override, "path=value" (products.JRZQ9E2A.rate_per_second=200),
// sets a value as if the file held it; the value is read as YAML. Errors
// name the file and line, or the --set flag, and the field.
func LoadConfig(path string, overrides ...string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	doc, err := readDocument(path, data)
	if err != nil {
		return nil, err
	}
	if err := checkDocument(doc); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = path
		}
		return nil, err
	}
	marks, err := applyOverrides(doc, overrides)
	if err != nil {
		return nil, err
	}
	cfg := DefaultConfig()
	defaultDir := cfg.Output.Dir
	cfg.Output.Dir = ""
	if doc.Kind == yaml.DocumentNode {
		// Every key and value was checked above, the file's and the flags'.
		if err := doc.Decode(cfg); err != nil {
			ce := &ConfigError{Msg: plainYAMLError(err.Error())}
			if len(overrides) == 0 {
				ce.File = path
			}
			return nil, ce
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	cfg.dir = filepath.Dir(abs)
	if cfg.Output.Dir == "" {
		cfg.Output.Dir = defaultDir // the default is relative to the working directory
	} else {
		cfg.Output.Dir = cfg.resolve(cfg.Output.Dir)
	}
	cfg.Cache.Path = cfg.resolve(cfg.Cache.Path)
	cfg.Identity.SecretFile = cfg.resolve(cfg.Identity.SecretFile)
	cfg.Mappings.Dir = cfg.resolve(cfg.Mappings.Dir)
	cfg.resolveReview()
	for i, f := range cfg.Input.Files {
		cfg.Input.Files[i] = cfg.resolve(f)
	}
	for code, set := range productKeys(doc) {
		cfg.Products[code] = withProductDefaults(cfg.Products[code], set)
	}
	if err := cfg.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			placeError(ce, path, doc, marks, overrides)
		}
		return nil, err
	}
	return cfg, nil
}

// applyOverrides sets "a.b.c=value" paths in a YAML document and returns
// the nodes it put there, each with its flag. Each path must name a field
// of Config and each value must be of the field's kind; an error names the
// flag and the key.
func applyOverrides(doc *yaml.Node, overrides []string) (overrideNodes, error) {
	marks := overrideNodes{}
	if len(overrides) == 0 {
		return marks, nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		*doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	for flag, o := range overrides {
		path, value, ok := strings.Cut(o, "=")
		flagErr := func(format string, args ...any) error {
			return &ConfigError{Flag: "--set " + o, Msg: fmt.Sprintf(format, args...)}
		}
		if !ok || path == "" {
			return nil, flagErr("not path=value, e.g. --set limits.max_cost=100")
		}
		t, err := checkOverridePath(path)
		if err != nil {
			return nil, flagErr("%v", err)
		}
		var v yaml.Node
		if err := yaml.Unmarshal([]byte(value), &v); err != nil {
			return nil, flagErr("%s: cannot read the value: %s", path, plainYAMLError(err.Error()))
		}
		val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
		if len(v.Content) > 0 {
			val = v.Content[0]
		}
		if err := checkNode(val, t, path); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				return nil, &ConfigError{Flag: "--set " + o, Field: ce.Field, Msg: ce.Msg}
			}
			return nil, err
		}
		node := doc.Content[0]
		parts := strings.Split(path, ".")
		for i, part := range parts {
			if node.Kind != yaml.MappingNode {
				return nil, flagErr("%s is not a mapping in the config file", strings.Join(parts[:i], "."))
			}
			next := mappingValue(node, part)
			if i == len(parts)-1 {
				if next != nil {
					*next = *val
				} else {
					next = val
					node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: part}, val)
				}
				marks[next] = flag
				break
			}
			if next == nil || next.Kind == yaml.ScalarNode && next.ShortTag() == "!!null" {
				m := &yaml.Node{Kind: yaml.MappingNode}
				if next != nil {
					*next = *m
					m = next
				} else {
					node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: part}, m)
				}
				marks[m] = flag
				next = m
			}
			node = next
		}
	}
	return marks, nil
}

// productKeys returns, for each product in the document, the keys it
// sets, merged ones (<<: *anchor) included.
func productKeys(doc *yaml.Node) map[string]map[string]bool {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	_, products := lookupKey(doc.Content[0], "products")
	if products == nil {
		return nil
	}
	return mergedKeys(products)
}

// mergedKeys returns the keys a mapping sets, its own and those it merges
// in (<<: *anchor), each with the keys its value sets in turn.
func mergedKeys(n *yaml.Node) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	n = deref(n)
	switch n.Kind {
	case yaml.SequenceNode: // <<: [*a, *b]
		for _, m := range n.Content {
			for k, v := range mergedKeys(m) {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
		}
	case yaml.MappingNode:
		var merged []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Value == "<<" && k.ShortTag() == "!!merge" {
				merged = append(merged, n.Content[i+1])
				continue
			}
			sub := map[string]bool{}
			if v := deref(n.Content[i+1]); v.Kind == yaml.MappingNode {
				for key := range mergedKeys(v) {
					sub[key] = true
				}
			}
			out[n.Content[i].Value] = sub
		}
		for _, m := range merged {
			for k, v := range mergedKeys(m) {
				if _, own := out[k]; !own {
					out[k] = v
				}
			}
		}
	}
	return out
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// withProductDefaults fills the settings a product's entry leaves out.
func withProductDefaults(p ProductConfig, set map[string]bool) ProductConfig {
	if !set["rate_per_second"] {
		p.RatePerSecond = DefaultProduct.RatePerSecond
	}
	if !set["burst"] {
		p.Burst = DefaultProduct.Burst
	}
	if !set["concurrency"] {
		p.Concurrency = DefaultProduct.Concurrency
	}
	return p
}

func (c *Config) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Validate checks the config and names the first field in error.
func (c *Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(c.Products) == 0 {
		return bad("products", "no product configured (e.g. products: {JRZQ9E2A: {}})")
	}
	if err := checkNumbers(reflect.ValueOf(c).Elem(), ""); err != nil {
		return err
	}
	if err := c.Metrics.validate(); err != nil {
		return err
	}
	for _, code := range c.ProductCodes() {
		p := c.Products[code]
		field := "products." + code
		switch {
		case p.RatePerSecond < 0:
			return bad(field+".rate_per_second", "must be ≥ 0 (0 means unlimited)")
		case p.RatePerSecond > 0 && p.RatePerSecond < MinRatePerSecond:
			return bad(field+".rate_per_second", "%g is below one call a day: the run would wait for ever; use at least %.7f (one a day), or 0 for unlimited",
				p.RatePerSecond, MinRatePerSecond)
		case p.Burst < 1:
			return bad(field+".burst", "must be ≥ 1")
		case p.Concurrency < 1 || p.Concurrency > 1024:
			return bad(field+".concurrency", "must be between 1 and 1024")
		case p.Price < 0:
			return bad(field+".price", "must be ≥ 0")
		}
	}
	for col, typ := range c.Input.Passthrough {
		switch typ {
		case transform.TypeString, transform.TypeInt, transform.TypeFloat, transform.TypeDate:
		default:
			return bad("input.passthrough."+col, "type must be string, int, float or date, got %q", typ)
		}
	}
	if c.Input.XLSX.MaxBytes < 1 {
		return bad("input.xlsx.max_bytes", "must be ≥ 1")
	}
	if c.Input.XLSX.MaxCells < 1 {
		return bad("input.xlsx.max_cells", "must be ≥ 1")
	}
	for _, f := range c.Output.Formats {
		switch f {
		case FormatParquet, FormatXLSX, FormatCSV:
		default:
			return bad("output.formats", "unknown format %q (parquet, xlsx, csv)", f)
		}
	}
	if len(c.Output.Formats) == 0 {
		return bad("output.formats", "at least one of parquet, xlsx, csv")
	}
	if c.Output.PII != "mask" && c.Output.PII != "keep" {
		return bad("output.pii", "must be mask or keep, got %q", c.Output.PII)
	}
	if c.Output.Dir == "" {
		return bad("output.dir", "must not be empty")
	}
	if c.Output.XLSX.MaxRows < 0 {
		return bad("output.xlsx.max_rows", "must be ≥ 0 (0 means no cap)")
	}
	if c.Output.RowGroupRows < 1 {
		return bad("output.row_group_rows", "must be ≥ 1")
	}
	if c.Vendor.KeyFormat != string(tianyuan.KeyHex) && c.Vendor.KeyFormat != string(tianyuan.KeyRaw) {
		return bad("vendor.key_format", "must be hex or raw, got %q", c.Vendor.KeyFormat)
	}
	if err := c.CodePolicy().Validate(); err != nil {
		return bad("vendor.codes", "%v", strings.TrimPrefix(err.Error(), "tianyuan: code policy: "))
	}
	for _, code := range c.Vendor.Codes.Throttle {
		switch {
		case code == tianyuan.CodeOK:
			return bad("vendor.codes.throttle", "code 0 means success and cannot be throttle")
		case slices.Contains(c.Vendor.Codes.Fatal, code):
			return &ConfigError{Field: "vendor.codes.throttle", Msg: fmt.Sprintf("code %d is both fatal and throttle", code), related: []string{"vendor.codes.fatal"}}
		case slices.Contains(c.Vendor.Codes.NoRecord, code):
			return &ConfigError{Field: "vendor.codes.throttle", Msg: fmt.Sprintf("code %d is both no_record and throttle", code), related: []string{"vendor.codes.no_record"}}
		}
	}
	if c.Vendor.Timeout <= 0 {
		return bad("vendor.timeout", "must be positive, e.g. 15s")
	}
	if c.Retry.MaxAttempts < 1 {
		return bad("retry.max_attempts", "must be ≥ 1")
	}
	if c.Retry.MaxDelay < c.Retry.BaseDelay {
		return &ConfigError{Field: "retry.max_delay", Msg: fmt.Sprintf("%s is below retry.base_delay (%s): need base_delay ≤ max_delay", c.Retry.MaxDelay, c.Retry.BaseDelay),
			related: []string{"retry.base_delay"}}
	}
	if c.Retry.ThrottleBudget < 0 {
		return bad("retry.throttle_budget", "must be ≥ 0 (0 means no limit), e.g. 10m")
	}
	if c.Limits.MaxCalls < 0 {
		return bad("limits.max_calls", "must be ≥ 0 (0 means no cap)")
	}
	if c.Limits.MaxCost < 0 {
		return bad("limits.max_cost", "must be ≥ 0 (0 means no cap)")
	}
	if c.Cache.ReuseWithin < 0 {
		return bad("cache.reuse_within", "must be ≥ 0")
	}
	if _, err := StateDir(); err != nil && (c.Cache.Path == "" || c.Identity.SecretFile == "") {
		return bad("cache.path", "%v", err)
	}
	if c.Cache.Retain < 0 {
		return bad("cache.retain", "must be ≥ 0 (0 keeps replies for ever), e.g. 2160h")
	}
	return c.validateReview()
}

// MinRatePerSecond is the slowest rate a product may be given: one call a
// day.
const MinRatePerSecond = 1.0 / 86400

// ProductCodes returns the configured products, sorted.
func (c *Config) ProductCodes() []string {
	codes := make([]string, 0, len(c.Products))
	for code := range c.Products {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	return codes
}

// Effective returns the configuration as the run uses it, after --set and
// the defaults, as plain values for the manifest (durations as text such as
// "15s"; the reply store's path and the output directory in full). The config holds no secret: credentials come only from the
// environment.
func (c *Config) Effective() map[string]any {
	data, err := yaml.Marshal(c)
	if err != nil {
		return nil
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil
	}
	// The places the run uses, where the file leaves them to defaults or
	// to the working directory.
	if cache, ok := m["cache"].(map[string]any); ok {
		cache["path"] = c.CachePath()
	}
	if out, ok := m["output"].(map[string]any); ok {
		if abs, err := filepath.Abs(c.Output.Dir); err == nil {
			out["dir"] = abs
		}
	}
	return m
}

// Hash returns the SHA-256 of the effective configuration, for the manifest.
func (c *Config) Hash() string {
	data, _ := json.Marshal(c) // a Config always marshals
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
