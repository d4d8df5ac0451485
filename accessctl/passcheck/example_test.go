package passcheck_test

import (
	"context"
	"fmt"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/passcheck"
	"github.com/menjin/menjin/accessctl/permfile"
	"github.com/menjin/menjin/qrcode"
)

// The cloud mints a visitor code good for two entries; a door scans it
// three times and reports each attempt.
func Example() {
	ctx := context.Background()
	priv, err := qrcode.GenerateKey(nil, 512) // the platform's key pair
	if err != nil {
		panic(err)
	}
	text, err := qrcode.Seal(priv, "VISITOR-42", time.Now().Add(time.Hour))
	if err != nil {
		panic(err)
	}

	store := permfile.NewStore()
	two := 2
	if _, err := store.ApplyEntries(ctx, permfile.Entry{
		Kind: accessctl.CredQRCode, Op: permfile.OpAdd, Key: "VISITOR-42", MaxScans: &two,
	}); err != nil {
		panic(err)
	}
	key, _ := qrcode.NewKey(&priv.PublicKey)
	door := passcheck.New(store,
		passcheck.WithKey(key),
		passcheck.WithDevice(accessctl.DeviceRef{ID: "gate-1"}),
		passcheck.WithDebounce(0), // every scan below is a new visit
		passcheck.WithSink(accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
			fmt.Println(e.Device.ID, e.Pass.Credential, e.Pass.Result.Code, e.Pass.Result.Message, *e.Pass.RemainingScans)
			return nil
		})))
	for range 3 {
		if _, err := door.Scan(ctx, text); err != nil {
			panic(err)
		}
	}
	// Output:
	// gate-1 VISITOR-42 0 success 1
	// gate-1 VISITOR-42 0 success 0
	// gate-1 VISITOR-42 104 QR code have be used up 0
}
