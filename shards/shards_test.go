package shards

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Shard
		wantErr string // part of the message; "" for none
	}{
		{"0/1", Shard{0, 1}, ""},
		{"3/8", Shard{3, 8}, ""},
		{" 7/8 ", Shard{7, 8}, ""},
		{"9998/9999", Shard{9998, 9999}, ""},
		{"8/8", Shard{}, "from 0 to 7"},
		{"-1/8", Shard{}, "from 0 to 7"},
		{"1/0", Shard{}, "at least 1"},
		{"0/10000", Shard{}, "at most 9999"},
		{"3", Shard{}, "INDEX/COUNT"},
		{"", Shard{}, "INDEX/COUNT"},
		{"a/8", Shard{}, `index "a" is not a whole number`},
		{"3/eight", Shard{}, `count "eight" is not a whole number`},
		{"3/8/2", Shard{}, "not a whole number"},
		{"1.5/8", Shard{}, "not a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "--shard") {
				t.Fatalf("Parse(%q) error = %v; want a *Error naming --shard and saying %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name         string
		index, count string
		want         Shard
		wantErr      string
	}{
		{"neither", "", "", Shard{}, ""},
		{"both", "2", "4", Shard{2, 4}, ""},
		{"spaces", " 0 ", " 1 ", Shard{0, 1}, ""},
		{"index only", "2", "", Shard{}, "SCOREPIPE_SHARDS is not"},
		{"count only", "", "4", Shard{}, "JOB_COMPLETION_INDEX is not"},
		{"index out of range", "4", "4", Shard{}, "from 0 to 3"},
		{"count zero", "0", "0", Shard{}, "at least 1"},
		{"count not a number", "0", "four", Shard{}, "not a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{EnvIndex: tt.index, EnvCount: tt.count}
			got, err := FromEnv(func(k string) string { return env[k] })
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("FromEnv = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("FromEnv error = %v; want one saying %q", err, tt.wantErr)
			}
		})
	}
}

// TestJumpKnownValues checks the hash against values published with other
// implementations of the paper's algorithm.
func TestJumpKnownValues(t *testing.T) {
	tests := []struct {
		key     uint64
		buckets int
		want    int
	}{
		{256, 1024, 520},
		{10863919174838991, 11, 6},
		{2016238256797177309, 11, 3},
		{0, 1, 0},
		{math.MaxUint64, 1, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d", tt.key, tt.buckets), func(t *testing.T) {
			if got := Jump(tt.key, tt.buckets); got != tt.want {
				t.Errorf("Jump(%d, %d) = %d, want %d", tt.key, tt.buckets, got, tt.want)
			}
		})
	}
}

// keys returns n applicant-like keys: 32 hex characters.
func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		out[i] = hex.EncodeToString(sum[:16])
	}
	return out
}

// TestOfKeyIsConsistent checks that keys spread evenly over the shards,
// and that growing the count moves keys only into the new shard.
func TestOfKeyIsConsistent(t *testing.T) {
	ks := keys(40000)
	for n := 1; n <= 12; n++ {
		counts := make([]int, n)
		for _, k := range ks {
			s := OfKey(k, n)
			if s < 0 || s >= n {
				t.Fatalf("OfKey(%s, %d) = %d, out of range", k, n, s)
			}
			counts[s]++
			if n > 1 {
				if prev := OfKey(k, n-1); s != prev && s != n-1 {
					t.Fatalf("key %s moved from shard %d of %d to %d of %d: only moves into the new shard are allowed", k, prev, n-1, s, n)
				}
			}
		}
		want := float64(len(ks)) / float64(n)
		for i, c := range counts {
			if math.Abs(float64(c)-want) > 0.05*want {
				t.Errorf("shard %d of %d holds %d keys, want about %.0f (±5%%)", i, n, c, want)
			}
		}
	}
}

func TestHolds(t *testing.T) {
	ks := keys(1000)
	for _, n := range []int{1, 2, 3, 8} {
		for _, k := range ks {
			holders := 0
			for i := range n {
				if (Shard{i, n}).HoldsKey(k) {
					holders++
				}
			}
			if holders != 1 {
				t.Fatalf("key %s is held by %d of %d shards, want 1", k, holders, n)
			}
		}
		for file := range 3 {
			for row := 2; row < 300; row++ {
				holders := 0
				for i := range n {
					if (Shard{i, n}).HoldsRow(file, row) {
						holders++
					}
				}
				if holders != 1 {
					t.Fatalf("file %d row %d is held by %d of %d shards, want 1", file, row, holders, n)
				}
			}
		}
	}
	if !(Shard{}).HoldsKey("anything") || !(Shard{}).HoldsRow(0, 2) {
		t.Error("the zero Shard must hold every key and row")
	}
	// A key that is not hex is hashed as text, still in range.
	for _, k := range []string{"", "x", strings.Repeat("z", 40)} {
		if s := OfKey(k, 5); s < 0 || s >= 5 {
			t.Errorf("OfKey(%q, 5) = %d", k, s)
		}
	}
}

func TestNames(t *testing.T) {
	s := Shard{3, 8}
	for _, tt := range []struct{ got, want string }{
		{s.Name(), "part-00003-of-00008"},
		{s.Marker(), "_SUCCESS.part-00003-of-00008"},
		{s.File(DirFeatures, ".parquet"), "features/part-00003-of-00008.parquet"},
		{s.String(), "3/8"},
		{s.Describe(), "shard 3 of 8"},
		{StorePath("/state/replies.db", s), "/state/replies.shard-3.db"},
		{StorePath("/state/store", s), "/state/store.shard-3"},
		{StorePath("/state/replies.db", Shard{}), "/state/replies.db"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		name string
		want Shard
		ok   bool
	}{
		{"part-00003-of-00008", Shard{3, 8}, true},
		{"part-00003-of-00008.parquet", Shard{3, 8}, true},
		{"part-00000-of-00001.json", Shard{0, 1}, true},
		{"part-00008-of-00008.parquet", Shard{}, false},
		{"part-00003-of-00000", Shard{}, false},
		{"part-3-of-8.parquet", Shard{}, false},
		{"part-00003-of-00008x", Shard{}, false},
		{"part-0000a-of-00008", Shard{}, false},
		{"features.parquet", Shard{}, false},
		{".part-00003-of-00008.parquet.tmp", Shard{}, false},
		{"", Shard{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseName(tt.name)
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParseName(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"3/8", "0/1", "8/8", "/", "-1/-1", "99999999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			return
		}
		if got.Count < 1 || got.Count > MaxCount || got.Index < 0 || got.Index >= got.Count {
			t.Fatalf("Parse(%q) = %v: out of range", s, got)
		}
		back, ok := ParseName(got.Name() + ".parquet")
		if !ok || back != got {
			t.Fatalf("ParseName(%q) = %v, %v; want %v", got.Name(), back, ok, got)
		}
	})
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"part-00003-of-00008.parquet", "part-00000-of-00001", "part--of-", "part-99999-of-99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseName(s)
		if !ok {
			return
		}
		if got.Count < 1 || got.Index < 0 || got.Index >= got.Count {
			t.Fatalf("ParseName(%q) = %v: out of range", s, got)
		}
		if !strings.HasPrefix(s, got.Name()) {
			t.Fatalf("ParseName(%q) = %v, whose name %q does not start it", s, got, got.Name())
		}
	})
}
