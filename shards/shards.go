// Package shards splits a run across processes: a Shard is the i-th of n
// parts of the applicants, chosen by applicant key, and names the files it
// writes as parts of one dataset (features/part-00003-of-00008.parquet).
//
// An applicant's shard is a jump consistent hash (Lamping and Veach, "A
// Fast, Minimal Memory, Consistent Hash Algorithm", 2014) of its key, the
// HMAC of its identity: the same applicant lands in the same shard in every
// run of the same shard count, whichever row or file it comes from, and
// when the count grows from n to n+1 only the applicants that move to the
// new shard change shards. A row rejected before it has a key goes to the
// shard of its position (its file and row), so that every input row is
// counted by exactly one shard.
package shards

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strconv"
	"strings"
)

// MaxCount is the largest shard count: more parts than this would be
// smaller than a vendor's rate limit is worth splitting.
const MaxCount = 9999

// Environment variables a Kubernetes Indexed Job sets (JOB_COMPLETION_INDEX)
// and the one its manifest sets (SCOREPIPE_SHARDS).
const (
	EnvIndex = "JOB_COMPLETION_INDEX"
	EnvCount = "SCOREPIPE_SHARDS"
)

// Shard is the Index-th of Count parts of a run, Index counted from 0. The
// zero Shard is no shard: a whole run.
type Shard struct {
	Index int
	Count int
}

// Sharded reports whether s is a part of a run rather than the whole.
func (s Shard) Sharded() bool { return s.Count > 0 }

// String is "3/8", as --shard takes it.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Name is the name of the shard's files without extension:
// "part-00003-of-00008".
func (s Shard) Name() string { return fmt.Sprintf("part-%05d-of-%05d", s.Index, s.Count) }

// Describe is "shard 3 of 8", for messages.
func (s Shard) Describe() string { return fmt.Sprintf("shard %d of %d", s.Index, s.Count) }

// Error is a shard given wrongly, on the command line or in the
// environment.
type Error struct {
	Source string // "--shard", or the environment variables
	Value  string
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Source, e.Value, e.Msg)
}

// Parse reads "i/n": the i-th of n shards, i counted from 0.
func Parse(value string) (Shard, error) {
	bad := func(msg string) (Shard, error) {
		return Shard{}, &Error{Source: "--shard", Value: value, Msg: msg}
	}
	i, n, ok := strings.Cut(strings.TrimSpace(value), "/")
	if !ok {
		return bad("want INDEX/COUNT, e.g. 3/8 for the fourth of eight shards (the index counts from 0)")
	}
	return check("--shard", value, i, n)
}

// FromEnv reads the shard of a Kubernetes Indexed Job: JOB_COMPLETION_INDEX
// (set by Kubernetes) of SCOREPIPE_SHARDS (set by the Job's manifest to its
// completions). It returns the zero Shard when neither is set, and an error
// when only one is, or either is not a number in range.
func FromEnv(getenv func(string) string) (Shard, error) {
	i, n := strings.TrimSpace(getenv(EnvIndex)), strings.TrimSpace(getenv(EnvCount))
	source := EnvIndex + " and " + EnvCount
	switch {
	case i == "" && n == "":
		return Shard{}, nil
	case n == "":
		return Shard{}, &Error{Source: EnvIndex, Value: i, Msg: "is set but " + EnvCount + " is not: set " + EnvCount +
			" to the Job's completions (or pass --shard INDEX/COUNT); a Job that is not sharded sets neither"}
	case i == "":
		return Shard{}, &Error{Source: EnvCount, Value: n, Msg: "is set but " + EnvIndex + " is not: run as a Kubernetes Job with completionMode: Indexed, or pass --shard INDEX/COUNT"}
	}
	return check(source, i+"/"+n, i, n)
}

func check(source, value, index, count string) (Shard, error) {
	bad := func(msg string) (Shard, error) {
		return Shard{}, &Error{Source: source, Value: value, Msg: msg}
	}
	n, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil {
		return bad("the shard count " + strconv.Quote(count) + " is not a whole number")
	}
	i, err := strconv.Atoi(strings.TrimSpace(index))
	if err != nil {
		return bad("the shard index " + strconv.Quote(index) + " is not a whole number")
	}
	switch {
	case n < 1:
		return bad("the shard count must be at least 1")
	case n > MaxCount:
		return bad(fmt.Sprintf("the shard count must be at most %d", MaxCount))
	case i < 0 || i >= n:
		return bad(fmt.Sprintf("the shard index must be from 0 to %d (it counts from 0)", n-1))
	}
	return Shard{Index: i, Count: n}, nil
}

// OfKey returns the shard, of count, of an applicant key (the hex HMAC of
// transform.Keyer): a jump consistent hash of its first 64 bits. A key
// that is not hex is hashed as text.
func OfKey(key string, count int) int {
	var h uint64
	if len(key) >= 16 {
		var b [8]byte
		if _, err := hex.Decode(b[:], []byte(key[:16])); err == nil {
			h = binary.BigEndian.Uint64(b[:])
			return Jump(h, count)
		}
	}
	f := fnv.New64a()
	f.Write([]byte(key))
	return Jump(f.Sum64(), count)
}

// OfRow returns the shard, of count, of the row-th row of the file-th input
// file (in the run's order of input files): where a row rejected before it
// has an applicant key is counted.
func OfRow(file, row int, count int) int {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(file))
	binary.BigEndian.PutUint64(b[8:], uint64(row))
	f := fnv.New64a()
	f.Write(b[:])
	return Jump(f.Sum64(), count)
}

// HoldsKey reports whether the applicant key falls in s. The zero Shard
// holds every key.
func (s Shard) HoldsKey(key string) bool {
	return !s.Sharded() || OfKey(key, s.Count) == s.Index
}

// HoldsRow reports whether a row without a key falls in s (see OfRow).
func (s Shard) HoldsRow(file, row int) bool {
	return !s.Sharded() || OfRow(file, row, s.Count) == s.Index
}

// Jump is the jump consistent hash of key into buckets buckets: a bucket
// in [0, buckets), spread evenly, that changes for only 1/(n+1) of the
// keys when buckets grows from n to n+1.
func Jump(key uint64, buckets int) int {
	if buckets <= 1 {
		return 0
	}
	var b, j int64 = -1, 0
	for j < int64(buckets) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}

// StorePath returns the reply store a shard uses, beside the store path of
// a whole run: replies.db becomes replies.shard-3.db. Shards run at once
// and a store has one writer, so each shard has a store of its own, named
// by its index only: an applicant's replies stay in its shard's store from
// run to run, and most of them stay put when the shard count changes (see
// Jump). The identity secret beside it is shared.
func StorePath(path string, s Shard) string {
	if !s.Sharded() {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".shard-" + strconv.Itoa(s.Index) + ext
}

// ParseName reads a part name, "part-00003-of-00008" followed by anything
// that starts with a dot (an extension), back into its Shard.
func ParseName(name string) (Shard, bool) {
	rest, ok := strings.CutPrefix(name, "part-")
	if !ok || len(rest) < len("00000-of-00000") {
		return Shard{}, false
	}
	i, rest, ok := strings.Cut(rest, "-of-")
	if !ok || len(i) != 5 || len(rest) < 5 {
		return Shard{}, false
	}
	n, tail := rest[:5], rest[5:]
	if tail != "" && !strings.HasPrefix(tail, ".") {
		return Shard{}, false
	}
	if !digits(i) || !digits(n) {
		return Shard{}, false
	}
	s, err := check("", name, i, n)
	if err != nil {
		return Shard{}, false
	}
	return s, true
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// The layout of a sharded dataset in its output folder. Each shard writes
// its files under the folders below, named after the shard
// (features/part-00003-of-00008.parquet), and its marker last; collect
// writes manifest.json, metrics.prom, optionally features.xlsx, and
// _SUCCESS last, once every shard has published.
const (
	DirFeatures  = "features"     // part-….parquet: the dataset DuckDB, pandas and Spark read
	DirCSV       = "features-csv" // part-….csv, when csv is among the formats
	DirRejects   = "rejects"      // part-….csv
	DirManifests = "manifests"    // part-….json
	DirMetrics   = "metrics"      // part-….prom
	MarkerPrefix = "_SUCCESS."    // _SUCCESS.part-…: the shard has published
)

// Dirs are the folders the parts live in.
var Dirs = []string{DirFeatures, DirCSV, DirRejects, DirManifests, DirMetrics}

// Marker is the name of the shard's success marker, written last when the
// shard publishes: "_SUCCESS.part-00003-of-00008".
func (s Shard) Marker() string { return MarkerPrefix + s.Name() }

// File is the path, relative to the output folder, of the shard's file in
// folder dir with extension ext: File(DirFeatures, ".parquet") is
// "features/part-00003-of-00008.parquet".
func (s Shard) File(dir, ext string) string { return filepath.Join(dir, s.Name()+ext) }
