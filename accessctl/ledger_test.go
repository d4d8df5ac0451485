package accessctl_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
)

func TestMemoryLedger(t *testing.T) {
	accessctltest.TestLedger(t, func(*testing.T) accessctl.Ledger { return accessctl.NewMemoryLedger() })
}

func ExampleMemoryLedger() {
	ctx := context.Background()
	l := accessctl.NewMemoryLedger() // lost on restart: hosts use store.DB.Ledger()
	dev := accessctl.DeviceRef{Platform: "stdproto", ID: "SN0001"}
	_ = l.Put(ctx, dev, "p-1", []accessctl.LedgerEntry{{Kind: "card", Key: "777342461"}})
	entries, _ := l.Get(ctx, dev, "p-1")
	fmt.Println(entries[0].Kind, entries[0].Key)
	// Output: card 777342461
}

func TestMemoryLedgerKeysIgnoreAux(t *testing.T) {
	ctx := context.Background()
	l := accessctl.NewMemoryLedger()
	require.NoError(t, l.Put(ctx, accessctl.DeviceRef{Platform: "p", ID: "d", Aux: "door 1"}, "p-1", []accessctl.LedgerEntry{{Kind: "card", Key: "1"}}))
	got, err := l.Persons(ctx, accessctl.DeviceRef{Platform: "p", ID: "d"})
	require.NoError(t, err)
	require.Equal(t, []string{"p-1"}, got, "a device is its Platform and ID")
}
