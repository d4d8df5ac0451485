package thingmodel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/internal/testutil"
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
	recv(t, invokedB)
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

// signAt is the fixed timestamp clockless doors sign with.
var signAt = time.UnixMilli(2524608000000)

// startMosquittoWithACL runs Mosquitto with a password_file of signed
// passwords for devA and devB (at signAt), the host user
// menjin-host/host-pass, and the ACL WriteMosquittoACL generates.
func startMosquittoWithACL(t *testing.T) *env {
	t.Helper()
	passwd := testutil.RequireTool(t, "mosquitto_passwd")
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "passwd")
	run := func(args ...string) {
		out, err := exec.Command(passwd, args...).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	run("-c", "-b", pwFile, "menjin-host", "host-pass")
	for _, tr := range []Triple{devA, devB} {
		cred, err := Sign(tr, "", signAt, HMACSHA256)
		require.NoError(t, err)
		run("-b", pwFile, cred.Username, cred.Password)
	}
	var acl bytes.Buffer
	require.NoError(t, WriteMosquittoACL(&acl, "menjin-host", []DeviceKey{devA.Key(), devB.Key()}))
	aclFile := filepath.Join(dir, "acl")
	require.NoError(t, os.WriteFile(aclFile, acl.Bytes(), 0o600))
	e := startMosquitto(t, fmt.Sprintf("allow_anonymous false\npassword_file %s\nacl_file %s\n", pwFile, aclFile))
	return e
}

// TestMosquittoAuthAndACL runs the auth table against Mosquitto configured
// with a password_file of signed passwords (fixed timestamp) and the ACL
// WriteMosquittoACL generates.
func TestMosquittoAuthAndACL(t *testing.T) {
	e := startMosquittoWithACL(t)

	posts := make(chan *Message, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := NewHost(ctx, WithBrokerURL(e.url, "menjin-host", "host-pass"),
		WithHandler(HandlerFunc(func(_ context.Context, m *Message) error { posts <- m; return nil })))
	require.NoError(t, err)
	defer h.Close()
	_, err = NewHost(ctx, WithBrokerURL(e.url, "menjin-host", "wrong"))
	require.Error(t, err, "the host needs its password too")

	for _, c := range []struct {
		name string
		tr   Triple
	}{
		{"bad signature", Triple{devA.ProductKey, devA.DeviceName, "not-the-secret"}},
		{"wrong product key", Triple{"a1WrongPK00", devA.DeviceName, devA.DeviceSecret}},
		{"other device's secret", Triple{devB.ProductKey, devB.DeviceName, devA.DeviceSecret}},
	} {
		_, err := Dial(ctx, e.url, c.tr, WithSignTime(signAt))
		require.Error(t, err, c.name)
	}

	invokedB := make(chan struct{}, 1)
	b := e.dial(t, h, devB, WithSignTime(signAt), WithService("remoteOpen", func(context.Context, *Request) (any, error) {
		invokedB <- struct{}{}
		return nil, nil
	}))
	_ = b
	a := e.dial(t, h, devA, WithSignTime(signAt))
	_, err = a.PostEvent(ctx, "passEvent", map[string]any{"code": 0})
	require.NoError(t, err, "a device's own topics work")
	recv(t, posts)

	// Device A, raw, trying B's topics (the stored password is bound to A's
	// client id, so A's own client steps aside first).
	require.NoError(t, a.Close())
	cred, err := Sign(devA, "", signAt, HMACSHA256)
	require.NoError(t, err)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(e.url).SetClientID(cred.ClientID).
		SetUsername(cred.Username).SetPassword(cred.Password).SetAutoReconnect(false))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	defer c.Disconnect(100)
	seen := make(chan struct{}, 1)
	stok := c.Subscribe(ServiceTopic(devB.Key(), "remoteOpen"), 1, func(paho.Client, paho.Message) { seen <- struct{}{} })
	require.True(t, stok.WaitTimeout(5*time.Second))
	forged := `{"id":"1","version":"1.0","method":"thing.event.passEvent.post","params":{"value":{"code":0,"content":"FORGED"}}}`
	c.Publish(EventTopic(devB.Key(), "passEvent"), 1, false, forged).WaitTimeout(5 * time.Second)
	_, err = h.Invoke(ctx, devB.Key(), "remoteOpen", nil)
	require.NoError(t, err)
	recv(t, invokedB)
	select {
	case <-seen:
		t.Fatal("device A received device B's invoke")
	case m := <-posts:
		t.Fatalf("forged post reached the host: %s", m.Value)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestWriteMosquittoACL(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteMosquittoACL(&b, "host", []DeviceKey{{"pk", "dn"}}))
	assert.Equal(t, `user host
topic readwrite /sys/#
topic readwrite /as/mqtt/status/#

user dn&pk
topic read /sys/pk/dn/thing/#
topic write /sys/pk/dn/thing/event/+/post
topic write /sys/pk/dn/thing/service/+
topic write /sys/pk/dn/thing/service/property/set_reply
topic write /as/mqtt/status/pk/dn
`, b.String())
	assert.Error(t, WriteMosquittoACL(&b, "host", []DeviceKey{{"p/k", "dn"}}))
}

// killedWithWill logs in as tr with mosquitto_pub (a client that is not
// ours) carrying a retained will on topic, then kills it so that the
// socket drops without DISCONNECT. It reports whether the login was accepted.
func killedWithWill(t *testing.T, e *env, tr Triple, topic, payload string) bool {
	t.Helper()
	bin := testutil.RequireTool(t, "mosquitto_pub")
	host, port, err := net.SplitHostPort(strings.TrimPrefix(e.url, "tcp://"))
	require.NoError(t, err)
	cred, err := Sign(tr, "", signAt, HMACSHA256)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-h", host, "-p", port, "-V", "mqttv311",
		"-i", cred.ClientID, "-u", cred.Username, "-P", cred.Password,
		"--will-topic", topic, "--will-payload", payload, "--will-qos", "1", "--will-retain",
		"-t", EventTopic(tr.Key(), "property"), "-l")
	stdin, err := cmd.StdinPipe() // -l holds the session while stdin is open
	require.NoError(t, err)
	defer stdin.Close()
	var out lockedBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	// A refused login exits at once; one still running after a second was
	// accepted (its stdout is buffered, so no CONNACK line to wait for).
	select {
	case <-exited:
		t.Logf("mosquitto_pub exited: %s", out.String())
		return false
	case <-time.After(time.Second):
	}
	require.NoError(t, cmd.Process.Kill())
	<-exited
	return true
}

// On both brokers a device cannot use its will to command another device:
// the embedded broker refuses the CONNECT; Mosquitto, given
// WriteMosquittoACL, accepts it but checks the will against the ACL when
// it fires. Either way device B is not invoked, then or (retained) on
// reconnect.
func TestWillCannotInvokeAnotherDevice(t *testing.T) {
	for _, c := range []struct {
		name  string
		start func(t *testing.T) *env
	}{
		{"embedded", func(t *testing.T) *env { return startEmbedded(t) }},
		{"mosquitto", startMosquittoWithACL},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := c.start(t)
			var opens atomic.Int32
			open := WithService("remoteOpen", func(context.Context, *Request) (any, error) { opens.Add(1); return nil, nil })
			b := e.dial(t, nil, devB, WithSignTime(signAt), open)
			forged := `{"id":"666","version":"1.0","params":{},"method":"thing.service.remoteOpen"}`
			accepted := killedWithWill(t, e, devA, ServiceTopic(devB.Key(), "remoteOpen"), forged)
			assert.Equal(t, !e.embedded, accepted, "the embedded broker refuses the will at CONNECT, Mosquitto when it fires")
			time.Sleep(300 * time.Millisecond) // a will, had it been sent, arrives within this
			assert.Zero(t, opens.Load(), "device B was not invoked by A's will")
			require.NoError(t, b.Close())
			b2 := e.dial(t, nil, devB, WithSignTime(signAt), open)
			time.Sleep(300 * time.Millisecond)
			assert.Zero(t, opens.Load(), "nothing retained invokes B on reconnect")
			_ = b2
		})
	}
}
