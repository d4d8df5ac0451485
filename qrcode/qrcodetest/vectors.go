// Package qrcodetest holds the RSA QR test vectors of the spec
// (accessctl/linkkit/PROTOCOL.md §4.3, §4.8) for tests of qrcode and of the
// drivers and simulators that use it. Every value is verbatim from the spec.
package qrcodetest

// The platform's official sample ([LK-TEST]): an RSA-512 public key and two
// codes minted with its private half, which nobody outside the platform has.
const (
	// SampleKey is the RSAPublicKey property value (Base64 SPKI DER).
	SampleKey = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAI6zQY57YYUh1xDOk9ZOXQapFpSGmZIukTtJkvM5rf43b4H6tmzH27anYW8csBKmFAdJir9ZaJY1GhZO6FY/8d0CAwEAAQ=="
	// SampleKeyPEM is the same key as PEM.
	SampleKeyPEM = `-----BEGIN PUBLIC KEY-----
MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAI6zQY57YYUh1xDOk9ZOXQapFpSGmZIu
kTtJkvM5rf43b4H6tmzH27anYW8csBKmFAdJir9ZaJY1GhZO6FY/8d0CAwEAAQ==
-----END PUBLIC KEY-----
`
	// SampleModulus is the key's modulus in upper-case hexadecimal.
	SampleModulus = "8EB3418E7B618521D710CE93D64E5D06A916948699922E913B4992F339ADFE376F81FAB66CC7DBB6A7616F1CB012A61407498ABF596896351A164EE8563FF1DD"

	// Q1 recovers to "ALIF24DD9END8CD3:1661011200" (valid until 2022-08-20T16:00:00Z).
	Q1 = "Pd3fZ3VDviUjZ6dREW1wIeITxKQBAmmxJ1ZRL6kmAfq2RmXGiZBiv8wh39ySPODojwPCpYwsF4Ken5znf/sGtQ=="
	// Q2 recovers to "ALIF24DD9END8CD3:1597939200" (valid until 2020-08-20T16:00:00Z).
	Q2 = "XW5qDO45+wJe31/q5mMkx6EZDKf754yg2pg3QhUoSL6VBtwIzUlkKW+NilPC5tXpdlRlI92PNLhjtFlU707l2w=="
	// Code is the permission code inside Q1 and Q2.
	Code = "ALIF24DD9END8CD3"
	// Q1Expiry and Q2Expiry are their embedded expiries, epoch seconds.
	Q1Expiry = 1661011200
	Q2Expiry = 1597939200

	// BitFlipped is Q1 with one bit changed: a bad signature.
	BitFlipped = "Pd3fZ3VDviUjZ6ZREW1wIeITxKQBAmmxJ1ZRL6kmAfq2RmXGiZBiv8wh39ySPODojwPCpYwsF4Ken5znf/sGtQ=="
	// AllOnes is 64 bytes of 0xFF: a block not below the modulus.
	AllOnes = "/////////////////////////////////////////////////////////////////////////////////////w=="

	// PermissionFile is the [LK-TEST] permission file; applied to an empty
	// store it leaves one SHARE record for Code, 2019-09-12T06:39:52Z to
	// 2020-09-12T06:39:52Z, 600 scans.
	PermissionFile = `{
    "qrCodePermissionList":[
        {
            "type":1,
            "qrCode":"ALIF24DD9END8CD3",
            "startTime":"1568270392000",
            "endTime":"1599892792000",
            "maxScanTimes":600,
            "maxScanScope":"SHARE"
        },
        {
            "type":2,
            "qrCode":"ALIF24DD9END8CD3"
        },
        {
            "type":3,
            "qrCode":"ALIF24DD9END8CD3",
            "startTime":"1568270392000",
            "endTime":"1599892792000",
            "maxScanTimes":600,
            "maxScanScope":"SHARE"
        }
    ]
}`
	// InWindow is an epoch second when Q1 and Q2 are valid and the
	// PermissionFile record is in its window (2020-08-20T00:00:00Z).
	InWindow = 1597881600
)

// The spec's synthetic RSA-512 key (test use only) and its vectors; with
// the private key any number of further codes can be minted.
const (
	TestPrivateKeyPEM = `-----BEGIN PRIVATE KEY-----
MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAydeR88uGpiAIUZCV
PpIyvLeqbmfurnb+1h/hYJXlOROwvBlptb1LbA4jAEnAMrLAVN2diZBBjwxpyp4u
9UfFqwIDAQABAkAMUPIf/ThPJL89MuRYeBVOfKqSqBbhYHN2X2WiPiNJkzUrcgv+
xuaOna4T6IuAgAAgo/yJp7bFvQRTZLTHRFUpAiEA91nyV6w+xJWhweZt3GW+qdOe
Bo+06shzVCP2UIwqCZUCIQDQ5kSNui9hrNyedGbXonqLnPXElA4j6wldUpnGNttC
PwIhAJu2kxpgQ69r50XyswyBPLMalivZQfJfuEKq1QBGDJy1AiEAhtjtzdMu/M06
SOr47B+NHYx/tZqhGhyBmgVVEHeex78CIQCyNhZ7TgkqlI/0YXbUJfqsKMgAd887
1OTzqlwzS41pWQ==
-----END PRIVATE KEY-----
`
	TestKey = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMnXkfPLhqYgCFGQlT6SMry3qm5n7q52/tYf4WCV5TkTsLwZabW9S2wOIwBJwDKywFTdnYmQQY8MacqeLvVHxasCAwEAAQ=="

	T1 = "NFbP63mN/SSy2W9nGPUPxySQvhiOTz1SUgtq8fEMIT5OgMi06Tu2UDwcsoKJNwxWJShRjKq/o9s8rBOQg41Apg==" // TESTCODE0000001:4102444800
	T2 = "Tck1UmnCBhuRGbhpWTThzu14uG69kE5ySj++fDutnljsX9YgKZz3HWUisEdJBekhasW8BT4W2XvD6pjH2zJjKQ==" // TESTCODE0000001 (no colon)
	T3 = "AJz7JlCPIO46+l/8TF2UHMPO59dopHz1Kn+6bmPYgqj1mnHuBulOykvDFoc58BtZ02bXjA3PmhULz9yBL7cBUA==" // TESTCODE0000001:4102444800000 (ms)
	T4 = "hSkwvFoxmbIlgyYoL7dUdMyMKFHDw6LXhrAziVNA0jKt98DStcXsCZt0Oj+QIs05jSZXGTyFo8WLDZdvjsRGBg==" // TESTCODE0000001:abc
	T5 = "LdtXZ7mVDsfkcBJe4cLunObHltWkiwt7iyPuAvz2MnUE8uO3qDfZwSdPZPPIgeGgYObX7CspAF1DRBtMJx1bEA==" // :4102444800 (empty code)
	T6 = "WPbiinBMrGR8/iRwQJIS30ZFuTtPpAY3ayQcIOooRD0dsGK9C7B+GzRFH63yYlu/1lZIWLaTpW0wVS0vEf3/Cg==" // A:B:C0000001:4102444800
	N1 = "eNrkmBVyIAPU4fxAelZfE+ohwRkS0ZbYne1leR7CmzOAUBhc7j69TaHnpxiZDdFGhIN+sxrFK6a5rqDegkztIA==" // T1's plaintext, type-2 encrypted
)
