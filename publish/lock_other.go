//go:build !unix

package publish

import (
	"errors"
	"os"
)

var errHeld = errors.New("held by another process")

// lockFile cannot lock here: output folders are locked on Unix systems only.
func lockFile(*os.File) error {
	return errors.New("output folder locks need a Unix system")
}
