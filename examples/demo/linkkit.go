package main

import (
	"context"
	"fmt"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/linkkit"
	"github.com/menjin/menjin/accessctl/passcheck"
	"github.com/menjin/menjin/transport/thingmodel"
)

// linkkitDoor runs a thing-model host with its embedded MQTT broker; a
// simulated LinkKit door logs in with its signed triple, receives the
// platform's RSA public key, gets a QR grant through syncPermissions (a
// permission file served under an expiring URL), scans the code and is
// opened remotely.
func linkkitDoor(ctx context.Context, d *demo) (func(), error) {
	iss, err := newQRIssuer(ctx, "LK-VISIT-7", 3) // the platform key; the door keeps its own permission store
	if err != nil {
		return nil, err
	}
	triple := thingmodel.Triple{ProductKey: "a1DemoDoor", DeviceName: "DEMO-LK-1", DeviceSecret: "demo-secret"}
	files, err := linkkit.ServeFiles("127.0.0.1:0", "")
	if err != nil {
		return nil, err
	}
	hub, err := linkkit.NewHub(ctx,
		linkkit.WithHostOptions(thingmodel.WithSecrets(thingmodel.Secrets{triple.Key(): triple.DeviceSecret}, thingmodel.WithBrokerAddr("127.0.0.1:0"))),
		linkkit.WithFileServer(files),
		linkkit.WithSink(d.sink),
		linkkit.WithRSAPublicKey(iss.key.String()))
	if err != nil {
		_ = files.Close()
		return nil, err
	}
	var door *linkkit.DoorClient
	cleanup := func() {
		if door != nil {
			_ = door.Close()
		}
		_ = hub.Close()
		_ = files.Close()
	}
	d.say("thing-model host: embedded MQTT broker at %s", hub.Host().Broker().URL())
	door, err = linkkit.DialDoor(ctx, hub.Host().Broker().URL(), triple,
		linkkit.WithCheckerOptions(passcheck.WithDebounce(0)),
		linkkit.WithLock(func(context.Context) error { return nil }))
	if err != nil {
		return cleanup, err
	}
	if err := hub.Host().WaitOnline(ctx, triple.Key()); err != nil {
		return cleanup, err
	}
	for door.Checker().Key() == nil {
		select {
		case <-ctx.Done():
			return cleanup, fmt.Errorf("RSAPublicKey never reached the door: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	d.say("%s online, RSAPublicKey pushed", triple.DeviceName)
	to := time.Now().Add(24 * time.Hour)
	h := hub.Door(triple.Key())
	if err := h.PutGrant(ctx, accessctl.Grant{
		Person: accessctl.PersonRef{ID: "visitor-7"}, Name: "访客", ValidTo: &to,
		Credentials: []accessctl.Credential{{Kind: accessctl.CredQRCode, Value: "LK-VISIT-7", QR: &accessctl.QRLimits{MaxScans: 3}}},
	}); err != nil {
		return cleanup, err
	}
	d.say("syncPermissions: %+v", h.LastSync())
	text, err := iss.seal("LK-VISIT-7")
	if err != nil {
		return cleanup, err
	}
	if _, err := door.Scan(ctx, text); err != nil {
		return cleanup, err
	}
	if err := h.OpenDoor(ctx, accessctl.OpenRequest{Operator: "demo"}); err != nil {
		return cleanup, err
	}
	d.say("remoteOpen: the door opened %d time(s)", door.Opens())
	return cleanup, nil
}
