//go:build unix

package sources_test

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU adds a cpu-ns/op metric to a benchmark when the returned
// function runs at its end: the process's CPU time (user and system, GC
// included) per op. On a shared machine it varies much less than ns/op,
// which counts the time the benchmark waited for a core.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
