package adminapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/internal/adminapi"
)

// A gateway serves its devices' admin API; here one in-memory device.
func ExampleNew() {
	dev := accessctltest.NewFakeDevice("T-0001", nil)
	api := httptest.NewServer(adminapi.New(adminapi.FleetOf("fake", dev), adminapi.WithTimeout(10*time.Second)))
	defer api.Close()

	resp, _ := http.Post(api.URL+"/devices/T-0001/users", "application/json",
		strings.NewReader(`{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0"}`))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(body))
	name, _ := dev.Holds("12384865")
	fmt.Println(name)
	// Output:
	// 200 {"code":0,"message":"success"}
	// 李四
}
