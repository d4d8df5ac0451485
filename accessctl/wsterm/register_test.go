package wsterm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/wsterm/wstermtest"
)

// A terminal that has heard its register ack is known to the server: a host
// reacting to the terminal (an HC call, an admin request) finds it online
// and can command it at once, and the command still follows the ack.
func TestRegisteredTerminalIsKnownWhenAcked(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 30; i++ {
		sn := fmt.Sprintf("ORDER-%d", i)
		term := wstermtest.NewTerminal(e.url, wstermtest.WithSN(sn), wstermtest.WithTransport(fastBackoff))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		require.NoError(t, term.WaitRegistered(ctx))
		d, err := e.srv.Device(sn)
		require.NoError(t, err)
		st, err := d.Status(ctx)
		require.NoError(t, err)
		require.True(t, st.Online, "terminal %s acked but not online on the server", sn)
		require.NoError(t, d.PutGrant(ctx, accessctl.Grant{Person: accessctl.PersonRef{ID: "u1"}, Name: "n",
			Credentials: []accessctl.Credential{{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: jpeg, MIME: "image/jpeg"}}}}))
		_, ok := term.User("u1")
		require.True(t, ok)
		cancel()
		require.NoError(t, term.Close())
	}
}
