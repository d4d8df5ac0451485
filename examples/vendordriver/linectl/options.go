package linectl

import (
	"log/slog"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Option configures NewServer.
type Option func(*Server)

// WithAddr sets the TCP address to listen on (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// WithDevice provisions a device: only a serial with its secret may register.
func WithDevice(serial, secret string) Option {
	return func(s *Server) { s.secrets[serial] = secret }
}

// WithSink sets where events go (default: discarded).
func WithSink(sink accessctl.EventSink) Option { return func(s *Server) { s.sink = sink } }

// WithLedger sets where PutGrant records the cards it pushed, so that a
// removal after a restart still reaches the device (default: in memory).
func WithLedger(l accessctl.Ledger) Option { return func(s *Server) { s.ledger = l } }

// WithLogger sets the logger; nil discards.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		s.log = l
	}
}

// WithHeartbeatTimeout sets the silence after which a device is offline
// (default 30 s; devices ping every 10 s).
func WithHeartbeatTimeout(d time.Duration) Option { return func(s *Server) { s.hbTimeout = d } }
