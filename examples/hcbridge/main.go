// Command hcbridge is a drop-in IoT system for the HC property system: it
// serves HC's /extApi (point HC's IOT_URL at -listen), drives the door
// terminals that connect to -terminals, and uploads their pass records,
// command results and heartbeats to HC. It prints every event as a JSON
// line on stdout; logs go to stderr.
//
//	hcbridge -listen :8080 -app-id APPID -app-secret SECRET \
//	    -hm 1=wsterm -terminals :9000 \
//	    -hc-app-id 992020051967020024 -hc-security-code CODE \
//	    -hc-open-door-url https://hc.example/api/machine/openDoorLog \
//	    -hc-cmd-result-url https://hc.example/api/machine/cmdResult \
//	    -hc-heartbeat-url https://hc.example/api/machine/heartbeat \
//	    -simulate 3
//
// A terminal's serial number (sn) is HC's machineCode; -simulate N starts N
// simulated terminals sim-1 … sim-N.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/internal/gateway"
)

// hmFlag collects repeated -hm HMID=DRIVER.
type hmFlag map[string]string

func (h hmFlag) String() string {
	parts := make([]string, 0, len(h))
	for k, v := range h {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (h hmFlag) Set(s string) error {
	id, driver, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(id) == "" || strings.TrimSpace(driver) == "" {
		return fmt.Errorf("want HMID=DRIVER, got %q", s)
	}
	h[strings.TrimSpace(id)] = strings.TrimSpace(driver)
	return nil
}

type config struct {
	listen, appID, appSecret string
	hm                       hmFlag
	terminals                string
	hcAppID, hcSecurityCode  string
	openDoorURL, cmdURL      string
	heartbeatURL             string
	simulate                 int
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{hm: hmFlag{}}
	fs := flag.NewFlagSet("hcbridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.listen, "listen", ":8080", "address to serve HC's /extApi on (HC's IOT_URL)")
	fs.StringVar(&cfg.appID, "app-id", "", "IoT app id HC uses to get tokens (HC mapping IOT APP_ID)")
	fs.StringVar(&cfg.appSecret, "app-secret", "", "IoT app secret (HC mapping IOT APP_SECRET)")
	fs.Var(cfg.hm, "hm", "HMID=DRIVER: HC 厂家协议 id to driver name (repeatable; the terminal driver is "+terminalDriver+")")
	fs.StringVar(&cfg.terminals, "terminals", "", "address WebSocket terminals connect to (a terminal's sn is HC's machineCode)")
	fs.StringVar(&cfg.hcAppID, "hc-app-id", "", "HC's app id for uploads (c_app_attr 3003001)")
	fs.StringVar(&cfg.hcSecurityCode, "hc-security-code", "", "HC's security code for the upload sign (3004001)")
	fs.StringVar(&cfg.openDoorURL, "hc-open-door-url", "", "pass-record upload URL (3001001)")
	fs.StringVar(&cfg.cmdURL, "hc-cmd-result-url", "", "command-result upload URL (3002001)")
	fs.StringVar(&cfg.heartbeatURL, "hc-heartbeat-url", "", "heartbeat upload URL (3005001)")
	fs.IntVar(&cfg.simulate, "simulate", 0, "start N simulated terminals sim-1 … sim-N")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	case cfg.appID == "" || cfg.appSecret == "":
		return cfg, errors.New("-app-id and -app-secret are required")
	case cfg.simulate < 0 || cfg.simulate > 10_000:
		return cfg, errors.New("-simulate must be 0…10000")
	}
	urls := cfg.openDoorURL != "" || cfg.cmdURL != "" || cfg.heartbeatURL != ""
	if urls && cfg.hcAppID == "" {
		return cfg, errors.New("upload URLs need -hc-app-id (and -hc-security-code)")
	}
	return cfg, nil
}

// bridge is a running hcbridge.
type bridge struct {
	ExtAPIAddr    string // where /extApi listens
	TerminalsAddr string // where terminals connect ("" when none)
	Server        *hciot.Server
	Terminals     *terminals
	Uploader      *hciot.Uploader // nil when uploads are off
}

// run starts the bridge, calls started once it listens, and serves until
// ctx is done.
func run(ctx context.Context, cfg config, stdout io.Writer, log *slog.Logger, started func(*bridge)) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()

	// Events: every one printed; the HC kinds uploaded through a buffer that
	// retries what HC cannot take yet.
	sinks := []accessctl.EventSink{gateway.EventLines(stdout)}
	var up *hciot.Uploader
	var buf *accessctl.Buffer
	lazyMachines := &machineLookup{}
	if cfg.hcAppID != "" {
		up = hciot.NewUploader(cfg.hcAppID, cfg.hcSecurityCode,
			hciot.WithOpenDoorURL(cfg.openDoorURL),
			hciot.WithCommandResultURL(cfg.cmdURL),
			hciot.WithHeartbeatURL(cfg.heartbeatURL),
			hciot.WithMachines(lazyMachines),
			hciot.WithAlert(func(err error) { log.Error("HC refuses our uploads: fix the configuration", "err", err) }))
		buf = accessctl.NewBuffer(up, accessctl.WithOnError(func(e accessctl.Event, err error) {
			log.Warn("upload failed", "event", e.ID, "kind", e.Kind, "permanent", accessctl.IsPermanent(err), "err", err)
		}))
		sinks = append(sinks, buf)
		if cfg.openDoorURL == "" && cfg.cmdURL == "" && cfg.heartbeatURL == "" {
			log.Warn("-hc-app-id given without any upload URL: nothing will be uploaded")
		}
	}
	events := accessctl.FanOut(sinks...)

	terms := newTerminals(events, log)
	reg := &accessctl.Registry{}
	reg.Register(terminalDriver, terms)

	opts := []hciot.Option{
		hciot.WithApp(cfg.appID, cfg.appSecret),
		hciot.WithRegistry(reg),
		hciot.WithEventSink(events),
		hciot.WithOnCommand(func(c hciot.CommandLog) {
			if c.Err != nil {
				log.Warn("HC command failed", "op", c.Op, "taskId", c.TaskID, "machine", c.Machine, "person", c.Person, "err", c.Err)
				return
			}
			log.Info("HC command", "op", c.Op, "taskId", c.TaskID, "machine", c.Machine, "person", c.Person, "replay", c.Replay)
		}),
	}
	for id, driver := range cfg.hm {
		opts = append(opts, hciot.WithDriver(id, driver))
	}
	srv, err := hciot.NewServer(opts...)
	if err != nil {
		return err
	}
	lazyMachines.set(srv)

	b := &bridge{Server: srv, Terminals: terms, Uploader: up}
	var servers []*http.Server
	var wg sync.WaitGroup
	serve := func(addr string, h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", err
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, hs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("serve", "addr", addr, "err", err)
				stop()
			}
		}()
		return ln.Addr().String(), nil
	}
	shutdown := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, hs := range servers {
			_ = hs.Shutdown(sctx)
		}
		wg.Wait()
		_ = srv.Close()
		_ = terms.Close()
		if buf != nil {
			if err := buf.Close(sctx); err != nil {
				log.Warn("uploads left undelivered", "err", err)
			}
		}
	}

	if b.ExtAPIAddr, err = serve(cfg.listen, srv); err != nil {
		shutdown()
		return fmt.Errorf("listen %s: %w", cfg.listen, err)
	}
	termAddr := cfg.terminals
	if termAddr == "" && cfg.simulate > 0 {
		termAddr = "127.0.0.1:0" // simulated terminals need somewhere to dial
	}
	if termAddr != "" {
		if b.TerminalsAddr, err = serve(termAddr, terms); err != nil {
			shutdown()
			return fmt.Errorf("listen %s: %w", termAddr, err)
		}
	}
	if cfg.simulate > 0 {
		if err := terms.Simulate(ctx, cfg.simulate, b.TerminalsAddr); err != nil {
			shutdown()
			return fmt.Errorf("simulate: %w", err)
		}
	}
	log.Info("hcbridge ready", "extApi", b.ExtAPIAddr, "terminals", b.TerminalsAddr,
		"simulated", cfg.simulate, "uploads", up != nil)
	if started != nil {
		started(b)
	}
	<-ctx.Done()
	shutdown()
	return nil
}

// machineLookup lets the uploader, built before the server, find machines.
type machineLookup struct {
	mu  sync.Mutex
	srv *hciot.Server
}

func (m *machineLookup) set(s *hciot.Server) { m.mu.Lock(); m.srv = s; m.mu.Unlock() }

func (m *machineLookup) Machine(code string) (hciot.Machine, bool) {
	m.mu.Lock()
	s := m.srv
	m.mu.Unlock()
	if s == nil {
		return hciot.Machine{}, false
	}
	return s.Machine(code)
}

func (m *machineLookup) PersonName(userID string) (string, bool) {
	m.mu.Lock()
	s := m.srv
	m.mu.Unlock()
	if s == nil {
		return "", false
	}
	return s.PersonName(userID)
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hcbridge:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, log, nil); err != nil {
		fmt.Fprintln(os.Stderr, "hcbridge:", err)
		os.Exit(1)
	}
}
