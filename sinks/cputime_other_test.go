//go:build !unix

package sinks

import "time"

// processCPU reports that the CPU time of the process is not measured here.
func processCPU() (time.Duration, bool) { return 0, false }
