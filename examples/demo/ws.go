package main

import (
	"context"
	"fmt"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
	"github.com/menjin/menjin/examples/internal/gateway"
)

// residents are the people the demo enrols on every face terminal.
var residents = []struct{ id, name string }{
	{"12384865", "李四"},
	{"77986", "王小飞"},
}

func faceGrant(id, name string) accessctl.Grant {
	return accessctl.Grant{
		Person: accessctl.PersonRef{ID: id},
		Name:   name,
		Credentials: []accessctl.Credential{{
			Kind: accessctl.CredFace,
			Face: &accessctl.Image{Data: stdprototest.Photo(id), MIME: "image/jpeg"},
		}},
	}
}

// wsTerminals starts a gateway, lets three simulated terminals dial in,
// enrols the residents on each and makes each resident walk through.
func wsTerminals(ctx context.Context, d *demo) (func(), error) {
	gw, err := gateway.Start(gateway.Config{
		Listen:  "127.0.0.1:0",
		API:     "127.0.0.1:0",
		Sink:    accessctl.FanOut(d.sink, accessctl.Filter(d.rc, accessctl.KindIs(accessctl.KindOnline))),
		Options: []wsterm.Option{wsterm.WithInterval(time.Second)},
	})
	if err != nil {
		return nil, err
	}
	d.say("gateway: terminals dial %s, admin API at %s", gw.URL(), gw.APIURL())
	var terms []*wstermtest.Terminal
	cleanup := func() {
		for _, t := range terms {
			_ = t.Close()
		}
		_ = gw.Close()
	}
	for i := 1; i <= 3; i++ {
		t := wstermtest.NewTerminal(gw.URL(),
			wstermtest.WithSN(fmt.Sprintf("DEMO-WS-%d", i)),
			wstermtest.WithAddress(fmt.Sprintf("127.0.0.%d", i+10), fmt.Sprintf("00-16-EA-AE-3D-%02d", i)),
			wstermtest.WithHeartbeat(time.Second))
		terms = append(terms, t)
	}
	for _, t := range terms {
		if err := t.WaitRegistered(ctx); err != nil {
			return cleanup, err
		}
		dev, err := gw.Server.Device(t.SN())
		if err != nil {
			return cleanup, err
		}
		if err := d.rc.Attach(accessctl.DeviceRef{ID: t.SN()}, dev); err != nil {
			return cleanup, err
		}
	}
	// The reconciler pushes the residents to every terminal, and would again
	// after a terminal reconnects or the gateway restarts.
	for _, r := range residents {
		g := faceGrant(r.id, r.name)
		for _, t := range terms {
			g.Devices = append(g.Devices, accessctl.DeviceRef{ID: t.SN()})
		}
		if err := d.rc.Put(ctx, g); err != nil {
			return cleanup, err
		}
	}
	if err := d.rc.Wait(ctx); err != nil {
		return cleanup, err
	}
	d.say("reconciler: %v", d.rc.Stats().States)
	for _, t := range terms {
		d.say("%s holds %d users", t.SN(), len(t.Users()))
		for _, r := range residents {
			if _, err := t.Pass(ctx, r.id, "0"); err != nil {
				return cleanup, err
			}
		}
	}
	if _, err := terms[0].Enroll(ctx, wsterm.User{User: "guard", UserID: "900", Name: "门卫", Role: "1", Pwd: "0000", Img: "base64....."}); err != nil {
		return cleanup, err
	}
	return cleanup, nil
}
