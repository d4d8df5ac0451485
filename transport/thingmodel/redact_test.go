package thingmodel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// connackCode sends a CONNECT and returns the CONNACK's return code.
func connackCode(t *testing.T, b *Broker, connect []byte) byte {
	t.Helper()
	c := rawDial(t, b)
	_, err := c.Write(connect)
	require.NoError(t, err)
	ack := make([]byte, 4)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = io.ReadFull(c, ack)
	require.NoError(t, err)
	require.Equal(t, byte(0x20), ack[0], "CONNACK")
	_ = c.Close()
	return ack[3]
}

// The will check at CONNECT: a will on the device's own status topic (what
// DeviceClient sets) is accepted; one on another device's command topic,
// or on its own command topic (a will is a publish), is refused with
// CONNACK 0x05 (not authorized) and counted.
func TestWillCheckedAtConnect(t *testing.T) {
	b := startLimited(t)
	assert.Equal(t, byte(0), connackCode(t, b, connectWithWill(t, devA, 60, StatusTopic(devA.Key()))))
	for _, topic := range []string{
		ServiceTopic(devB.Key(), "remoteOpen"), EventTopic(devB.Key(), "passEvent"),
		ServiceTopic(devA.Key(), "remoteOpen"), StatusTopic(devB.Key()), "/sys/#",
	} {
		before := b.Stats()
		assert.Equal(t, byte(0x05), connackCode(t, b, connectWithWill(t, devA, 60, topic)), topic)
		after := b.Stats()
		assert.Equal(t, before.WillsRefused+1, after.WillsRefused, topic)
		assert.Equal(t, before.ACLDenials+1, after.ACLDenials, topic)
	}
}

// A planted secret never reaches the broker's, the Host's or the device
// client's logs (debug level, text and JSON handlers), nor any printed
// form of Secrets, Triple or Credentials.
func TestSecretsNeverLogged(t *testing.T) {
	const planted = "PLANTED-secret-9f8e7d6c"
	tr := Triple{ProductKey: "a1DoorPK001", DeviceName: "door-p", DeviceSecret: planted}
	var logs lockedBuf
	h := slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	text := slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	log := slog.New(fanHandler{h, text})
	secrets := Secrets{tr.Key(): planted, devB.Key(): devB.DeviceSecret}
	b, err := NewBroker(secrets, WithBrokerAddr("127.0.0.1:0"), WithBrokerLogger(log))
	require.NoError(t, err)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host, err := NewHost(ctx, WithEmbeddedBroker(b), WithLogger(log),
		WithHandler(HandlerFunc(func(context.Context, *Message) error { return errors.New("refused on purpose") })))
	require.NoError(t, err)
	defer host.Close()

	good, err := Sign(tr, "", time.Now(), HMACSHA256)
	require.NoError(t, err)
	d, err := Dial(ctx, b.URL(), tr, WithDeviceLogger(log))
	require.NoError(t, err)
	defer d.Close()
	_, err = d.PostEvent(ctx, "passEvent", map[string]any{"code": 0})
	require.Error(t, err, "the handler refused: the host logs it")
	_, err = Dial(ctx, b.URL(), Triple{tr.ProductKey, tr.DeviceName, "wrong-" + planted}) // refused login
	require.Error(t, err)
	assert.Equal(t, byte(0x05), connackCode(t, b, connectWithWill(t, tr, 60, ServiceTopic(devB.Key(), "remoteOpen"))))

	log.Info("printing", "secrets", secrets, "triple", tr, "creds", good)
	printed := fmt.Sprintf("%v %+v %#v %v %+v %#v %v %#v", secrets, secrets, secrets, tr, tr, tr, good, good)
	out := logs.String() + printed
	require.Contains(t, out, "door-p", "the logs did record the device")
	assert.NotContains(t, out, planted)
	assert.NotContains(t, out, good.Password)
}

// fanHandler writes every record to each handler.
type fanHandler []slog.Handler

func (f fanHandler) Enabled(ctx context.Context, l slog.Level) bool { return f[0].Enabled(ctx, l) }
func (f fanHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range f {
		_ = h.Handle(ctx, r.Clone())
	}
	return nil
}
func (f fanHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanHandler, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}
func (f fanHandler) WithGroup(name string) slog.Handler {
	out := make(fanHandler, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

// FuzzACL: whatever topic a device names (publish, will or retained
// message), the broker lets it write only to its own device's topics and
// read only under its own prefix, and never panics.
func FuzzACL(f *testing.F) {
	for _, s := range []string{
		ServiceTopic(devB.Key(), "remoteOpen"), EventTopic(devA.Key(), "passEvent"), StatusTopic(devA.Key()),
		StatusTopic(devB.Key()), "/sys/a1DoorPK001/door-a/thing/../door-b/thing/service/remoteOpen",
		"/sys/a1DoorPK001/door-a/thing/event/property/post", "/sys/+/+/thing/#", "/as/mqtt/status/a1DoorPK001/door-a/x",
		"/sys/a1DoorPK001/door-a/thing/service/remoteOpen_reply", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		if allowed(devA.Key(), topic, true) && topic != StatusTopic(devA.Key()) {
			tp, err := ParseTopic(topic)
			if err != nil || tp.Device != devA.Key() || !(tp.Kind == TopicPropertyPost || tp.Kind == TopicEventPost ||
				tp.Kind == TopicPropertySetReply || tp.Kind == TopicServiceReply) {
				t.Fatalf("door-a may write %q (%+v, %v)", topic, tp, err)
			}
		}
		if allowed(devA.Key(), topic, false) && !bytes.HasPrefix([]byte(topic), []byte("/sys/a1DoorPK001/door-a/thing/")) {
			t.Fatalf("door-a may read %q", topic)
		}
	})
}
