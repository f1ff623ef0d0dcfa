//go:build !unix

package sources_test

import "testing"

// reportCPU does nothing where there is no getrusage.
func reportCPU(*testing.B) func() { return func() {} }
