package pipeline

import "time"

// SetPacing makes the runs that follow climb back to just below what the
// vendor let through within recover after a throttling answer, and double
// their rate past it within probe, until restore is called.
func SetPacing(recover, probe time.Duration) (restore func()) {
	old := defaultPacing
	defaultPacing.Recover, defaultPacing.Probe = recover, probe
	return func() { defaultPacing = old }
}
