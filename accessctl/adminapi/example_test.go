package adminapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/menjin/menjin/accessctl/accessctltest"
	"github.com/menjin/menjin/accessctl/adminapi"
)

// A gateway serves its devices' admin API; here one in-memory device,
// behind a bearer token.
func ExampleNew() {
	dev := accessctltest.NewFakeDevice("T-0001", nil)
	h, err := adminapi.New(adminapi.FleetOf("fake", dev), adminapi.WithTimeout(10*time.Second),
		adminapi.WithToken("s3cret-token-of-the-site"))
	if err != nil {
		panic(err)
	}
	api := httptest.NewServer(h)
	defer api.Close()

	req, _ := http.NewRequest("POST", api.URL+"/devices/T-0001/users",
		strings.NewReader(`{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","cards":["3000123456"]}`))
	req.Header.Set("Authorization", "Bearer s3cret-token-of-the-site")
	resp, _ := http.DefaultClient.Do(req)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(body))
	name, _ := dev.Holds("12384865")
	fmt.Println(name)
	// Output:
	// 200 {"code":0,"message":"success"}
	// 李四
}
