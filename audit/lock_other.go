//go:build !unix

package audit

import (
	"errors"
	"os"
)

// lockFile cannot lock here: the audit log is kept on Unix systems only.
func lockFile(path string) (*os.File, error) {
	return nil, &WriteError{Path: path, Op: "lock", Err: errors.New("the audit log needs a Unix system")}
}
