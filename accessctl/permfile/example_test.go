package permfile_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/permfile"
)

func ExampleStore_Apply() {
	file, err := permfile.Parse(strings.NewReader(`{"qrCodePermissionList":[
		{"type":1,"qrCode":"ALIF24DD9END8CD3","startTime":"1568270392000","endTime":"1599892792000","maxScanTimes":600,"maxScanScope":"SHARE"},
		{"type":2,"qrCode":"ALIF24DD9END8CD3"},
		{"type":3,"qrCode":"ALIF24DD9END8CD3","startTime":"1568270392000","endTime":"1599892792000","maxScanTimes":600,"maxScanScope":"SHARE"}]}`),
		permfile.Limits{})
	if err != nil {
		panic(err)
	}
	store := permfile.NewStore()
	report, err := store.Apply(context.Background(), file)
	fmt.Println(report.Applied, report.Skipped, err)
	rec, _ := store.Lookup(accessctl.CredQRCode, "ALIF24DD9END8CD3")
	fmt.Println(rec.MaxScans, rec.Scope, rec.End.UTC())
	// Output:
	// 3 0 <nil>
	// 600 SHARE 2020-09-12 06:39:52 +0000 UTC
}
