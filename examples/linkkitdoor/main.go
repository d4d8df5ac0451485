// Command linkkitdoor runs a simulated LinkKit multi-function door: the
// SDK's device-side door client (linkkit.DialDoor) with an in-memory
// permission store and a lock that prints.
//
// Without -broker it is self-contained: it starts a host (a linkkit.Hub with
// the embedded MQTT broker and a permission file server), connects the
// door to it, and plays one round — RSA key push, a QR grant delivered by
// syncPermissions, the platform's encrypted QR code scanned and verified,
// a refused scan, a remote open — then exits. With -broker it connects the
// door to that broker (the embedded one of another process, Mosquitto,
// EMQX), serves invokes, and scans each line typed on stdin until
// interrupted.
//
//	go run ./examples/linkkitdoor
//	go run ./examples/linkkitdoor -broker tcp://127.0.0.1:1883 -pk a1DoorPK001 -dn door-a -secret s3cret
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/linkkit"
	"github.com/menjin/menjin/qrcode/qrcodetest"
	"github.com/menjin/menjin/transport/thingmodel"
)

func lock(context.Context) error {
	fmt.Println("door: lock released")
	return nil
}

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
	door, err := linkkit.DialDoor(ctx, broker, t, linkkit.WithLock(lock))
	if err != nil {
		return err
	}
	defer door.Close()
	fmt.Printf("door %s connected to %s; type a scanned QR text per line, Ctrl-C to stop\n", t, broker)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			fmt.Printf("opens: %d, permission files applied: %d\n", door.Opens(), door.SyncStatus().Syncs)
			return nil
		case text := <-lines:
			o, err := door.Scan(ctx, text)
			fmt.Printf("scan: allow=%t %d %q (event delivered: %t)\n", o.Decision.Allow, o.Decision.Result.Code, o.Decision.Result.Message, err == nil)
		}
	}
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
		linkkit.WithRSAPublicKey(qrcodetest.TestKey), // the key whose private half minted qrcodetest.T1
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

	sim, err := linkkit.DialDoor(ctx, hub.Host().Broker().URL(), t, linkkit.WithLock(lock))
	if err != nil {
		return err
	}
	defer sim.Close()
	if err := hub.Host().WaitOnline(ctx, t.Key()); err != nil {
		return err
	}
	for sim.Checker().Key() == nil {
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
		Credentials: []accessctl.Credential{{Kind: accessctl.CredQRCode, Value: "TESTCODE0000001", QR: &accessctl.QRLimits{MaxScans: 5}}}})
	if err != nil {
		return fmt.Errorf("PutGrant: %w", err)
	}
	fmt.Printf("host: grant delivered (%+v)\n", door.LastSync())
	for _, text := range []string{qrcodetest.T1, qrcodetest.BitFlipped} {
		if _, err := sim.Scan(ctx, text); err != nil {
			return err
		}
		e := <-passes
		fmt.Printf("scan %.12s…: granted=%t code=%d %q credential=%q\n", text, e.Pass.Result.Granted, e.Pass.Result.Code, e.Pass.Result.Message, e.Pass.Credential)
	}
	if err := door.OpenDoor(ctx, accessctl.OpenRequest{Operator: "guard"}); err != nil {
		return fmt.Errorf("OpenDoor: %w", err)
	}
	fmt.Println("door: opened remotely", sim.Opens(), "time(s)")
	st := hub.Stats()
	fmt.Printf("host stats: invokes=%d ok=%d events=%d files served=%d\n", st.Host.Invokes, st.Host.InvokeOK, st.Host.Events, st.Files.Downloads)
	return nil
}
