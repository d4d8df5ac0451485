package thingmodel

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBrokerRefusesBadCredentials(t *testing.T) {
	e := startEmbedded(t)
	h := e.newHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range []struct {
		name string
		tr   Triple
	}{
		{"bad signature", Triple{devA.ProductKey, devA.DeviceName, "not-the-secret"}},
		{"wrong product key", Triple{"a1WrongPK00", devA.DeviceName, devA.DeviceSecret}},
		{"unknown device", Triple{devA.ProductKey, "door-z", devA.DeviceSecret}},
		{"other device's secret", Triple{devB.ProductKey, devB.DeviceName, devA.DeviceSecret}},
	} {
		before := e.broker.Stats().AuthFailures
		_, err := Dial(ctx, e.url, c.tr)
		require.Error(t, err, c.name)
		assert.Equal(t, before+1, e.broker.Stats().AuthFailures, c.name)
		assert.False(t, h.Online(c.tr.Key()), c.name)
	}

	// A raw client with a replayed password but a different client id.
	cred, err := Sign(devA, "", time.Now(), HMACSHA256)
	require.NoError(t, err)
	o := paho.NewClientOptions().AddBroker(e.url).SetClientID("evil|securemode=3,signmethod=hmacsha256|").
		SetUsername(cred.Username).SetPassword(cred.Password).SetAutoReconnect(false)
	c := paho.NewClient(o)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.Error(t, tok.Error(), "a password signed for another client id is refused")

	// The admin needs its exact password.
	o = paho.NewClientOptions().AddBroker(e.url).SetClientID("x").SetUsername(adminUser).SetPassword("guess").SetAutoReconnect(false)
	c = paho.NewClient(o)
	tok = c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.Error(t, tok.Error())
	assert.Equal(t, 0, e.broker.Stats().Online)
}

func TestBrokerConfinesDevicesToTheirTopics(t *testing.T) {
	e := startEmbedded(t)
	posts := make(chan *Message, 4)
	h := e.newHost(t, WithHandler(HandlerFunc(func(_ context.Context, m *Message) error { posts <- m; return nil })))
	invokedB := make(chan struct{}, 1)
	e.dial(t, h, devB, WithService("remoteOpen", func(context.Context, *Request) (any, error) {
		invokedB <- struct{}{}
		return nil, nil
	}))

	a, err := e.rawClient(t, devA)
	require.NoError(t, err)
	waitFor(t, func() bool { return h.Online(devA.Key()) }, "A online")

	// A subscribing to B's invokes is refused in the SUBACK.
	seen := make(chan struct{}, 1)
	tok := a.Subscribe(ServiceTopic(devB.Key(), "remoteOpen"), 1, func(paho.Client, paho.Message) { seen <- struct{}{} })
	require.True(t, tok.WaitTimeout(5*time.Second))
	code := tok.(*paho.SubscribeToken).Result()[ServiceTopic(devB.Key(), "remoteOpen")]
	assert.Equal(t, byte(0x80), code, "SUBACK failure for another device's topic")
	for _, f := range []string{"#", "/sys/#", "/sys/+/+/thing/service/+", "/as/mqtt/status/+/+"} {
		tok := a.Subscribe(f, 1, nil)
		require.True(t, tok.WaitTimeout(5*time.Second))
		assert.Equal(t, byte(0x80), tok.(*paho.SubscribeToken).Result()[f], f)
	}
	_, err = h.Invoke(context.Background(), devB.Key(), "remoteOpen", nil)
	require.NoError(t, err)
	<-invokedB
	select {
	case <-seen:
		t.Fatal("device A received device B's invoke")
	case <-time.After(100 * time.Millisecond):
	}

	// A posting a passEvent on B's topic: dropped at QoS 0, session closed at QoS 1.
	forged, _ := json.Marshal(map[string]any{"id": "1", "version": "1.0", "method": "thing.event.passEvent.post",
		"params": map[string]any{"value": map[string]any{"code": 0, "type": "qrCode", "content": "FORGED"}}})
	denied := e.broker.Stats().ACLDenials
	a.Publish(EventTopic(devB.Key(), "passEvent"), 0, false, forged).WaitTimeout(5 * time.Second)
	a.Publish(ServiceTopic(devA.Key(), "remoteOpen"), 0, false, forged).WaitTimeout(5 * time.Second) // a down topic, even its own
	a.Publish(EventTopic(devB.Key(), "passEvent"), 1, false, forged).WaitTimeout(time.Second)
	waitFor(t, func() bool { return !a.IsConnectionOpen() }, "A disconnected after a QoS 1 publish on B's topic")
	assert.GreaterOrEqual(t, e.broker.Stats().ACLDenials, denied+3)
	select {
	case m := <-posts:
		t.Fatalf("forged post reached the host: %+v", m)
	case <-time.After(100 * time.Millisecond):
	}
	assert.True(t, h.Online(devB.Key()), "B is unaffected")
}

func TestBrokerKeepsOneSessionPerDevice(t *testing.T) {
	e := startEmbedded(t)
	h := e.newHost(t)
	first, err := e.rawClient(t, devA) // no auto-reconnect, unlike DeviceClient
	require.NoError(t, err)
	waitFor(t, func() bool { return h.Online(devA.Key()) }, "first session online")
	second := e.dial(t, h, devA, WithDeviceClientID("SN-2"), WithService("remoteOpen", func(context.Context, *Request) (any, error) { return nil, nil }))
	waitFor(t, func() bool { return e.broker.Stats().Replaced == 1 }, "older session replaced")
	waitFor(t, func() bool { return !first.IsConnectionOpen() }, "older client dropped")
	assert.True(t, second.Stats().Connected)
	assert.True(t, h.Online(devA.Key()), "the device stays online through the replacement")
	st, _ := h.Status(devA.Key())
	assert.Contains(t, st.ClientID, "SN-2")
	_, err = h.Invoke(context.Background(), devA.Key(), "remoteOpen", nil)
	require.NoError(t, err)
}
