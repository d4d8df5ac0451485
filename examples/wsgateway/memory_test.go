package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/internal/testutil"
)

// procKiB reads a "VmRSS"/"VmHWM" line of /proc/PID/status, in KiB.
func procKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// Issue 13: 20 sockets that never register, each sending a 15 MiB message,
// drove the gateway process to 4.7 GB. The real process (this binary's
// main) now grows its peak RSS by less than 64 MiB for the 300 MiB sent:
// before registering, a socket may send 64 KiB messages only.
func TestUnregisteredFloodKeepsGatewayRSSFlat(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("SKIP: needs Linux /proc to read the child's RSS")
	}
	addr := testutil.FreeAddr(t)
	gw := startGateway(t, "-listen", addr, "-api", "", "-data", t.TempDir(), "-accept-any")
	defer func() { _ = gw.Process.Kill(); _, _ = gw.Process.Wait() }()
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "gateway listening")
	before := procKiB(t, gw.Process.Pid, "VmRSS")

	payload := []byte(`{"code":"207","data":{"eventid":"x","type":"1","data":{"img":"` + strings.Repeat("A", 15<<20) + `"}}}`)
	var wg sync.WaitGroup
	for range 20 {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/", nil)
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ws.Close()
			_ = ws.SetWriteDeadline(time.Now().Add(20 * time.Second))
			_ = ws.WriteMessage(websocket.TextMessage, payload)
			_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, _, err := ws.ReadMessage()
			assert.Error(t, err, "the gateway closes the socket")
		}()
	}
	wg.Wait()
	peak := procKiB(t, gw.Process.Pid, "VmHWM")
	t.Logf("gateway RSS %d KiB before, peak %d KiB after 20 × 15 MiB", before, peak)
	assert.Less(t, peak-before, int64(64<<10), "peak RSS grew by %d KiB", peak-before)
}
