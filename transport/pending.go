package transport

import "github.com/menjin/menjin/transport/rpc"

// Pending and its companions live in transport/rpc (no WebSocket
// dependency); these aliases keep the names transport always had.
type (
	Pending[T any] = rpc.Pending[T]
	Call[T any]    = rpc.Call[T]
	Outcome        = rpc.Outcome
)

// What Resolve did with a reply (see rpc.Outcome).
const (
	Delivered = rpc.Delivered
	Late      = rpc.Late
	Duplicate = rpc.Duplicate
	Unknown   = rpc.Unknown
)
