package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/hciot/hciottest"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/examples/internal/gateway"
)

// hcBridge plays the HC property system: it talks /extApi to Menjin as it
// would to its own IoT system (token, community, machine, resident, delete),
// the resident lands on a WebSocket terminal chosen by hmId through the
// driver registry, and the terminal's pass is uploaded back to HC with HC's
// MD5 sign.
func hcBridge(ctx context.Context, d *demo) (func(), error) {
	const appID, secret = "demo-app", "demo-secret"
	const hcAppID, hcCode = "992020051967020024", "g3kE9ggkM4Jqrs576rJS0CYg7dbtMXPT"
	platform := hciottest.NewPlatform(hcAppID, hcCode) // HC's receiving side, checking every sign
	machines := &hciot.DeferredLookup{}                // the server comes after the gateway the uploader feeds
	up := hciot.NewUploader(hcAppID, hcCode,
		hciot.WithOpenDoorURL(platform.OpenDoorURL()),
		hciot.WithMachines(machines))
	uploads := accessctl.NewBuffer(accessctl.Filter(up, accessctl.KindIs(accessctl.KindPass)))

	gw, err := gateway.Start(gateway.Config{Listen: "127.0.0.1:0", Sink: accessctl.FanOut(d.sink, uploads),
		Options: []wsterm.Option{wsterm.WithInterval(time.Second)}})
	if err != nil {
		platform.Close()
		return nil, err
	}
	reg := &accessctl.Registry{}
	reg.Register("wsterm", gw.Server)
	srv, err := hciot.NewServer(hciot.WithApp(appID, secret), hciot.WithRegistry(reg), hciot.WithDriver("1", "wsterm"))
	if err != nil {
		_ = gw.Close()
		platform.Close()
		return nil, err
	}
	machines.Set(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = srv.Close()
		_ = gw.Close()
		platform.Close()
		return nil, err
	}
	web := gateway.NewHTTPServer(srv)
	go func() {
		if err := web.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.say("HC server: %v", err)
		}
	}()
	term := wstermtest.NewTerminal(gw.URL(), wstermtest.WithSN("HC-GATE-1"), wstermtest.WithHeartbeat(time.Second))
	cleanup := func() {
		_ = term.Close()
		_ = web.Close()
		_ = srv.Close()
		_ = gw.Close()
		closeCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = uploads.Close(closeCtx)
		platform.Close()
	}
	if err := term.WaitRegistered(ctx); err != nil {
		return cleanup, err
	}
	if err := waitOnline(ctx, gw.Server, term.SN()); err != nil {
		return cleanup, err
	}
	d.say("HC talks to http://%s/extApi; terminal HC-GATE-1 is its machine", ln.Addr())

	hc := &hciottest.Client{BaseURL: "http://" + ln.Addr().String() + "/", AppID: appID, AppSecret: secret}
	if _, env, err := hc.GetToken(ctx); err != nil || env.Code != 0 {
		return cleanup, fmt.Errorf("getToken: %v %+v", err, env)
	}
	community := hciottest.CommunitySpec{ID: "702020042194860039", Name: "阳光小区", Address: "阳光路1号", CityCode: "110100"}
	m := hciottest.MachineSpec{Code: "HC-GATE-1", ExtID: "m-1", Community: community.ID, Name: "东门",
		HmID: "1", LocationType: "1000", LocationObjID: community.ID}
	r := hciottest.Resident{ID: "hc-u-1", Name: "张三", Face: hciottest.FaceJPEG}
	for _, call := range []struct {
		path string
		body any
	}{
		{"/extApi/community/addCommunity", hciottest.AddCommunity(community, "task-1")},
		{"/extApi/machine/addMachine", hciottest.AddMachine(m, "task-2")},
		{"/extApi/user/addUser", hciottest.AddUser(r, m, time.Now(), "task-3")},
	} {
		env, err := hc.Post(ctx, call.path, call.body)
		if err != nil || env.Code != 0 {
			return cleanup, fmt.Errorf("%s: %v %+v", call.path, err, env)
		}
		d.say("HC %s → code %d %s", call.path, env.Code, env.Msg)
	}
	if u, ok := term.User(r.ID); ok {
		d.say("terminal HC-GATE-1 holds %s (%s)", u.UserID, u.Name)
	} else {
		return cleanup, errors.New("HC's resident did not reach the terminal")
	}
	if _, err := term.Pass(ctx, r.ID, "0"); err != nil {
		return cleanup, err
	}
	for len(platform.Uploads()) == 0 {
		select {
		case <-ctx.Done():
			return cleanup, errors.New("the pass record never reached HC")
		case <-time.After(10 * time.Millisecond):
		}
	}
	d.say("HC received pass record 3001001 for %s, sign verified", platform.Uploads()[0].Field("userName"))
	env, err := hc.Post(ctx, "/extApi/user/deleteUser", hciottest.DeleteUser(r, m, "task-4"))
	if err != nil || env.Code != 0 {
		return cleanup, fmt.Errorf("deleteUser: %v %+v", err, env)
	}
	_, still := term.User(r.ID)
	d.say("HC deleteUser → terminal still holds the resident: %t", still)
	return cleanup, nil
}
