// Command wsgateway is a gateway for WebSocket face terminals: terminals
// connect to ws://LISTEN/ (any path unless -path is given), every event is
// printed to stdout as one JSON object per line, and an HTTP API on -api
// lists the terminals and manages their users:
//
//	GET    /devices
//	POST   /devices/{sn}/users            (body: the terminal's user object)
//	PUT    /devices/{sn}/users/{userId}
//	DELETE /devices/{sn}/users/{userId}
//	GET    /devices/{sn}/users[?userId=]
//
// Usage:
//
//	wsgateway -listen 0.0.0.0:8080 -api 127.0.0.1:8081
//
// The API asks for "Authorization: Bearer TOKEN" when -api-token (or the
// MENJIN_API_TOKEN environment variable) gives one, and refuses to start on
// an address other than loopback without one; writes are logged with the
// token's fingerprint and the caller's address.
//
// Every event is first written to a durable outbox under -data (default: a
// folder in the user's cache directory) and acknowledged to the terminal only
// then; it is printed — and, with -webhook URL, POSTed as JSON with an
// Idempotency-Key header — from the outbox, so a gateway killed and
// restarted delivers what it had acknowledged.
//
// Who may connect: -allow FILE lists the terminals (one SN[,MAC] a line, #
// comments) and refuses the others unless -accept-any; without -allow any
// terminal is admitted and a warning says so. -tls-cert and -tls-key make
// terminals connect with wss://. A second connection claiming the serial of
// a terminal that is connected and heartbeating is refused and printed as an
// alarm event (session_conflict).
//
// It runs until interrupted (or for -for, which CI uses).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/outbox"
	"github.com/menjin/menjin/examples/internal/gateway"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "wsgateway:", err)
		os.Exit(1)
	}
}

// run is main without the process: tests call it with their own context.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(*gateway.Gateway)) error {
	fs := flag.NewFlagSet("wsgateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address terminals connect to (ws://ADDR/)")
	path := fs.String("path", "", "accept terminals only on this path (default: any path)")
	api := fs.String("api", "127.0.0.1:8081", "address of the HTTP API (empty: none)")
	runFor := fs.Duration("for", 0, "exit after this long (0: run until interrupted)")
	dataDir := fs.String("data", gateway.DefaultDataDir("wsgateway"), "directory for on-disk state (the event outbox)")
	webhook := fs.String("webhook", "", "POST every event as JSON to this URL (retried until it answers 2xx)")
	apiToken := fs.String("api-token", "", "bearer token the HTTP API requires (default $"+gateway.EnvAPIToken+"; required unless -api is loopback)")
	var tf gateway.TerminalFlags
	tf.Register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	token := gateway.APIToken(*apiToken)
	if *api != "" {
		if err := gateway.CheckAPIAddr(*api, token); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	tlsConf, err := tf.TLS()
	if err != nil {
		return err
	}
	termOpts, err := tf.Options(log)
	if err != nil {
		return err
	}
	lines := gateway.EventLines(stdout)
	deliver := lines
	if *webhook != "" {
		hook := gateway.Webhook(*webhook, &http.Client{Timeout: 10 * time.Second})
		deliver = accessctl.EventSinkFunc(func(ctx context.Context, e accessctl.Event) error {
			if err := hook.Handle(ctx, e); err != nil {
				return err
			}
			return lines.Handle(ctx, e)
		})
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return err
	}
	ob, err := outbox.Open(*dataDir, deliver, outbox.WithOnDead(func(d outbox.DeadLetter) {
		log.Error("event dead-lettered", "id", d.Event.ID, "err", d.Err)
	}))
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ob.Close(ctx)
	}()
	gw, err := gateway.Start(gateway.Config{
		Listen: *listen, Path: *path, API: *api, APIToken: token, Sink: ob, Logger: log, TLS: tlsConf, Options: termOpts,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "terminals: %s  api: %s\n", gw.URL(), gw.APIURL())
	if ready != nil {
		ready(gw)
	}
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}
	<-ctx.Done()
	return gw.Close()
}
