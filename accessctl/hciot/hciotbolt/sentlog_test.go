package hciotbolt_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/hciot/hciotbolt"
	"github.com/menjin/menjin/accessctl/hciot/hciottest"
)

func newSentLog(t *testing.T, db *bbolt.DB, opts ...hciotbolt.SentLogOption) *hciotbolt.SentLog {
	l, err := hciotbolt.NewSentLog(db, opts...)
	require.NoError(t, err)
	return l
}

func TestSentLogStatesSurviveReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	l := newSentLog(t, db)
	long := strings.Repeat("x", 4096)
	for _, id := range []string{"a", "b", long} {
		st, err := l.State(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, hciot.NotSent, st)
	}
	require.NoError(t, l.Begin(ctx, "a"))
	require.NoError(t, l.Begin(ctx, "b"))
	require.NoError(t, l.Done(ctx, "b"))
	require.NoError(t, l.Done(ctx, long))
	require.NoError(t, db.Close())

	db = open(t, dir)
	defer db.Close()
	l = newSentLog(t, db)
	for id, want := range map[string]hciot.SentState{"a": hciot.Sending, "b": hciot.Sent, long: hciot.Sent, "c": hciot.NotSent} {
		st, err := l.State(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want, st, "id %.8s", id)
	}
	_, err := l.State(ctx, "")
	require.ErrorIs(t, err, accessctl.ErrInvalid)
}

func TestSentLogIsBoundedByCountAndAge(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l := newSentLog(t, db, hciotbolt.WithSentRetention(time.Hour, 10), hciotbolt.WithSentClock(clock))
	for i := range 25 {
		now = now.Add(time.Second)
		require.NoError(t, l.Done(ctx, fmt.Sprint("ev-", i)))
	}
	count := func() (n int) {
		require.NoError(t, db.View(func(tx *bbolt.Tx) error {
			n = tx.Bucket([]byte("hciot")).Bucket([]byte("sent")).Stats().KeyN
			return nil
		}))
		return n
	}
	assert.Equal(t, 10, count(), "the oldest are forgotten beyond the count")
	st, err := l.State(ctx, "ev-14")
	require.NoError(t, err)
	assert.Equal(t, hciot.NotSent, st, "ev-14 was among the oldest")
	st, err = l.State(ctx, "ev-15")
	require.NoError(t, err)
	assert.Equal(t, hciot.Sent, st)

	now = now.Add(2 * time.Hour)
	st, err = l.State(ctx, "ev-24")
	require.NoError(t, err)
	assert.Equal(t, hciot.NotSent, st, "past the retention an id reads as never sent")
	require.NoError(t, l.Done(ctx, "fresh"))
	assert.Equal(t, 1, count(), "a write prunes the expired ids")
}

// What must hold: with the log in bbolt, an event sent before a restart
// (new uploader, reopened database, the outbox redelivering it) reaches HC
// once; one begun by a run that died before HC's answer was recorded is
// uploaded again and counted as Resent.
func TestUploaderSendsOnceAcrossRestart(t *testing.T) {
	ctx := context.Background()
	hc := hciottest.NewPlatform("app", "sec")
	defer hc.Close()
	dir := t.TempDir()
	ev := accessctl.Event{ID: "cr-1", Kind: accessctl.KindCommandResult,
		Command: &accessctl.CommandResult{Command: "openDoor", CorrelationID: "t-1", OK: true}}
	run := func(e accessctl.Event) hciot.UploaderStats {
		db := open(t, dir)
		defer db.Close()
		up := hciot.NewUploader("app", "sec", hciot.WithCommandResultURL(hc.CmdResultURL()),
			hciot.WithSentLog(newSentLog(t, db)))
		require.NoError(t, up.Handle(ctx, e))
		return up.Stats()
	}
	assert.Equal(t, uint64(1), run(ev).Uploaded)
	st := run(ev)
	assert.Equal(t, uint64(0), st.Uploaded)
	assert.Equal(t, uint64(1), st.Duplicates)
	require.Len(t, hc.Uploads(), 1, "HC got the event once across the restart")

	// A previous run began ev2 and died before recording HC's answer.
	db := open(t, dir)
	ev2 := ev
	ev2.ID = "cr-2"
	require.NoError(t, newSentLog(t, db).Begin(ctx, ev2.ID))
	require.NoError(t, db.Close())
	st = run(ev2)
	assert.Equal(t, uint64(1), st.Uploaded)
	assert.Equal(t, uint64(1), st.Resent)
	require.Len(t, hc.Uploads(), 2)
}

// A try that failed in this process is retried without counting as Resent.
func TestUploaderRetryOfOwnFailureIsNotResent(t *testing.T) {
	ctx := context.Background()
	hc := hciottest.NewPlatform("app", "sec")
	defer hc.Close()
	db := open(t, t.TempDir())
	defer db.Close()
	up := hciot.NewUploader("app", "sec", hciot.WithCommandResultURL(hc.CmdResultURL()),
		hciot.WithSentLog(newSentLog(t, db)))
	ev := accessctl.Event{ID: "cr-1", Kind: accessctl.KindCommandResult,
		Command: &accessctl.CommandResult{Command: "openDoor", CorrelationID: "t-1", OK: true}}
	hc.FailNext(http.StatusBadGateway, "")
	require.Error(t, up.Handle(ctx, ev))
	require.NoError(t, up.Handle(ctx, ev))
	assert.Equal(t, uint64(0), up.Stats().Resent)
	assert.Equal(t, uint64(1), up.Stats().Uploaded)
}
