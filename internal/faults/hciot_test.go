package faults

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/wsterm"
)

// What must hold (hciot, which bridges HC to the drivers): the machine HC
// registered reports what its driver knows — a terminal gone silent is
// offline (event and Status) within the driver's bound, and online again
// when it is back; HC is told "online" again through a heartbeat upload.
func TestHciotMachineFollowsItsTerminal(t *testing.T) {
	const bound = 400 * time.Millisecond
	e := newWsEnv(t, wsterm.WithOfflineAfter(bound))
	reg := &accessctl.Registry{}
	reg.Register("wsterm", e.srv)
	srv, err := hciot.NewServer(hciot.WithApp("iot", "secret"), hciot.WithRegistry(reg), hciot.WithDriver("1", "wsterm"))
	require.NoError(t, err)
	defer srv.Close()
	require.NoError(t, srv.RegisterMachine(context.Background(), hciot.Machine{Code: "HC-1", ExtID: "e1", Community: hcCommunity, HmID: "1", LocationType: "1000"}))
	dev, ok := srv.Device("HC-1")
	require.True(t, ok)
	waitStatus(t, dev, false, time.Second) // registered, never connected

	hc, _, base := newHC(t)
	up := hciot.NewUploader(hcAppID, hcSecurityCode, hciot.WithHeartbeatURL(base+"/api/machine/heartbeat"), hciot.WithMachines(srv))

	_ = dialRaw(t, e.url, "HC-1")
	on := e.sink.waitN(t, accessctl.KindOnline, "HC-1", 1, 5*time.Second)
	waitStatus(t, dev, true, 2*time.Second)
	require.NoError(t, up.Handle(context.Background(), on))

	off := e.sink.waitN(t, accessctl.KindOffline, "HC-1", 1, bound+3*time.Second)
	assert.False(t, off.Status.Online)
	waitStatus(t, dev, false, time.Second)
	stop := watchStatus(dev)
	time.Sleep(200 * time.Millisecond)
	assert.False(t, stop(), "the HC machine said online after its terminal's offline event")

	_ = dialRaw(t, e.url, "HC-1")
	on = e.sink.waitN(t, accessctl.KindOnline, "HC-1", 2, 5*time.Second)
	waitStatus(t, dev, true, 2*time.Second)
	require.NoError(t, up.Handle(context.Background(), on))
	hbs := hc.UploadsTo("/api/machine/heartbeat")
	require.Len(t, hbs, 2, "HC heard the terminal come online twice")
	assert.Equal(t, "HC-1", hbs[1].Field("machineCode"))
	assert.Equal(t, hcCommunity, hbs[1].Field("extCommunityId"))
}
