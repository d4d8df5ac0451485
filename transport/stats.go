package transport

import "sync/atomic"

// Stats are cumulative counters of a Server or Client (Active is a gauge).
type Stats struct {
	Accepted        uint64 // server: upgrades completed
	Rejected        uint64 // server: upgrades refused (path, closed server, handshake error)
	Dials           uint64 // client: dial attempts
	DialFailures    uint64 // client: failed dial attempts
	Active          int64  // open connections
	MessagesIn      uint64
	MessagesOut     uint64
	BytesIn         uint64
	BytesOut        uint64
	PingsSent       uint64
	QueueFull       uint64 // sends refused because the write queue was full
	WriteErrors     uint64
	IdleTimeouts    uint64 // connections closed for silence
	OversizedFrames uint64 // connections closed for a message above the read limit
}

type counters struct {
	accepted, rejected, dials, dialFailures atomic.Uint64
	active                                  atomic.Int64
	msgIn, msgOut, bytesIn, bytesOut, pings atomic.Uint64
	queueFull, writeErrors, idle, oversized atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Accepted:        c.accepted.Load(),
		Rejected:        c.rejected.Load(),
		Dials:           c.dials.Load(),
		DialFailures:    c.dialFailures.Load(),
		Active:          c.active.Load(),
		MessagesIn:      c.msgIn.Load(),
		MessagesOut:     c.msgOut.Load(),
		BytesIn:         c.bytesIn.Load(),
		BytesOut:        c.bytesOut.Load(),
		PingsSent:       c.pings.Load(),
		QueueFull:       c.queueFull.Load(),
		WriteErrors:     c.writeErrors.Load(),
		IdleTimeouts:    c.idle.Load(),
		OversizedFrames: c.oversized.Load(),
	}
}
