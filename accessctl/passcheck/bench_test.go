package passcheck

import (
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl/permfile"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/qrcode"
)

// BenchmarkCheckQR is a whole door decision for an unlimited code: decode,
// lookup, window, event built (no sink). BenchmarkCheckQRBaseline is the
// qrcode.Open inside it, so the difference is the decision's own cost.
func BenchmarkCheckQR(b *testing.B) {
	st := permfile.NewStore()
	if _, err := st.ApplyEntries(ctx, permfile.Entry{Kind: accessctl.CredQRCode, Op: permfile.OpAdd, Key: "ALIF24DD9END8CD3"}); err != nil {
		b.Fatal(err)
	}
	key, _ := qrcode.ParseKey(sampleKey)
	c := New(st, WithKey(key), WithDebounce(0), WithFailureEventLimit(0),
		WithClockCheck(func(time.Time) bool { return true }),
		WithClock(func() time.Time { return time.Unix(1597881600, 0) }))
	cred := accessctl.Credential{Kind: accessctl.CredQRCode, Value: q1}
	b.ReportAllocs()
	for b.Loop() {
		o, err := c.Check(ctx, cred)
		if err != nil || !o.Decision.Allow {
			b.Fatal(err, o.Decision)
		}
	}
}

func BenchmarkCheckQRBaseline(b *testing.B) {
	key, _ := qrcode.ParseKey(sampleKey)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := key.Open(q1); err != nil {
			b.Fatal(err)
		}
	}
}
