package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
)

// terminalDriver is the name the WebSocket terminal driver is registered
// under; map HC hmIds to it with -hm.
const terminalDriver = "wsterm"

// terminals is the WebSocket terminal driver (accessctl/wsterm) and the
// terminals -simulate started. Its Open hands HC's machineCode to the
// driver as the terminal's serial number.
type terminals struct {
	*wsterm.Server

	mu   sync.Mutex
	sims []*wstermtest.Terminal
}

func newTerminals(sink accessctl.EventSink, log *slog.Logger, opts ...wsterm.Option) *terminals {
	return &terminals{Server: wsterm.NewServer(append([]wsterm.Option{wsterm.WithSink(sink), wsterm.WithLogger(log)}, opts...)...)}
}

// simSN is the serial number of the i-th simulated terminal (from 1).
func simSN(i int) string { return fmt.Sprintf("sim-%d", i) }

// Simulate starts n terminals sim-1 … sim-n that dial addr, and waits until
// they registered.
func (t *terminals) Simulate(ctx context.Context, n int, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i := 1; i <= n; i++ {
		sim := wstermtest.NewTerminal("ws://"+addr+"/", wstermtest.WithSN(simSN(i)))
		t.mu.Lock()
		t.sims = append(t.sims, sim)
		t.mu.Unlock()
	}
	var errs []error
	for _, sim := range t.simulated() {
		if err := t.waitOnline(ctx, sim); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", sim.SN(), err))
		}
	}
	return errors.Join(errs...)
}

// waitOnline waits until the simulated terminal registered and the driver
// sees it online (the two can be a moment apart).
func (t *terminals) waitOnline(ctx context.Context, sim *wstermtest.Terminal) error {
	if err := sim.WaitRegistered(ctx); err != nil {
		return err
	}
	dev, err := t.Device(sim.SN())
	if err != nil {
		return err
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, err := dev.Status(ctx); err == nil && st.Online {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (t *terminals) simulated() []*wstermtest.Terminal {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*wstermtest.Terminal(nil), t.sims...)
}

// Close stops the simulated terminals, then the driver.
func (t *terminals) Close() error {
	for _, sim := range t.simulated() {
		_ = sim.Close()
	}
	return t.Server.Close()
}
