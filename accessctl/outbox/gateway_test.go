package outbox_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl/outbox"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/transport"
	"github.com/menjin/menjin/transport/backoff"
)

const addrEnv = "MENJIN_OUTBOX_ADDR"

// runGateway is the gateway process of TestKill9Gateway: a wsterm server
// (the real driver, which acks a terminal's event only after its sink took
// it) in front of the outbox, in front of the platform.
func runGateway(ob *outbox.Outbox) int {
	srv := wsterm.NewServer(wsterm.WithSink(ob), wsterm.WithSinkTimeout(5*time.Second))
	ln, err := net.Listen("tcp", os.Getenv(addrEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go func() { _ = http.Serve(ln, srv) }()
	fmt.Println("ready")
	select {} // until kill -9
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func startGateway(t *testing.T, dir, url, addr string) (stop func()) {
	t.Helper()
	t.Setenv(addrEnv, addr)
	cmd, out := startChild(t, "wsgateway", dir, url)
	line, err := out.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return func() {
		_ = cmd.Process.Kill() // SIGKILL
		_ = cmd.Wait()
	}
}

// TestKill9Gateway is the proof with the real wsterm driver and
// simulated terminals speaking its protocol: the terminals report passes
// while the platform is down, the gateway is killed with SIGKILL
// mid-stream, restarted, the platform comes up, and every pass a terminal
// got an ack for arrives at the platform — exactly once after deduplication
// by its idempotency key. The terminals (processes of their own, as real
// ones are) resend what was not acked, as the protocol says.
func TestKill9Gateway(t *testing.T) {
	dir := t.TempDir()
	plat := newPlatform()
	srv := httptest.NewServer(plat)
	defer srv.Close()
	addr := freeAddr(t)
	stop := startGateway(t, dir, srv.URL, addr)

	fastReconnect := transport.WithBackoff(backoff.Policy{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond, Factor: 2, Jitter: 0.2})
	const terminals = 10
	var (
		mu       sync.Mutex
		acked    = map[string]bool{}
		failures []error
		wg       sync.WaitGroup
		done     = make(chan struct{})
	)
	terms := make([]*wstermtest.Terminal, terminals)
	for i := range terms {
		terms[i] = wstermtest.NewTerminal("ws://"+addr+"/", wstermtest.WithSN(fmt.Sprintf("SN%04d", i)), wstermtest.WithTransport(fastReconnect))
		defer terms[i].Close()
	}
	ctx := context.Background()
	for _, term := range terms {
		wg.Go(func() {
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if err := term.WaitRegistered(wctx); err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
				return
			}
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				id, err := term.Pass(pctx, fmt.Sprintf("u%d", i%50), "0") // returns once the gateway acked
				cancel()
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					acked[term.SN()+":"+id] = true
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	require.Eventually(t, func() bool { return count() >= 300 }, 30*time.Second, time.Millisecond)
	stop() // kill -9 while the terminals are reporting and the platform is down
	atKill := count()
	unique, _ := plat.counts()
	require.Zero(t, unique, "the platform was down")

	stop = startGateway(t, dir, srv.URL, addr)
	defer func() { stop() }()
	plat.up.Store(true)
	require.Eventually(t, func() bool { return count() >= atKill+200 }, 30*time.Second, time.Millisecond, "the terminals report again")
	close(done)
	wg.Wait()
	for _, term := range terms {
		require.GreaterOrEqual(t, term.Stats().Registrations, 2, "%s reconnected to the restarted gateway", term.SN())
	}
	mu.Lock()
	require.Empty(t, failures)
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	mu.Unlock()

	missing := func() int {
		plat.mu.Lock()
		defer plat.mu.Unlock()
		n := 0
		for _, id := range ids {
			if plat.seen[id] == 0 {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return missing() == 0 }, 30*time.Second, 5*time.Millisecond, "acknowledged passes missing at the platform: %d", missing())
	unique, raw := plat.counts()
	t.Logf("acked passes=%d (%d before the kill) arrived=%d events (unique, incl. online/offline) deliveries=%d", len(ids), atKill, unique, raw)
}
