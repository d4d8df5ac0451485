package intercom

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// One option type per constructor (issue 12), as sipgo has one per role: a
// door-station setting handed to NewResident does not compile.
type (
	// EndpointOption configures NewEndpoint.
	EndpointOption interface{ applyEndpoint(*options) }
	// DoorOption configures NewDoorStation.
	DoorOption interface{ applyDoor(*options) }
	// ResidentOption configures NewResident and UnlockOnce.
	ResidentOption interface{ applyResident(*options) }
	// RegistrarOption configures NewRegistrar.
	RegistrarOption interface{ applyRegistrar(*registrarOptions) }
)

// Option is a call setting every user-agent role shares: it is an
// EndpointOption, a DoorOption and a ResidentOption.
type Option func(*options)

func (f Option) applyEndpoint(o *options) { f(o) }
func (f Option) applyDoor(o *options)     { f(o) }
func (f Option) applyResident(o *options) { f(o) }

// StackOption is a transport setting every constructor takes, the
// Registrar's included.
type StackOption func(*stackConfig)

func (f StackOption) applyEndpoint(o *options)           { f(&o.stackConfig) }
func (f StackOption) applyDoor(o *options)               { f(&o.stackConfig) }
func (f StackOption) applyResident(o *options)           { f(&o.stackConfig) }
func (f StackOption) applyRegistrar(o *registrarOptions) { f(&o.stackConfig) }

type doorOption func(*options)

func (f doorOption) applyDoor(o *options) { f(o) }

type residentOption func(*options)

func (f residentOption) applyResident(o *options) { f(o) }

type registrarOption func(*registrarOptions)

func (f registrarOption) applyRegistrar(o *registrarOptions) { f(o) }

// stackConfig is what the sipgo stack under every role needs.
type stackConfig struct {
	log     *slog.Logger
	tcpIdle time.Duration
	t1      time.Duration
	maxTCP  int // accepted SIP-TCP connections open at once
}

func defaultStackConfig() stackConfig {
	return stackConfig{tcpIdle: 2 * time.Minute, t1: sip.T1, maxTCP: 1024}
}

// WithLogger sends our and sipgo's logs to l (default and nil: discarded).
func WithLogger(l *slog.Logger) StackOption { return func(c *stackConfig) { c.log = l } }

// WithTCPIdleTimeout closes an accepted SIP-TCP connection that carried
// nothing for d (default 2 min; a registered peer's keepalive keeps it open;
// <= 0: never). At most 1024 accepted connections are open at once; more
// are closed at accept.
func WithTCPIdleTimeout(d time.Duration) StackOption { return func(c *stackConfig) { c.tcpIdle = d } }

// WithTimerT1 sets the RFC 3261 round-trip estimate T1 (default 500 ms):
// a 2xx never ACKed is given up after Timer H = 64*T1. Tests shorten it.
func WithTimerT1(d time.Duration) StackOption { return func(c *stackConfig) { c.t1 = d } }

// WithUser sets our SIP user part (door station or resident number).
func WithUser(user string) Option { return func(o *options) { o.user = user } }

// WithDomain sets the host of our address-of-record (default: the contact host).
func WithDomain(domain string) Option { return func(o *options) { o.domain = domain } }

// WithContactHost sets the address we advertise in Contact, Via and SDP
// (default: the listen IP, or 127.0.0.1 when listening on all interfaces).
func WithContactHost(host string) Option { return func(o *options) { o.contactHost = host } }

// WithTransport picks the transport of calls we place: "udp" (default) or "tcp".
func WithTransport(t string) Option { return func(o *options) { o.transport = strings.ToLower(t) } }

// WithRingTimeout bounds how long an outgoing call may ring (default 45 s).
func WithRingTimeout(d time.Duration) Option { return func(o *options) { o.ringTimeout = d } }

// WithMaxCalls caps concurrent answered calls; excess INVITEs get 486
// (default 1). Calls still waiting for their ACK do not count: see
// WithMaxPendingPerSource.
func WithMaxCalls(n int) Option { return func(o *options) { o.maxCalls = n } }

// WithMaxPendingPerSource caps answered-but-not-ACKed INVITEs per source
// address (default 2, at most 16 in all); excess get 486. Un-ACKed INVITEs
// from one host thus cannot keep other callers out until Timer H.
func WithMaxPendingPerSource(n int) Option { return func(o *options) { o.maxPendingPerSource = n } }

// WithCallLimit ends calls we answered after d with a BYE (default 60 s; 0 = no limit).
func WithCallLimit(d time.Duration) Option { return func(o *options) { o.callLimit = d } }

// WithOnCall registers a callback for call lifecycle events.
func WithOnCall(f func(CallEvent)) Option { return func(o *options) { o.onCall = f } }

// WithUnlockBudget sets the requester's application timeout (default 3 s, §6.2).
func WithUnlockBudget(d time.Duration) ResidentOption {
	return residentOption(func(o *options) { o.unlockBudget = d })
}

// WithAutoAnswer makes a Resident answer incoming calls (default true).
func WithAutoAnswer(on bool) ResidentOption {
	return residentOption(func(o *options) { o.autoAnswer = on })
}

// WithDedupWindow sets how long a (Call-ID, remote tag, reqsn) is a duplicate (default 3 s, §6.2).
func WithDedupWindow(d time.Duration) DoorOption {
	return doorOption(func(o *options) { o.dedupeWindow = d })
}

// WithOpener installs the lock driver (default: none, every unlock fails with status 500).
func WithOpener(op Opener) DoorOption { return doorOption(func(o *options) { o.opener = op }) }

// WithPolicy installs an allow/deny hook that runs after the built-in source
// check (WithAllow) and unlock cap; it cannot widen them.
func WithPolicy(p Policy) DoorOption { return doorOption(func(o *options) { o.policy = p }) }

// WithOnUnlock receives every unlock attempt; an error is counted in Stats.SinkFailures and logged.
func WithOnUnlock(f func(context.Context, UnlockEvent) error) DoorOption {
	return doorOption(func(o *options) { o.onUnlock = f })
}

// WithUnlockDigits sets the DTMF sequence that opens (default "*"; e.g. "#1234*").
func WithUnlockDigits(seq string) DoorOption {
	return doorOption(func(o *options) { o.unlockDigits = seq })
}

// WithMaxUnlocksPerCall caps unlocks per call (default 3, §13; 0 = unlimited).
func WithMaxUnlocksPerCall(n int) DoorOption {
	return doorOption(func(o *options) { o.maxUnlocksPerCall = n })
}

// WithUnlockRateLimit allows one physical unlock per d per door (default 0 = off).
func WithUnlockRateLimit(d time.Duration) DoorOption {
	return doorOption(func(o *options) { o.rateLimit = d })
}

// WithEarlyUnlock allows unlocks in early dialogs (default true: preview then open).
func WithEarlyUnlock(on bool) DoorOption {
	return doorOption(func(o *options) { o.allowEarlyUnlock = on })
}

// WithResponseViaInfo also sends the JSON result twice as in-dialog INFO (default true, §6.3).
func WithResponseViaInfo(on bool) DoorOption {
	return doorOption(func(o *options) { o.responseViaInfo = on })
}

// WithOpenerBound bounds the wait for the Opener before the 200 OK (default 1 s).
func WithOpenerBound(d time.Duration) DoorOption {
	return doorOption(func(o *options) { o.openerBound = d })
}

// WithAllow sets the addresses a door station takes calls and unlocks from
// (§13 allow-list), besides the registrars it registers with. Without it
// only 127.0.0.1 and ::1 are allowed: a door never opens for an anonymous
// host. Repeated uses add up. ParseAllowList reads the flag form.
func WithAllow(prefixes ...netip.Prefix) DoorOption {
	return doorOption(func(o *options) {
		o.allowSet = true
		for _, p := range prefixes {
			o.allow = append(o.allow, p.Masked())
		}
	})
}

// WithRealm sets the digest realm (default "menjin").
func WithRealm(realm string) RegistrarOption {
	return registrarOption(func(o *registrarOptions) { o.realm = realm })
}

// WithNonceTTL sets how long a nonce is accepted (default 5 min; then stale=true).
func WithNonceTTL(d time.Duration) RegistrarOption {
	return registrarOption(func(o *registrarOptions) { o.nonceTTL = d })
}

// WithExpiryRange bounds granted registrations (default 60 s – 3600 s; shorter asks get 423).
func WithExpiryRange(minE, maxE time.Duration) RegistrarOption {
	return registrarOption(func(o *registrarOptions) { o.minExpires, o.maxExpires = minE, maxE })
}

// WithRegistrarHost sets the address put in Record-Route (default: listen IP).
func WithRegistrarHost(h string) RegistrarOption {
	return registrarOption(func(o *registrarOptions) { o.host = h })
}

// WithOnBinding reports every accepted REGISTER (registered=false for a removal).
func WithOnBinding(f func(b Binding, registered bool)) RegistrarOption {
	return registrarOption(func(o *registrarOptions) { o.onBinding = f })
}
