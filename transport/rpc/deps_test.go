package rpc_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/internal/testutil"
	"github.com/menjin/menjin/transport/rpc"
)

// TestNoWebSocketDependency: a TCP driver using Pending must not pull in
// gorilla/websocket (nor any module outside the standard library).
func TestNoWebSocketDependency(t *testing.T) {
	goTool := testutil.RequireTool(t, "go")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		"github.com/menjin/menjin/transport/rpc").Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Equal(t, []string{"github.com/menjin/menjin/transport/rpc"}, deps, "rpc's non-standard dependencies")
}

// The sentinels carry their meaning to accessctl.MapTransportError.
func TestSentinelsMapToContract(t *testing.T) {
	require.ErrorIs(t, accessctl.MapTransportError("op", rpc.ErrOffline), accessctl.ErrOffline)
	require.ErrorIs(t, accessctl.MapTransportError("op", rpc.ErrTimeout), accessctl.ErrTimeout)
	require.ErrorIs(t, accessctl.MapTransportError("op", rpc.NewError("x", false, true)), accessctl.ErrTimeout)
	require.ErrorIs(t, accessctl.MapTransportError("op", rpc.NewError("x", true, false)), accessctl.ErrOffline)
}
