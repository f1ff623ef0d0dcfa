//go:build !linux

package store

import bolt "go.etcd.io/bbolt"

// releaseMappedIndex does nothing here: see store_linux.go.
func releaseMappedIndex(*bolt.DB, int64) {}

// allocSlots returns room for n index slots, in the heap here: see
// store_linux.go.
func allocSlots(n int) ([]indexSlot, func()) {
	return make([]indexSlot, 0, n), func() {}
}
