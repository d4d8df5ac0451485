// Command linkkitgateway is an edge gateway for LinkKit multi-function
// doors (package accessctl/linkkit): doors log in to its embedded MQTT
// broker with their triple, every event is printed to stdout as one JSON
// object per line (the format of examples/wsgateway), and the admin HTTP
// API the other gateways serve runs on -api:
//
//	linkkitgateway -mqtt :1883 -api 127.0.0.1:8080 -device a1DoorPK001/door-a=SECRET
//
//	GET    /devices                        [{"sn","ip","mac","type","online"}], sn is the DeviceName
//	POST   /devices/{dn}/open              remote open (remoteOpen)
//	POST   /devices/{dn}/users             user object → a permission file (needs -files)
//	PUT    /devices/{dn}/users/{userId}
//	DELETE /devices/{dn}/users/{userId}
//
// Only the doors given with -device PK/DN=SECRET may log in; the broker
// confines each to its own topics (wills and retained messages included)
// and bounds what it reads before authentication (package
// transport/thingmodel). Passes are acknowledged to a door only once their
// line is written. -files ADDR serves the permission files doors download
// on syncPermissions (-files-host is the host:port doors reach it by).
//
// It runs until interrupted (or for -for, which CI uses).
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
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/adminapi"
	"github.com/menjin/menjin/accessctl/linkkit"
	"github.com/menjin/menjin/examples/internal/gateway"
	"github.com/menjin/menjin/transport/thingmodel"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "linkkitgateway:", err)
		os.Exit(1)
	}
}

// devices is the repeatable -device PK/DN=SECRET flag. Set never fails:
// the flag package would echo the value, secret included, in its error;
// run reports what was wrong after parsing, naming only PK/DN.
type devices struct {
	secrets thingmodel.Secrets
	err     error
}

// String lists the devices without their secrets.
func (d *devices) String() string {
	keys := make([]string, 0, len(d.secrets))
	for k := range d.secrets {
		keys = append(keys, k.String())
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (d *devices) Set(v string) error {
	id, secret, ok := strings.Cut(v, "=")
	key, err := linkkit.ParseDeviceID(id)
	if !ok || err != nil || secret == "" {
		d.err = errors.Join(d.err, fmt.Errorf("-device wants PK/DN=SECRET, got %q and a secret", id))
		return nil
	}
	for k := range d.secrets {
		if k.DeviceName == key.DeviceName {
			d.err = errors.Join(d.err, fmt.Errorf("-device: device name %s given twice (the API addresses doors by device name)", key.DeviceName))
			return nil
		}
	}
	d.secrets[key] = secret
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("linkkitgateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mqttAddr := fs.String("mqtt", ":1883", "address of the embedded MQTT broker doors log in to")
	api := fs.String("api", "127.0.0.1:8080", "address of the admin HTTP API (empty: none)")
	files := fs.String("files", "", "address of the permission file server (empty: none; user routes then fail)")
	filesHost := fs.String("files-host", "", "host:port doors reach -files by (default: -files)")
	apiToken := fs.String("api-token", "", "bearer token the admin API requires (default $"+gateway.EnvAPIToken+"; required unless -api is loopback)")
	rsaKey := fs.String("rsa-key", "", "RSAPublicKey (Base64 SPKI) pushed to every door after it connects")
	timeout := fs.Duration("timeout", 10*time.Second, "how long the admin API waits for a door")
	runFor := fs.Duration("for", 0, "exit after this long (0: run until interrupted)")
	devs := &devices{secrets: thingmodel.Secrets{}}
	fs.Var(devs, "device", "PK/DN=SECRET of a door allowed to log in (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	token := gateway.APIToken(*apiToken)
	if *api != "" {
		if err := gateway.CheckAPIAddr(*api, token); err != nil {
			return err
		}
	}
	if devs.err != nil {
		return devs.err
	}
	if len(devs.secrets) == 0 {
		return errors.New("no -device: no door could log in")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	opts := []linkkit.Option{
		linkkit.WithHostOptions(thingmodel.WithSecrets(devs.secrets,
			thingmodel.WithBrokerAddr(*mqttAddr), thingmodel.WithBrokerLogger(log))),
		linkkit.WithSink(gateway.EventLines(stdout)), // a failed write is refused: the door keeps the pass
		linkkit.WithLogger(log),
		linkkit.WithRSAPublicKey(*rsaKey),
	}
	if *files != "" {
		fsrv, err := linkkit.ServeFiles(*files, *filesHost)
		if err != nil {
			return err
		}
		defer fsrv.Close()
		opts = append(opts, linkkit.WithFileServer(fsrv))
	}
	hub, err := linkkit.NewHub(ctx, opts...)
	if err != nil {
		return err
	}
	defer hub.Close()

	var apiSrv *http.Server
	apiURL := ""
	errc := make(chan error, 1)
	if *api != "" {
		ln, err := net.Listen("tcp", *api)
		if err != nil {
			return err
		}
		apiURL = "http://" + ln.Addr().String()
		h, err := adminapi.New(fleet{hub: hub, devs: devs.secrets}, adminapi.WithTimeout(*timeout),
			adminapi.WithToken(token), adminapi.WithLogger(log))
		if err != nil {
			return err
		}
		apiSrv = gateway.NewHTTPServer(h)
		go func() { errc <- apiSrv.Serve(ln) }()
	}
	fmt.Fprintf(stderr, "mqtt: %s  api: %s\n", hub.Host().Broker().URL(), apiURL)
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	if apiSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = apiSrv.Shutdown(sctx)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// fleet is the admin API's view of the doors: addressed by DeviceName,
// since a LinkKit id (PK/DN) holds a slash a URL segment cannot.
type fleet struct {
	hub  *linkkit.Hub
	devs thingmodel.Secrets
}

func (f fleet) Open(_ context.Context, cfg accessctl.DeviceConfig) (accessctl.Device, error) {
	for k := range f.devs {
		if k.DeviceName == cfg.ID {
			return f.hub.Door(k), nil
		}
	}
	return nil, fmt.Errorf("%w: door %q", accessctl.ErrNotFound, cfg.ID)
}

func (f fleet) Devices(ctx context.Context) ([]accessctl.Status, error) {
	out := make([]accessctl.Status, 0, len(f.devs))
	for k := range f.devs {
		st, err := f.hub.Door(k).Status(ctx)
		if err != nil {
			st = accessctl.Status{}
		}
		st.Device.ID = k.DeviceName
		st.Info.Extra = map[string]string{"type": "linkkit"}
		out = append(out, st)
	}
	return out, nil
}
