package store_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/outbox"
	"github.com/menjin/menjin/accessctl/reconcile"
	"github.com/menjin/menjin/accessctl/stdproto"
	"github.com/menjin/menjin/accessctl/store"
)

// One state file for a whole host: the outbox, the reconciler and the
// drivers' ledger share it.
func ExampleOpen() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "menjin-example")
	defer os.RemoveAll(dir)

	db, err := store.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ob, err := outbox.New(db.Bolt(), accessctl.Discard)
	if err != nil {
		log.Fatal(err)
	}
	defer ob.Close(ctx)
	rc, err := reconcile.New(db.Bolt())
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close(ctx)
	edge := stdproto.NewEdge(stdproto.WithSink(ob), stdproto.WithLedger(db.Ledger()))
	defer edge.Close()

	persons, _ := db.Ledger().Persons(ctx, accessctl.DeviceRef{Platform: stdproto.Platform, ID: "T-0001"})
	fmt.Println(len(persons), "persons recorded on T-0001")
	// Output: 0 persons recorded on T-0001
}
