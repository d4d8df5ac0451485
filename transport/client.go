package transport

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/menjin/menjin/transport/backoff"
)

// Backoff computes reconnect delays: Min, doubling up to Max, each
// randomised by ±Jitter (a fraction) so that terminals do not reconnect in
// lock-step after a power cut. It is the SDK's one backoff policy.
type Backoff = backoff.Policy

// DefaultBackoff is 1 s doubling to 60 s with ±20 % jitter
// (accessctl/wsterm/PROTOCOL.md A.4 and D.7).
var DefaultBackoff = backoff.Default

// Dial opens one WebSocket connection to url (ws:// or wss://) whose
// messages go to h. It does not reconnect; see Client for that.
func Dial(ctx context.Context, url string, h Handler, opts ...Option) (*Conn, error) {
	o := buildOptions(opts)
	return dial(ctx, url, &o, &counters{}, func(*Conn) Handler { return h })
}

func dial(ctx context.Context, url string, o *options, ctr *counters, newHandler func(*Conn) Handler) (*Conn, error) {
	d := websocket.Dialer{
		HandshakeTimeout: o.handshake,
		ReadBufferSize:   o.readBuffer,
		WriteBufferSize:  o.writeBuffer,
		WriteBufferPool:  o.writePool,
	}
	ctr.dials.Add(1)
	ws, resp, err := d.DialContext(ctx, url, o.header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		ctr.dialFailures.Add(1)
		return nil, fmt.Errorf("transport: dial %s: %w", url, err)
	}
	c := newConn(ws, o, ctr)
	h := newHandler(c)
	if h == nil {
		_ = ws.Close()
		return nil, fmt.Errorf("transport: dial %s: %w", url, ErrClosed)
	}
	c.start(h)
	return c, nil
}

// Client keeps one connection to a server alive: it dials, and after every
// failure or disconnect waits a jittered exponential backoff and dials
// again. The backoff restarts after a connection that received a message.
type Client struct {
	url        string
	newHandler func(*Conn) Handler
	o          options
	ctr        counters
	ctx        context.Context
	cancel     context.CancelFunc
	done       chan struct{}

	mu  sync.Mutex
	cur *Conn
}

// NewClient starts connecting to url at once. newHandler is called for
// every new connection (before its goroutines start, so a first message
// such as a register report can be queued there).
func NewClient(url string, newHandler func(c *Conn) Handler, opts ...Option) *Client {
	c := &Client{url: url, newHandler: newHandler, o: buildOptions(opts), done: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run()
	return c
}

// Conn returns the current connection, or nil while disconnected. It is
// the new connection from before its first message is handled.
func (c *Client) Conn() *Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// Stats returns the client's counters across all its connections.
func (c *Client) Stats() Stats { return c.ctr.snapshot() }

// Close stops reconnecting, closes the current connection and waits for
// all goroutines to stop.
func (c *Client) Close() error {
	c.cancel()
	<-c.done
	return nil
}

func (c *Client) setCur(conn *Conn) {
	c.mu.Lock()
	c.cur = conn
	c.mu.Unlock()
}

func (c *Client) status(s State, err error) {
	if c.o.onStatus != nil {
		c.o.onStatus(nil, s, err)
	}
}

func (c *Client) run() {
	defer close(c.done)
	defer c.status(StateClosed, nil)
	attempt := 0
	for c.ctx.Err() == nil {
		c.status(StateConnecting, nil)
		conn, err := dial(c.ctx, c.url, &c.o, &c.ctr, func(cn *Conn) Handler {
			h := c.newHandler(cn)
			if h != nil {
				// Current before the reader starts: a handler that answers
				// the session's first message through Conn() finds it.
				c.setCur(cn)
			}
			return h
		})
		if err != nil {
			c.status(StateDisconnected, err)
			c.o.logger.Debug("dial failed", "url", c.url, "err", err)
		} else {
			select {
			case <-conn.Done():
			case <-c.ctx.Done():
				_ = conn.Close()
				<-conn.Done()
			}
			c.setCur(nil)
			if conn.got.Load() {
				attempt = 0
			}
		}
		t := time.NewTimer(c.o.backoff.Delay(attempt))
		attempt++
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
		}
	}
}
