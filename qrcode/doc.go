// Package qrcode opens and mints the RSA-signed QR codes of the Alibaba
// community IoT platform's "rsa_qrcode" doors (spec: accessctl/linkkit/PROTOCOL.md §4).
//
// The cloud turns "code:expiry" (expiry in epoch seconds) into PKCS#1 v1.5
// type-1 padding, transforms it with an RSA private key (RSA-512 on the
// platform) and shows the result as 88 characters of Base64. A door holds
// the public key (the RSAPublicKey property) and recovers the plaintext.
// This is a signature with message recovery: codes are authentic but not
// secret, and they can be replayed until they expire.
//
// Go's crypto/rsa refuses keys under 1024 bits, and a //go:debug line does
// not work in a library, so Open does the public-key operation itself: a
// Montgomery exponentiation with per-key constants, unrolled for RSA-512
// (math/big above 4096 bits). It allocates once per valid code and never on
// errors.
//
// Shortest use, on the door:
//
//	key, err := qrcode.ParseKey(rsaPublicKeyProperty)
//	p, err := key.Verify(scanned, time.Now(), 0) // p.Code is the permission key
//
// and on the cloud or a simulator:
//
//	priv, _ := qrcode.GenerateKey(nil, 512)
//	text, _ := qrcode.Seal(priv, "ALIF24DD9END8CD3", time.Now().Add(24*time.Hour))
//
// RSA-512 can be factored in hours for about a hundred dollars; larger keys
// work transparently here (the code is then longer than 88 characters).
package qrcode
