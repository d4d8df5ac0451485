package linectl

import (
	"bufio"
	"cmp"
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/liveness"
	"github.com/menjin/menjin/transport/rpc"
)

// Platform names this driver in DeviceRefs and events.
const Platform = "linectl"

// Bounds before auth: how many sockets may be unregistered, for how long.
// callTimeout bounds a command's wait for its reply and the sink's for an event.
const (
	maxPreAuth  = 32
	helloWithin = 5 * time.Second
	callTimeout = 5 * time.Second
)

// Server accepts devices over TCP. It is an accessctl.Driver (Open hands
// out a handle by serial) and an accessctl.DeviceLister.
type Server struct {
	addr      string
	secrets   map[string]string
	sink      accessctl.EventSink
	ledger    accessctl.Ledger
	log       *slog.Logger
	hbTimeout time.Duration
	ln        net.Listener
	track     *liveness.Tracker
	seq       atomic.Uint64
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     map[string]*conn // the current connection per serial
	all       map[net.Conn]bool
	closed    bool
	unauth    int // sockets not registered yet
}

// conn is one registered connection.
type conn struct {
	c       net.Conn
	serial  string
	wmu     sync.Mutex
	pending rpc.Pending[Line]
}

// Option configures NewServer.
type Option func(*Server)

// WithAddr sets the TCP address to listen on (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// WithDevice provisions a device: only a serial with its secret may register.
func WithDevice(serial, secret string) Option { return func(s *Server) { s.secrets[serial] = secret } }

// WithSink sets where events go (default: discarded).
func WithSink(sink accessctl.EventSink) Option { return func(s *Server) { s.sink = sink } }

// WithLedger sets where PutGrant records the cards it pushed, so that a
// removal after a restart still reaches the device (default: in memory).
func WithLedger(l accessctl.Ledger) Option { return func(s *Server) { s.ledger = l } }

// WithLogger sets the logger; nil discards.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) { s.log = cmp.Or(l, slog.New(slog.DiscardHandler)) }
}

// WithHeartbeatTimeout sets the silence after which a device is offline
// (default 30 s; the simulator pings every second).
func WithHeartbeatTimeout(d time.Duration) Option { return func(s *Server) { s.hbTimeout = d } }

// NewServer listens and serves until Close.
func NewServer(opts ...Option) (*Server, error) {
	s := &Server{addr: "127.0.0.1:0", secrets: map[string]string{}, hbTimeout: 30 * time.Second,
		sink: accessctl.FanOut(), ledger: accessctl.NewMemoryLedger(), log: slog.New(slog.DiscardHandler),
		conns: map[string]*conn{}, all: map[net.Conn]bool{}}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, accessctl.MapTransportError("listen", err)
	}
	s.ln, s.track = ln, liveness.New(s.sink, liveness.WithTimeout(s.hbTimeout))
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		ok := !s.closed && s.unauth < maxPreAuth // else refuse before reading a byte
		if ok {
			s.unauth++
			s.all[c] = true
			s.wg.Add(1)
			go s.serve(c)
		}
		s.mu.Unlock()
		if !ok {
			_ = c.Close()
		}
	}
}

func (s *Server) serve(nc net.Conn) {
	defer s.wg.Done()
	defer func() { s.mu.Lock(); delete(s.all, nc); s.mu.Unlock(); _ = nc.Close() }()
	sc := bufio.NewScanner(nc)
	sc.Buffer(make([]byte, 0, MaxLine), MaxLine) // bounded before and after auth
	c, err := s.hello(nc, sc)
	s.mu.Lock()
	if s.unauth--; err == nil {
		if old := s.conns[c.serial]; old != nil {
			_ = old.c.Close() // a newer connection replaces it
		}
		s.conns[c.serial] = c
	}
	s.mu.Unlock()
	if err != nil {
		s.log.Info("registration refused", "remote", nc.RemoteAddr(), "err", err)
		return
	}
	ref := s.ref(c.serial)
	_ = s.track.Connected(context.Background(), ref) // a refused online goes again at the next line
	for {
		_ = nc.SetReadDeadline(time.Now().Add(s.hbTimeout))
		if !sc.Scan() {
			break
		}
		_ = s.track.Seen(context.Background(), ref)
		l, err := ParseLine(sc.Text())
		if err != nil {
			s.log.Warn("bad line", "device", c.serial, "err", err)
			break
		}
		switch l.Verb {
		case "OK", "ERR":
			c.pending.Resolve(l.Args[0], l)
		case "EVT":
			s.event(c, l)
		}
	}
	c.pending.Close(rpc.ErrOffline)
	s.mu.Lock()
	current := s.conns[c.serial] == c
	if current {
		delete(s.conns, c.serial)
	}
	s.mu.Unlock()
	if current {
		_ = s.track.Lost(context.Background(), ref)
	}
}

// hello reads the registration: the first line, within helloWithin, must
// be HELLO with a provisioned serial and its secret.
func (s *Server) hello(nc net.Conn, sc *bufio.Scanner) (*conn, error) {
	_ = nc.SetReadDeadline(time.Now().Add(helloWithin))
	if !sc.Scan() {
		return nil, fmt.Errorf("%w: no hello: %v", accessctl.ErrInvalid, sc.Err())
	}
	l, err := ParseLine(sc.Text())
	if err != nil || l.Verb != "HELLO" {
		return nil, fmt.Errorf("%w: want HELLO first (%v)", accessctl.ErrInvalid, err)
	}
	want, ok := s.secrets[l.Args[0]]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(l.Args[1])) != 1 {
		return nil, fmt.Errorf("%w: bad serial or secret for %q", accessctl.ErrRejected, l.Args[0])
	}
	c := &conn{c: nc, serial: l.Args[0]}
	return c, c.write(Line{Verb: "OK", Args: []string{"0"}})
}

// event hands a pass to the sink and acknowledges it only once the sink
// accepted it; otherwise the device sends it again. It runs on the reader:
// a slow sink slows this device, and no event is dropped.
func (s *Server) event(c *conn, l Line) {
	ms, err := strconv.ParseInt(l.Args[1], 10, 64)
	if err != nil {
		return
	}
	e := accessctl.Event{
		ID: Platform + ":" + c.serial + ":" + l.Args[0], Kind: accessctl.KindPass, Platform: Platform,
		Device: s.ref(c.serial), OccurredAt: time.UnixMilli(ms), ReceivedAt: time.Now(),
		Pass: &accessctl.PassEvent{Method: accessctl.MethodCard, Credential: l.Args[2],
			Kind: accessctl.PassGranted, Result: accessctl.Result{Granted: true}},
	}
	if l.Args[3] != "" {
		e.Pass.Person = &accessctl.PersonRef{ID: l.Args[3]}
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := s.sink.Handle(ctx, e); err != nil {
		s.log.Info("sink refused event; the device will resend it", "id", e.ID, "err", err)
		return
	}
	_ = c.write(Line{Verb: "ACK", Args: []string{l.Args[0]}})
}

func (c *conn) write(l Line) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.c.SetWriteDeadline(time.Now().Add(callTimeout))
	_, err := c.c.Write([]byte(l.Encode()))
	return err
}

// rejection is the device's ERR reply; MapTransportError makes it a
// *accessctl.RejectedError.
type rejection struct{ code, msg string }

func (r rejection) Error() string                     { return "linectl: device refused: " + r.code + " " + r.msg }
func (r rejection) Rejection() (code, message string) { return r.code, r.msg }

// call sends a command and waits for its OK or ERR.
func (s *Server) call(ctx context.Context, serial, verb string, args ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	c, closed := s.conns[serial], s.closed
	s.mu.Unlock()
	if closed {
		return accessctl.ErrClosed
	} else if c == nil {
		return rpc.ErrOffline
	}
	id := strconv.FormatUint(s.seq.Add(1), 10)
	l := Line{Verb: verb, Args: append([]string{id}, args...)}
	if len(l.Encode()) > MaxLine {
		return fmt.Errorf("%w: %s line longer than %d bytes", accessctl.ErrInvalid, verb, MaxLine)
	}
	call, err := c.pending.Add(id)
	if err != nil {
		return err
	}
	if err := c.write(l); err != nil {
		call.Cancel()
		return rpc.ErrOffline
	}
	r, err := call.Wait(ctx, callTimeout)
	if err == nil && r.Verb == "ERR" {
		err = rejection{r.Args[1], r.Args[2]}
	}
	return err
}

func (s *Server) ref(serial string) accessctl.DeviceRef {
	return accessctl.DeviceRef{Platform: Platform, ID: serial}
}

// Open returns a handle to the provisioned device cfg.ID, connected or not.
func (s *Server) Open(_ context.Context, cfg accessctl.DeviceConfig) (accessctl.Device, error) {
	return s.Device(cfg.ID)
}

// Device is Open's typed twin.
func (s *Server) Device(serial string) (*Device, error) {
	if _, ok := s.secrets[serial]; !ok {
		return nil, fmt.Errorf("%w: device %q is not provisioned", accessctl.ErrNotFound, serial)
	}
	return &Device{s: s, serial: serial}, nil
}

// Devices lists every provisioned device's status.
func (s *Server) Devices(context.Context) ([]accessctl.Status, error) {
	out := make([]accessctl.Status, 0, len(s.secrets))
	for serial := range s.secrets {
		out = append(out, s.status(serial))
	}
	return out, nil
}

func (s *Server) status(serial string) accessctl.Status {
	st, ok := s.track.Status(s.ref(serial))
	if !ok {
		st = accessctl.Status{Device: s.ref(serial)}
	}
	st.Info.Serial = serial
	return st
}

// Close stops accepting, drops every connection and reports the devices
// offline.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for c := range s.all {
		_ = c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	_ = s.track.Close(ctx)
	return err
}
