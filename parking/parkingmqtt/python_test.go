package parkingmqtt_test

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

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/internal/testutil"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/transport/thingmodel"
)

// A camera written in Python with paho-mqtt — not our code — posts a
// recognition over the embedded broker; the lane decides and drives that
// camera's barrier and screen, and the camera prints what it was told.
func TestPythonCameraRoundTrip(t *testing.T) {
	py := testutil.RequirePythonModule(t, "paho.mqtt.client")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := newRig(t)
	sink := &recorder{}
	list := &parking.PermissionSet{}
	list.Put(parking.Permission{PlateNumber: "粤B12345", Category: parking.CategoryWhitelist})
	cam := r.gw.Camera(camB.Key())
	lane := parking.NewLane(cam, parking.ListDecider(list, false), parking.WithSink(sink), parking.WithDirection(accessctl.DirectionIn))
	defer lane.Close()

	u, err := url.Parse(r.broker.URL())
	require.NoError(t, err)
	cred, err := thingmodel.Sign(camB, "py-"+camB.DeviceName, time.Now(), thingmodel.HMACSHA256)
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, py, "testdata/pycamera.py", "--host", u.Hostname(), "--port", u.Port(),
		"--client-id", cred.ClientID, "--username", cred.Username, "--password", cred.Password,
		"--pk", camB.ProductKey, "--dn", camB.DeviceName, "--plate", "粤B12345", "--invokes", "2")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	type invoke struct {
		Service string          `json:"service"`
		Params  json.RawMessage `json:"params"`
		Error   string          `json:"error"`
	}
	var got []invoke
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var i invoke
		require.NoError(t, json.Unmarshal(sc.Bytes(), &i), sc.Text())
		require.Empty(t, i.Error)
		got = append(got, i)
	}
	require.NoError(t, cmd.Wait(), "pycamera: %s", stderr.String())

	byService := map[string]json.RawMessage{}
	for _, i := range got {
		byService[i.Service] = i.Params
	}
	require.Contains(t, byService, parking.ServiceOperateGate, "the Python camera was told to open")
	assert.JSONEq(t, `{"OperatType":1}`, string(byService[parking.ServiceOperateGate]))
	require.Contains(t, byService, parking.ServiceAddLedData, "a mixed-mode screen gets AddLedData")
	var led struct{ LedData parking.LedData }
	require.NoError(t, json.Unmarshal(byService[parking.ServiceAddLedData], &led))
	assert.Equal(t, "粤B12345", led.LedData.ContextList[0].CustomContext)
	assert.Equal(t, parking.Green, led.LedData.ContextList[0].ColorType)

	waitEvents(t, sink, 1)
	e := sink.all()[0]
	assert.Equal(t, "粤B12345", e.Pass.Credential)
	assert.True(t, e.Pass.Result.Granted)
	assert.Equal(t, "image/jpeg", e.Pass.Snapshot.MIME)
	p, _ := cam.Profile(ctx)
	assert.Equal(t, parking.Mixed, p.Mode, "the Python camera's property post set the mode")
}
