package passcheck

import (
	"testing"

	"github.com/menjin/menjin/accessctl"
)

// FuzzScan: whatever a reader hands the door, the Checker answers with a
// known result code and never panics.
func FuzzScan(f *testing.F) {
	for _, s := range []string{q1, q2, q1 + "\r\n", q1[:84], "not base64 !!", "F47B0BA2", "", " "} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, s string, kind uint8) {
		kinds := []accessctl.CredentialKind{accessctl.CredQRCode, accessctl.CredCard, accessctl.CredBLECard, accessctl.CredPassword}
		c, _, _ := door(t, newStore(t, specFile), WithDebounce(0))
		o, err := c.Present(ctx, accessctl.Credential{Kind: kinds[int(kind)%len(kinds)], Value: s}, "")
		if err != nil {
			t.Fatal(err)
		}
		code := o.Decision.Result.Code
		if Message(code) == Message(CodeUnknownError) || o.Decision.Allow != (code == 0) {
			t.Fatalf("result %+v", o.Decision.Result)
		}
		if o.Event == nil || o.Event.Pass.Result != o.Decision.Result {
			t.Fatalf("event %+v does not match the decision", o.Event)
		}
	})
}
