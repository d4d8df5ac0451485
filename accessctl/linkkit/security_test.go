package linkkit_test

import (
	"context"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/linkkit"
	"github.com/menjin/menjin/internal/testutil"
	"github.com/menjin/menjin/transport/thingmodel"
)

var tripleB = thingmodel.Triple{ProductKey: "a1DoorPK001", DeviceName: "door-b", DeviceSecret: "secretB0123456789abcdef"}

// newTwoDoorRig is newRig with door-a and door-b known to the broker.
func newTwoDoorRig(t *testing.T) *rig {
	t.Helper()
	return newRig(t, linkkit.WithHostOptions(thingmodel.WithSecrets(thingmodel.Secrets{
		triple.Key(): triple.DeviceSecret, tripleB.Key(): tripleB.DeviceSecret,
	}, thingmodel.WithBrokerAddr("127.0.0.1:0"))))
}

// willAttack logs in as door-a with mosquitto_pub (a client that is not
// ours), setting a retained QoS 1 will on topic with payload, and kills
// the process without DISCONNECT so that a broker that accepted the will
// publishes it. It returns whether the broker accepted the login.
func willAttack(t *testing.T, r *rig, topic, payload string) (accepted bool) {
	t.Helper()
	bin := testutil.RequireTool(t, "mosquitto_pub")
	u, err := url.Parse(r.url)
	require.NoError(t, err)
	host, port, err := net.SplitHostPort(u.Host)
	require.NoError(t, err)
	cred, err := thingmodel.Sign(triple, "", time.Now(), thingmodel.HMACSHA256)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-h", host, "-p", port, "-V", "mqttv311",
		"-i", cred.ClientID, "-u", cred.Username, "-P", cred.Password,
		"--will-topic", topic, "--will-payload", payload, "--will-qos", "1", "--will-retain",
		"-t", thingmodel.EventTopic(triple.Key(), "property"), "-l")
	stdin, err := cmd.StdinPipe() // -l keeps the session open while stdin is
	require.NoError(t, err)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(5 * time.Second)
	for !accepted {
		select {
		case err := <-exited:
			t.Logf("mosquitto_pub exited: %v: %s", err, out.String())
			_ = stdin.Close()
			return false
		case <-deadline:
			t.Fatal("mosquitto_pub neither connected nor exited within 5 s")
		case <-time.After(10 * time.Millisecond):
			accepted = r.hub.Host().Online(triple.Key())
		}
	}
	require.NoError(t, cmd.Process.Kill()) // the socket drops without DISCONNECT: the will fires
	<-exited
	_ = stdin.Close()
	return true
}

// A device may not make its will another device's command: door-a's will
// on door-b's remoteOpen must not open door-b, neither when door-a drops
// nor (retained) when door-b reconnects.
func TestWillCannotOpenAnotherDoor(t *testing.T) {
	r := newTwoDoorRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	doorB, err := linkkit.DialDoor(ctx, r.url, tripleB)
	require.NoError(t, err)
	t.Cleanup(func() { _ = doorB.Close() })
	require.NoError(t, r.hub.Host().WaitReady(ctx, tripleB.Key()))
	deniedBefore := r.hub.Stats().Host.Broker.ACLDenials

	forged := `{"id":"666","version":"1.0","params":{},"method":"thing.service.remoteOpen"}`
	accepted := willAttack(t, r, thingmodel.ServiceTopic(tripleB.Key(), "remoteOpen"), forged)
	assert.False(t, accepted, "a CONNECT whose will targets another device is refused")
	assert.Greater(t, r.hub.Stats().Host.Broker.ACLDenials, deniedBefore, "the refusal is counted")

	time.Sleep(300 * time.Millisecond) // a will, had it been sent, reaches door-b within this
	assert.Equal(t, 0, doorB.Opens(), "door-b did not open on door-a's will")

	// Nothing was retained: door-b reconnecting is not opened either.
	require.NoError(t, doorB.Close())
	doorB2, err := linkkit.DialDoor(ctx, r.url, tripleB)
	require.NoError(t, err)
	t.Cleanup(func() { _ = doorB2.Close() })
	require.NoError(t, r.hub.Host().WaitReady(ctx, tripleB.Key()))
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, 0, doorB2.Opens(), "no retained will opens door-b on reconnect")

	// Control: the counter counts, the host's own open reaches door-b.
	require.NoError(t, r.hub.Door(tripleB.Key()).OpenDoor(ctx, accessctl.OpenRequest{Operator: "guard"}))
	assert.Equal(t, 1, doorB2.Opens())
}

// A will on door-b's passEvent/post would forge a pass for door-b.
func TestWillCannotForgePassEvent(t *testing.T) {
	r := newTwoDoorRig(t)
	forged := `{"id":"667","version":"1.0","method":"thing.event.passEvent.post","params":{"value":{"code":0,"message":"ok","type":"qrcode","content":"FORGED"},"time":1700000000000}}`
	accepted := willAttack(t, r, thingmodel.EventTopic(tripleB.Key(), linkkit.EventPass), forged)
	assert.False(t, accepted, "a CONNECT whose will targets another device is refused")
	deadline := time.After(500 * time.Millisecond)
	for {
		select {
		case e := <-r.events:
			require.NotEqual(t, accessctl.KindPass, e.Kind, "no pass reaches the sink: %v", e)
			continue
		case <-deadline:
		}
		break
	}
}

// A retained publish to another device's topic is refused like any other.
func TestRetainedPublishToAnotherDeviceRefused(t *testing.T) {
	bin := testutil.RequireTool(t, "mosquitto_pub")
	r := newTwoDoorRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := url.Parse(r.url)
	require.NoError(t, err)
	host, port, err := net.SplitHostPort(u.Host)
	require.NoError(t, err)
	cred, err := thingmodel.Sign(triple, "", time.Now(), thingmodel.HMACSHA256)
	require.NoError(t, err)
	before := r.hub.Stats().Host.Broker.ACLDenials
	out, _ := exec.CommandContext(ctx, bin, "-h", host, "-p", port, "-V", "mqttv311", "-q", "1", "-r",
		"-i", cred.ClientID, "-u", cred.Username, "-P", cred.Password,
		"-t", thingmodel.ServiceTopic(tripleB.Key(), "remoteOpen"),
		"-m", `{"id":"668","version":"1.0","params":{},"method":"thing.service.remoteOpen"}`).CombinedOutput()
	t.Logf("mosquitto_pub: %s", out)
	require.Eventually(t, func() bool { return r.hub.Stats().Host.Broker.ACLDenials > before }, 5*time.Second, 10*time.Millisecond,
		"the broker refused the retained publish")

	// door-b subscribing afterwards finds nothing retained.
	doorB, err := linkkit.DialDoor(ctx, r.url, tripleB)
	require.NoError(t, err)
	t.Cleanup(func() { _ = doorB.Close() })
	require.NoError(t, r.hub.Host().WaitReady(ctx, tripleB.Key()))
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, 0, doorB.Opens())
}
