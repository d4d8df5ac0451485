package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/passcheck"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/stdproto/stdprototest"
)

// stdTerminal runs an edge server for the HTTP standard protocol and a
// simulated terminal that connects to it; the edge enrols a resident with a
// face and a card, opens the door remotely, and answers the terminal's QR
// check with the same QR decision a LinkKit door would make.
func stdTerminal(ctx context.Context, d *demo) (func(), error) {
	iss, err := newQRIssuer(ctx, "DELIVERY-7", 5)
	if err != nil {
		return nil, err
	}
	qr := passcheck.New(iss.store, passcheck.WithKey(iss.key), passcheck.WithDevice(accessctl.DeviceRef{ID: "DEMO-STD-1"}))
	edge := stdproto.NewEdge(
		stdproto.WithSink(d.sink),
		stdproto.WithFeatureExtractor(stdprototest.Features),
		stdproto.WithQRDecider(qr))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = edge.Close()
		return nil, err
	}
	srv := stdproto.NewServer("", edge)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.say("edge server: %v", err)
		}
	}()
	sim, err := stdprototest.Start(stdprototest.Config{SN: "DEMO-STD-1", Edge: ln.Addr().String(), Keepalive: time.Second})
	cleanup := func() {
		if sim != nil {
			_ = sim.Close()
		}
		_ = srv.Close()
		_ = edge.Close()
	}
	if err != nil {
		return cleanup, err
	}
	if err := edge.Provision(stdproto.TerminalConfig{SN: sim.SN(), Addr: sim.Addr()}); err != nil {
		return cleanup, err
	}
	if err := sim.WaitConnected(ctx); err != nil {
		return cleanup, err
	}
	d.say("edge at %s, terminal %s connected from %s", ln.Addr(), sim.SN(), sim.Addr())
	dev, err := edge.Terminal(sim.SN())
	if err != nil {
		return cleanup, err
	}
	g := faceGrant("12384865", "李四")
	g.Credentials = append(g.Credentials, accessctl.Credential{Kind: accessctl.CredCard, Value: "F47B0BA2"})
	if err := dev.PutGrant(ctx, g); err != nil {
		return cleanup, err
	}
	if err := dev.OpenDoor(ctx, accessctl.OpenRequest{Operator: "demo"}); err != nil {
		return cleanup, err
	}
	d.say("remote open: the terminal counted %d door opening(s)", sim.DoorOpens())
	if err := sim.PassCard(ctx, "F47B0BA2"); err != nil {
		return cleanup, err
	}
	text, err := iss.seal("DELIVERY-7")
	if err != nil {
		return cleanup, err
	}
	if _, err := sim.Agent().QRCode(ctx, text); err != nil {
		return cleanup, err
	}
	return cleanup, nil
}
