//go:build !linux

package publish

import "errors"

// errNoExchange says the system cannot exchange two names in one rename.
var errNoExchange = errors.New("the system cannot exchange two folders in one rename")

// exchange is not available here: Commit renames the old set aside and
// the new one into place.
func exchange(a, b string) error { return errNoExchange }

// isMountRoot reports whether dir is on another device than its parent.
func isMountRoot(dir, parent string) (bool, error) { return otherDevice(dir, parent) }
