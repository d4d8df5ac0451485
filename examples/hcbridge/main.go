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
// simulated terminals sim-1 … sim-N. -allow FILE (one SN[,MAC] a line)
// admits only the listed terminals, and the simulated ones, unless
// -accept-any; without -allow any terminal is admitted, with a warning.
// -tls-cert and -tls-key make terminals connect with wss://. A second
// connection claiming the serial of a connected, heartbeating terminal is
// refused and reported as an alarm event (session_conflict).
//
// Its state lives in one file under -data (default: a folder in the user's
// cache directory): pass records and command results are written to a
// durable outbox before the terminal is answered and uploaded from there,
// so a bridge killed while HC was down uploads them after the restart; the
// grant ledger and the machines HC registered are kept there too, so a
// restarted bridge still serves them (HC does not send addMachine again).
// What HC acknowledged is recorded there as well (30 days, 200 000 ids), so
// a record the outbox redelivers after a crash is not uploaded twice; only
// a crash between HC's answer and that record's fsync can still duplicate
// one (HC has no idempotency key nor a query to check).
// Grants go through a reconciler whose state lives in the same file: an
// addUser for a terminal that is offline is answered with success and
// delivered when the terminal comes back (HC's own IoT needs a manual
// resend).
package main

import (
	"context"
	"crypto/tls"
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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/hciot/hciotbolt"
	"github.com/menjin/menjin/accessctl/outbox"
	"github.com/menjin/menjin/accessctl/reconcile"
	"github.com/menjin/menjin/accessctl/store"
	"github.com/menjin/menjin/examples/internal/gateway"
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
	dataDir                  string
	term                     gateway.TerminalFlags
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
	fs.StringVar(&cfg.dataDir, "data", gateway.DefaultDataDir("hcbridge"), "directory for on-disk state (upload outbox, grant ledger, machines)")
	cfg.term.Register(fs)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if err := cfg.term.Check(); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	case cfg.appID == "" || cfg.appSecret == "":
		return cfg, errors.New("-app-id and -app-secret are required")
	case cfg.simulate < 0 || cfg.simulate > 10_000:
		return cfg, errors.New("-simulate must be 0…10000")
	case cfg.dataDir == "":
		return cfg, errors.New("-data must name a directory")
	case cfg.simulate > 0 && cfg.term.TLSCert != "":
		return cfg, errors.New("-simulate dials ws://: it cannot be combined with -tls-cert")
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
	Outbox        *outbox.Outbox  // nil when uploads are off
	Reconciler    *reconcile.Reconciler
}

// run starts the bridge, calls started once it listens, and serves until
// ctx is done.
func run(ctx context.Context, cfg config, stdout io.Writer, log *slog.Logger, started func(*bridge)) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()

	sdb, err := store.Open(cfg.dataDir)
	if err != nil {
		return err
	}
	db := sdb.Bolt()
	ledger, err := hciotbolt.NewLedger(db)
	if err != nil {
		_ = db.Close()
		return err
	}
	machines, err := hciotbolt.NewMachines(db)
	if err != nil {
		_ = db.Close()
		return err
	}
	// Grants go through the reconciler (state in the same file): one HC
	// pushed while a terminal was offline reaches it when it is back.
	// Persons enrolled on a terminal by other means are left alone.
	rc, err := reconcile.New(db, reconcile.WithKeepUnknown(), reconcile.WithOnStatus(func(st accessctl.SyncStatus) {
		if st.State == accessctl.SyncInvalidInput || st.State == accessctl.SyncNeedsManual {
			log.Warn("grant not applied", "device", st.Device.ID, "person", st.Person.ID, "state", st.State, "msg", st.Message)
		}
	}))
	if err != nil {
		_ = db.Close()
		return err
	}

	// Events: every one printed. Pass records and command results go to HC
	// through the durable outbox (stored before the terminal is answered);
	// heartbeats, worthless once stale, through a memory buffer.
	sinks := []accessctl.EventSink{gateway.EventLines(stdout), rc}
	var up *hciot.Uploader
	var buf *accessctl.Buffer
	var ob *outbox.Outbox
	var obSink lateSink
	openOutbox := func() error { return nil }
	lazyMachines := &machineLookup{}
	if cfg.hcAppID != "" {
		// What was sent is recorded in the same file, so a pass the outbox
		// redelivers after a crash or restart is not uploaded to HC again.
		sent, err := hciotbolt.NewSentLog(db)
		if err != nil {
			_ = db.Close()
			return err
		}
		up = hciot.NewUploader(cfg.hcAppID, cfg.hcSecurityCode,
			hciot.WithSentLog(sent),
			hciot.WithOpenDoorURL(cfg.openDoorURL),
			hciot.WithCommandResultURL(cfg.cmdURL),
			hciot.WithHeartbeatURL(cfg.heartbeatURL),
			hciot.WithMachines(lazyMachines),
			hciot.WithAlert(func(err error) { log.Error("HC refuses our uploads: fix the configuration", "err", err) }))
		onErr := func(e accessctl.Event, err error) {
			log.Warn("upload failed", "event", e.ID, "kind", e.Kind, "permanent", accessctl.IsPermanent(err), "err", err)
		}
		// The outbox starts delivering what a previous run left at once, and
		// the uploader needs each machine's community for that: it is opened
		// below, once the machines are restored, and takes events from then on.
		openOutbox = func() error {
			o, err := outbox.New(db, crashAfterUpload(up), outbox.WithOnError(onErr), outbox.WithOnDead(func(d outbox.DeadLetter) {
				log.Error("upload dead-lettered (list, replay or discard it from the outbox)", "event", d.Event.ID, "kind", d.Event.Kind, "err", d.Err)
			}))
			if err != nil {
				return err
			}
			ob = o
			obSink.Store(o)
			return nil
		}
		buf = accessctl.NewBuffer(up, accessctl.WithOnError(onErr))
		durable := accessctl.KindIs(accessctl.KindPass, accessctl.KindCommandResult)
		sinks = append(sinks,
			accessctl.Filter(&obSink, durable),
			accessctl.Filter(buf, func(e accessctl.Event) bool { return !durable(e) }))
		if cfg.openDoorURL == "" && cfg.cmdURL == "" && cfg.heartbeatURL == "" {
			log.Warn("-hc-app-id given without any upload URL: nothing will be uploaded")
		}
	}
	events := accessctl.FanOut(sinks...)

	var srvReady atomic.Pointer[hciot.Server]
	saveMachines := func() {
		if srv := srvReady.Load(); srv != nil {
			if err := machines.Save(srv.Machines()); err != nil {
				log.Error("machines not saved: a restart will forget the last change", "err", err)
			}
		}
	}

	var sims []string
	for i := 1; i <= cfg.simulate; i++ {
		sims = append(sims, simSN(i))
	}
	termOpts, err := cfg.term.Options(log, sims...)
	if err != nil {
		closeState(nil, buf, rc, db, log)
		return err
	}
	tlsConf, err := cfg.term.TLS()
	if err != nil {
		closeState(nil, buf, rc, db, log)
		return err
	}
	terms := newTerminals(events, log, termOpts...)
	reg := &accessctl.Registry{}
	reg.Register(terminalDriver, reconciledDriver{next: terms, rc: rc})

	opts := []hciot.Option{
		hciot.WithApp(cfg.appID, cfg.appSecret),
		hciot.WithRegistry(reg),
		hciot.WithSink(events),
		hciot.WithLedger(ledger),
		hciot.WithOnCommand(func(c hciot.CommandLog) {
			if c.Err == nil && machineOps[c.Op] && !c.Replay {
				saveMachines()
			}
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
		closeState(ob, buf, rc, db, log)
		return err
	}
	lazyMachines.set(srv)
	srvReady.Store(srv)
	if err := machines.Restore(ctx, srv); err != nil {
		log.Warn("some machines HC registered before the restart could not be opened", "err", err)
	}
	if err := openOutbox(); err != nil {
		_ = srv.Close()
		closeState(nil, buf, rc, db, log)
		return err
	}

	b := &bridge{Server: srv, Terminals: terms, Uploader: up, Outbox: ob, Reconciler: rc}
	var servers []*http.Server
	var wg sync.WaitGroup
	serve := func(addr string, hs *http.Server, tlsConf *tls.Config) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", err
		}
		if tlsConf != nil { // the handshake is bounded by ReadHeaderTimeout
			ln = tls.NewListener(ln, tlsConf)
		}
		hs.ErrorLog = gateway.HTTPErrorLog(log)
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
		closeState(ob, buf, rc, db, log)
	}

	if b.ExtAPIAddr, err = serve(cfg.listen, gateway.NewHTTPServer(srv), nil); err != nil {
		shutdown()
		return fmt.Errorf("listen %s: %w", cfg.listen, err)
	}
	termAddr := cfg.terminals
	if termAddr == "" && cfg.simulate > 0 {
		termAddr = "127.0.0.1:0" // simulated terminals need somewhere to dial
	}
	if termAddr != "" {
		if b.TerminalsAddr, err = serve(termAddr, gateway.NewWSServer(terms), tlsConf); err != nil {
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

// lateSink passes events to the outbox once it is open; before that (never,
// in practice: nothing listens yet) it refuses them, so a terminal keeps
// them and sends them again.
type lateSink struct{ ob atomic.Pointer[outbox.Outbox] }

func (l *lateSink) Store(o *outbox.Outbox) { l.ob.Store(o) }

func (l *lateSink) Handle(ctx context.Context, e accessctl.Event) error {
	o := l.ob.Load()
	if o == nil {
		return fmt.Errorf("hcbridge: outbox not open yet: %w", accessctl.ErrOffline)
	}
	return o.Handle(ctx, e)
}

// machineOps are the HC commands that change the machines to keep.
var machineOps = map[string]bool{"addMachine": true, "updateMachine": true, "deleteMachine": true, "deleteCommunity": true}

// closeState stops the reconciler, delivers what it can for a moment, then
// closes the outbox (the rest stays on disk for the next start), the buffer
// and the state file.
func closeState(ob *outbox.Outbox, buf *accessctl.Buffer, rc *reconcile.Reconciler, db interface{ Close() error }, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rc.Close(ctx); err != nil {
		log.Warn("reconciler close", "err", err)
	}
	if ob != nil {
		if err := ob.Close(ctx); err != nil {
			log.Warn("outbox close", "err", err)
		}
		if st := ob.Stats(); st.Queued > 0 {
			log.Info("uploads kept on disk for the next start", "queued", st.Queued)
		}
	}
	if buf != nil {
		if err := buf.Close(ctx); err != nil {
			log.Warn("heartbeats left undelivered", "err", err)
		}
	}
	if err := db.Close(); err != nil {
		log.Warn("close state file", "err", err)
	}
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

// crashAfterUploadEnv, set to 1, makes the bridge SIGKILL itself right after
// HC acknowledged an upload and before the outbox records it delivered: the
// crash point of the exactly-once test, which must be deterministic.
const crashAfterUploadEnv = "MENJIN_HCBRIDGE_CRASH_AFTER_UPLOAD"

func crashAfterUpload(up *hciot.Uploader) accessctl.EventSink {
	if os.Getenv(crashAfterUploadEnv) != "1" {
		return up
	}
	return accessctl.EventSinkFunc(func(ctx context.Context, e accessctl.Event) error {
		err := up.Handle(ctx, e)
		if err == nil && up.Stats().Uploaded > 0 {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way: nothing more may be recorded
		}
		return err
	})
}
