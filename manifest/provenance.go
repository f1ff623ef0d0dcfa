package manifest

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"
)

// FileName is the manifest's name in the output folder.
const FileName = "manifest.json"

// NewRunID returns a UUID version 7: time-ordered, random in its last 74
// bits.
func NewRunID(now time.Time) string {
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

// syntheticWarning is what every file of a run on the fake vendor says.
const syntheticWarning = "SYNTHETIC DATA: the features come from the built-in fake vendor, not from the real one; do not use them for modelling or decisions"

// FileMetadata is the key-value metadata of the Parquet file: the run's
// provenance, and whether the data is synthetic.
func (m *Manifest) FileMetadata() map[string]string {
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

// About is the workbook's "about" sheet: the same facts as FileMetadata.
func (m *Manifest) About() [][2]string {
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
		{"manifest", FileName + " beside this file holds the counts, the inputs and their hashes, and the cost"},
	}
}
