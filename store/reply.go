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
}
