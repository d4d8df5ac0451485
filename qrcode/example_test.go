package qrcode_test

import (
	"fmt"
	"time"

	"github.com/menjin/menjin/qrcode"
)

// A door receives the RSAPublicKey property once and opens every scan with it.
func ExampleKey_Verify() {
	key, err := qrcode.ParseKey("MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAI6zQY57YYUh1xDOk9ZOXQapFpSGmZIukTtJkvM5rf43b4H6tmzH27anYW8csBKmFAdJir9ZaJY1GhZO6FY/8d0CAwEAAQ==")
	if err != nil {
		panic(err)
	}
	scanned := "Pd3fZ3VDviUjZ6dREW1wIeITxKQBAmmxJ1ZRL6kmAfq2RmXGiZBiv8wh39ySPODojwPCpYwsF4Ken5znf/sGtQ==\r\n"
	p, err := key.Verify(scanned, time.Date(2020, 8, 20, 0, 0, 0, 0, time.UTC), 0)
	fmt.Println(p.Code, p.ExpiresAt.Unix(), err)
	// Output: ALIF24DD9END8CD3 1661011200 <nil>
}

// The cloud side (or a simulator) mints a code with the private key.
func ExampleSeal() {
	priv, err := qrcode.GenerateKey(nil, 512)
	if err != nil {
		panic(err)
	}
	text, err := qrcode.Seal(priv, "VISITOR-42", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	key, _ := qrcode.NewKey(&priv.PublicKey)
	p, err := key.Open(text)
	fmt.Println(len(text), p.Code, p.ExpiresAt.UTC().Format(time.DateOnly), err)
	// Output: 88 VISITOR-42 2030-01-01 <nil>
}
