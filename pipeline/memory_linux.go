package pipeline

import (
	"os"
	"strconv"
	"strings"
)

// peakResidentMB returns the most memory the process has had resident so
// far (VmHWM in /proc/self/status), in MB, or 0 when it cannot be read.
// Not getrusage: on Linux its ru_maxrss starts from the memory of the
// process that started this one.
func peakResidentMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "VmHWM:") // "VmHWM:   123456 kB"
		if f := strings.Fields(v); ok && len(f) > 0 {
			if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return float64(kb) / 1024
			}
		}
	}
	return 0
}
