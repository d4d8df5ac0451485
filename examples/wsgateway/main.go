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
// It runs until interrupted (or for -for, which CI uses).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/menjin/menjin/internal/gateway"
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	gw, err := gateway.Start(gateway.Config{
		Listen: *listen, Path: *path, API: *api, Events: stdout,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
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
