package thingmodel

import (
	"bufio"
	"context"
	"encoding/json"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/internal/testutil"
)

// cliConn returns mosquitto client arguments that connect as device tr
// (LinkKit-signed) or, with tr zero, as the embedded broker's admin.
func cliConn(t *testing.T, e *env, tr Triple) []string {
	t.Helper()
	u, err := url.Parse(e.url)
	require.NoError(t, err)
	args := []string{"-h", u.Hostname(), "-p", u.Port(), "-V", "mqttv311", "-q", "1"}
	if tr.DeviceSecret != "" {
		cred, err := Sign(tr, "cli-"+tr.DeviceName, time.Now(), HMACSHA256)
		require.NoError(t, err)
		return append(args, "-i", cred.ClientID, "-u", cred.Username, "-P", cred.Password)
	}
	if e.embedded {
		args = append(args, "-u", adminUser, "-P", adminPass)
	}
	return append(args, "-i", randomID("cli-"))
}

// TestMosquittoClientsAsDevice drives the carrier with Mosquitto's command
// line clients standing in for a non-Go door: mosquitto_rr posts a
// passEvent and waits for the post_reply; mosquitto_sub receives a
// remoteOpen invoke and mosquitto_pub answers it.
func TestMosquittoClientsAsDevice(t *testing.T) {
	subBin := testutil.RequireTool(t, "mosquitto_sub")
	pubBin := testutil.RequireTool(t, "mosquitto_pub")
	rrBin := testutil.RequireTool(t, "mosquitto_rr")
	forEachBroker(t, func(t *testing.T, e *env) {
		posts := make(chan *Message, 4)
		h := e.newHost(t, WithRequestTimeout(10*time.Second), WithHandler(HandlerFunc(func(_ context.Context, m *Message) error {
			posts <- m
			return nil
		})))
		dev := devA.Key()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()

		// 1. passEvent from the command line, the spec's example value.
		post := `{"id":"4711","version":"1.0","params":{"value":` + vecPassEventValue + `,"time":1597821579000},"method":"thing.event.passEvent.post"}`
		args := append(cliConn(t, e, devA), "-t", EventTopic(dev, "passEvent"), "-e", EventTopic(dev, "passEvent")+"_reply", "-m", post, "-W", "10")
		out, err := exec.CommandContext(ctx, rrBin, args...).CombinedOutput()
		require.NoError(t, err, "mosquitto_rr: %s", out)
		rep, err := DecodeReply([]byte(strings.TrimSpace(string(out))))
		require.NoError(t, err, "reply %q", out)
		assert.Equal(t, "4711", rep.ID)
		assert.Equal(t, CodeOK, rep.Code)
		m := recv(t, posts)
		assert.Equal(t, "passEvent", m.Identifier)
		assert.Equal(t, time.UnixMilli(1597821579000), m.Time)
		var pe struct {
			Code    int    `json:"code"`
			Type    string `json:"type"`
			Content string `json:"content"`
		}
		require.NoError(t, json.Unmarshal(m.Value, &pe))
		assert.Equal(t, "qrCode", pe.Type)
		assert.Equal(t, "ALI7af81cfad5df1", pe.Content)

		// 2. remoteOpen invoke received by mosquitto_sub as the device.
		if e.embedded { // let mosquitto_rr's session end first, or its late end reads as sub's
			waitFor(t, func() bool { return !h.Online(dev) }, "mosquitto_rr's session over")
		} else { // on an external broker the device announces its session
			ann := append(cliConn(t, e, devA), "-t", StatusTopic(dev), "-r", "-m", `{"status":"online"}`)
			out, err := exec.CommandContext(ctx, pubBin, ann...).CombinedOutput()
			require.NoError(t, err, "%s", out)
		}
		sub := exec.CommandContext(ctx, subBin, append(cliConn(t, e, devA), "-t", "/sys/"+dev.ProductKey+"/"+dev.DeviceName+"/thing/service/+")...)
		stdout, err := sub.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, sub.Start())
		t.Cleanup(func() { _ = sub.Process.Kill(); _ = sub.Wait() })
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		waitFor(t, func() bool { return h.Online(dev) }, "mosquitto_sub device online")
		// Probe until the subscription is live; unanswered probes time out.
		live := false
		for i := 0; i < 40 && !live; i++ {
			pctx, pcancel := context.WithTimeout(ctx, 250*time.Millisecond)
			_, err := h.Invoke(pctx, dev, "probe", nil)
			pcancel()
			require.ErrorIs(t, err, ErrTimeout)
			for drained := false; !drained; {
				select {
				case l := <-lines:
					live = live || strings.Contains(l, "thing.service.probe")
				default:
					drained = true
				}
			}
		}
		require.True(t, live, "mosquitto_sub never received a probe")

		errc := make(chan error, 1)
		replies := make(chan *Reply, 1)
		go func() {
			r, err := h.Invoke(ctx, dev, "remoteOpen", nil)
			replies <- r
			errc <- err
		}()
		var req *Request
		deadline := time.NewTimer(testutil.Bound)
		defer deadline.Stop()
		for req == nil {
			var l string
			var ok bool
			select {
			case l, ok = <-lines:
			case <-deadline.C:
				t.Fatal("the request never reached mosquitto_sub")
			}
			require.True(t, ok, "mosquitto_sub ended")
			if r, err := DecodeRequest([]byte(l)); err == nil && r.Method == "thing.service.remoteOpen" {
				req = r
			}
		}
		assert.JSONEq(t, `{}`, string(req.Params))
		// The reply goes out from a second process. On the embedded broker a
		// second session of the same device would replace mosquitto_sub's,
		// so there the admin publishes on the device's reply topic.
		who := devA
		if e.embedded {
			who = Triple{}
		}
		replyArgs := append(cliConn(t, e, who), "-t", ServiceTopic(dev, "remoteOpen")+"_reply", "-m", `{"id":"`+req.ID+`","code":200,"data":{}}`)
		out, err = exec.CommandContext(ctx, pubBin, replyArgs...).CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.NoError(t, recv(t, errc))
		assert.Equal(t, CodeOK, (recv(t, replies)).Code)
	})
}
