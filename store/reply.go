package store

import "time"

// Reply is a vendor reply as the store keeps it: what the vendor answered,
// its payload still encrypted as received.
type Reply struct {
	Product       string
	Code          int
	Message       string
	TransactionID string
	Data          string // the encrypted payload, exactly as received
	ReceivedAt    time.Time
	// KeyCheck tells which access key Data is encrypted with; zero for
	// replies stored before the store kept it (format 1).
	KeyCheck KeyCheck
}
