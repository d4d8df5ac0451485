package main

import (
	"context"
	"crypto/rsa"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/passcheck"
	"github.com/menjin/menjin/accessctl/permfile"
	"github.com/menjin/menjin/qrcode"
)

// qrIssuer is the platform side of QR entry: it mints codes with its private
// key and says which codes may open how often.
type qrIssuer struct {
	priv  *rsa.PrivateKey
	key   *qrcode.Key
	store *permfile.Store
}

func newQRIssuer(ctx context.Context, code string, maxScans int) (*qrIssuer, error) {
	priv, err := qrcode.GenerateKey(nil, 512)
	if err != nil {
		return nil, err
	}
	key, err := qrcode.NewKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	store := permfile.NewStore()
	if _, err := store.ApplyEntries(ctx, permfile.Entry{
		Kind: accessctl.CredQRCode, Op: permfile.OpAdd, Key: code, MaxScans: &maxScans,
	}); err != nil {
		return nil, err
	}
	return &qrIssuer{priv: priv, key: key, store: store}, nil
}

func (q *qrIssuer) seal(code string) (string, error) {
	return qrcode.Seal(q.priv, code, time.Now().Add(time.Hour))
}

// qrDoor mints a visitor code good for two entries; a door that holds the
// platform's public key scans it three times: in, in, and refused (104).
func qrDoor(ctx context.Context, d *demo) (func(), error) {
	iss, err := newQRIssuer(ctx, "VISITOR-42", 2)
	if err != nil {
		return nil, err
	}
	text, err := iss.seal("VISITOR-42")
	if err != nil {
		return nil, err
	}
	d.say("minted QR %s (88 characters, RSA-512, expires in 1 h)", text)
	door := passcheck.New(iss.store,
		passcheck.WithKey(iss.key),
		passcheck.WithDevice(accessctl.DeviceRef{ID: "DEMO-QR-GATE"}),
		passcheck.WithDebounce(0), // each scan is a new visit
		passcheck.WithSink(d.sink))
	for range 3 {
		out, err := door.Scan(ctx, text)
		if err != nil {
			return nil, err
		}
		d.say("scan: allow=%t code=%d %s", out.Decision.Allow, out.Decision.Result.Code, out.Decision.Result.Message)
	}
	return nil, nil
}
