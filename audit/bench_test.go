//go:build unix

package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/transform"
)

// cpuTime returns the CPU time the process has used, user and system, in
// nanoseconds: on a shared machine it says more than the time on the clock.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkAppendReuse is the cost a run from stored replies pays per
// row and product: a reuse line, not waited for.
func BenchmarkAppendReuse(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), FileName), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := reuse("0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "3f2a9c4e5b6d7f8091a2b3c4d5e6f708", time.Time{})
	e.RepliedAt = time.Now()
	b.ReportAllocs()
	cpu := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op") }()
	b.RunParallel(func(pb *testing.PB) {
		mine := *e
		for pb.Next() {
			mine.Time = time.Time{}
			if err := l.Append(&mine, false); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAppendDurable is the cost of a request's line, waited for, with
// 8 requests in flight at once (a product's default concurrency).
func BenchmarkAppendDurable(b *testing.B) {
	dir := os.Getenv("AUDIT_BENCH_DIR") // a disk of the kind runs use; the default is the test's temporary folder
	if dir == "" {
		dir = b.TempDir()
	} else {
		dir, _ = os.MkdirTemp(dir, "bench")
		defer os.RemoveAll(dir)
	}
	l, err := Open(filepath.Join(dir, FileName), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		e := request("0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", 1, "3f2a9c4e5b6d7f8091a2b3c4d5e6f708", time.Time{})
		for pb.Next() {
			e.Time = time.Time{}
			if err := l.Append(e, true); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchLog writes a log of n lines over n/1000 runs, a day apart.
func benchLog(b *testing.B, n int) string {
	path := filepath.Join(b.TempDir(), FileName)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf []byte
	for i := range n {
		run := fmt.Sprintf("run-%06d", i/1000)
		buf = reuse(run, fmt.Sprintf("%032x", i), t0.Add(time.Duration(i)*time.Second)).AppendJSON(buf)
		if len(buf) > 1<<20 {
			f.Write(buf)
			buf = buf[:0]
		}
	}
	f.Write(buf)
	f.Close()
	return path
}

// BenchmarkScan1M reads a log of a million lines for one applicant.
func BenchmarkScan1M(b *testing.B) {
	path := benchLog(b, 1_000_000)
	b.ResetTimer()
	for range b.N {
		n := 0
		if _, err := scanFile(path, Filter{ApplicantKeys: []string{fmt.Sprintf("%032x", 777)}}, func(*Query) error { n++; return nil }); err != nil || n != 1 {
			b.Fatalf("scan: %v, %d queries", err, n)
		}
	}
}

// BenchmarkScan1MAll decodes every line of a log of a million lines.
func BenchmarkScan1MAll(b *testing.B) {
	path := benchLog(b, 1_000_000)
	b.ResetTimer()
	for range b.N {
		if _, err := scanFile(path, Filter{Since: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}, func(*Query) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrune1MNothing is a run's start when retention removes nothing
// from a log of a million lines.
func BenchmarkPrune1MNothing(b *testing.B) {
	path := benchLog(b, 1_000_000)
	l, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ResetTimer()
	for range b.N {
		if n, err := l.Prune(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil || n != 0 {
			b.Fatalf("prune: %d, %v", n, err)
		}
	}
}

// BenchmarkReused is the whole of what a run from stored replies pays per
// row and product for the consent audit trail: Recorder.Reused with the
// parameters and reply of a JRZQ9E2A row, from 64 goroutines at once (the
// bench's concurrency), each row its own applicant.
func BenchmarkReused(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), FileName), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rec, err := NewRecorder(l, "01a22bdc-d732-7e31-a62d-2d69a1a50fbc", []byte("0123456789abcdef0123456789abcdef"), tianyuan.DefaultCodePolicy())
	if err != nil {
		b.Fatal(err)
	}
	const rows = 1024
	params := make([]tianyuan.Params, rows)
	replies := make([]*tianyuan.Reply, rows)
	keys := make([]string, rows)
	at := time.Now().Add(-time.Hour)
	for i := range rows {
		params[i] = tianyuan.Params{transform.ParamName: "张三丰", transform.ParamIDCard: fmt.Sprintf("110101199003%06d", i),
			transform.ParamMobile: fmt.Sprintf("138%08d", i), transform.ParamAuthCode: fmt.Sprintf("AUTH%08d", i)}
		replies[i] = &tianyuan.Reply{Code: 0, TransactionID: fmt.Sprintf("JRZQ9E2A-%06d-d513a787", i), ReceivedAt: at.Add(time.Duration(i) * time.Millisecond)}
		keys[i] = fmt.Sprintf("%032x", i*7919)
	}
	b.ReportAllocs()
	b.SetParallelism(32)
	cpu := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op") }()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) % rows
			if err := rec.Reused("JRZQ9E2A", keys[i], params[i], replies[i], nil, true); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
