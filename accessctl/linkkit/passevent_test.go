package linkkit

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/transport/thingmodel"
)

// Vectors from PROTOCOL.md §5.3.
const (
	vecCleaned  = `{"code":0,"message":"success","type":"qrCode","content":"ALI7af81cfad5df1","extInfo":"{\"type\":\"qrCode\",\"qrCode\":\"ALI7af81cfad5df1\",\"userID\":\"508072501fea93ae39fc8737a2fb2a2424f88787\",\"eventTime\":\"1597821579\"}"}`
	vecUnitTest = `{"code":0,"message":"success","type":"qrCode","content":"ALIF24DD9END8CD3"}`
	vecFailure  = `{"code":102,"message":"QR code has expired","type":"qrCode","content":"ALIF24DD9END8CD3","extInfo":"{\"type\":\"qrCode\",\"qrCode\":\"ALIF24DD9END8CD3\",\"eventTime\":\"1597939201\"}"}`
)

var door = accessctl.DeviceRef{Platform: "edge", ID: "a1DoorPK001/door-a"}

func msg(value string, at time.Time) *thingmodel.Message {
	params, _ := json.Marshal(map[string]any{"value": json.RawMessage(value), "time": at.UnixMilli()})
	return &thingmodel.Message{
		Device: thingmodel.DeviceKey{ProductKey: "a1DoorPK001", DeviceName: "door-a"}, Kind: thingmodel.TopicEventPost,
		Identifier: EventPass, Request: &thingmodel.Request{ID: "1", Params: params, Method: "thing.event.passEvent.post"},
		Value: json.RawMessage(value), Time: at, ReceivedAt: at.Add(time.Second),
	}
}

func TestToEventSpecVectors(t *testing.T) {
	at := time.UnixMilli(1597821580000)
	ev, err := ToEvent(door, msg(vecCleaned, at), EventOptions{Platform: "edge"})
	require.NoError(t, err)
	assert.Equal(t, accessctl.KindPass, ev.Kind)
	assert.Equal(t, door, ev.Device)
	assert.NotEmpty(t, ev.ID)
	assert.Equal(t, time.Unix(1597821579, 0), ev.OccurredAt, "extInfo.eventTime (epoch-s) wins")
	assert.Equal(t, accessctl.TimeDevice, ev.TimeSource)
	p := ev.Pass
	require.NotNil(t, p)
	assert.Equal(t, accessctl.MethodQRCode, p.Method)
	assert.Equal(t, "ALI7af81cfad5df1", p.Credential)
	assert.Equal(t, accessctl.PassGranted, p.Kind)
	assert.Equal(t, accessctl.Result{Granted: true, Code: 0, Message: "success"}, p.Result)
	require.NotNil(t, p.Person)
	assert.Equal(t, "508072501fea93ae39fc8737a2fb2a2424f88787", p.Person.ID)
	assert.Equal(t, "edge", p.Person.Platform)

	ev, err = ToEvent(door, msg(vecUnitTest, at), EventOptions{})
	require.NoError(t, err)
	assert.Nil(t, ev.Pass.Person, "no extInfo, no person")
	assert.Equal(t, at, ev.OccurredAt, "without extInfo the post's time is used")

	ev, err = ToEvent(door, msg(vecFailure, at), EventOptions{})
	require.NoError(t, err)
	assert.Equal(t, accessctl.PassDenied, ev.Pass.Kind)
	assert.Equal(t, accessctl.Result{Granted: false, Code: 102, Message: "QR code has expired"}, ev.Pass.Result)
	assert.Equal(t, time.Unix(1597939201, 0), ev.OccurredAt)
}

func TestResultCodeTableComplete(t *testing.T) {
	want := map[int]string{
		0: "success", 101: "QR code does not take effect", 102: "QR code has expired", 103: "QR code does not exist",
		104: "QR code have be used up", 201: "Traditional card number does not take effect", 202: "Traditional card number has expired",
		203: "Traditional card number does not exist", 301: "Bluetooth card number does not take effect",
		302: "Bluetooth card number has expired", 303: "Bluetooth card number does not exist",
		401: "Password does not take effect", 402: "Password has expired", 403: "Password does not exist",
		501: "Face auth does not take effect", 502: "Face information has expired", 503: "Face library is empty",
		504: "Face feature extraction failed", 505: "Face matching similarity is less than the threshold",
		506: "The user is in blacklist", 507: "Face recognition timeout", 10000: "Unknown error",
	}
	for code := range want {
		// A door that sends the code without a message gets the table's text.
		v, _ := json.Marshal(map[string]any{"code": code, "type": "qrCode", "content": "X"})
		ev, err := ToEvent(door, msg(string(v), time.Now()), EventOptions{})
		require.NoError(t, err)
		assert.Equal(t, want[code], ev.Pass.Result.Message, code)
		assert.Equal(t, code == 0, ev.Pass.Result.Granted, code)
		assert.Equal(t, code, ev.Pass.Result.Code)
	}
	v, _ := json.Marshal(map[string]any{"code": 999, "type": "qrCode", "content": "X", "message": "vendor text"})
	ev, err := ToEvent(door, msg(string(v), time.Now()), EventOptions{})
	require.NoError(t, err)
	assert.Equal(t, accessctl.Result{Code: 999, Message: "vendor text"}, ev.Pass.Result, "a code outside the table keeps the door's text")
}

func TestToEventMethodsAndRedaction(t *testing.T) {
	for typ, m := range map[string]accessctl.Method{TypeQRCode: accessctl.MethodQRCode, TypeTradCard: accessctl.MethodCard,
		TypeBLECard: accessctl.MethodBLECard, TypePassword: accessctl.MethodPassword, TypeFace: accessctl.MethodFace, "iris": accessctl.MethodUnknown} {
		v, _ := json.Marshal(map[string]any{"code": 0, "type": typ, "content": "123456"})
		ev, err := ToEvent(door, msg(string(v), time.Now()), EventOptions{})
		require.NoError(t, err)
		assert.Equal(t, m, ev.Pass.Method, typ)
		if typ == TypePassword {
			assert.Empty(t, ev.Pass.Credential, "passwords are redacted by default")
			ev, _ = ToEvent(door, msg(string(v), time.Now()), EventOptions{KeepPasswords: true})
			assert.Equal(t, "123456", ev.Pass.Credential)
		}
		if typ == TypeTradCard {
			require.NotNil(t, ev.Pass.Card)
			assert.Equal(t, "123456", ev.Pass.Card.Raw)
		}
	}
}

func TestToEventLenientAndStableID(t *testing.T) {
	at := time.UnixMilli(1597821580000)
	// code as a string, extInfo as an object, remainScanTimes.
	ev, err := ToEvent(door, msg(`{"code":"0","type":"qrCode","content":"Q","extInfo":{"userID":"u1","remainScanTimes":4}}`, at), EventOptions{})
	require.NoError(t, err)
	assert.Equal(t, "u1", ev.Pass.Person.ID)
	require.NotNil(t, ev.Pass.RemainingScans)
	assert.Equal(t, 4, *ev.Pass.RemainingScans)
	// An unparsable extInfo is tolerated.
	ev2, err := ToEvent(door, msg(`{"code":103,"type":"qrCode","content":"Q","extInfo":"{broken"}`, at), EventOptions{})
	require.NoError(t, err)
	assert.Nil(t, ev2.Pass.Person)
	assert.NotEqual(t, ev.ID, ev2.ID)
	// The same post again (a door's retry) keeps its ID.
	again, err := ToEvent(door, msg(`{"code":"0","type":"qrCode","content":"Q","extInfo":{"userID":"u1","remainScanTimes":4}}`, at), EventOptions{})
	require.NoError(t, err)
	assert.Equal(t, ev.ID, again.ID)

	for _, bad := range []string{`[]`, `{"code":"x"}`, `{"type":"qrCode"}`, `{"code":1.5}`} {
		_, err := ToEvent(door, msg(bad, at), EventOptions{})
		assert.ErrorIs(t, err, ErrBadPassEvent, bad)
	}
}

func FuzzDecodePassEvent(f *testing.F) {
	for _, s := range []string{vecCleaned, vecUnitTest, vecFailure, `{"code":"0","extInfo":{}}`, `{"code":0,"extInfo":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pe, _, err := DecodePassEvent(b)
		if err != nil {
			if !errors.Is(err, ErrBadPassEvent) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if pe == nil {
			t.Fatal("nil event without error")
		}
		m := msg(`{}`, time.Now())
		m.Value = b
		if _, err := ToEvent(door, m, EventOptions{}); err != nil {
			t.Fatalf("decodes but does not convert: %v", err)
		}
	})
}
