package hciot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/hciot/hciottest"
)

// FuzzExtAPI sends arbitrary bodies to every /extApi path of a server with
// a fake device behind it: every answer must be HC's envelope, never a
// panic, and a failed command must leave the device as it was.
func FuzzExtAPI(f *testing.F) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	seeds := []any{
		hciottest.AddCommunity(hciottest.CommunitySpec{ID: community, Name: "老九学堂", Address: "a", CityCode: "630100"}, "s1"),
		hciottest.AddMachine(gate, "s2"),
		hciottest.AddUser(residents[0], gate, now, "s3"),
		hciottest.AddUser(residents[1], gate, now, "s4"),
		hciottest.DeleteUser(residents[0], gate, "s5"),
		hciottest.OpenDoor(gate, "s6"),
		map[string]any{"machineCode": gate.Code, "taskId": "s7", "userId": "u"},
	}
	paths := []string{
		"/extApi/community/addCommunity", "/extApi/community/updateCommunity", "/extApi/community/deleteCommunity",
		"/extApi/machine/addMachine", "/extApi/machine/updateMachine", "/extApi/machine/deleteMachine",
		"/extApi/machine/openDoor", "/extApi/machine/closeDoor", "/extApi/machine/restartMachine", "/extApi/machine/getQRcode",
		"/extApi/user/addUser", "/extApi/user/updateUser", "/extApi/user/deleteUser", "/extApi/user/clearUser",
	}
	for i, s := range seeds {
		b, _ := json.Marshal(s)
		f.Add(uint8(i), b)
	}
	f.Add(uint8(10), []byte(`{"userId":1e999,"faceBase64":"data:,","taskId":[]}`))
	f.Add(uint8(3), []byte(`{"machineCode":"x","taskId":"t","hmId":null}`))
	f.Add(uint8(0), []byte(`[]`))
	f.Add(uint8(3), []byte(`{"machineCode":"x","taskId":"t","taskId":"u"}`))
	f.Add(uint8(0), []byte(``))

	reg := &accessctl.Registry{}
	dev := accessctltest.NewFakeDevice(gate.Code, nil)
	reg.Register("fake", accessctl.DriverFunc(func(context.Context, accessctl.DeviceConfig) (accessctl.Device, error) { return dev, nil }))
	srv, err := hciot.NewServer(hciot.WithApp(iotAppID, iotAppSecret), hciot.WithRegistry(reg), hciot.WithDriver("hm-1", "fake"),
		hciot.WithMaxBodyBytes(64<<10), hciot.WithMaxFaceBytes(4<<10))
	if err != nil {
		f.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/extApi/auth/getAccessToken?appId="+iotAppID+"&appSecret="+iotAppSecret, nil))
	var tok struct {
		Data struct {
			Token string `json:"access_token"`
		} `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.Data.Token == "" {
		f.Fatalf("no token: %s", rec.Body)
	}

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		before, _ := dev.ListGrants(context.Background())
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("access_token", tok.Data.Token)
		rec := httptest.NewRecorder()
		start := time.Now()
		srv.ServeHTTP(rec, req)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%s took %v: %s", path, d, rec.Body)
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP %d", rec.Code)
		}
		var env struct {
			Code *int            `json:"code"`
			Msg  string          `json:"msg"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Code == nil {
			t.Fatalf("not an HC envelope: %q", rec.Body)
		}
		if *env.Code != 0 {
			after, _ := dev.ListGrants(context.Background())
			if len(after) != len(before) {
				t.Fatalf("failed %s (%s) changed the device: %v → %v", path, env.Msg, before, after)
			}
		}
	})
}
