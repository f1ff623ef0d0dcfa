//go:build !race

package transform_test

// raceDetector is true when the tests run under the race detector, which
// makes sync.Pool drop what it is given: allocation counts mean nothing.
const raceDetector = false
