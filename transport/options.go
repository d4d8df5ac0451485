package transport

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults. The read limit must hold a Base64 face image (about 1.4 MB for a
// 1 MB JPEG) with room to spare; 16 MiB is what accessctl/wsterm/PROTOCOL.md A.10 asks.
const (
	DefaultReadLimit     = 16 << 20
	DefaultWriteTimeout  = 10 * time.Second
	DefaultIdleTimeout   = 60 * time.Second
	DefaultQueueSize     = 16
	DefaultPriorityQueue = 8
	DefaultReadBuffer    = 512
	DefaultHandshake     = 10 * time.Second
)

// Option configures a Server, a Client or Dial.
type Option func(*options)

type options struct {
	path          string
	readLimit     int64
	readBuffer    int
	writeBuffer   int
	writePool     websocket.BufferPool
	writeTimeout  time.Duration
	idleTimeout   time.Duration
	pingInterval  time.Duration
	queueSize     int
	priorityQueue int
	handshake     time.Duration
	header        http.Header
	onStatus      StatusFunc
	logger        *slog.Logger
	backoff       Backoff
	checkOrigin   func(*http.Request) bool
}

// sharedWritePool lends write buffers to connections only while they write,
// so an idle connection holds none (the main cost of 10,000 idle terminals).
var sharedWritePool = &sync.Pool{}

func defaultOptions() options {
	return options{
		readLimit:     DefaultReadLimit,
		readBuffer:    DefaultReadBuffer,
		writeBuffer:   4096,
		writePool:     sharedWritePool,
		writeTimeout:  DefaultWriteTimeout,
		idleTimeout:   DefaultIdleTimeout,
		queueSize:     DefaultQueueSize,
		priorityQueue: DefaultPriorityQueue,
		handshake:     DefaultHandshake,
		logger:        slog.New(slog.DiscardHandler),
		backoff:       DefaultBackoff,
		checkOrigin:   func(*http.Request) bool { return true }, // terminals send no Origin we could check
	}
}

func buildOptions(opts []Option) options {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// WithPath makes the server accept upgrades only on this exact path (404
// elsewhere). Without it every path is accepted.
func WithPath(p string) Option { return func(o *options) { o.path = p } }

// WithReadLimit sets the largest message accepted, in bytes
// (default DefaultReadLimit). A larger message closes the connection.
func WithReadLimit(n int64) Option {
	return func(o *options) {
		if n > 0 {
			o.readLimit = n
		}
	}
}

// WithBufferSizes sets the read buffer and the pooled write buffer sizes.
// Small read buffers keep idle connections cheap; messages larger than the
// buffer are still read whole.
func WithBufferSizes(read, write int) Option {
	return func(o *options) {
		if read > 0 {
			o.readBuffer = read
		}
		if write > 0 {
			o.writeBuffer = write
		}
	}
}

// WithWriteTimeout bounds every single frame write (default 10 s).
func WithWriteTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.writeTimeout = d
		}
	}
}

// WithIdleTimeout closes a connection that receives no frame of any kind for
// d (default 60 s; 0 disables). Conn.SetIdleTimeout changes it later.
func WithIdleTimeout(d time.Duration) Option { return func(o *options) { o.idleTimeout = d } }

// WithPingInterval sends a WebSocket ping every d (default off). A pong
// extends the idle deadline, but a missing pong is not an error by itself:
// many terminals never answer pings.
func WithPingInterval(d time.Duration) Option { return func(o *options) { o.pingInterval = d } }

// WithQueueSize sets the capacity of the normal and the priority write lanes.
func WithQueueSize(normal, priority int) Option {
	return func(o *options) {
		if normal > 0 {
			o.queueSize = normal
		}
		if priority > 0 {
			o.priorityQueue = priority
		}
	}
}

// WithHandshakeTimeout bounds the client's WebSocket handshake (default 10 s).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.handshake = d
		}
	}
}

// WithHeader adds HTTP headers to the client's upgrade request.
func WithHeader(h http.Header) Option { return func(o *options) { o.header = h } }

// WithOnStatus registers a callback for connection state changes. It runs on
// the connection's goroutines and must not block.
func WithOnStatus(f StatusFunc) Option { return func(o *options) { o.onStatus = f } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithBackoff sets the client's reconnect delays (default DefaultBackoff).
func WithBackoff(b Backoff) Option { return func(o *options) { o.backoff = b } }

// WithCheckOrigin sets the server's Origin check (default: accept all).
func WithCheckOrigin(f func(*http.Request) bool) Option {
	return func(o *options) {
		if f != nil {
			o.checkOrigin = f
		}
	}
}
