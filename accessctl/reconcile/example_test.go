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
// exactly that and reports every (person, device) pair.
func ExampleReconciler() {
	dir, _ := os.MkdirTemp("", "reconcile-example")
	defer os.RemoveAll(dir)
	rc, err := reconcile.Open(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	lobby := accessctltest.NewFakeDevice("lobby", rc) // its online/offline events go to rc
	_ = rc.Attach(accessctl.DeviceRef{ID: "lobby"}, lobby)

	_ = rc.Put(ctx, accessctl.Grant{
		Person:  accessctl.PersonRef{ID: "u-7"},
		Name:    "Li Lei",
		Devices: []accessctl.DeviceRef{{ID: "lobby"}}, // the door group
	})
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = rc.Wait(wctx)

	st, _ := rc.Status(accessctl.DeviceRef{ID: "lobby"}, accessctl.PersonRef{ID: "u-7"})
	name, held := lobby.Holds("u-7")
	fmt.Println(st.State, held, name)
	_ = rc.Close(ctx)
	// Output:
	// applied true Li Lei
}
