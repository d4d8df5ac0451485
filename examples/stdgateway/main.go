// Command stdgateway is an edge server of the door terminals' HTTP
// "standard protocol" (package accessctl/stdproto) with a small admin API.
//
//	stdgateway -listen :10000 -api 127.0.0.1:8080 -terminal T-0001=192.168.1.128:8080 -data /var/lib/stdgateway
//
// Terminals connect to -listen (the protocol's port is 10000); only those
// given with -terminal SN=IP:PORT are accepted, and only from IP: the
// protocol has no secret, so the source address is what authenticates a
// terminal (requests from elsewhere are refused with code 7 and logged).
// IP:PORT is also where the edge calls them back. Events are printed on stdout as JSON lines with at
// least "kind" and "device". The admin API on -api:
//
//	GET    /devices                      [{"sn","ip","mac","type","online"}]
//	POST   /devices/{sn}/users           user object {"user","userId","pwd","name","role","img","cards","bleCards"}
//	PUT    /devices/{sn}/users/{userId}  user object
//	DELETE /devices/{sn}/users/{userId}
//	GET    /devices/{sn}/users[?userId=]
//	POST   /devices/{sn}/open            remote open (/remoteOpen)
//
// The user object also takes "cards" and "bleCards" (card numbers as
// strings) and "validFrom"/"validTo" (RFC 3339). The API is
// accessctl/adminapi, the same as examples/wsgateway's. Statuses: 200 with
// the device's answer, 401 without the token, 404 unknown or offline
// device, 504 no answer in time, 400 bad body, 501 what the terminal
// cannot do. With -api-token (or MENJIN_API_TOKEN) every request needs
// "Authorization: Bearer TOKEN"; without one the API must be on loopback.
//
// Terminals cannot list their cards: the cards pushed to each are recorded
// in the state file under -data (default: a folder in the user's cache
// directory), so that a user deleted after a restart, kill -9 included,
// loses their cards on the terminal too.
//
// Faces are synced to terminals as feature vectors; this example uses
// stdprototest.Features, a stand-in that is NOT a face model.
package main

import (
	"context"
	"encoding/json"
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
	"github.com/menjin/menjin/accessctl/adminapi"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
	"github.com/menjin/menjin/accessctl/store"
	"github.com/menjin/menjin/examples/internal/gateway"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "stdgateway:", err)
		os.Exit(1)
	}
}

// terminals is the repeatable -terminal SN=IP:PORT flag.
type terminals map[string]string

func (t terminals) String() string { return fmt.Sprint(map[string]string(t)) }

func (t terminals) Set(v string) error {
	sn, addr, ok := strings.Cut(v, "=")
	if !ok || !stdproto.ValidSN(sn) {
		return fmt.Errorf("want SN=IP:PORT with a 4–32 character sn, got %q", v)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("terminal %s: %v", sn, err)
	}
	t[sn] = addr
	return nil
}

// eventLine is one line of stdout.
type eventLine struct {
	Kind       string   `json:"kind"`
	Device     string   `json:"device"`
	ID         string   `json:"id"`
	Time       string   `json:"time"`
	Method     string   `json:"method,omitempty"`
	Person     string   `json:"person,omitempty"`
	Name       string   `json:"name,omitempty"`
	Credential string   `json:"credential,omitempty"`
	Granted    *bool    `json:"granted,omitempty"`
	Similarity *float64 `json:"similarity,omitempty"`
	Alarm      string   `json:"alarm,omitempty"`
	Message    string   `json:"message,omitempty"`
}

func printer(w io.Writer) accessctl.EventSink {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	return accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		l := eventLine{Kind: string(e.Kind), Device: e.Device.ID, ID: e.ID, Time: e.OccurredAt.UTC().Format(time.RFC3339Nano)}
		if p := e.Pass; p != nil {
			l.Method, l.Credential, l.Name, l.Similarity = string(p.Method), p.Credential, p.PersonName, p.Similarity
			g := p.Result.Granted
			l.Granted = &g
			if p.Person != nil {
				l.Person = p.Person.ID
			}
			if p.Method == accessctl.MethodPassword {
				l.Credential = "***"
			}
		}
		if a := e.Alarm; a != nil {
			l.Alarm, l.Message = a.Type, a.Message
		}
		mu.Lock()
		defer mu.Unlock()
		return enc.Encode(l) // a failed write is refused, so the terminal resends
	})
}

// ready, when not nil, receives the bound addresses (tests use ":0").
type ready func(edgeAddr, apiAddr string)

func run(ctx context.Context, args []string, stdout, stderr io.Writer, onReady ready) error {
	fs := flag.NewFlagSet("stdgateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", ":10000", "address for terminals (the edge endpoints)")
	api := fs.String("api", "127.0.0.1:8080", "address of the admin HTTP API")
	timeout := fs.Duration("timeout", 10*time.Second, "how long the admin API waits for a terminal")
	keepalive := fs.Duration("keepalive", 30*time.Second, "the edge's own heartbeat period towards terminals")
	offlineAfter := fs.Duration("offline-after", 0, "silence after which a terminal is offline (0: 3 × the keepalive it promised)")
	dataDir := fs.String("data", gateway.DefaultDataDir("stdgateway"), "directory for on-disk state (the ledger of cards pushed to terminals)")
	apiToken := fs.String("api-token", "", "bearer token the admin API requires (default $"+gateway.EnvAPIToken+"; required unless -api is loopback)")
	terms := terminals{}
	fs.Var(terms, "terminal", "SN=IP:PORT of a terminal allowed to connect, and where to call it back (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	token := gateway.APIToken(*apiToken)
	if err := gateway.CheckAPIAddr(*api, token); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	db, err := store.Open(*dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	edge := stdproto.NewEdge(
		stdproto.WithLedger(db.Ledger()),
		stdproto.WithSink(printer(stdout)),
		stdproto.WithFeatureExtractor(stdprototest.Features),
		stdproto.WithLogger(log),
		stdproto.WithIdentity(stdproto.Identity{SN: "menjin-stdgateway", MAC: "00-00-00-00-00-00", Keepalive: *keepalive}),
		stdproto.WithOnError(func(sn string, err error) { log.Warn("terminal", "sn", sn, "err", err) }),
		stdproto.WithOfflineAfter(*offlineAfter),
	)
	defer edge.Close() // runs before db.Close

	// Open every terminal through the driver registry, as a host would.
	reg := &accessctl.Registry{}
	reg.Register("stdproto", edge)
	devs := make([]accessctl.Device, 0, len(terms))
	for sn, addr := range terms {
		d, err := reg.Open(ctx, "stdproto", accessctl.DeviceConfig{ID: sn, Addr: addr})
		if err != nil {
			return err
		}
		devs = append(devs, d)
	}

	apiHandler, err := adminapi.New(adminapi.FleetOf("stdproto", devs...), adminapi.WithTimeout(*timeout),
		adminapi.WithToken(token), adminapi.WithLogger(log))
	if err != nil {
		return err
	}
	edgeLn, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	apiLn, err := net.Listen("tcp", *api)
	if err != nil {
		edgeLn.Close()
		return err
	}
	edgeSrv := stdproto.NewServer(*listen, edge)
	apiSrv := gateway.NewHTTPServer(apiHandler)
	errc := make(chan error, 2)
	go func() { errc <- edgeSrv.Serve(edgeLn) }()
	go func() { errc <- apiSrv.Serve(apiLn) }()
	log.Info("stdgateway ready", "listen", edgeLn.Addr().String(), "api", apiLn.Addr().String(), "terminals", len(terms))
	if onReady != nil {
		onReady(edgeLn.Addr().String(), apiLn.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = apiSrv.Shutdown(sctx)
	_ = edgeSrv.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
