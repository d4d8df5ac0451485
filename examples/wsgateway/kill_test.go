package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/internal/testutil"
)

const childEnv = "MENJIN_WSGATEWAY_CHILD"

// platform is the webhook receiver: down answers 503; up records each
// event once by its Idempotency-Key and counts the duplicates it dropped.
type platform struct {
	up   atomic.Bool
	mu   sync.Mutex
	seen map[string]int
}

func (p *platform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.up.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var e struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	}
	if err := json.NewDecoder(r.Body).Decode(&e); err != nil || e.ID != r.Header.Get("Idempotency-Key") {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.seen[e.ID]++
	p.mu.Unlock()
}

func (p *platform) has(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[id] > 0
}

// startGateway runs the real gateway (this binary's main) as a process.
func startGateway(t *testing.T, args ...string) *exec.Cmd {
	cmd := testutil.StartSelf(t, childEnv, args...)
	require.NoError(t, cmd.Start())
	return cmd
}

// What must hold: a pass the gateway acknowledged to a terminal reaches the
// platform, even when the platform was down and the gateway was killed with
// SIGKILL before it could deliver; after de-duplication by idempotency key
// each arrives exactly once.
func TestKill9LosesNoAcknowledgedEvent(t *testing.T) {
	p := &platform{seen: map[string]int{}}
	hook := httptest.NewServer(p)
	defer hook.Close()
	addr := testutil.FreeAddr(t)
	args := []string{"-listen", addr, "-api", "", "-data", t.TempDir(), "-webhook", hook.URL}

	gw := startGateway(t, args...)
	defer func() { _ = gw.Process.Kill(); _, _ = gw.Process.Wait() }()

	var mu sync.Mutex
	var acked []string
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var terms []*wstermtest.Terminal
	for i := 0; i < 5; i++ {
		term := wstermtest.NewTerminal("ws://"+addr+"/", wstermtest.WithSN(fmt.Sprintf("K9-%d", i)))
		terms = append(terms, term)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 2000 && ctx.Err() == nil; n++ {
				c, cancel := context.WithTimeout(ctx, 2*time.Second)
				id, err := term.Pass(c, fmt.Sprint(n), "0")
				cancel()
				if err == nil {
					mu.Lock()
					acked = append(acked, term.SN()+":"+id)
					mu.Unlock()
				}
			}
		}()
	}
	defer func() {
		for _, term := range terms {
			_ = term.Close()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }

	require.Eventually(t, func() bool { return count() >= 100 }, 20*time.Second, 10*time.Millisecond,
		"the gateway acknowledged too few passes before the kill")
	require.NoError(t, gw.Process.Signal(syscall.SIGKILL))
	_, _ = gw.Process.Wait()
	beforeKill := count()

	gw = startGateway(t, args...)
	require.Eventually(t, func() bool { return count() >= beforeKill+50 }, 30*time.Second, 10*time.Millisecond,
		"the restarted gateway did not take passes")
	stop()
	wg.Wait()

	p.up.Store(true)
	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()
	require.Eventually(t, func() bool {
		for _, id := range want {
			if !p.has(id) {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond, "acknowledged passes missing at the platform")

	p.mu.Lock()
	dups := 0
	for _, n := range p.seen {
		dups += n - 1
	}
	p.mu.Unlock()
	t.Logf("%d passes acknowledged (%d before the kill), all delivered; %d duplicates dropped by idempotency key", len(want), beforeKill, dups)
	require.NoError(t, gw.Process.Signal(syscall.SIGTERM))
	_, _ = gw.Process.Wait()
}
