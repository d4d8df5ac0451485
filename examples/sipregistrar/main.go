// Command sipregistrar runs the intercom package's small registrar and
// record-routing proxy: MD5 digest REGISTER for the accounts in -accounts (a
// JSON object {"user":"password",...}) and routing of calls between them.
// It prints one JSON object per event on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/menjin/menjin/intercom"
)

type line struct {
	Kind    string `json:"kind"`
	Addr    string `json:"addr,omitempty"`
	URI     string `json:"uri,omitempty"`
	User    string `json:"user,omitempty"`
	Contact string `json:"contact,omitempty"`
	Expires int    `json:"expires,omitempty"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:5060", "UDP and TCP address")
	accounts := flag.String("accounts", "", "JSON file {\"user\":\"password\",...}")
	realm := flag.String("realm", "menjin", "digest realm")
	runFor := flag.Duration("for", 0, "exit after this long (0: until SIGINT/SIGTERM)")
	flag.Parse()
	if err := run(*listen, *accounts, *realm, *runFor); err != nil {
		fmt.Fprintln(os.Stderr, "sipregistrar:", err)
		os.Exit(1)
	}
}

func run(listen, accountsFile, realm string, runFor time.Duration) error {
	acc := map[string]string{}
	if accountsFile == "" {
		fmt.Fprintln(os.Stderr, "sipregistrar: no -accounts file: every REGISTER will be refused")
	} else {
		raw, err := os.ReadFile(accountsFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &acc); err != nil {
			return fmt.Errorf("%s: %w", accountsFile, err)
		}
	}
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	emit := func(l line) { mu.Lock(); defer mu.Unlock(); _ = enc.Encode(l) }
	reg, err := intercom.NewRegistrar(listen, acc, intercom.WithRealm(realm),
		intercom.WithExpiryRange(10*time.Second, time.Hour),
		intercom.WithOnBinding(func(b intercom.Binding, on bool) {
			if !on {
				emit(line{Kind: "unregistered", User: b.User})
				return
			}
			emit(line{Kind: "registered", User: b.User, Contact: b.Contact.String(), Expires: int(time.Until(b.Expires).Round(time.Second) / time.Second)})
		}))
	if err != nil {
		return err
	}
	defer reg.Close()
	emit(line{Kind: "listening", Addr: reg.Addr(), URI: reg.URI()})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, runFor)
		defer cancel()
	}
	<-ctx.Done()
	return nil
}
