package hciot_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/hciot"
	"github.com/menjin/menjin/accessctl/hciot/hciottest"
)

// HC registers a machine and a resident; the resident lands on the device
// the hmId's driver opened, and HC's door-open command opens it.
func ExampleServer() {
	reg := &accessctl.Registry{}
	door := accessctltest.NewFakeDevice("101010", nil)
	reg.Register("fake", accessctl.DriverFunc(func(context.Context, accessctl.DeviceConfig) (accessctl.Device, error) {
		return door, nil
	}))
	srv, _ := hciot.NewServer(hciot.WithApp("app", "secret"), hciot.WithRegistry(reg), hciot.WithDriver("1", "fake"))
	defer srv.Close()
	web := httptest.NewServer(srv)
	defer web.Close()

	ctx := context.Background()
	hc := &hciottest.Client{BaseURL: web.URL + "/", AppID: "app", AppSecret: "secret"}
	_, _, _ = hc.GetToken(ctx)
	m := hciottest.MachineSpec{Code: "101010", ExtID: "e1", Community: "c1", Name: "大门", HmID: "1", LocationType: "1000", LocationObjID: "c1"}
	env, _ := hc.Post(ctx, "/extApi/machine/addMachine", hciottest.AddMachine(m, "t1"))
	fmt.Println("addMachine", env.Code, env.Msg)
	r := hciottest.Resident{ID: "u1", Name: "张三", Face: hciottest.FaceJPEG}
	env, _ = hc.Post(ctx, "/extApi/user/addUser", hciottest.AddUser(r, m, time.Now(), "t2"))
	fmt.Println("addUser", env.Code, env.TaskID())
	name, on := door.Holds("u1")
	fmt.Println("on the door:", name, on)
	_, _ = hc.Post(ctx, "/extApi/machine/openDoor", hciottest.OpenDoor(m, "t3"))
	fmt.Println("door opened", door.DoorOpens(), "time")
	// Output:
	// addMachine 0 成功
	// addUser 0 t2
	// on the door: 张三 true
	// door opened 1 time
}

// The Uploader signs each record for HC; behind a Buffer, what HC cannot
// take yet is retried.
func ExampleUploader() {
	hc := hciottest.NewPlatform("992020051967020024", "g3kE9ggkM4Jqrs576rJS0CYg7dbtMXPT")
	defer hc.Close()
	up := hciot.NewUploader("992020051967020024", "g3kE9ggkM4Jqrs576rJS0CYg7dbtMXPT",
		hciot.WithOpenDoorURL(hc.OpenDoorURL()))
	err := up.Handle(context.Background(), accessctl.Event{
		Kind:   accessctl.KindPass,
		Site:   accessctl.SiteRef{ID: "702020042194860039"},
		Device: accessctl.DeviceRef{ID: "101010"},
		Pass: &accessctl.PassEvent{Person: &accessctl.PersonRef{ID: "u1"}, PersonName: "张三",
			Method: accessctl.MethodFace, Kind: accessctl.PassGranted},
	})
	fmt.Println(err, len(hc.Uploads()), hc.Uploads()[0].Field("userName"))
	// Output: <nil> 1 张三
}

func ExampleSign() {
	fmt.Println(hciot.Sign("c0a4028a-52bf-4619-8786-1f0313e4d2f6", "20201227103000", "992020051967020024",
		[]byte(`{"extCommunityId":"702020042194860039","heartbeatTime":"2020-05-10 19:43:34","machineCode":"101010","taskId":"702020042194860037"}`),
		"g3kE9ggkM4Jqrs576rJS0CYg7dbtMXPT"))
	// Output: 7c8f1f8b8368606415746996ba03b0ba
}
