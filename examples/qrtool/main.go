// Command qrtool makes keys, issues and verifies the RSA QR codes of
// "rsa_qrcode" doors (package qrcode). For vendor engineers checking a door
// and for tests:
//
//	qrtool keygen -bits 512 -out PREFIX     writes PREFIX.key and PREFIX.pub, prints the RSAPublicKey value
//	qrtool issue -key PRIVATE_PEM -code CODE -expires UNIX_SECONDS
//	qrtool verify -key PUBLIC [-now UNIX_SECONDS] CODE
//
// verify prints one JSON line and exits 0 when the code is valid, 1 when it
// is not; usage and key errors exit 2.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/menjin/menjin/qrcode"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage:
  qrtool keygen -bits 512 -out PREFIX
  qrtool issue -key PRIVATE_PEM -code CODE -expires UNIX_SECONDS
  qrtool verify -key PUBLIC [-now UNIX_SECONDS] CODE
PUBLIC is a PEM or DER file, or the RSAPublicKey value (Base64 SPKI DER).
`

// Exit codes.
const (
	exitOK      = 0
	exitInvalid = 1 // verify: the code is not valid
	exitUsage   = 2 // bad arguments, unreadable key, I/O error
)

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	code := exitOK
	switch args[0] {
	case "keygen":
		err = keygen(args[1:], stdout, stderr)
	case "issue":
		err = issue(args[1:], stdout, stderr)
	case "verify":
		code, err = verify(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "qrtool:", err)
		}
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	return code
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func keygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keygen", stderr)
	bits := fs.Int("bits", 512, "modulus size in bits (the platform uses 512)")
	out := fs.String("out", "", "write PREFIX.key (private, PEM) and PREFIX.pub (public, PEM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return errors.New("keygen needs -out PREFIX and no other arguments")
	}
	priv, err := qrcode.GenerateKey(nil, *bits)
	if err != nil {
		return err
	}
	privPEM, err := qrcode.EncodePrivateKeyPEM(priv)
	if err != nil {
		return err
	}
	pubPEM, err := qrcode.EncodePublicKeyPEM(&priv.PublicKey)
	if err != nil {
		return err
	}
	prop, err := qrcode.MarshalPublicKey(&priv.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out+".key", privPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(*out+".pub", pubPEM, 0o644); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, prop)
	return err
}

func issue(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("issue", stderr)
	keyFile := fs.String("key", "", "private key file (PEM or DER, PKCS#8 or PKCS#1)")
	code := fs.String("code", "", "the permission code (qrCode)")
	expires := fs.Int64("expires", -1, "expiry, Unix seconds (valid through that second)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyFile == "" || *code == "" || *expires < 0 || fs.NArg() != 0 {
		return errors.New("issue needs -key, -code and -expires")
	}
	b, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	priv, err := qrcode.ParsePrivateKey(b)
	if err != nil {
		return err
	}
	text, err := qrcode.Seal(priv, *code, time.Unix(*expires, 0))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, text)
	return err
}

type verdict struct {
	Valid     bool   `json:"valid"`
	Code      string `json:"code,omitempty"`
	ExpiresAt int64  `json:"expiresAt,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

func verify(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("verify", stderr)
	keyArg := fs.String("key", "", "public key: PEM/DER file, or the RSAPublicKey Base64 value")
	now := fs.Int64("now", 0, "check expiry at this Unix time instead of the clock")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if *keyArg == "" || fs.NArg() != 1 {
		return 0, errors.New("verify needs -key and exactly one CODE")
	}
	key, err := loadPublic(*keyArg)
	if err != nil {
		return 0, err
	}
	at := time.Now()
	if *now != 0 {
		at = time.Unix(*now, 0)
	}
	p, err := key.Verify(fs.Arg(0), at, 0)
	v := verdict{Valid: err == nil}
	switch {
	case err == nil:
		v.Code, v.ExpiresAt = p.Code, p.ExpiresAt.Unix()
	case errors.Is(err, qrcode.ErrExpired):
		v.Reason = "expired"
	case errors.Is(err, qrcode.ErrBadSignature):
		v.Reason = "bad_signature"
	default:
		// ErrMalformed, and ErrBadPayload (a genuine signature over text
		// that is not "code:expiry") : the code is not well formed.
		v.Reason = "malformed"
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if werr := enc.Encode(v); werr != nil {
		return 0, werr
	}
	if !v.Valid {
		return exitInvalid, nil
	}
	return exitOK, nil
}

// loadPublic reads a key file when arg names one, else parses arg itself
// (the RSAPublicKey value contains '/' and so cannot be told from a path).
func loadPublic(arg string) (*qrcode.Key, error) {
	if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() {
		b, err := os.ReadFile(arg)
		if err != nil {
			return nil, err
		}
		pub, err := qrcode.ParsePublicKeyBytes(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arg, err)
		}
		return qrcode.NewKey(pub)
	}
	key, err := qrcode.ParseKey(arg)
	if err != nil {
		return nil, fmt.Errorf("-key is neither a key file nor a key: %w", err)
	}
	return key, nil
}
