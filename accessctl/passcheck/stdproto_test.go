package passcheck

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/permfile"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func (r *recorder) passes() []accessctl.Event {
	var out []accessctl.Event
	for _, e := range r.all() {
		if e.Kind == accessctl.KindPass {
			out = append(out, e)
		}
	}
	return out
}

// A Checker is the edge's QR decider in the HTTP standard protocol: a
// terminal (stdproto's own agent) posts /qrcode, the edge asks the Checker,
// and the answer and the recorded pass carry the permission store's verdict.
func TestCheckerAsStdprotoQRDecider(t *testing.T) {
	store := permfile.NewStore()
	one := 1
	_, err := store.ApplyEntries(context.Background(),
		permfile.Entry{Kind: accessctl.CredQRCode, Op: permfile.OpAdd, Key: "ALI5466697328cff9121c21cf59dcec4", MaxScans: &one, UserID: "123456"})
	require.NoError(t, err)
	checker := New(store, WithPlainQR(), WithDebounce(0))

	sink := &recorder{}
	terminalSide := httptest.NewServer(stdproto.NewTerminalHandler(stdprototest.NewMemory()))
	defer terminalSide.Close()
	edge := stdproto.NewEdge(
		stdproto.WithQRDecider(checker),
		stdproto.WithSink(sink),
		stdproto.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		stdproto.WithOnError(func(string, error) {}),
	)
	defer edge.Close()
	require.NoError(t, edge.Provision(stdproto.TerminalConfig{SN: "door0001", IP: "127.0.0.1", Addr: terminalSide.Listener.Addr().String()}))
	srv := httptest.NewServer(edge)
	defer srv.Close()

	agent, err := stdproto.StartAgent(stdproto.AgentConfig{Edge: srv.Listener.Addr().String(),
		Identity: stdproto.Identity{SN: "door0001", IP: "127.0.0.1", MAC: "00-16-EA-AE-3D-40", Keepalive: time.Second}})
	require.NoError(t, err)
	defer agent.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, agent.WaitConnected(ctx))

	uid, err := agent.QRCode(ctx, "ALI5466697328cff9121c21cf59dcec4")
	require.NoError(t, err)
	assert.Equal(t, "123456", uid, "the permission entry's userId answers /qrcode")

	_, err = agent.QRCode(ctx, "ALI5466697328cff9121c21cf59dcec4")
	var ce *stdproto.CodeError
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, stdproto.CodeAuthFailed, ce.Code)
	assert.Contains(t, strings.ToLower(err.Error()), "used up", "the platform's 104 message reaches the terminal")

	require.Eventually(t, func() bool { return len(sink.passes()) == 2 }, 5*time.Second, 10*time.Millisecond)
	p := sink.passes()
	assert.Equal(t, 0, p[0].Pass.Result.Code)
	assert.Equal(t, 104, p[1].Pass.Result.Code)
	assert.Equal(t, 0, *p[1].Pass.RemainingScans)
	assert.Equal(t, uint64(2), checker.Stats().Decisions)
}
