//go:build !linux

package pipeline

// peakResidentMB returns 0 here: see memory_linux.go.
func peakResidentMB() float64 { return 0 }
