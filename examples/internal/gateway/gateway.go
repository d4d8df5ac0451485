// Package gateway is the glue the example programs share: a WebSocket
// face-terminal gateway (a wsterm.Server that terminals dial into, its
// admin HTTP API from accessctl/adminapi, and a sink that prints one JSON
// line per event), the admin API's token rules and bounded HTTP servers.
// examples/wsgateway is a thin main around it; examples/demo starts the
// same gateway in-process.
//
//	gw, err := gateway.Start(gateway.Config{Listen: "127.0.0.1:0", API: "127.0.0.1:0", Events: os.Stdout})
//	defer gw.Close()
//	fmt.Println(gw.URL(), gw.APIURL())
package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/adminapi"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/transport"
)

// Config says where the gateway listens and where events go.
type Config struct {
	Listen string // terminals connect to ws://Listen/ (host:port; port 0 picks one)
	Path   string // accept terminals only on this path ("": any path)
	// TLS, if set, makes terminals connect with wss:// (see TerminalFlags.TLS).
	TLS *tls.Config
	API string // admin HTTP API address ("": none)
	// APIToken is the admin API's bearer token ("": none, which Start
	// allows on a loopback API address only).
	APIToken string
	Events   io.Writer
	// Sink, if set, receives events too (after the JSON line is written).
	Sink    accessctl.EventSink
	Logger  *slog.Logger
	Options []wsterm.Option
}

// Gateway is a running gateway.
type Gateway struct {
	Server  *wsterm.Server
	wsLn    net.Listener
	apiLn   net.Listener
	path    string
	scheme  string
	errLog  *log.Logger
	servers []*http.Server
	wg      sync.WaitGroup
}

// Start listens and serves until Close.
func Start(cfg Config) (*Gateway, error) {
	if cfg.API != "" {
		if err := CheckAPIAddr(cfg.API, cfg.APIToken); err != nil {
			return nil, err // before anything listens
		}
	}
	var sinks []accessctl.EventSink
	if cfg.Events != nil {
		sinks = append(sinks, EventLines(cfg.Events))
	}
	if cfg.Sink != nil {
		sinks = append(sinks, cfg.Sink)
	}
	opts := append([]wsterm.Option{wsterm.WithLogger(cfg.Logger)}, cfg.Options...)
	if cfg.Path != "" {
		opts = append(opts, wsterm.WithTransport(transport.WithPath(cfg.Path)))
	}
	g := &Gateway{Server: wsterm.NewServer(append([]wsterm.Option{wsterm.WithSink(accessctl.FanOut(sinks...))}, opts...)...), path: cfg.Path, scheme: "ws://",
		errLog: HTTPErrorLog(cfg.Logger)}
	if g.path == "" {
		g.path = "/"
	}
	var err error
	if g.wsLn, err = net.Listen("tcp", cfg.Listen); err != nil {
		_ = g.Server.Close()
		return nil, err
	}
	if cfg.TLS != nil {
		// http.Server bounds each handshake by its ReadHeaderTimeout.
		g.wsLn, g.scheme = tls.NewListener(g.wsLn, cfg.TLS), "wss://"
	}
	g.serve(g.wsLn, NewWSServer(g.Server))
	if cfg.API != "" {
		api, err := adminapi.New(g.Server, adminapi.WithToken(cfg.APIToken), adminapi.WithLogger(cfg.Logger))
		if err != nil {
			_ = g.Close()
			return nil, err
		}
		if g.apiLn, err = net.Listen("tcp", cfg.API); err != nil {
			_ = g.Close()
			return nil, err
		}
		g.serve(g.apiLn, NewHTTPServer(api))
	}
	return g, nil
}

func (g *Gateway) serve(ln net.Listener, s *http.Server) {
	s.ErrorLog = g.errLog
	g.servers = append(g.servers, s)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		_ = s.Serve(ln)
	}()
}

// HTTPErrorLog routes an http.Server's own messages (failed TLS handshakes
// of scanners and plain-HTTP clients) to l at debug level instead of the
// process's stderr (nil l: discarded).
func HTTPErrorLog(l *slog.Logger) *log.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return slog.NewLogLogger(l.Handler(), slog.LevelDebug)
}

// URL is where terminals connect.
func (g *Gateway) URL() string { return g.scheme + g.wsLn.Addr().String() + g.path }

// APIURL is the admin API's base URL ("" without one).
func (g *Gateway) APIURL() string {
	if g.apiLn == nil {
		return ""
	}
	return "http://" + g.apiLn.Addr().String()
}

// Close stops accepting, disconnects every terminal (their offline events
// are printed) and waits for all goroutines.
func (g *Gateway) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, s := range g.servers {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, g.Server.Close())
	g.wg.Wait()
	return errors.Join(errs...)
}

// line is the JSON printed per event: always kind and device, then what the
// kind carries. Images and passwords are never printed.
type line struct {
	Kind      accessctl.EventKind `json:"kind"`
	Device    string              `json:"device"`
	ID        string              `json:"id"`
	At        time.Time           `json:"at"`
	Person    string              `json:"person,omitempty"`
	Name      string              `json:"name,omitempty"`
	Method    string              `json:"method,omitempty"`
	Direction string              `json:"direction,omitempty"`
	Granted   *bool               `json:"granted,omitempty"`
	IP        string              `json:"ip,omitempty"`
	Online    *bool               `json:"online,omitempty"`
	AlarmType string              `json:"alarmType,omitempty"`
	Message   string              `json:"message,omitempty"`
}

// EventLines is a sink that writes one JSON object per event to w.
func EventLines(w io.Writer) accessctl.EventSink {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	return accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		l := line{Kind: e.Kind, Device: e.Device.ID, ID: e.ID, At: e.ReceivedAt}
		switch {
		case e.Pass != nil:
			if e.Pass.Person != nil {
				l.Person = e.Pass.Person.ID
			}
			l.Method = string(e.Pass.Method)
			l.Direction = string(e.Pass.Direction)
			l.Granted = &e.Pass.Result.Granted
		case e.Enrolled != nil:
			l.Person, l.Name = e.Enrolled.Person.ID, e.Enrolled.Name
		case e.Status != nil:
			l.IP = e.Status.Info.IP
			l.Online = &e.Status.Online
		case e.Alarm != nil:
			l.AlarmType, l.Message = e.Alarm.Type, e.Alarm.Message
		}
		mu.Lock()
		defer mu.Unlock()
		return enc.Encode(l)
	})
}
