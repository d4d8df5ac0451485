package intercom

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// stack is one sipgo user agent serving UDP and TCP on one port: what the
// Endpoint and the Registrar share.
type stack struct {
	ua       *sipgo.UserAgent
	srv      *sipgo.Server
	cli      *sipgo.Client
	udp      *net.UDPConn
	tcp      *net.TCPListener
	idle     time.Duration // SIP-TCP read idle timeout (0: none)
	tcpSlots chan struct{} // one per open accepted TCP connection
	t1       time.Duration
	host     string // the address we advertise
	port     int
	log      *slog.Logger
	wg       sync.WaitGroup // serving goroutines and anything Close must wait for
}

// newStack binds addr (UDP and TCP, same port) and builds the sipgo layers.
// host "" means the listen IP (127.0.0.1 for an unspecified one). Handlers
// are registered on srv before serve.
func newStack(addr, host, name string, cfg stackConfig, nat bool) (*stack, error) {
	log := cfg.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	udp, tcp, err := listenPair(addr)
	if err != nil {
		return nil, err
	}
	la := udp.LocalAddr().(*net.UDPAddr)
	if host == "" {
		host = la.IP.String()
		if la.IP.IsUnspecified() {
			host = "127.0.0.1"
		}
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(name), sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		// sipgo's transaction layer otherwise logs to slog.Default.
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {})))
	if err != nil {
		udp.Close()
		tcp.Close()
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		ua.Close()
		udp.Close()
		tcp.Close()
		return nil, err
	}
	copts := []sipgo.ClientOption{sipgo.WithClientHostname(host), sipgo.WithClientPort(la.Port), sipgo.WithClientLogger(log)}
	if nat {
		copts = append(copts, sipgo.WithClientNAT())
	}
	cli, err := sipgo.NewClient(ua, copts...)
	if err != nil {
		ua.Close()
		udp.Close()
		tcp.Close()
		return nil, err
	}
	t1 := cfg.t1
	if t1 <= 0 {
		t1 = sip.T1
	}
	return &stack{ua: ua, srv: srv, cli: cli, udp: udp, tcp: tcp, host: host, port: la.Port, log: log,
		idle: max(cfg.tcpIdle, 0), t1: t1, tcpSlots: make(chan struct{}, max(cfg.maxTCP, 1))}, nil
}

// serve starts reading both sockets and returns once sipgo has put the UDP
// listener in its pool: ServeUDP does that asynchronously, and a request
// with Laddr sent before would make sipgo bind our port again (EADDRINUSE).
func (s *stack) serve() {
	s.wg.Add(2)
	go func() { defer s.wg.Done(); _ = s.srv.ServeUDP(s.udp) }()
	tl := boundedListener{s.tcp, s.idle, s.tcpSlots}
	go func() { defer s.wg.Done(); _ = s.srv.ServeTCP(tl) }()
	addr := s.udp.LocalAddr().String()
	for i := 0; i < 200; i++ {
		if c, err := s.ua.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// close stops transactions before sockets (a retransmission or late response
// sent after our listener is gone makes sipgo open an ephemeral socket that
// nothing closes), waits for wg, then sweeps sockets sipgo opened late: a
// request read just before the listener closed is handled on its own
// goroutine, finds no listener in the pool and opens one (sipgo v1.7.2 has
// no closed state in its transport layer).
func (s *stack) close() {
	s.ua.Close()
	s.udp.Close()
	s.tcp.Close()
	s.wg.Wait()
	time.Sleep(20 * time.Millisecond)
	_ = s.ua.TransportLayer().Close()
}

// fromUDPSocket makes a UDP request leave from our listening socket, so that
// peers and NATs see the address we advertise (sipgo otherwise opens an
// ephemeral socket per destination).
func (s *stack) fromUDPSocket(req *sip.Request) {
	req.Laddr = sip.Addr{}
	if req.Transport() == "" || sipEqualFold(req.Transport(), "udp") {
		la := s.udp.LocalAddr().(*net.UDPAddr)
		req.Laddr = sip.Addr{IP: la.IP, Port: la.Port}
	}
}

func sipEqualFold(a, b string) bool {
	return len(a) == len(b) && sip.ASCIIToLower(a) == sip.ASCIIToLower(b)
}

// listenPair binds UDP and TCP on the same port (retrying when port 0 gave a
// UDP port whose TCP twin is taken).
func listenPair(addr string) (*net.UDPConn, *net.TCPListener, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i < 20; i++ {
		u, err := net.ListenUDP("udp", ua)
		if err != nil {
			return nil, nil, err
		}
		p := u.LocalAddr().(*net.UDPAddr)
		t, err := net.ListenTCP("tcp", &net.TCPAddr{IP: p.IP, Port: p.Port})
		if err == nil {
			return u, t, nil
		}
		u.Close()
		if ua.Port != 0 {
			return nil, nil, err
		}
	}
	return nil, nil, errors.New("intercom: no free UDP+TCP port pair")
}

// boundedListener bounds accepted SIP-TCP connections in number (slots)
// and in silence (idle): sipgo keeps every connection until the peer
// closes it, so idle sockets would pile up without bound.
type boundedListener struct {
	*net.TCPListener
	idle  time.Duration
	slots chan struct{}
}

func (l boundedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.TCPListener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &idleConn{Conn: c, idle: l.idle, slots: l.slots}, nil
		default:
			c.Close() // full: refuse at accept, before reading a byte
		}
	}
}

// idleConn pushes its read deadline on every read (sipgo ends the
// connection on the timeout error) and frees its slot on Close.
type idleConn struct {
	net.Conn
	idle  time.Duration
	slots chan struct{}
	once  sync.Once
}

func (c *idleConn) Read(b []byte) (int, error) {
	if c.idle > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(b)
	var ne net.Error
	if errors.Is(err, io.EOF) || errors.As(err, &ne) && ne.Timeout() {
		// sipgo stops reading here but closes only when its reference count
		// says so; the socket and its slot must not outlive the reader.
		c.Close()
	}
	return n, err
}

func (c *idleConn) Close() error {
	c.once.Do(func() { <-c.slots })
	return c.Conn.Close()
}
