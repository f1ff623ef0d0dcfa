//go:build unix

package sinks

import "syscall"

// fileMode is the mode of every output file: 0640, lowered by the umask.
var fileMode = func() uint32 {
	mask := syscall.Umask(0) // the umask can only be read by setting it
	syscall.Umask(mask)
	return 0o640 &^ uint32(mask)
}()
