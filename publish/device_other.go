//go:build !unix

package publish

// otherDevice cannot tell here.
func otherDevice(dir, parent string) (bool, error) { return false, nil }
