package qrcode

import (
	"errors"
	"strings"
	"testing"

	"github.com/menjin/menjin/qrcode/qrcodetest"
)

// FuzzOpen feeds arbitrary scanner output to Open under both the sample key
// and the synthetic test key. Open must never panic, must return one of its
// sentinels, and must agree with the textbook math/big path.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{q1, q2, t1, t2, t3, t4, t5, t6, n1, q1 + "\r\n",
		strings.ReplaceAll(q1, "/", "_"), strings.TrimSuffix(q1, "=="), q1[:84], "not base64 !!",
		qrcodetest.AllOnes,
		qrcodetest.BitFlipped, ""} {
		f.Add(s)
	}
	keys := []*Key{mustKey(f, sampleKey), mustKey(f, testPub)}
	slow := make([]*Key, len(keys))
	for i, k := range keys {
		slow[i] = &Key{pub: k.pub, k: k.k}
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, k := range keys {
			p, err := k.Open(s)
			ps, errs := slow[i].Open(s)
			if err != errs || p != ps {
				t.Fatalf("fast and math/big paths disagree on %q: (%v, %v) vs (%v, %v)", s, p, err, ps, errs)
			}
			if err != nil {
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrBadPayload) {
					t.Fatalf("untyped error %v", err)
				}
				continue
			}
			if p.Code == "" || !strings.HasPrefix(p.Plaintext, p.Code+":") {
				t.Fatalf("inconsistent payload %+v", p)
			}
		}
	})
}

// FuzzParsePublicKey: the RSAPublicKey property arrives from the network.
func FuzzParsePublicKey(f *testing.F) {
	f.Add(sampleKey)
	f.Add(samplePEM)
	f.Add(testPub)
	f.Add(sampleKey[:60])
	f.Add("-----BEGIN PUBLIC KEY-----\n!!!\n")
	f.Fuzz(func(t *testing.T, s string) {
		pub, err := ParsePublicKey(s)
		if err != nil {
			if !errors.Is(err, ErrKey) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if _, err := NewKey(pub); err != nil {
			t.Fatalf("parsed key %v not usable: %v", pub, err)
		}
	})
}
