package adminapi_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/adminapi"
)

func credValues(g accessctl.Grant, kind accessctl.CredentialKind) []string {
	var out []string
	for _, c := range g.Credentials {
		if c.Kind == kind {
			out = append(out, c.Value)
		}
	}
	return out
}

// cards and bleCards become card credentials; an edit that names cards
// replaces them and keeps the rest; reads give them back.
func TestUserCards(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	code, _ := e.call(t, "POST", "/devices/F-1/users", `{"userId":"9","pwd":"1234","cards":["777342461",123],"bleCards":["B1"]}`)
	require.Equal(t, 200, code)
	g, err := e.fake.GetGrant(ctx, accessctl.PersonRef{ID: "9"})
	require.NoError(t, err)
	assert.Equal(t, []string{"777342461", "123"}, credValues(g, accessctl.CredCard), "numbers are taken as written")
	assert.Equal(t, []string{"B1"}, credValues(g, accessctl.CredBLECard))

	code, _ = e.call(t, "PUT", "/devices/F-1/users/9", `{"cards":["5"]}`)
	require.Equal(t, 200, code)
	g, err = e.fake.GetGrant(ctx, accessctl.PersonRef{ID: "9"})
	require.NoError(t, err)
	assert.Equal(t, []string{"5"}, credValues(g, accessctl.CredCard), "the card list is replaced")
	assert.Equal(t, []string{"B1"}, credValues(g, accessctl.CredBLECard), "other kinds stay")
	assert.Equal(t, []string{"1234"}, credValues(g, accessctl.CredPassword))

	code, body := e.call(t, "GET", "/devices/F-1/users?userId=9", "")
	require.Equal(t, 200, code)
	assert.JSONEq(t, `[{"userId":"9","role":"0","cards":["5"],"bleCards":["B1"]}]`, body)

	code, _ = e.call(t, "POST", "/devices/F-1/users", `{"userId":"10","cards":[""]}`)
	assert.Equal(t, 400, code, "an empty card number")
	code, _ = e.call(t, "POST", "/devices/F-1/users", `{"userId":"10","cards":"777"}`)
	assert.Equal(t, 400, code, "cards is a list")
	_, err = adminapi.User{UserID: "1", BLECards: []string{""}}.Grant()
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
}
