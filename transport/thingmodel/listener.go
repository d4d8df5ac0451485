package thingmodel

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// guardedListener is the broker's accept loop: it survives accept errors
// (EMFILE, ENFILE, ECONNABORTED) by backing off instead of stopping, gives
// every new socket a deadline for its CONNECT, and refuses sockets beyond
// a cap of connections that have not authenticated yet.
type guardedListener struct {
	id, addr   string
	tlsConfig  *tls.Config
	ln         net.Listener // given by WithBrokerListener, or opened by Init
	connectTO  time.Duration
	maxPending int
	log        *slog.Logger

	pending                   atomic.Int64
	acceptErrors, overPending atomic.Uint64
	closed                    atomic.Bool
	closeOnce                 sync.Once
	stop                      chan struct{}

	// Close closes every connection it handed to mochi and waits for
	// them: mochi counts a client in its WaitGroup only once the
	// connection's goroutine runs, which would race with its final Wait.
	mu       sync.Mutex
	started  bool // Serve ran (Close waits for it to return)
	conns    map[*pendingConn]struct{}
	wg       sync.WaitGroup
	serveEnd chan struct{}
}

// Accept-error backoff: like net/http, 5 ms doubling to 1 s.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

func (l *guardedListener) ID() string       { return l.id }
func (l *guardedListener) Protocol() string { return "tcp" }

func (l *guardedListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.addr
}

func (l *guardedListener) Init(log *slog.Logger) error {
	if l.log == nil {
		l.log = log
	}
	if l.ln != nil {
		return nil
	}
	var err error
	if l.tlsConfig != nil {
		l.ln, err = tls.Listen("tcp", l.addr, l.tlsConfig)
	} else {
		l.ln, err = net.Listen("tcp", l.addr)
	}
	return err
}

func (l *guardedListener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return
	}
	l.started = true
	l.mu.Unlock()
	defer close(l.serveEnd)
	var delay time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if l.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: keep the broker serving the
			// sessions it has and try again shortly.
			l.acceptErrors.Add(1)
			delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
			l.log.Warn("linkkit: accept failed, retrying", "error", err, "in", delay)
			select {
			case <-time.After(delay):
			case <-l.stop:
				return
			}
			continue
		}
		delay = 0
		if l.pending.Add(1) > int64(l.maxPending) {
			l.pending.Add(-1)
			l.overPending.Add(1)
			_ = conn.Close()
			continue
		}
		pc := &pendingConn{Conn: conn, l: l}
		_ = conn.SetDeadline(time.Now().Add(l.connectTO))
		l.mu.Lock()
		if l.closed.Load() {
			l.mu.Unlock()
			pc.authenticated()
			_ = conn.Close()
			return
		}
		l.conns[pc] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.wg.Done()
			defer func() {
				l.mu.Lock()
				delete(l.conns, pc)
				l.mu.Unlock()
			}()
			if err := establish(l.id, pc); err != nil {
				l.log.Debug("linkkit: connection ended", "remote", conn.RemoteAddr().String(), "error", err)
			}
			pc.authenticated() // in case it ended before authenticating
		}()
	}
}

func (l *guardedListener) Close(closeClients listeners.CloseFn) {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed.Store(true)
		started := l.started
		l.mu.Unlock()
		close(l.stop)
		closeClients(l.id)
		if l.ln != nil {
			_ = l.ln.Close()
		}
		if started {
			<-l.serveEnd
		}
		l.mu.Lock()
		for pc := range l.conns {
			_ = pc.Conn.Close() // sockets mochi has not listed as clients yet
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
}

// pendingConn counts against the unauthenticated cap until authenticated
// is called (by the auth hook, or when the connection ends).
type pendingConn struct {
	net.Conn
	l    *guardedListener
	once sync.Once
}

func (c *pendingConn) authenticated() {
	c.once.Do(func() { c.l.pending.Add(-1) })
}
