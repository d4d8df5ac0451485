// Command linkkitdoor runs a simulated LinkKit multi-function door.
//
// Without -broker it is self-contained: it starts a host (a linkkit.Hub with
// the embedded MQTT broker and a permission file server), connects the
// simulated door to it, and plays one round — RSA key push, a QR grant
// delivered by syncPermissions, a granted and a refused scan, a remote
// open — then exits. With -broker it connects the door to that broker
// (the embedded one of another process, Mosquitto, EMQX) and serves
// invokes until interrupted.
//
//	go run ./examples/linkkitdoor
//	go run ./examples/linkkitdoor -broker tcp://127.0.0.1:1883 -pk a1DoorPK001 -dn door-a -secret s3cret
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/linkkit"
	"github.com/menjin/menjin/accessctl/linkkit/linkkittest"
	"github.com/menjin/menjin/transport/thingmodel"
)

const sampleKey = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAI6zQY57YYUh1xDOk9ZOXQapFpSGmZIukTtJkvM5rf43b4H6tmzH27anYW8csBKmFAdJir9ZaJY1GhZO6FY/8d0CAwEAAQ=="

func main() {
	broker := flag.String("broker", "", "broker URL; empty runs a self-contained round against an embedded host")
	pk := flag.String("pk", "a1DoorPK001", "ProductKey")
	dn := flag.String("dn", "door-a", "DeviceName")
	secret := flag.String("secret", "s3cret", "DeviceSecret")
	flag.Parse()
	t := thingmodel.Triple{ProductKey: *pk, DeviceName: *dn, DeviceSecret: *secret}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	if *broker == "" {
		err = selfContained(ctx, t)
	} else {
		err = serve(ctx, *broker, t)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func serve(ctx context.Context, broker string, t thingmodel.Triple) error {
	door, err := linkkittest.Dial(ctx, broker, t)
	if err != nil {
		return err
	}
	defer door.Close()
	fmt.Printf("door %s connected to %s; Ctrl-C to stop\n", t, broker)
	<-ctx.Done()
	fmt.Printf("opens: %d, permission files applied: %d, records: %d\n", door.Opens(), door.Syncs(), door.Len())
	return nil
}

func selfContained(ctx context.Context, t thingmodel.Triple) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	files, err := linkkit.ServeFiles("127.0.0.1:0", "")
	if err != nil {
		return err
	}
	defer files.Close()
	passes := make(chan accessctl.Event, 8)
	hub, err := linkkit.NewHub(ctx,
		linkkit.WithHostOptions(thingmodel.WithSecrets(thingmodel.Secrets{t.Key(): t.DeviceSecret}, thingmodel.WithBrokerAddr("127.0.0.1:0"))),
		linkkit.WithFileServer(files),
		linkkit.WithRSAPublicKey(sampleKey),
		linkkit.WithSink(accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
			fmt.Println("host event:", e)
			if e.Kind == accessctl.KindPass {
				passes <- e
			}
			return nil
		})))
	if err != nil {
		return err
	}
	defer hub.Close()
	fmt.Println("host: embedded broker on", hub.Host().Broker().URL())

	sim, err := linkkittest.Dial(ctx, hub.Host().Broker().URL(), t)
	if err != nil {
		return err
	}
	defer sim.Close()
	if err := hub.Host().WaitOnline(ctx, t.Key()); err != nil {
		return err
	}
	for sim.RSAPublicKey() == "" {
		select {
		case <-ctx.Done():
			return fmt.Errorf("RSAPublicKey never arrived: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	fmt.Println("door: RSAPublicKey received")

	door := hub.Door(t.Key())
	to := time.Now().Add(24 * time.Hour)
	err = door.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: "alice"}, Name: "Alice", ValidTo: &to,
		Credentials: []accessctl.Credential{{Kind: accessctl.CredQRCode, Value: "ALIF24DD9END8CD3", QR: &accessctl.QRLimits{MaxScans: 5}}}})
	if err != nil {
		return fmt.Errorf("PutGrant: %w", err)
	}
	fmt.Printf("host: grant delivered (%+v)\n", door.LastSync())
	for _, code := range []string{"ALIF24DD9END8CD3", "NOT-A-CODE"} {
		if _, err := sim.Present(ctx, linkkit.TypeQRCode, code); err != nil {
			return err
		}
		e := <-passes
		fmt.Printf("scan %s: granted=%t code=%d %q\n", code, e.Pass.Result.Granted, e.Pass.Result.Code, e.Pass.Result.Message)
	}
	if err := door.OpenDoor(ctx, accessctl.OpenRequest{Operator: "guard"}); err != nil {
		return fmt.Errorf("OpenDoor: %w", err)
	}
	fmt.Println("door: opened remotely", sim.Opens(), "time(s)")
	st := hub.Stats()
	fmt.Printf("host stats: invokes=%d ok=%d events=%d files served=%d\n", st.Host.Invokes, st.Host.InvokeOK, st.Host.Events, st.Files.Downloads)
	return nil
}
