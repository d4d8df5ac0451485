package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/reconcile"
)

// The host says who may enter where; the reconciler makes the devices hold
// exactly that and reports every (person, device) pair. The lobby already
// holds a person from before: it stays until the host declared the lobby's
// desired state complete, and goes then.
func ExampleReconciler() {
	dir, _ := os.MkdirTemp("", "reconcile-example")
	defer os.RemoveAll(dir)
	rc, err := reconcile.Open(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	events := rc.Watch(accessctl.Discard) // in front of the host's sink: online events resync
	lobby := accessctltest.NewFakeDevice("lobby", events)
	_ = lobby.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: "old"}, Name: "Han Meimei"})

	// Attach first: nothing is removed before the host said what it wants.
	_ = rc.Attach(accessctl.DeviceRef{ID: "lobby"}, lobby)
	_ = rc.Put(ctx, accessctl.Grant{
		Person:  accessctl.PersonRef{ID: "u-7"},
		Name:    "Li Lei",
		Devices: []accessctl.DeviceRef{{ID: "lobby"}}, // the door group
	})
	_ = rc.Wait(wctx)
	_, kept := lobby.Holds("old")
	fmt.Println("before Declare, old held:", kept)

	// Every grant is Put: the lobby's desired state is complete.
	_ = rc.Declare(ctx, accessctl.DeviceRef{ID: "lobby"})
	_ = rc.Wait(wctx)
	st, _ := rc.Status(accessctl.DeviceRef{ID: "lobby"}, accessctl.PersonRef{ID: "u-7"})
	name, held := lobby.Holds("u-7")
	_, kept = lobby.Holds("old")
	fmt.Println(st.State, held, name)
	fmt.Println("after Declare, old held:", kept)
	_ = rc.Close(ctx)
	// Output:
	// before Declare, old held: true
	// applied true Li Lei
	// after Declare, old held: false
}
