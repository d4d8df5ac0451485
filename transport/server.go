package transport

import (
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// AcceptFunc is called for every upgraded connection before its goroutines
// start. It returns the Handler for the connection's messages, or nil to
// close the connection at once. Messages sent from AcceptFunc are queued and
// go out first.
type AcceptFunc func(c *Conn, r *http.Request) Handler

// Server is an http.Handler that upgrades requests to WebSocket connections
// (devices dial in). Mount it on any mux or pass it to http.Serve.
type Server struct {
	accept AcceptFunc
	o      options
	up     websocket.Upgrader
	ctr    counters

	mu     sync.Mutex
	conns  map[*Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewServer returns a Server that hands each connection to accept.
func NewServer(accept AcceptFunc, opts ...Option) *Server {
	s := &Server{accept: accept, o: buildOptions(opts), conns: make(map[*Conn]struct{})}
	s.up = websocket.Upgrader{
		HandshakeTimeout: s.o.handshake,
		ReadBufferSize:   s.o.readBuffer,
		WriteBufferSize:  s.o.writeBuffer,
		WriteBufferPool:  s.o.writePool,
		CheckOrigin:      s.o.checkOrigin,
	}
	return s
}

// ServeHTTP upgrades the request. Other paths than the configured one get
// 404; a closed server answers 503.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.o.path != "" && r.URL.Path != s.o.path {
		s.ctr.rejected.Add(1)
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.ctr.rejected.Add(1)
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil { // the upgrader already answered with an HTTP error
		s.ctr.rejected.Add(1)
		s.o.logger.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := newConn(ws, &s.o, &s.ctr)
	h := s.accept(c, r)
	s.mu.Lock()
	if h == nil || s.closed {
		s.mu.Unlock()
		s.ctr.rejected.Add(1)
		_ = ws.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.ctr.accepted.Add(1)
	c.onEnd = s.forget
	c.start(h)
}

func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Close refuses new connections, closes every open one and waits until all
// their goroutines have stopped.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	s.wg.Wait()
	return nil
}

// Len is the number of open connections.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats { return s.ctr.snapshot() }
