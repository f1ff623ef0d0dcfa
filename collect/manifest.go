package collect

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/metrics"
	"github.com/scorepipe/scorepipe/publish"
	"github.com/scorepipe/scorepipe/shards"
)

// Manifest is the combined manifest of a sharded dataset: the fields of a
// run's manifest with the shards' counts added up, and the shards.
type Manifest struct {
	manifest.Manifest
	Shards Shards `json:"shards"`
}

// Shards says which parts make the dataset.
type Shards struct {
	Count       int       `json:"count"`
	CollectedAt time.Time `json:"collected_at"`
	KeyCheck    string    `json:"key_check"` // every part's (see manifest.ShardInfo)
	Parts       []Part    `json:"parts"`
}

// Part is one shard's part as collected.
type Part struct {
	Index      int                `json:"index"`
	Part       string             `json:"part"`
	Manifest   string             `json:"manifest"` // its manifest, relative to the folder
	RunID      string             `json:"run_id"`
	Build      manifest.Build     `json:"build"`
	StartedAt  time.Time          `json:"started_at"`
	FinishedAt time.Time          `json:"finished_at"`
	Rows       manifest.RowCounts `json:"rows"`
	Exit       manifest.Exit      `json:"exit"`
	Cost       float64            `json:"cost"`
	Files      []File             `json:"files"`
	Store      string             `json:"store"`
}

// File is a part's file as collect found it: a reader may check that the
// dataset is still what was collected.
type File struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// inputID is what names an input file for the parts to agree on.
func inputID(f manifest.InputCounts) string { return f.File + " sha256:" + f.SHA256 }

// combine adds up the parts' manifests.
func (c *collector) combine() (*Manifest, error) {
	first := c.parts[0].manifest
	m := &Manifest{Manifest: manifest.Manifest{
		Tool: first.Tool, Version: first.Version, RunID: c.opts.RunID, Build: first.Build, Command: c.opts.Command,
		Exit: manifest.Exit{Reasons: []string{}}, Vendor: first.Vendor, Config: first.Config, ConfigSHA256: first.ConfigSHA256,
		Mappings: first.Mappings, PlaceholderTables: first.PlaceholderTables,
		Products: map[string]*manifest.ProductCounts{}, Rejects: map[string]int{},
	}}
	m.Shards = Shards{Count: c.count, CollectedAt: c.opts.Now().UTC(), KeyCheck: first.Shard.KeyCheck}
	for _, in := range first.Inputs {
		m.Inputs = append(m.Inputs, manifest.InputCounts{File: in.File, Size: in.Size, SHA256: in.SHA256})
	}
	for _, p := range c.parts {
		pm := p.manifest
		if m.StartedAt.IsZero() || pm.StartedAt.Before(m.StartedAt) {
			m.StartedAt = pm.StartedAt
		}
		if pm.FinishedAt.After(m.FinishedAt) {
			m.FinishedAt = pm.FinishedAt
		}
		if pm.Version != m.Version {
			m.Version = "mixed" // each part's manifest says which
		}
		if pm.Vendor.Endpoint != m.Vendor.Endpoint {
			m.Vendor.Endpoint = "mixed" // each part's manifest says which
		}
		m.Exit.Code = max(m.Exit.Code, pm.Exit.Code)
		for _, reason := range pm.Exit.Reasons {
			m.Exit.Reasons = append(m.Exit.Reasons, p.shard.Describe()+": "+reason)
		}
		m.Cost += pm.Cost
		for i, in := range pm.Inputs {
			t := &m.Inputs[i]
			t.Read += in.Read
			t.Valid += in.Valid
			t.Rejected += in.Rejected
			t.Blank += in.Blank
		}
		m.Rows.Read += pm.Rows.Read
		m.Rows.Valid += pm.Rows.Valid
		m.Rows.Rejected += pm.Rows.Rejected
		m.Rows.Written += pm.Rows.Written
		for code, pc := range pm.Products {
			t := m.Products[code]
			if t == nil {
				t = &manifest.ProductCounts{}
				m.Products[code] = t
			}
			addProduct(t, pc)
		}
		m.Unknowns.Merge(&pm.Unknowns)
		for reason, n := range pm.Rejects {
			m.Rejects[reason] += n
		}
		for col, n := range pm.PlaceholderValues {
			if m.PlaceholderValues == nil {
				m.PlaceholderValues = map[string]int64{}
			}
			m.PlaceholderValues[col] += n
		}
		m.PeakRSSMB = max(m.PeakRSSMB, pm.PeakRSSMB)
		m.Outputs = append(m.Outputs, pm.Outputs...)

		part := Part{Index: p.shard.Index, Part: p.shard.Name(), Manifest: p.shard.File(shards.DirManifests, ".json"),
			RunID: pm.RunID, Build: pm.Build, StartedAt: pm.StartedAt, FinishedAt: pm.FinishedAt, Rows: pm.Rows,
			Exit: pm.Exit, Cost: pm.Cost, Store: pm.Shard.Store}
		for _, rel := range p.files {
			if f, ok := c.hashes[filepath.ToSlash(rel)]; ok {
				part.Files = append(part.Files, f) // verified against the part's marker
				continue
			}
			n, sum, err := publish.HashFile(filepath.Join(c.dir, rel))
			if err != nil {
				return nil, &MismatchError{Dir: c.dir, Msg: "cannot read " + rel + ": " + err.Error()}
			}
			part.Files = append(part.Files, File{Name: filepath.ToSlash(rel), Bytes: n, SHA256: sum})
		}
		m.Shards.Parts = append(m.Shards.Parts, part)
	}
	slices.SortStableFunc(m.Outputs, func(a, b manifest.OutputFile) int { return strings.Compare(a.Name, b.Name) })
	m.Seconds = m.FinishedAt.Sub(m.StartedAt).Seconds()
	m.Cost = roundMoney(m.Cost)
	if m.Rows.Read != m.Rows.Valid+m.Rows.Rejected {
		return nil, &MismatchError{Dir: c.dir, Msg: fmt.Sprintf("the parts' rows do not add up: read %d, valid %d, rejected %d", m.Rows.Read, m.Rows.Valid, m.Rows.Rejected)}
	}
	if total := first.Rows.Read + first.Shard.RowsOtherShards; m.Rows.Read != total {
		return nil, &MismatchError{Dir: c.dir, Msg: fmt.Sprintf("the parts read %d rows between them, the inputs hold %d: a row was read by two shards or by none", m.Rows.Read, total)}
	}
	return m, nil
}

// addProduct adds the counts of one part's product to t. Latencies are
// the largest of the parts'.
func addProduct(t, p *manifest.ProductCounts) {
	t.OK += p.OK
	t.NoRecord += p.NoRecord
	t.Failed += p.Failed
	t.Skipped += p.Skipped
	t.Calls += p.Calls
	t.Billed += p.Billed
	t.Retries += p.Retries
	t.FromStore += p.FromStore
	t.Deduplicated += p.Deduplicated
	t.PossiblyBilled += p.PossiblyBilled
	// The shards pace at once, each its share: their throttling answers,
	// pauses and rates add up.
	t.Throttled += p.Throttled
	t.PausedSeconds += p.PausedSeconds
	t.RateMin += p.RateMin
	t.RateFinal += p.RateFinal
	t.RateSettled += p.RateSettled
	t.Price = p.Price
	t.Cost = roundMoney(t.Cost + p.Cost)
	t.LatencyMS.P50 = max(t.LatencyMS.P50, p.LatencyMS.P50)
	t.LatencyMS.P95 = max(t.LatencyMS.P95, p.LatencyMS.P95)
	t.LatencyMS.Max = max(t.LatencyMS.Max, p.LatencyMS.Max)
	for code, s := range p.SubProducts {
		if t.SubProducts == nil {
			t.SubProducts = map[string]*manifest.StatusCounts{}
		}
		u := t.SubProducts[code]
		if u == nil {
			u = &manifest.StatusCounts{}
			t.SubProducts[code] = u
		}
		u.OK += s.OK
		u.NoRecord += s.NoRecord
		u.Failed += s.Failed
		u.Skipped += s.Skipped
	}
}

// roundMoney rounds to the cent, as a run's manifest does.
func roundMoney(x float64) float64 { return math.Round(x*100) / 100 }

// Figures returns the dataset's metrics: the shards' figures added up, the
// exit code its parts' verdicts give, and the collect's end as its last
// success.
func (m *Manifest) Figures() metrics.Run {
	f := m.Manifest.Figures(m.Exit.Code, strings.Join(m.Exit.Reasons, "; "), true)
	f.Finished = m.Shards.CollectedAt
	f.Shards = m.Shards.Count
	return f
}
