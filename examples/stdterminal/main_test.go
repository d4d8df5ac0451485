package main

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// The terminal connects to an edge, is opened remotely and swipes a card.
func TestRun(t *testing.T) {
	edge := stdproto.NewEdge(stdproto.WithErrorHandler(func(string, error) {}))
	defer edge.Close()
	srv := httptest.NewServer(edge)
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	require.NoError(t, edge.Provision(stdproto.TerminalConfig{SN: "T-EX-01", Addr: addr}))

	out := &syncBuf{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-edge", srv.Listener.Addr().String(), "-listen", addr, "-sn", "T-EX-01",
			"-swipe", "777342461", "-every", "100ms", "-keepalive", "200ms"}, out)
	}()
	dev, err := edge.Terminal("T-EX-01")
	require.NoError(t, err)
	require.Eventually(t, func() bool { st, _ := dev.Status(ctx); return st.Online }, 5*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return dev.OpenDoor(ctx, accessctl.OpenRequest{}) == nil }, 5*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		s := out.String()
		return strings.Contains(s, "door opened (1 so far)") && strings.Contains(s, "swiped card 777342461: accepted")
	}, 5*time.Second, 20*time.Millisecond, "%s", out)
	cancel()
	require.NoError(t, <-done)
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
