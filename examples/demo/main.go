// Command demo runs Menjin end to end on loopback with built-in simulated
// devices: WebSocket face terminals behind a gateway, an HTTP
// standard-protocol terminal behind an edge server, and a QR door. It pushes
// users with faces, opens doors, scans a signed QR code and prints every
// event as one JSON line, then checks that what should have happened did,
// and exits 0 within about ten seconds.
//
//	go run ./examples/demo            # run once and exit
//	go run ./examples/demo -forever   # keep the gateway and devices running
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/outbox"
	"github.com/menjin/menjin/accessctl/reconcile"
	"github.com/menjin/menjin/examples/internal/gateway"
	"github.com/menjin/menjin/transport/backoff"
)

func main() {
	forever := flag.Bool("forever", false, "keep running until interrupted")
	dataDir := flag.String("data", "", "directory for the outbox and reconciler state (default: a temporary one, removed at exit)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *dataDir, *forever); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// demo holds what every step shares: where to print, what the platform
// saw, and the durable outbox and reconciler in front of it.
type demo struct {
	out  io.Writer
	mu   sync.Mutex
	seen map[string]int // "kind", "kind/method", "granted/method" and "device/ID" counts

	// platformDown makes the platform refuse deliveries, as an uploader
	// would see a platform that is down.
	platformDown atomic.Bool
	// sink is what devices report to: the outbox, which makes each event
	// durable before the device is acknowledged and delivers it to the
	// platform (the printer) with retries.
	sink *outbox.Outbox
	rc   *reconcile.Reconciler
}

func newDemo(out io.Writer, dataDir string) (*demo, error) {
	d := &demo{out: out, seen: map[string]int{}}
	lines := gateway.EventLines(lockedWriter{d})
	platform := accessctl.EventSinkFunc(func(ctx context.Context, e accessctl.Event) error {
		if d.platformDown.Load() {
			return errors.New("platform unreachable")
		}
		if err := lines.Handle(ctx, e); err != nil {
			return err
		}
		d.mu.Lock()
		d.seen[string(e.Kind)]++
		d.seen["device/"+e.Device.ID]++
		if e.Pass != nil {
			d.seen[string(e.Kind)+"/"+string(e.Pass.Method)]++
			if e.Pass.Result.Granted {
				d.seen["granted/"+string(e.Pass.Method)]++
			}
		}
		d.mu.Unlock()
		return nil
	})
	var err error
	d.sink, err = outbox.Open(dataDir, platform,
		outbox.WithRetry(backoff.Policy{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond, Factor: 2, Jitter: 0.2}))
	if err != nil {
		return nil, err
	}
	if d.rc, err = reconcile.New(d.sink.DB()); err != nil {
		_ = d.sink.Close(context.Background())
		return nil, err
	}
	return d, nil
}

// close stops the reconciler, then drains the outbox, which owns the store.
func (d *demo) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(d.rc.Close(ctx), d.sink.Close(ctx))
}

// lockedWriter keeps step lines and event lines from interleaving.
type lockedWriter struct{ d *demo }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	return w.d.out.Write(p)
}

func (d *demo) say(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.out, "== "+format+"\n", args...)
}

func (d *demo) count(key string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen[key]
}

// step is one part of the demo; it returns a cleanup that stops what it
// started.
type step struct {
	name string
	run  func(ctx context.Context, d *demo) (cleanup func(), err error)
	// want lists event counters that must reach a minimum once it ran.
	want map[string]int
}

func steps() []step {
	return []step{
		{"WebSocket face terminals", wsTerminals, map[string]int{"online": 3, "pass/face": 6, "enrolled": 1, "heartbeat": 1}},
		{"HTTP standard-protocol terminal", stdTerminal, map[string]int{"pass/card": 1, "granted/qr_code": 1}},
		{"QR door", qrDoor, map[string]int{"device/DEMO-QR-GATE": 3}},
		{"LinkKit door over MQTT", linkkitDoor, map[string]int{"device/a1DemoDoor/DEMO-LK-1": 2, "granted/qr_code": 4}},
		{"HC property system bridge", hcBridge, map[string]int{"device/HC-GATE-1": 2}},
		{"SIP video intercom", sipIntercom, map[string]int{"pass/intercom": 1}},
		{"Parking lane", parkingLane, map[string]int{"pass/plate": 2, "granted/plate": 1}},
		{"Platform outage: nothing lost", outage, map[string]int{"device/DEMO-OUTAGE-DOOR": outagePasses}},
	}
}

func run(ctx context.Context, out io.Writer, dataDir string, forever bool) (err error) {
	if !forever {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "menjin-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	}
	d, err := newDemo(out, dataDir)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := d.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	start := time.Now()
	for _, s := range steps() {
		d.say("%s", s.name)
		cleanup, err := s.run(ctx, d)
		if cleanup != nil {
			cleanups = append(cleanups, cleanup)
		}
		for key, min := range s.want {
			if err != nil {
				break
			}
			err = waitCount(ctx, d, key, min)
		}
		if err != nil {
			if forever && ctx.Err() != nil {
				return nil // interrupted mid-step: a stop asked for, not a failure
			}
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	d.say("done in %v: %s", time.Since(start).Round(time.Millisecond), d.summary())
	if forever {
		d.say("running until interrupted (-forever)")
		<-ctx.Done()
	}
	return nil
}

func waitCount(ctx context.Context, d *demo, key string, min int) error {
	for d.count(key) < min {
		select {
		case <-ctx.Done():
			return fmt.Errorf("saw %d %q events, want at least %d", d.count(key), key, min)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func (d *demo) summary() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	keys := make([]string, 0, len(d.seen))
	for k := range d.seen {
		if !strings.Contains(k, "/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, d.seen[k])
	}
	return "events " + strings.Join(parts, " ")
}

// waitOnline waits until the driver reports the device online: a terminal
// hears its registration ack a moment before the server has recorded it.
func waitOnline(ctx context.Context, drv accessctl.Driver, id string) error {
	dev, err := drv.Open(ctx, accessctl.DeviceConfig{ID: id})
	if err != nil {
		return err
	}
	for {
		if st, err := dev.Status(ctx); err == nil && st.Online {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never came online: %w", id, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
