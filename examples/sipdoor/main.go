// Command sipdoor is a SIP door station: it answers calls on -listen (UDP and
// TCP), optionally registers with -registrar, and prints one JSON object per
// event on stdout, e.g.
//
//	{"kind":"unlock","channel":"info-json","from":"room1202","reqsn":7}
//
// Unlocks arrive as INFO/MESSAGE JSON, INFO DTMF or RFC 2833 '*' in a call.
// Calls and unlocks are taken only from -allow (default: 127.0.0.1 and ::1)
// and from -registrar; at most -max-unlocks unlocks per call.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/menjin/menjin/intercom"
)

type line struct {
	Kind      string `json:"kind"`
	Channel   string `json:"channel,omitempty"`
	From      string `json:"from,omitempty"`
	ReqSN     int    `json:"reqsn,omitempty"`
	Status    int    `json:"status,omitempty"`
	State     string `json:"state,omitempty"`
	CallID    string `json:"call_id,omitempty"`
	Addr      string `json:"addr,omitempty"`
	URI       string `json:"uri,omitempty"`
	Registrar string `json:"registrar,omitempty"`
	User      string `json:"user,omitempty"`
	Expires   int    `json:"expires,omitempty"`
	Error     string `json:"error,omitempty"`
}

var (
	outMu sync.Mutex
	enc   = json.NewEncoder(os.Stdout)
)

func emit(l line) {
	outMu.Lock()
	defer outMu.Unlock()
	_ = enc.Encode(l)
}

// allowFlag collects -allow, repeatable and comma-separated.
type allowFlag []netip.Prefix

func (a *allowFlag) String() string {
	s := make([]string, len(*a))
	for i, p := range *a {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (a *allowFlag) Set(v string) error {
	ps, err := intercom.ParseAllowList(v)
	if err != nil {
		return err
	}
	*a = append(*a, ps...)
	return nil
}

func main() {
	var allow allowFlag
	listen := flag.String("listen", "127.0.0.1:5060", "UDP and TCP address to accept calls on")
	user := flag.String("user", "door", "SIP user of this door station")
	registrar := flag.String("registrar", "", "registrar URI (sip:host:port), optional")
	password := flag.String("password", "", "SIP password for -registrar")
	digits := flag.String("digits", "*", "DTMF sequence that opens the door")
	maxCalls := flag.Int("max-calls", 4, "concurrent calls before 486 Busy Here")
	runFor := flag.Duration("for", 0, "exit after this long (0: until SIGINT/SIGTERM)")
	maxUnlocks := flag.Int("max-unlocks", 3, "unlocks allowed per call (0: unlimited)")
	flag.Var(&allow, "allow", "CIDR[,CIDR] or address calls and unlocks are taken from, besides -registrar; repeatable (default 127.0.0.1,::1)")
	flag.Parse()
	opts := []intercom.DoorOption{intercom.WithMaxUnlocksPerCall(*maxUnlocks)}
	if len(allow) > 0 {
		opts = append(opts, intercom.WithAllow(allow...))
	}
	if err := run(*listen, *user, *registrar, *password, *digits, *maxCalls, *runFor, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "sipdoor:", err)
		os.Exit(1)
	}
}

func run(listen, user, registrar, password, digits string, maxCalls int, runFor time.Duration, extra ...intercom.DoorOption) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, runFor)
		defer cancel()
	}
	door, err := intercom.NewDoorStation(listen, append([]intercom.DoorOption{
		intercom.WithUser(user),
		intercom.WithUnlockDigits(digits),
		intercom.WithMaxCalls(maxCalls),
		// The lock of this example is stdout: a real host passes its relay driver.
		intercom.WithOpener(intercom.OpenerFunc(func(context.Context, intercom.UnlockRequest) error { return nil })),
		intercom.WithOnUnlock(func(_ context.Context, e intercom.UnlockEvent) error {
			kind := "unlock"
			if !e.Granted() {
				kind = "unlock-denied"
			}
			l := line{Kind: kind, Channel: e.Channel.String(), From: e.Peer, ReqSN: e.ReqSN}
			if !e.Granted() {
				l.Status = e.Status
			}
			emit(l)
			return nil
		}),
		intercom.WithOnCall(func(e intercom.CallEvent) {
			emit(line{Kind: "call", State: e.State.String(), From: e.Peer, CallID: e.CallID, Status: e.Status})
		}),
	}, extra...)...)
	if err != nil {
		return err
	}
	defer door.Close()
	emit(line{Kind: "listening", Addr: door.Addr(), URI: door.URI()})
	if registrar != "" {
		_, err := door.Register(intercom.RegisterConfig{Registrar: registrar, Password: password,
			OnState: func(s intercom.RegistrationState) {
				if s.Registered {
					emit(line{Kind: "registered", Registrar: registrar, User: user, Expires: int(s.Expires / time.Second)})
				} else {
					emit(line{Kind: "registration-failed", Registrar: registrar, User: user, Error: s.Err.Error()})
				}
			}})
		if err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}
