package thingmodel

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(testutil.Watchdog(m, 5*time.Minute)) // a hang fails with every stack
}

const (
	adminUser = "menjin-admin"
	adminPass = "admin-secret"
)

var (
	devA = Triple{ProductKey: "a1DoorPK001", DeviceName: "door-a", DeviceSecret: "secretA0123456789abcdef"}
	devB = Triple{ProductKey: "a1DoorPK001", DeviceName: "door-b", DeviceSecret: "secretB0123456789abcdef"}
)

func testSecrets() Secrets {
	return Secrets{devA.Key(): devA.DeviceSecret, devB.Key(): devB.DeviceSecret}
}

// env is one broker under test plus what a test needs to reach it.
type env struct {
	name     string
	url      string  // where devices connect
	broker   *Broker // nil for mosquitto
	embedded bool
}

// newHost starts a Host on the env's broker.
func (e *env) newHost(t testing.TB, opts ...Option) *Host {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if e.embedded {
		opts = append([]Option{WithEmbeddedBroker(e.broker)}, opts...)
	} else {
		opts = append([]Option{WithBrokerURL(e.url, "", "")}, opts...)
	}
	h, err := NewHost(ctx, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// dial connects a device client and waits until the host sees it online.
func (e *env) dial(t testing.TB, h *Host, tr Triple, opts ...DeviceOption) *DeviceClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := Dial(ctx, e.url, tr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	if h != nil {
		waitFor(t, func() bool { return h.Online(tr.Key()) }, "host sees %s online", tr)
	}
	return d
}

// rawClient connects a plain paho client: as a device (signed triple) or,
// with tr zero, as the privileged admin / anonymous mosquitto client.
func (e *env) rawClient(t testing.TB, tr Triple) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(e.url).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	if tr.DeviceSecret != "" {
		cred, err := Sign(tr, "", time.Now(), HMACSHA256)
		require.NoError(t, err)
		o.SetClientID(cred.ClientID).SetUsername(cred.Username).SetPassword(cred.Password)
	} else {
		o.SetClientID(randomID("raw-"))
		if e.embedded {
			o.SetUsername(adminUser).SetPassword(adminPass)
		}
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, fmt.Errorf("connect timeout")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

func waitFor(t testing.TB, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: "+msg, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startEmbedded(t testing.TB) *env {
	t.Helper()
	b, err := NewBroker(testSecrets(), WithBrokerAddr("127.0.0.1:0"), WithAdmin(adminUser, adminPass))
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return &env{name: "embedded", url: b.URL(), broker: b, embedded: true}
}

// startMosquitto runs Debian's mosquitto on a free loopback port with
// extraConf appended to its configuration.
func startMosquitto(t testing.TB, extraConf string) *env {
	t.Helper()
	bin := testutil.RequireTool(t, "mosquitto")
	port := freePort(t)
	dir := t.TempDir()
	conf := fmt.Sprintf("listener %d 127.0.0.1\nset_tcp_nodelay true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n", port)
	if os.Geteuid() == 0 {
		conf += "user root\n" // keep access to the test's temp files
	}
	if extraConf == "" {
		extraConf = "allow_anonymous true\n"
	}
	conf += extraConf
	path := filepath.Join(dir, "mosquitto.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	cmd := exec.Command(bin, "-c", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", stderr.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("mosquitto exited: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen on %s: %s", addr, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &env{name: "mosquitto", url: "tcp://" + addr}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// forEachBroker runs the same test against the embedded broker and Mosquitto.
func forEachBroker(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("embedded", func(t *testing.T) { fn(t, startEmbedded(t)) })
	t.Run("mosquitto", func(t *testing.T) { fn(t, startMosquitto(t, "")) })
}

// errSink collects what a Host reports through WithOnError.
type errSink struct {
	mu   sync.Mutex
	errs []error
}

func (s *errSink) add(err error) { s.mu.Lock(); s.errs = append(s.errs, err); s.mu.Unlock() }

func (s *errSink) has(pred func(error) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.errs {
		if pred(e) {
			return true
		}
	}
	return false
}

type (
	paho_Client  = paho.Client
	paho_Message = paho.Message
)

// recv receives from ch or fails the test after testutil.Bound: no test
// waits forever.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	return testutil.Recv(t, ch, "channel")
}
