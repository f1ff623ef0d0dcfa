//go:build !unix

package transform_test

import "testing"

// reportCPU does nothing where there is no getrusage.
func reportCPU(*testing.B) func() { return func() {} }
