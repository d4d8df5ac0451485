package shankai_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/shankai"
	"github.com/menjin/menjin/accessctl/shankai/shankaitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	appID  = "wx-app-1"
	secret = "s3cr3t-do-not-log"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func newClient(t *testing.T, opts ...shankai.Option) (*shankai.Client, *shankaitest.Server) {
	srv := shankaitest.NewServer(appID, secret)
	t.Cleanup(srv.Close)
	base := []shankai.Option{shankai.WithBaseURL(srv.URL()), shankai.WithClock(srv.Now)}
	c, err := shankai.New(appID, secret, append(base, opts...)...)
	require.NoError(t, err)
	return c, srv
}

func TestOrganisationAndCardLifecycle(t *testing.T) {
	c, srv := newClient(t)
	org, err := c.CreateOrganization(ctx(t), shankai.Organization{Name: "桃花园小区", Address: "地址", Contact: "0755-1234567", Mode: shankai.ModeICCard})
	require.NoError(t, err)
	require.NotEmpty(t, org)

	// Registering again (1001) resolves to the same id.
	again, err := c.CreateOrganization(ctx(t), shankai.Organization{Name: "桃花园小区", Mode: shankai.ModeICCard})
	require.NoError(t, err)
	assert.Equal(t, org, again)
	srv.SetOrgExistsCode(10001)
	again, err = c.CreateOrganization(ctx(t), shankai.Organization{Name: "桃花园小区", Mode: shankai.ModeICCard})
	require.NoError(t, err)
	assert.Equal(t, org, again, "10001 is already-exists too")

	card, err := shankai.ParseCardNo("123456")
	require.NoError(t, err)
	require.NoError(t, c.SetCardNo(ctx(t), org, "13823781234", "张三", card))
	u, ok := srv.User(org, "13823781234")
	require.True(t, ok)
	assert.Equal(t, "123456", u.Card)

	hx, _ := shankai.ParseCardNo("0x00a1b2c3")
	require.NoError(t, c.SetCardNo(ctx(t), org, "13823781235", "李四", hx))
	u, _ = srv.User(org, "13823781235")
	assert.Equal(t, "0x00A1B2C3", u.Card, "leading zeros and length kept on the wire")

	info, err := c.GetCardNo(ctx(t), org, "13823781234", "")
	require.NoError(t, err)
	assert.Equal(t, uint64(123456), info.Card.Value)
	assert.Equal(t, shankai.CardAmbiguous, info.Card.Notation)
	assert.False(t, info.New)
	info, err = c.GetCardNo(ctx(t), org, "13823781235", "")
	require.NoError(t, err)
	assert.Equal(t, accessctl.CardHex, info.Card.Notation)
	assert.True(t, shankai.SameCard(hx, info.Card))

	require.NoError(t, c.DeleteUser(ctx(t), org, "13823781234"))
	_, ok = srv.User(org, "13823781234")
	assert.False(t, ok)
	require.NoError(t, c.DeleteUser(ctx(t), org, "13823781234"), "4004 on a repeated delete is success")

	require.NoError(t, c.SetAdminUser(ctx(t), org, "admin", "pw"))
	err = c.SetAdminUser(ctx(t), org, "admin", "pw")
	assert.ErrorIs(t, err, shankai.ErrAlreadyExists)

	require.NoError(t, c.UpdateOrganization(ctx(t), shankai.Organization{ID: org, Name: "桃花园", Mode: shankai.ModeICCard, City: "深圳", District: "宝安区"}))
	got, err := c.GetOrganization(ctx(t), "桃花园")
	require.NoError(t, err)
	assert.Equal(t, org, got)
	require.NoError(t, c.DeleteOrganization(ctx(t), org))
	require.NoError(t, c.DeleteOrganization(ctx(t), org), "4005 on a repeated delete is success")
	_, err = c.GetOrganization(ctx(t), "桃花园")
	assert.ErrorIs(t, err, shankai.ErrOrgNotFound)
	assert.ErrorIs(t, err, accessctl.ErrNotFound)
	assert.Equal(t, 1, srv.TokenFetches(), "one token served every call")
}

func TestIDCardMode(t *testing.T) {
	c, srv := newClient(t)
	org, err := c.CreateOrganization(ctx(t), shankai.Organization{Name: "ID小区", Mode: shankai.ModeIDCard})
	require.NoError(t, err)
	card, _ := shankai.ParseCardNo("123456")
	err = c.SetCardNo(ctx(t), org, "13800000000", "王五", card)
	assert.ErrorIs(t, err, shankai.ErrIDCardMode)
	assert.ErrorIs(t, err, accessctl.ErrInvalid)
	var api *shankai.APIError
	require.True(t, errors.As(err, &api))
	assert.Equal(t, 4007, api.Code)
	assert.Equal(t, "ID卡模式不能设置卡号", api.Msg)

	srv.SetHexCardsOut(true)
	info, err := c.GetCardNo(ctx(t), org, "13800000000", "王五")
	require.NoError(t, err)
	assert.True(t, info.New, `is_new is the string "true"`)
	assert.Equal(t, accessctl.CardHex, info.Card.Notation)
	_, ok := srv.User(org, "13800000000")
	assert.True(t, ok, "get_card_no created the user in ID mode")
}

func TestTokenLifecycle(t *testing.T) {
	t.Run("refreshed before expiry", func(t *testing.T) {
		c, srv := newClient(t)
		_, err := c.GetOrganization(ctx(t), "none")
		require.ErrorIs(t, err, shankai.ErrOrgNotFound)
		assert.Equal(t, 1, srv.TokenFetches())
		srv.Advance(7200*time.Second - 301*time.Second)
		_, _ = c.GetOrganization(ctx(t), "none")
		assert.Equal(t, 1, srv.TokenFetches(), "still outside the 300 s margin")
		srv.Advance(2 * time.Second)
		_, _ = c.GetOrganization(ctx(t), "none")
		assert.Equal(t, 2, srv.TokenFetches(), "fetched inside the margin, before 闪开 said 4002")
		assert.Equal(t, uint64(0), c.Stats().TokenRetries)
		assert.Equal(t, 7200*time.Second, c.Stats().TokenValidFor)
	})
	t.Run("4002 refreshes and retries once", func(t *testing.T) {
		c, srv := newClient(t)
		org, err := c.CreateOrganization(ctx(t), shankai.Organization{Name: "a", Mode: shankai.ModeICCard})
		require.NoError(t, err)
		srv.RevokeTokens()
		require.NoError(t, c.DeleteUser(ctx(t), org, "1"))
		assert.Equal(t, 2, srv.TokenFetches())
		assert.Equal(t, uint64(1), c.Stats().TokenRetries)
	})
	t.Run("a stalled clock meets 4002", func(t *testing.T) {
		srv := shankaitest.NewServer(appID, secret)
		defer srv.Close()
		stalled := srv.Now() // a suspended VM: our clock did not move
		c, err := shankai.New(appID, secret, shankai.WithBaseURL(srv.URL()), shankai.WithClock(func() time.Time { return stalled }), shankai.WithRefreshMargin(0))
		require.NoError(t, err)
		_, _ = c.GetOrganization(ctx(t), "x")
		srv.Advance(7250 * time.Second) // expired for 闪开, not yet for our clock
		_, err = c.GetOrganization(ctx(t), "x")
		assert.ErrorIs(t, err, shankai.ErrOrgNotFound, "the call went through after one refresh")
		assert.Equal(t, 2, srv.TokenFetches())
		assert.Equal(t, uint64(1), c.Stats().TokenRetries)
	})
	t.Run("4002 twice surfaces", func(t *testing.T) {
		c, srv := newClient(t)
		srv.FailNext(4002, 4002)
		_, err := c.GetOrganization(ctx(t), "x")
		assert.ErrorIs(t, err, shankai.ErrTokenExpired)
		assert.Equal(t, 2, srv.TokenFetches(), "refreshed once, not in a loop")
	})
	t.Run("concurrent callers share one fetch", func(t *testing.T) {
		c, srv := newClient(t)
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = c.GetOrganization(context.Background(), "x")
			}()
		}
		wg.Wait()
		assert.Equal(t, 1, srv.TokenFetches())
		assert.Equal(t, 16, srv.Calls("get_organization"))
	})
	t.Run("bad secret is fatal and never printed", func(t *testing.T) {
		srv := shankaitest.NewServer(appID, "other")
		defer srv.Close()
		c, err := shankai.New(appID, secret, shankai.WithBaseURL(srv.URL()))
		require.NoError(t, err)
		_, err = c.GetOrganization(ctx(t), "x")
		require.ErrorIs(t, err, shankai.ErrAuth)
		assert.False(t, shankai.Retryable(err))
		assert.NotContains(t, err.Error(), secret)
		assert.Equal(t, 0, srv.Calls("get_organization"))
	})
}

func TestErrorCodes(t *testing.T) {
	c, srv := newClient(t)
	org, err := c.CreateOrganization(ctx(t), shankai.Organization{Name: "e", Mode: shankai.ModeICCard})
	require.NoError(t, err)
	card, _ := shankai.ParseCardNo("1")
	for _, tc := range []struct {
		code      int
		is        []error
		retryable bool
	}{
		{-1, []error{shankai.ErrSystem}, true},
		{4004, []error{shankai.ErrUserNotFound, accessctl.ErrNotFound, accessctl.ErrRejected}, false},
		{4005, []error{shankai.ErrOrgNotFound, accessctl.ErrNotFound}, false},
		{4006, []error{shankai.ErrInvalidCard, accessctl.ErrInvalid}, false},
		{4007, []error{shankai.ErrIDCardMode, accessctl.ErrInvalid}, false},
		{4008, []error{shankai.ErrAlreadyExists}, false},
		{4009, []error{shankai.ErrAlreadyExists}, false},
		{4010, []error{shankai.ErrDoorNotFound, accessctl.ErrNotFound}, false},
		{4011, []error{shankai.ErrNoPermission}, false},
	} {
		srv.FailNext(tc.code)
		err := c.SetCardNo(ctx(t), org, "1", "n", card)
		var api *shankai.APIError
		require.True(t, errors.As(err, &api), "%d: %v", tc.code, err)
		assert.Equal(t, tc.code, api.Code)
		for _, target := range tc.is {
			assert.ErrorIs(t, err, target, "%d", tc.code)
		}
		assert.Equal(t, tc.retryable, shankai.Retryable(err), "%d", tc.code)
	}
	// A bad card never reaches 闪开.
	before := srv.Calls("set_card_no")
	err = c.SetCardNo(ctx(t), org, "1", "n", accessctl.CardNo{Raw: "2147483648"})
	assert.ErrorIs(t, err, shankai.ErrInvalidCard)
	assert.Equal(t, before, srv.Calls("set_card_no"))
}

func TestNonJSONAnswers(t *testing.T) {
	var mu sync.Mutex
	body := `{"errcode":0,"errmsg":"ok","data":{"access_token":"t","expires_in":7200}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "get_access_token") {
			_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","data":{"access_token":"t","expires_in":7200}}`))
			return
		}
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	c, _ := shankai.New(appID, secret, shankai.WithBaseURL(srv.URL+"/1.0/"))
	for _, b := range []string{`<html>502</html>`, `{"errcode":0,"errmsg":"ok",}`, `{"errmsg":"no code"}`} {
		mu.Lock()
		body = b
		mu.Unlock()
		err := c.DeleteUser(ctx(t), "o", "1")
		assert.ErrorIs(t, err, shankai.ErrProtocol, b)
		assert.True(t, shankai.Retryable(err))
	}
	srv.Close()
	err := c.DeleteUser(ctx(t), "o", "1")
	require.ErrorIs(t, err, shankai.ErrTransport)
	assert.True(t, shankai.Retryable(err))
	assert.NotContains(t, err.Error(), "access_token=t", "the token is redacted from transport errors")
	assert.Contains(t, err.Error(), "REDACTED")
}

func TestCardSync(t *testing.T) {
	c, srv := newClient(t)
	org, err := c.CreateOrganization(ctx(t), shankai.Organization{Name: "s", Mode: shankai.ModeICCard})
	require.NoError(t, err)
	var ps accessctl.PermissionSync = c.CardSync(org)
	card, _ := shankai.ParseCardNo("0x1A3D5B79")
	g := accessctl.Grant{
		Person: accessctl.PersonRef{Platform: shankai.Platform, ID: "13823781234"}, Name: "张三",
		Credentials: []accessctl.Credential{{Kind: accessctl.CredCard, Card: &card}},
	}
	require.NoError(t, ps.PutGrant(ctx(t), g))
	require.NoError(t, ps.PutGrant(ctx(t), g), "idempotent")
	u, ok := srv.User(org, "13823781234")
	require.True(t, ok)
	assert.Equal(t, "0x1A3D5B79", u.Card)

	byValue := g
	byValue.Person = accessctl.PersonRef{}
	byValue.Phone = "13900000000"
	byValue.Credentials = []accessctl.Credential{{Kind: accessctl.CredCard, Value: "7788"}}
	require.NoError(t, ps.PutGrant(ctx(t), byValue))
	u, _ = srv.User(org, "13900000000")
	assert.Equal(t, "7788", u.Card)

	face := g
	face.Credentials = []accessctl.Credential{{Kind: accessctl.CredFace, Face: &accessctl.Image{Data: []byte{1}}}}
	assert.ErrorIs(t, ps.PutGrant(ctx(t), face), accessctl.ErrUnsupported)
	noName := g
	noName.Name = ""
	assert.ErrorIs(t, ps.PutGrant(ctx(t), noName), accessctl.ErrInvalid)

	require.NoError(t, ps.RemoveGrant(ctx(t), g.Person))
	require.NoError(t, ps.RemoveGrant(ctx(t), g.Person), "removing an absent person succeeds")
	_, ok = srv.User(org, "13823781234")
	assert.False(t, ok)
}

// CardSync passes the core's PermissionSync suite against the simulated
// 闪开 API (the person id is the mobile; 闪开 holds cards only).
func TestCardSyncConformance(t *testing.T) {
	accessctltest.TestPermissionSync(t, func(t *testing.T) accessctltest.Fixture {
		c, srv := newClient(t)
		org, err := c.CreateOrganization(ctx(t), shankai.Organization{Name: "conformance", Mode: shankai.ModeICCard})
		require.NoError(t, err)
		card := func(_ accessctl.CredentialKind, id string) accessctl.Credential {
			return accessctl.Credential{Kind: accessctl.CredCard, Value: fmt.Sprint(1000 + len(id)*31 + int(id[len(id)-1]))}
		}
		return accessctltest.Fixture{
			Sync: c.CardSync(org),
			Grant: func(id string) accessctl.Grant {
				return accessctl.Grant{Person: accessctl.PersonRef{ID: id}, Name: "n-" + id,
					Credentials: []accessctl.Credential{card(accessctl.CredCard, id)}}
			},
			CredentialKinds: []accessctl.CredentialKind{accessctl.CredCard},
			Credential:      card,
			Holds: func(id string) (string, bool) {
				u, ok := srv.User(org, id)
				return u.Name, ok
			},
		}
	})
}
