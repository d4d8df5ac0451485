package linkkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/linkkit"
	"github.com/menjin/menjin/accessctl/permfile"
	"github.com/menjin/menjin/accessctl/store"
)

// What must hold: with the same store, a restarted hub's RemoveGrant sends
// the door a permission file deleting every entry the previous hub put.
func TestLedgerRemoveAfterRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := store.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	held := permfile.NewStore() // the door's permissions survive its reconnect

	r1 := newRig(t, linkkit.WithLedger(db.Ledger()))
	door1 := r1.dial(t, linkkit.WithStore(held))
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: "p-1"}, Credentials: []accessctl.Credential{
		{Kind: accessctl.CredCard, Value: "777342461"}, {Kind: accessctl.CredQRCode, Value: "QR-1"}}}
	require.NoError(t, r1.hub.Door(triple.Key()).PutGrant(ctx, g))
	_, ok := held.Lookup(accessctl.CredCard, "777342461")
	require.True(t, ok, "the door got the card")
	require.NoError(t, door1.Close())
	require.NoError(t, r1.hub.Close())

	r2 := newRig(t, linkkit.WithLedger(db.Ledger()))
	r2.dial(t, linkkit.WithStore(held))
	d2 := r2.hub.Door(triple.Key())
	require.NoError(t, d2.RemoveGrant(ctx, accessctl.PersonRef{ID: "p-1"}))
	last := d2.LastSync()
	require.NoError(t, last.Err)
	assert.Equal(t, 2, last.Entries, "one delete per entry the first hub sent")
	_, ok = held.Lookup(accessctl.CredCard, "777342461")
	assert.False(t, ok, "the card is off the door")
	_, ok = held.Lookup(accessctl.CredQRCode, "QR-1")
	assert.False(t, ok, "the QR code is off the door")
	persons, err := db.Ledger().Persons(ctx, accessctl.DeviceRef{Platform: "linkkit", ID: linkkit.DeviceID(triple.Key())})
	require.NoError(t, err)
	assert.Empty(t, persons)
}

// A file the door refuses leaves the new entries recorded: it may hold them.
func TestLedgerRecordsBeforeSync(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := accessctl.NewMemoryLedger()
	r := newRig(t, linkkit.WithLedger(l), linkkit.WithSyncTimeout(200*time.Millisecond))
	door := r.dial(t)
	d := r.hub.Door(triple.Key())
	require.NoError(t, d.PutGrant(ctx, grant("p-1", "QR-A")))
	require.NoError(t, door.Close()) // the door goes away: the next sync fails
	require.Eventually(t, func() bool { return !r.hub.Host().Online(triple.Key()) }, 5*time.Second, 10*time.Millisecond)

	require.Error(t, d.PutGrant(ctx, grant("p-1", "QR-B")))
	got, err := l.Get(ctx, accessctl.DeviceRef{Platform: "linkkit", ID: d.ID()}, "p-1")
	require.NoError(t, err)
	keys := []string{}
	for _, e := range got {
		keys = append(keys, e.Key)
	}
	assert.ElementsMatch(t, []string{"QR-A", "QR-B"}, keys, "after a failed sync the ledger holds the old and the new code: the door may hold either")

	// The door is back: removal deletes both.
	r.dial(t)
	require.NoError(t, d.RemoveGrant(ctx, accessctl.PersonRef{ID: "p-1"}))
	assert.Equal(t, 2, d.LastSync().Entries)
	got, err = l.Get(ctx, accessctl.DeviceRef{Platform: "linkkit", ID: d.ID()}, "p-1")
	require.NoError(t, err)
	assert.Empty(t, got)
}
