//go:build !unix

package sinks

// fileMode is the mode of every output file.
const fileMode = 0o640
