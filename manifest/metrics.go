package manifest

import (
	"sort"

	"github.com/scorepipe/scorepipe/metrics"
)

// Figures returns the metrics of the run the manifest describes, ended
// with the exit code given (as the command maps its error) and the
// reason; published says whether its outputs were published.
func (m *Manifest) Figures(code int, reason string, published bool) metrics.Run {
	f := metrics.Run{
		Rows: metrics.Rows{Read: int64(m.Rows.Read), Valid: int64(m.Rows.Valid), Rejected: int64(m.Rows.Rejected),
			Written: int64(m.Rows.Written)},
		Cost: m.Cost, Started: m.StartedAt, Finished: m.FinishedAt, ExitCode: code, Reason: reason,
		Published: published, RunID: m.RunID, Version: m.Version, Fake: m.Vendor.Fake,
	}
	for _, in := range m.Inputs {
		f.Rows.Blank += int64(in.Blank)
	}
	if m.Shard != nil {
		f.Shards = m.Shard.Count
	}
	codes := make([]string, 0, len(m.Products))
	for code := range m.Products {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		p := m.Products[code]
		fp := metrics.Product{Code: code, Status: statusFigures(p.StatusCounts), Calls: p.Calls, Billed: p.Billed,
			PossiblyBilled: p.PossiblyBilled, Retries: p.Retries, FromStore: p.FromStore, Deduplicated: p.Deduplicated,
			Throttled: p.Throttled, PausedSeconds: p.PausedSeconds, RateMin: p.RateMin, RateFinal: p.RateFinal, Cost: p.Cost}
		for sub, c := range p.SubProducts {
			if fp.SubProducts == nil {
				fp.SubProducts = map[string]map[string]int64{}
			}
			fp.SubProducts[sub] = statusFigures(*c)
		}
		f.Products = append(f.Products, fp)
	}
	return f
}

func statusFigures(c StatusCounts) map[string]int64 {
	return map[string]int64{"ok": int64(c.OK), "no_record": int64(c.NoRecord), "failed": int64(c.Failed), "skipped": int64(c.Skipped)}
}
