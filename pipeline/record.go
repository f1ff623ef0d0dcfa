package pipeline

// What a run records about itself: its verdict (Exit), the hashes of its
// inputs, its id, and the marks every file carries (the Parquet metadata,
// the workbook's about sheet).

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/scorepipe/scorepipe/transform"
)

// ExitIncomplete is the exit code of a run that finished but is not
// complete (see Incomplete).
const ExitIncomplete = 2

// verdict says whether the finished run is complete, and if not why, one
// reason a line: no valid row left, a product that failed for some rows or
// was skipped for every row, a sub-product that failed for some rows its
// product answered.
func (r *run) verdict() Exit {
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
		return Exit{Code: 0, Reasons: reasons}
	}
	return Exit{Code: ExitIncomplete, Reasons: reasons}
}

// err is the error Run returns for the verdict: nil or an *Incomplete.
func (e Exit) err() error {
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
		*f.counts = InputCounts{File: f.path, Size: f.counts.Size}
	}
	r.read.Store(0)
	r.rejected.Store(0)
	r.otherShards = 0
	clear(r.manifest.Rejects)
	r.manifest.Rows = RowCounts{}
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
			sum, err := fileSHA256(ctx, r.files[i].path)
			results <- result{i, sum, err}
		}
	}()
	return func() error {
		for range r.files {
			res := <-results
			if res.err != nil {
				return fmt.Errorf("input %s: %w", r.files[res.i].path, res.err)
			}
			r.files[res.i].counts.SHA256 = res.sum
		}
		r.manifest.Inputs = r.manifest.Inputs[:0]
		for _, f := range r.files {
			r.manifest.Inputs = append(r.manifest.Inputs, *f.counts)
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

// newRunID returns a UUID version 7: time-ordered, random in its last 74
// bits.
func newRunID(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	ms := uint64(now.UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// roundMoney rounds an amount to a millionth, dropping float noise
// (210 × 0.35 is 73.49999999999999).
func roundMoney(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// syntheticWarning is what every file of a run on the fake vendor says.
const syntheticWarning = "SYNTHETIC DATA: the features come from the built-in fake vendor, not from the real one; do not use them for modelling or decisions"

// fileMetadata is the key-value metadata of the Parquet file: the run's
// provenance, and whether the data is synthetic.
func (r *run) fileMetadata() map[string]string {
	m := r.manifest
	md := map[string]string{
		"scorepipe.run_id":          m.RunID,
		"scorepipe.build":           m.Build.String(),
		"scorepipe.started_at":      m.StartedAt.Format(time.RFC3339),
		"scorepipe.config_sha256":   m.ConfigSHA256,
		"scorepipe.vendor_endpoint": m.Vendor.Endpoint,
		"scorepipe.vendor_fake":     strconv.FormatBool(m.Vendor.Fake),
	}
	if m.Vendor.Fake {
		md["scorepipe.synthetic"] = syntheticWarning
	}
	return md
}

// about is the workbook's "about" sheet: the same facts as fileMetadata.
func (r *run) about() [][2]string {
	m := r.manifest
	fake := "no: the vendor at the endpoint below"
	if m.Vendor.Fake {
		fake = "YES. " + syntheticWarning
	}
	return [][2]string{
		{"synthetic", fake},
		{"run_id", m.RunID},
		{"build", m.Build.String()},
		{"started_at", m.StartedAt.Format(time.RFC3339)},
		{"vendor_endpoint", m.Vendor.Endpoint},
		{"config_sha256", m.ConfigSHA256},
		{"manifest", FileManifest + " beside this file holds the counts, the inputs and their hashes, and the cost"},
	}
}
