package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/examples/vendordriver/linectl"
	"github.com/menjin/menjin/examples/vendordriver/linectl/linectltest"
)

func main() {
	n := flag.Int("devices", 3, "how many simulated devices to run")
	timeout := flag.Duration("timeout", 10*time.Second, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, os.Stdout, *n); err != nil {
		fmt.Fprintln(os.Stderr, "vendordriver:", err)
		os.Exit(1)
	}
}

// printer is the sink: each event one JSON line. It tells run when a pass
// of each device arrived.
type printer struct {
	mu     sync.Mutex
	out    io.Writer
	passes chan string
}

func (p *printer) Handle(_ context.Context, e accessctl.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return accessctl.Permanent(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintln(p.out, string(b)); err != nil {
		return err // not acknowledged: the device sends it again
	}
	if e.Kind == accessctl.KindPass {
		select {
		case p.passes <- e.Device.ID:
		default:
		}
	}
	return nil
}

// run starts the server and n simulated devices on loopback, pushes a card
// to each, swipes it there and waits for every pass to be printed.
func run(ctx context.Context, out io.Writer, n int) error {
	p := &printer{out: out, passes: make(chan string, n)}
	opts := []linectl.Option{linectl.WithSink(p)}
	for i := range n {
		opts = append(opts, linectl.WithDevice(fmt.Sprintf("sn-%d", i), fmt.Sprintf("secret-%d", i)))
	}
	srv, err := linectl.NewServer(opts...)
	if err != nil {
		return err
	}
	defer srv.Close()
	for i := range n {
		sim, err := linectltest.Start(srv.Addr(), fmt.Sprintf("sn-%d", i), fmt.Sprintf("secret-%d", i))
		if err != nil {
			return err
		}
		defer sim.Close()
		if err := passOne(ctx, srv, sim, i); err != nil {
			return err
		}
	}
	for range n {
		select {
		case <-p.passes:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the passes: %w", ctx.Err())
		}
	}
	return nil
}

// passOne pushes a card to device i once it is online and swipes it.
func passOne(ctx context.Context, srv *linectl.Server, sim *linectltest.Device, i int) error {
	dev, err := srv.Open(ctx, accessctl.DeviceConfig{ID: fmt.Sprintf("sn-%d", i)})
	if err != nil {
		return err
	}
	defer dev.Close()
	card := fmt.Sprintf("%08d", 1000+i)
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: fmt.Sprintf("person-%d", i)}, Name: "Demo Person",
		Credentials: []accessctl.Credential{{Kind: accessctl.CredCard, Value: card}}}
	for {
		err := dev.(accessctl.PermissionSync).PutGrant(ctx, g)
		if err == nil {
			break
		}
		select { // not registered yet: try again shortly
		case <-ctx.Done():
			return fmt.Errorf("pushing the card to %s: %w", dev.ID(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !sim.Swipe(card) {
		return fmt.Errorf("%s does not hold card %s", dev.ID(), card)
	}
	return nil
}
