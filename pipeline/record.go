package pipeline

// What a run works out about itself for its manifest (package manifest):
// its verdict (Exit) and the hashes of its inputs.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/transform"
)

// ExitIncomplete is the exit code of a run that finished but is not
// complete (see Incomplete).
const ExitIncomplete = 2

// verdict says whether the finished run is complete, and if not why, one
// reason a line: no valid row left, a product that failed for some rows or
// was skipped for every row, a sub-product that failed for some rows its
// product answered.
func (r *run) verdict() manifest.Exit {
	m := r.manifest
	reasons := []string{}
	if m.Rows.Valid == 0 && !(m.Shard != nil && m.Rows.Read == 0 && r.otherShards > 0) { // a shard may hold no applicant
		if m.Rows.Read == 0 {
			reasons = append(reasons, "no valid row: the input files hold no data row")
		} else {
			reasons = append(reasons, fmt.Sprintf("no valid row: all %s input rows were rejected (see rejects.csv)", thousands(int64(m.Rows.Read))))
		}
	}
	rows := int64(m.Rows.Written)
	for _, p := range r.prods {
		c := p.counts
		col := strings.ToLower(p.code)
		if c.Failed > 0 {
			reasons = append(reasons, fmt.Sprintf("%s failed at the vendor for %s of %s rows (see %s_status and %s_message)",
				p.code, thousands(int64(c.Failed)), thousands(rows), col, col))
		}
		if rows > 0 && int64(c.Skipped) == rows {
			reasons = append(reasons, fmt.Sprintf("%s was skipped for every row: %s (see %s_message)", p.code, topReason(p.skipReasons), col))
		}
		for _, s := range p.catalog.Subs {
			// A row whose product failed has every sub-product failed too,
			// and is told above.
			if n := p.counts.SubProducts[s.Code].Failed - c.Failed; n > 0 {
				reasons = append(reasons, fmt.Sprintf("%s (in %s) failed for %s of %s rows (see %s_status)",
					s.Code, p.code, thousands(int64(n)), thousands(rows), strings.ToLower(s.Code)))
			}
		}
	}
	if len(reasons) == 0 {
		return manifest.Exit{Code: 0, Reasons: reasons}
	}
	return manifest.Exit{Code: ExitIncomplete, Reasons: reasons}
}

// exitError is the error Run returns for the verdict: nil or an
// *Incomplete.
func exitError(e manifest.Exit) error {
	if e.Code == 0 {
		return nil
	}
	return &Incomplete{Reasons: e.Reasons}
}

// topReason is the most frequent reason, with how many others there are.
func topReason(reasons map[string]int) string {
	best, n := "", 0
	for reason, c := range reasons {
		if c > n || c == n && reason < best {
			best, n = reason, c
		}
	}
	if best == "" {
		return "no authorization for it"
	}
	if len(reasons) > 1 {
		return fmt.Sprintf("%s (and %d other reasons)", best, len(reasons)-1)
	}
	return best
}

// countSkip counts why a product was skipped for a written row.
func (p *productRun) countSkip(reply *transform.Reply) {
	if p.skipReasons == nil {
		p.skipReasons = map[string]int{}
	}
	if len(p.skipReasons) < 100 || p.skipReasons[reply.Message] > 0 {
		p.skipReasons[reply.Message]++
	}
}

// resetCounts forgets what a pass over the inputs before the run (the
// budget check) counted.
func (r *run) resetCounts() {
	for i := range r.files {
		f := &r.files[i]
		*f.Counts = manifest.InputCounts{File: f.Path, Size: f.Counts.Size}
	}
	r.read.Store(0)
	r.rejected.Store(0)
	r.otherShards = 0
	clear(r.manifest.Rejects)
	r.manifest.Rows = manifest.RowCounts{}
}

// hashInputs computes the SHA-256 of every input file while the run goes;
// the function it returns waits for them and puts them in the counts.
func (r *run) hashInputs(ctx context.Context) (wait func() error) {
	type result struct {
		i   int
		sum string
		err error
	}
	results := make(chan result, len(r.files))
	go func() {
		for i := range r.files {
			sum, err := fileSHA256(ctx, r.files[i].Path)
			results <- result{i, sum, err}
		}
	}()
	return func() error {
		for range r.files {
			res := <-results
			if res.err != nil {
				return fmt.Errorf("input %s: %w", r.files[res.i].Path, res.err)
			}
			r.files[res.i].Counts.SHA256 = res.sum
		}
		r.manifest.Inputs = r.manifest.Inputs[:0]
		for _, f := range r.files {
			r.manifest.Inputs = append(r.manifest.Inputs, *f.Counts)
		}
		return nil
	}
}

// fileSHA256 returns the hex SHA-256 of a file's bytes.
func fileSHA256(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// roundMoney rounds an amount to a millionth, dropping float noise
// (210 × 0.35 is 73.49999999999999).
func roundMoney(x float64) float64 { return math.Round(x*1e6) / 1e6 }
