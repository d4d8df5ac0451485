package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/hciot/hciottest"
	"github.com/menjin/menjin/accessctl/outbox"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/transport/backoff"
)

const (
	hcAppID        = "992020051967020024"
	hcSecurityCode = "g3kE9ggkM4Jqrs576rJS0CYg7dbtMXPT"
	hcCommunity    = "702020042194860039"
)

var fastRetry = outbox.WithRetry(backoff.Policy{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 2, Jitter: 0.2})

// hcFront is HC's API gateway in front of an hciottest.Platform: it can
// hang the next requests (until the client gives up) and otherwise passes
// them on; the Platform injects 5xx and 401 answers itself.
type hcFront struct {
	hang  atomic.Int32
	proxy http.Handler
}

func (f *hcFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.hang.Add(-1) >= 0 {
		// Read the body first: only then does the server notice the client
		// hanging up and cancel r.Context().
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	}
	f.proxy.ServeHTTP(w, r)
}

func newHC(t *testing.T) (*hciottest.Platform, *hcFront, string) {
	t.Helper()
	hc := hciottest.NewPlatform(hcAppID, hcSecurityCode)
	t.Cleanup(hc.Close)
	u, err := url.Parse(hc.URL())
	require.NoError(t, err)
	front := &hcFront{proxy: httputil.NewSingleHostReverseProxy(u)}
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)
	return hc, front, srv.URL
}

func hcPass(n int) accessctl.Event {
	return accessctl.Event{
		ID: fmt.Sprintf("M1:pass-%d", n), Kind: accessctl.KindPass,
		Device: accessctl.DeviceRef{Platform: hciot.Platform, ID: "M1"}, Site: accessctl.SiteRef{Platform: hciot.Platform, ID: hcCommunity},
		OccurredAt: time.Now(), ReceivedAt: time.Now(), TimeSource: accessctl.TimeReceipt,
		Pass: &accessctl.PassEvent{Person: &accessctl.PersonRef{Platform: hciot.Platform, ID: fmt.Sprintf("u%d", n)}, PersonName: "张三",
			Method: accessctl.MethodFace, Result: accessctl.Result{Granted: true}},
	}
}

func uploadedUsers(hc *hciottest.Platform) map[string]int {
	m := map[string]int{}
	for _, u := range hc.UploadsTo(hciottest.OpenDoorLogPath) {
		m[u.Field("userId")]++
	}
	return m
}

// What must hold (hciot uploader behind the outbox): HC answering 5xx, or
// hanging, is a passing fault — the outbox retries and every record is
// uploaded once HC answers, in order per device; HC refusing the
// credentials (401) is not retried forever: the record goes to the
// dead-letter area, the alert fires, and nothing is lost — a replay after
// the fix uploads it.
func TestHCUploaderBehindOutbox5xxHang401(t *testing.T) {
	hc, front, base := newHC(t)
	var alerts atomic.Int32
	up := hciot.NewUploader(hcAppID, hcSecurityCode, hciot.WithOpenDoorURL(base+hciottest.OpenDoorLogPath),
		hciot.WithAlert(func(error) { alerts.Add(1) }))
	dead := make(chan outbox.DeadLetter, 4)
	ob, err := outbox.Open(t.TempDir(), up, fastRetry, outbox.WithDeliveryTimeout(300*time.Millisecond),
		outbox.WithOnDead(func(d outbox.DeadLetter) { dead <- d }))
	require.NoError(t, err)
	defer func() { require.NoError(t, ob.Close(context.Background())) }()
	ctx := ctxFor(t, 30*time.Second)

	// 5xx: three refusals, then it goes through.
	for range 3 {
		hc.FailNext(http.StatusBadGateway, "<html>502 Bad Gateway</html>")
	}
	require.NoError(t, ob.Handle(ctx, hcPass(1)))
	require.Eventually(t, func() bool { return uploadedUsers(hc)["u1"] == 1 }, 10*time.Second, 5*time.Millisecond, "5xx: uploaded later")

	// Hang: HC keeps two requests open; the delivery timeout cuts them and
	// the next attempt goes through.
	front.hang.Store(2)
	require.NoError(t, ob.Handle(ctx, hcPass(2)))
	require.NoError(t, ob.Handle(ctx, hcPass(3)))
	require.Eventually(t, func() bool { u := uploadedUsers(hc); return u["u2"] == 1 && u["u3"] == 1 }, 10*time.Second, 5*time.Millisecond, "hang: uploaded later")
	assert.GreaterOrEqual(t, up.Stats().Transient, uint64(5), "3 × 5xx and 2 hangs were transient")

	// 401: dead-lettered with an alert, not retried.
	hc.FailNext(http.StatusUnauthorized, "鉴权失败")
	require.NoError(t, ob.Handle(ctx, hcPass(4)))
	var d outbox.DeadLetter
	select {
	case d = <-dead:
	case <-time.After(10 * time.Second):
		t.Fatal("401 not dead-lettered")
	}
	assert.Equal(t, "M1:pass-4", d.Event.ID)
	assert.Equal(t, 1, d.Attempts, "a refused credential is not retried")
	assert.Equal(t, int32(1), alerts.Load(), "the alert fired")
	var letters []outbox.DeadLetter
	require.Eventually(t, func() bool { // OnDead runs before the move is committed
		letters, err = ob.Dead(ctx, 10)
		return err == nil && len(letters) == 1
	}, 5*time.Second, 5*time.Millisecond, "kept, not lost")
	assert.Zero(t, uploadedUsers(hc)["u4"])

	// Fixed: the host replays it.
	require.NoError(t, ob.Replay(ctx, letters[0].Seq))
	require.Eventually(t, func() bool { return uploadedUsers(hc)["u4"] == 1 }, 10*time.Second, 5*time.Millisecond, "replayed")
	assert.Equal(t, map[string]int{"u1": 1, "u2": 1, "u3": 1, "u4": 1}, uploadedUsers(hc), "each record once")
	// HC records the upload before its answer reaches the outbox, which
	// only then takes the record off its queue.
	require.Eventually(t, func() bool { return ob.Stats().Queued == 0 }, 5*time.Second, 5*time.Millisecond, "the replayed record leaves the queue")
	assert.Zero(t, ob.Stats().Dead)
	assert.Empty(t, hc.Refused(), "every sign verified")
}

// What must hold (outbox full, "disk full" by its size bound): an event
// the outbox cannot store is not acknowledged to the terminal, so the
// terminal keeps it and sends it again; the outbox never holds more than
// its bound; once the platform drains the outbox every pass the terminal
// made is delivered — nothing lost.
func TestOutboxFullDriverDoesNotAckDeviceResends(t *testing.T) {
	const bound, passes = 5, 12
	sink := newRecorder()
	sink.setDown(true)
	ob, err := outbox.Open(t.TempDir(), sink, fastRetry, outbox.WithMaxEvents(bound))
	require.NoError(t, err)
	defer func() { require.NoError(t, ob.Close(context.Background())) }()
	e := newWsEnvWithSink(t, ob)
	term := wstermtest.NewTerminal(e.url, wstermtest.WithSN("FULL-1"), wstermtest.WithTransport(fastBackoff))
	defer term.Close()
	require.NoError(t, term.WaitRegistered(ctxFor(t, 5*time.Second)))

	var acked atomic.Int32
	var wg sync.WaitGroup
	ids := make(chan string, passes)
	for i := range passes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := term.Pass(ctxFor(t, 60*time.Second), fmt.Sprintf("u%d", i), "0")
			if err == nil {
				acked.Add(1)
				ids <- "FULL-1:" + id
			}
		}()
	}
	require.Eventually(t, func() bool { return ob.Stats().Refused > 0 }, 10*time.Second, 5*time.Millisecond, "the bound was reached")
	time.Sleep(100 * time.Millisecond)
	st := ob.Stats()
	assert.LessOrEqual(t, st.Queued, bound, "never more than the bound")
	assert.LessOrEqual(t, int(acked.Load()), bound, "what could not be stored was not acknowledged")

	sink.setDown(false)
	wg.Wait()
	require.Equal(t, int32(passes), acked.Load(), "every pass acknowledged in the end")
	close(ids)
	require.Eventually(t, func() bool { return ob.Stats().Queued == 0 }, 10*time.Second, 5*time.Millisecond)
	got := map[string]bool{}
	for _, e := range sink.of(accessctl.KindPass, "FULL-1") {
		got[e.ID] = true
	}
	for id := range ids {
		assert.True(t, got[id], "pass %s delivered", id)
	}
	assert.Len(t, got, passes)
}
