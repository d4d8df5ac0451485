package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl/hciot/hciottest"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/internal/testutil"
)

const childEnv = "MENJIN_HCBRIDGE_CHILD"

// switchable is HC's API gateway in front of the upload endpoint: down
// answers 503, up passes the request to the hciottest.Platform, which
// checks the sign and records the upload.
type switchable struct {
	up    atomic.Bool
	proxy http.Handler
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.up.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	s.proxy.ServeHTTP(w, r)
}

// What must hold: a pass the bridge acknowledged to a terminal is uploaded
// to HC's 3001001, even when HC was down and the bridge was killed with
// SIGKILL before it could upload; the restarted bridge still knows the
// machines HC registered (their community goes with every record). HC's
// record has no event id, so each pass in this test has its own userId:
// (machineCode, userId) is the idempotency key the duplicates are counted by.
func TestKill9UploadsEveryAcknowledgedPass(t *testing.T) {
	hc := hciottest.NewPlatform(hcAppID, hcSecurityCode)
	defer hc.Close()
	target, err := url.Parse(hc.URL())
	require.NoError(t, err)
	gw := &switchable{proxy: httputil.NewSingleHostReverseProxy(target)}
	front := httptest.NewServer(gw)
	defer front.Close()

	api, terminalsAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	args := []string{"-listen", api, "-terminals", terminalsAddr, "-app-id", "iot", "-app-secret", "iot-secret", "-hm", "1=wsterm",
		"-hc-app-id", hcAppID, "-hc-security-code", hcSecurityCode, "-hc-open-door-url", front.URL + hciottest.OpenDoorLogPath,
		"-data", t.TempDir()}
	logFile := filepath.Join(t.TempDir(), "stderr")
	child := testutil.StartSelfLogged(t, childEnv, logFile, args...)
	defer func() { _ = child.Process.Kill(); _, _ = child.Process.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	client := &hciottest.Client{BaseURL: "http://" + api, AppID: "iot", AppSecret: "iot-secret"}
	require.Eventually(t, func() bool { _, env, err := client.GetToken(ctx); return err == nil && env.Code == 0 },
		20*time.Second, 20*time.Millisecond, "the bridge did not start")

	const n = 4
	for i := 0; i < n; i++ {
		m := hciottest.MachineSpec{Code: fmt.Sprintf("K9-%d", i), ExtID: fmt.Sprintf("e%d", i), Community: community, Name: "门",
			HmID: "1", LocationType: "1000", LocationObjID: community, Direction: "3306"}
		env, err := client.Post(ctx, "/extApi/machine/addMachine", hciottest.AddMachine(m, fmt.Sprintf("m%d", i)))
		require.NoError(t, err)
		require.Equal(t, 0, env.Code, env.Msg)
	}

	var mu sync.Mutex
	var acked []string
	feed, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var terms []*wstermtest.Terminal
	for i := 0; i < n; i++ {
		term := wstermtest.NewTerminal("ws://"+terminalsAddr+"/", wstermtest.WithSN(fmt.Sprintf("K9-%d", i)))
		terms = append(terms, term)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := 0; p < 2000 && feed.Err() == nil; p++ {
				c, cancel := context.WithTimeout(feed, 2*time.Second)
				_, err := term.Pass(c, fmt.Sprintf("u%d", p), "0")
				cancel()
				if err == nil {
					mu.Lock()
					acked = append(acked, term.SN()+":"+fmt.Sprintf("u%d", p))
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

	require.Eventually(t, func() bool { return count() >= 100 }, 30*time.Second, 10*time.Millisecond,
		"the bridge acknowledged too few passes before the kill")
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_, _ = child.Process.Wait()
	beforeKill := count()

	child = testutil.StartSelfLogged(t, childEnv, logFile, args...)
	require.Eventually(t, func() bool { return count() >= beforeKill+50 }, 30*time.Second, 10*time.Millisecond,
		"the restarted bridge did not take passes")
	stop()
	wg.Wait()
	require.Empty(t, hc.Uploads(), "HC was down: nothing can have been uploaded yet")

	gw.up.Store(true)
	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()
	seen := func() map[string]int {
		m := map[string]int{}
		for _, u := range hc.UploadsTo(hciottest.OpenDoorLogPath) {
			if u.Field("extCommunityId") == community {
				m[u.Field("machineCode")+":"+u.Field("userId")]++
			}
		}
		return m
	}
	assert.Eventually(t, func() bool {
		got := seen()
		for _, k := range want {
			if got[k] == 0 {
				return false
			}
		}
		return true
	}, 40*time.Second, 50*time.Millisecond, "acknowledged passes missing at HC") // TMP
	if t.Failed() {
		got := seen()
		var missing []string
		for _, k := range want {
			if got[k] == 0 {
				missing = append(missing, k)
			}
		}
		logs, _ := os.ReadFile(logFile)
		for _, l := range strings.Split(string(logs), "\n") {
			if !strings.Contains(l, "level=WARN msg=\"upload failed\"") && !strings.Contains(l, "level=INFO") {
				t.Log(l)
			}
		}
		t.Fatalf("%d of %d acknowledged passes missing (%v); %d uploads", len(missing), len(want), missing[:min(10, len(missing))], len(hc.Uploads()))
	}
	require.Empty(t, hc.Refused(), "every upload signed right")

	dups := 0
	for _, c := range seen() {
		dups += c - 1
	}
	t.Logf("%d passes acknowledged (%d before the kill), all uploaded with their community; %d duplicate uploads (at least once)", len(want), beforeKill, dups)
	require.NoError(t, child.Process.Signal(syscall.SIGTERM))
	_, _ = child.Process.Wait()
}
