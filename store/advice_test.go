package store

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// TestWriteErrorAdvice: the advice of a refused write matches its errno,
// wrapped as the os package wraps it or not.
func TestWriteErrorAdvice(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		want     string
		wantNot  string
		refusals bool // writeRefused
	}{
		{"read-only", syscall.EROFS, "read-only: mount it read-write", "free space", true},
		{"read-only, a PathError", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EROFS}, "read-only", "free space", true},
		{"permission denied", syscall.EACCES, "fix the owner or the permissions", "free space", true},
		{"operation not permitted", fmt.Errorf("open: %w", syscall.EPERM), "fix the owner or the permissions", "free space", true},
		{"disk full", syscall.ENOSPC, "is full: free space there", "read-only", true},
		{"quota", syscall.EDQUOT, "quota is reached: free space", "read-only", true},
		{"file size limit", syscall.EFBIG, "ulimit -f", "free space", false},
		{"I/O error", syscall.EIO, "the disk failed", "free space", false},
		{"no errno", errors.New("short write"), "check the disk", "free space", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := (&WriteError{Path: "/state/replies.db.log", Op: "write", Err: tt.err}).Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, tt.wantNot) {
				t.Errorf("message %q: want %q in it and not %q", msg, tt.want, tt.wantNot)
			}
			if !strings.Contains(msg, "cache.path or SCOREPIPE_STATE_DIR") {
				t.Errorf("message %q does not say where else the store may go", msg)
			}
			if got := writeRefused(tt.err); got != tt.refusals {
				t.Errorf("writeRefused = %v, want %v", got, tt.refusals)
			}
		})
	}
}
