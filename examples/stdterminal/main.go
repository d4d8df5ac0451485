// Command stdterminal is a simulated door terminal of the HTTP "standard
// protocol" (accessctl/stdproto/stdprototest): it connects to an edge,
// keeps alive, reconnects when its token is invalidated, serves remote
// open, faces, cards and Bluetooth cards from memory, and can swipe a card
// now and then.
//
//	stdgateway -listen 127.0.0.1:10000 -terminal T-0001=127.0.0.1:8090 &
//	stdterminal -edge 127.0.0.1:10000 -listen 127.0.0.1:8090 -sn T-0001 -swipe 777342461 -every 5s
//
// The protocol's /connect carries no secret, so the terminal authenticates
// the edge by the socket address its calls come from: by default only the
// -edge host may connect, open the door or sync users and cards; -allow
// lists other addresses or CIDRs (an edge behind NAT, several edges).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stdterminal:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("stdterminal", flag.ContinueOnError)
	edge := fs.String("edge", "127.0.0.1:10000", "the edge's address")
	listen := fs.String("listen", "127.0.0.1:8090", "this terminal's own server (provision it on the edge)")
	sn := fs.String("sn", "T-0001", "the terminal's sn")
	ip := fs.String("ip", "127.0.0.1", "the ip stated in /connect (must match the edge's provisioning)")
	keepalive := fs.Duration("keepalive", 10*time.Second, "heartbeat period")
	swipe := fs.String("swipe", "", "a card number to swipe every -every")
	every := fs.Duration("every", 5*time.Second, "how often to swipe")
	runFor := fs.Duration("for", 0, "exit after this long (0: until interrupted)")
	allow := fs.String("allow", "", "comma-separated IPs or CIDRs the edge's calls may come from (default: the -edge host only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var hopts []stdproto.HandlerOption
	if *allow != "" {
		ps, err := parseAllow(*allow)
		if err != nil {
			return err
		}
		hopts = append(hopts, stdproto.WithAllowedEdges(ps...))
	}
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}
	t, err := stdprototest.Start(stdprototest.Config{SN: *sn, Edge: *edge, Listen: *listen, IP: *ip, Keepalive: *keepalive, HandlerOptions: hopts})
	if err != nil {
		return err
	}
	defer t.Close()
	fmt.Fprintf(out, "terminal %s listening on %s, connecting to %s\n", *sn, t.Addr(), *edge)

	tick := time.NewTicker(*every)
	defer tick.Stop()
	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
	connected, opens, faces := false, 0, 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if *swipe != "" && connected {
				err := t.PassCard(ctx, *swipe)
				fmt.Fprintf(out, "swiped card %s: %v\n", *swipe, errText(err))
			}
		case <-poll.C:
			if a := t.Agent(); a != nil && a.Connected() != connected {
				connected = a.Connected()
				fmt.Fprintf(out, "connected to the edge: %t\n", connected)
			}
			if n := t.DoorOpens(); n != opens {
				opens = n
				fmt.Fprintf(out, "door opened (%d so far)\n", n)
			}
			if n := t.FaceCount(); n != faces {
				faces = n
				fmt.Fprintf(out, "faces on the terminal: %d\n", n)
			}
		}
	}
}

// parseAllow reads "10.0.0.5,192.168.1.0/24".
func parseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("-allow: %q is neither an IP nor a CIDR", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-allow: no address in %q", s)
	}
	return out, nil
}

func errText(err error) string {
	if err == nil {
		return "accepted"
	}
	return err.Error()
}
