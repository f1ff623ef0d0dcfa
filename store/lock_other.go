//go:build !unix

package store

import "os"

// lockStore creates the store's lock file. Here the lock is bbolt's own,
// on the index, taken when it is opened.
func lockStore(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, &WriteError{Path: path + ".lock", Op: "create", Err: err}
	}
	return f, nil
}
