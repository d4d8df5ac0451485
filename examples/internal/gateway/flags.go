package gateway

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/menjin/menjin/accessctl/wsterm"
)

// TerminalFlags are the flags of the programs terminals connect to: who may
// register, and whether they connect over TLS.
//
// Without -allow and without -accept-any every terminal is admitted, as
// before these flags existed, and a warning says so: the examples keep
// working from scripts that predate them, and a site opts in to the
// allow-list by writing one. With -allow, unlisted terminals are refused
// unless -accept-any is given too.
type TerminalFlags struct {
	Allow     string // file of SN[,MAC] lines
	AcceptAny bool
	TLSCert   string
	TLSKey    string
}

// Register defines -allow, -accept-any, -tls-cert and -tls-key on fs.
func (f *TerminalFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Allow, "allow", "", "file of the terminals allowed to register: one SN[,MAC] a line, # comments; others are refused unless -accept-any")
	fs.BoolVar(&f.AcceptAny, "accept-any", false, "admit terminals that are not on -allow (without -allow: admit any terminal, without the warning)")
	fs.StringVar(&f.TLSCert, "tls-cert", "", "PEM certificate file: terminals connect with wss:// (needs -tls-key)")
	fs.StringVar(&f.TLSKey, "tls-key", "", "PEM private key file of -tls-cert")
}

// Check reports flag combinations that cannot work.
func (f *TerminalFlags) Check() error {
	if (f.TLSCert == "") != (f.TLSKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	return nil
}

// Options returns the wsterm options the flags ask for. extra serials (the
// terminals a program simulates itself) are admitted too. It logs a warning
// when any terminal may register.
func (f *TerminalFlags) Options(log *slog.Logger, extra ...string) ([]wsterm.Option, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if f.Allow == "" {
		if !f.AcceptAny {
			log.Warn("no -allow file: any terminal that connects may register (give -allow FILE, or -accept-any to silence this)")
		}
		return nil, nil
	}
	file, err := os.Open(f.Allow)
	if err != nil {
		return nil, fmt.Errorf("-allow: %w", err)
	}
	defer file.Close()
	list, err := wsterm.ParseAllowList(file)
	if err != nil {
		return nil, fmt.Errorf("-allow %s: %w", f.Allow, err)
	}
	for _, sn := range extra {
		list = append(list, wsterm.Allowed{SN: sn})
	}
	opts := []wsterm.Option{wsterm.WithAllowList(list...)}
	if f.AcceptAny {
		opts = append(opts, wsterm.WithAcceptUnlisted())
	}
	log.Info("terminal allow-list loaded", "file", f.Allow, "entries", len(list), "acceptUnlisted", f.AcceptAny)
	return opts, nil
}

// TLS returns the server's TLS configuration, or nil without -tls-cert.
func (f *TerminalFlags) TLS() (*tls.Config, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	if f.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(f.TLSCert, f.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
	}
	// HTTP/1.1 only: the WebSocket upgrade does not run over HTTP/2.
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}, nil
}
