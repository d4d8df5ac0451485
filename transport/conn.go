package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// State is a connection state reported to a StatusFunc.
type State int

const (
	StateConnecting   State = iota // client: dialing
	StateConnected                 // a connection is up
	StateDisconnected              // a connection ended (a Client will retry)
	StateClosed                    // client: closed for good
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// StatusFunc observes state changes. c is nil for client states that have no
// connection (connecting, failed dial, closed); err says why a connection
// ended or a dial failed.
type StatusFunc func(c *Conn, s State, err error)

// Handler receives the messages of one connection, in order, on the
// connection's reader goroutine. While it runs no further message is read,
// which is how a slow consumer pushes back on the peer.
type Handler interface {
	HandleMessage(c *Conn, msg []byte)
}

// CloseHandler is an optional Handler extension, called once after both
// goroutines of the connection have stopped. err is the cause (see Conn.Err).
type CloseHandler interface {
	HandleClose(c *Conn, err error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(c *Conn, msg []byte)

// HandleMessage calls f(c, msg).
func (f HandlerFunc) HandleMessage(c *Conn, msg []byte) { f(c, msg) }

// Conn is one WebSocket connection with its reader and writer goroutines.
// Its methods are safe for concurrent use.
type Conn struct {
	ws    *websocket.Conn
	h     Handler
	o     *options
	ctr   *counters
	prio  chan []byte
	out   chan []byte
	stop  chan struct{} // closed when shutdown starts
	wdone chan struct{} // closed when the writer has stopped
	done  chan struct{} // closed when everything, HandleClose included, is over
	once  sync.Once
	cause error // set once, before stop is closed
	idle  atomic.Int64
	got   atomic.Bool // at least one message received
	// wmu is held while a frame is written; queued counts messages in the
	// lanes or being written by the writer. Together they let Send write
	// directly when the connection is idle, without reordering.
	wmu    sync.Mutex
	queued atomic.Int32
	live   atomic.Bool // goroutines started; before, everything queues
	onEnd  func(*Conn)
	// reader goroutine only
	lastLen int // size of the previous message

}

func newConn(ws *websocket.Conn, o *options, ctr *counters) *Conn {
	c := &Conn{
		ws:    ws,
		o:     o,
		ctr:   ctr,
		prio:  make(chan []byte, o.priorityQueue),
		out:   make(chan []byte, o.queueSize),
		stop:  make(chan struct{}),
		wdone: make(chan struct{}),
		done:  make(chan struct{}),
	}
	c.idle.Store(int64(o.idleTimeout))
	ws.SetReadLimit(o.readLimit)
	extend := func() {
		if d := c.idle.Load(); d > 0 {
			_ = ws.SetReadDeadline(time.Now().Add(time.Duration(d)))
		}
	}
	ws.SetPongHandler(func(string) error { extend(); return nil })
	ws.SetPingHandler(func(data string) error {
		extend()
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(o.writeTimeout))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) && !isNetTimeout(err) {
			return err
		}
		return nil
	})
	return c
}

func (c *Conn) start(h Handler) {
	c.h = h
	c.ctr.active.Add(1)
	if c.o.onStatus != nil {
		c.o.onStatus(c, StateConnected, nil)
	}
	go c.writeLoop()
	go c.readLoop()
	c.live.Store(true)
}

// Send sends msg as a text message on the normal lane. When nothing is
// queued or being written it writes at once on the caller's goroutine
// (saving a hand-off to the writer; bounded by the write timeout);
// otherwise it queues without blocking, and a full queue returns
// ErrQueueFull at once. msg must not be modified later.
func (c *Conn) Send(msg []byte) error {
	_, err := c.SendOwned(msg)
	return err
}

// SendOwned is Send for a message in a buffer the caller wants back.
// queued reports that the writer goroutine holds msg until it is written:
// leave it alone. Otherwise msg was written, or refused, before SendOwned
// returned, and its memory is the caller's again (to reuse for the next
// message, saving an allocation the size of a face image).
func (c *Conn) SendOwned(msg []byte) (queued bool, err error) {
	if done, err := c.writeNow(msg); done {
		return false, err
	}
	c.queued.Add(1)
	select {
	case c.out <- msg:
		return true, nil
	default:
		c.queued.Add(-1)
		c.ctr.queueFull.Add(1)
		return false, ErrQueueFull
	}
}

// writeNow writes msg directly if the connection is idle. done reports
// whether it did, tried and failed, or found the connection closing.
func (c *Conn) writeNow(msg []byte) (done bool, err error) {
	select {
	case <-c.stop:
		return true, ErrClosed
	default:
	}
	if !c.live.Load() || c.queued.Load() != 0 || !c.wmu.TryLock() {
		return false, nil
	}
	defer c.wmu.Unlock()
	if c.queued.Load() != 0 {
		return false, nil
	}
	select {
	case <-c.stop:
		return true, ErrClosed
	default:
	}
	if err := c.write(msg, c.o.writeTimeout); err != nil {
		c.writeFailed(err)
		return true, fmt.Errorf("%w: write: %w", ErrOffline, err)
	}
	return true, nil
}

// SendPriority queues msg on the priority lane, which the writer drains
// before the normal lane. Use it for acknowledgements. It waits for room
// until ctx ends.
func (c *Conn) SendPriority(ctx context.Context, msg []byte) error {
	if done, err := c.writeNow(msg); done {
		return err
	}
	c.queued.Add(1)
	select {
	case c.prio <- msg:
		return nil
	default:
	}
	select {
	case c.prio <- msg:
		return nil
	case <-c.stop:
		c.queued.Add(-1)
		return ErrClosed
	case <-ctx.Done():
		c.queued.Add(-1)
		c.ctr.queueFull.Add(1)
		return fmt.Errorf("%w: %w", ErrQueueFull, ctx.Err())
	}
}

// Close starts closing the connection: messages already queued are flushed
// (each write bounded by the write timeout), a close frame is sent and the
// socket is closed. It does not wait; use Done for that.
func (c *Conn) Close() error {
	c.CloseWithError(ErrClosed)
	return nil
}

// CloseWithError is Close with a cause that Err and HandleClose will report.
func (c *Conn) CloseWithError(err error) {
	if err == nil {
		err = ErrClosed
	}
	c.shutdown(err)
}

// Done is closed once both goroutines have stopped and HandleClose returned.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection is closing, or nil while it is open.
func (c *Conn) Err() error {
	select {
	case <-c.stop:
		return c.cause
	default:
		return nil
	}
}

// SetIdleTimeout changes how long the connection may stay silent; it applies
// from the next frame on. 0 disables it.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	c.idle.Store(int64(d))
	if d > 0 {
		_ = c.ws.SetReadDeadline(time.Now().Add(d))
	} else {
		_ = c.ws.SetReadDeadline(time.Time{})
	}
}

// SetReadLimit changes the largest message accepted from the next message
// on, never above the limit the connection was built with (WithReadLimit);
// n <= 0 restores that limit. Call it from the Handler (the reader
// goroutine) or from an AcceptFunc: a server keeps a small limit until the
// peer has identified itself, so that anonymous sockets cannot make it
// buffer large messages.
func (c *Conn) SetReadLimit(n int64) {
	if n <= 0 || n > c.o.readLimit {
		n = c.o.readLimit
	}
	c.ws.SetReadLimit(n)
}

// RemoteAddr is the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// LocalAddr is our network address.
func (c *Conn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

func (c *Conn) shutdown(err error) {
	c.once.Do(func() {
		c.cause = err
		close(c.stop)
	})
}

func (c *Conn) readLoop() {
	var err error
	for {
		if d := c.idle.Load(); d > 0 {
			_ = c.ws.SetReadDeadline(time.Now().Add(time.Duration(d)))
		}
		var r io.Reader
		if _, r, err = c.ws.NextReader(); err != nil {
			break
		}
		var msg []byte
		if msg, err = c.readMessage(r); err != nil {
			break
		}
		c.got.Store(true)
		c.ctr.msgIn.Add(1)
		c.ctr.bytesIn.Add(uint64(len(msg)))
		c.h.HandleMessage(c, msg)
	}
	c.shutdown(c.classify(err))
	<-c.wdone
	_ = c.ws.Close()
	c.ctr.active.Add(-1)
	cause := c.cause
	if ch, ok := c.h.(CloseHandler); ok {
		ch.HandleClose(c, cause)
	}
	if c.o.onStatus != nil {
		c.o.onStatus(c, StateDisconnected, cause)
	}
	if c.onEnd != nil {
		c.onEnd(c)
	}
	close(c.done)
}

// readMessage reads one message into a slice the handler may keep. The
// slice is sized by the connection's previous message, so a run of similar
// messages (commands carrying face images) is read straight into place: no
// scratch buffer, no copy. A larger message grows it.
func (c *Conn) readMessage(r io.Reader) ([]byte, error) {
	buf := make([]byte, 0, max(c.lastLen, minReadAlloc))
	for {
		if len(buf) == cap(buf) {
			// Full: probe for the end before growing, since a message of the
			// same size as the last one is the common case.
			var probe [1]byte
			n, err := r.Read(probe[:])
			if n > 0 {
				buf = append(buf, probe[0])
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	c.lastLen = len(buf)
	if cap(buf)-len(buf) > len(buf)/4+minReadAlloc { // a handler may keep it: not mostly slack
		buf = append(make([]byte, 0, len(buf)), buf...)
	}
	return buf, nil
}

// minReadAlloc is the smallest buffer a message is read into.
const minReadAlloc = 512

// classify turns a read error into one of our sentinels (kept wrapped).
func (c *Conn) classify(err error) error {
	select {
	case <-c.stop:
		return c.cause // we closed first; keep our reason
	default:
	}
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		c.ctr.oversized.Add(1)
		return fmt.Errorf("%w: %w", ErrMessageTooLarge, err)
	case isNetTimeout(err):
		c.ctr.idle.Add(1)
		return fmt.Errorf("%w: no frame for %v", ErrTimeout, time.Duration(c.idle.Load()))
	default:
		return fmt.Errorf("%w: %w", ErrOffline, err)
	}
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *Conn) writeLoop() {
	defer close(c.wdone)
	var tick <-chan time.Time
	if c.o.pingInterval > 0 {
		t := time.NewTicker(c.o.pingInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		var msg []byte
		select {
		case msg = <-c.prio:
		default:
			select {
			case msg = <-c.prio:
			case msg = <-c.out:
			case <-tick:
				c.ctr.pings.Add(1)
				if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.o.writeTimeout)); err != nil {
					c.writeFailed(err)
					return
				}
				continue
			case <-c.stop:
				c.flushAndClose()
				return
			}
		}
		c.wmu.Lock()
		err := c.write(msg, c.o.writeTimeout)
		c.queued.Add(-1)
		c.wmu.Unlock()
		if err != nil {
			c.writeFailed(err)
			return
		}
	}
}

func (c *Conn) write(msg []byte, timeout time.Duration) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(timeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
		return err
	}
	c.ctr.msgOut.Add(1)
	c.ctr.bytesOut.Add(uint64(len(msg)))
	return nil
}

func (c *Conn) writeFailed(err error) {
	c.ctr.writeErrors.Add(1)
	c.shutdown(fmt.Errorf("%w: write: %w", ErrOffline, err))
	_ = c.ws.Close() // wakes the reader
}

// flushAndClose writes what is already queued (an ack followed by Close must
// reach the peer), then a close frame, then closes the socket.
func (c *Conn) flushAndClose() {
	timeout := min(c.o.writeTimeout, 2*time.Second)
	c.wmu.Lock() // a direct write in progress finishes first
	defer c.wmu.Unlock()
	ok := true
	for ok {
		var msg []byte
		select {
		case msg = <-c.prio:
		case msg = <-c.out:
		default:
			ok = false
			continue
		}
		if c.write(msg, timeout) != nil {
			break
		}
	}
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(timeout))
	_ = c.ws.Close()
}
