package passcheck

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/permfile"
	"github.com/menjin/menjin/qrcode"
)

// Errors that leave the door closed without a pass event (spec §4.7).
var (
	// ErrNoKey: an RSA-mode door has no RSAPublicKey yet (not bound).
	ErrNoKey = errors.New("passcheck: no RSA public key stored")
	// ErrClockUnsynced: the device clock is not trustworthy; deciding now
	// could accept every expired code.
	ErrClockUnsynced = errors.New("passcheck: device clock not synchronised")
)

// ClockFloor is the default sanity check for the device clock: a clock
// earlier than this (the SDK's release era) is taken as unsynchronised.
var ClockFloor = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Checker decides pass attempts at a door from its local permissions and
// reports them: QR codes (RSA-signed or plain), cards, BLE cards and
// passwords, with the platform's result codes. It implements
// accessctl.Decider. Safe for concurrent use.
type Checker struct {
	store *permfile.Store
	key   atomic.Pointer[qrcode.Key]
	prev  atomic.Pointer[prevKey] // the replaced key, during its grace period
	grace time.Duration
	plain bool

	now      func() time.Time
	clockOK  func(time.Time) bool
	skew     time.Duration
	debounce time.Duration
	sink     accessctl.EventSink
	device   accessctl.DeviceRef
	platform string

	undecodableEvents bool
	failPerMinute     int
	passwordInEvents  bool
	pwResults         Results

	deb     debouncer
	limiter minuteLimiter
	idBase  string
	seq     atomic.Uint64
	stats   statsCounters
}

// Option configures a Checker.
type Option func(*Checker)

// WithKey sets the RSA public key (see also SetKey, SetPublicKey).
func WithKey(k *qrcode.Key) Option { return func(c *Checker) { c.key.Store(k) } }

// WithKeyGrace keeps accepting codes of a replaced key for d after SetKey
// (default 0: a new key retires the old one at once). The old key is only
// tried when the current one fails the signature check (spec §4.5).
func WithKeyGrace(d time.Duration) Option { return func(c *Checker) { c.grace = d } }

type prevKey struct {
	key   *qrcode.Key
	until time.Time
}

// WithPlainQR makes the door a plain "qrcode" door (spec §4.10): the
// scanned text is the code itself and no key is used. Plain and RSA mode
// are exclusive; there is no fallback from one to the other.
func WithPlainQR() Option { return func(c *Checker) { c.plain = true } }

// WithClock sets the wall clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *Checker) { c.now = now } }

// WithClockCheck replaces the clock sanity check (default: not before
// ClockFloor). Return false while the device has not synchronised its
// clock since boot; the Checker then refuses to decide.
func WithClockCheck(ok func(now time.Time) bool) Option {
	return func(c *Checker) { c.clockOK = ok }
}

// WithSkew tolerates a device clock this far off (default 0).
func WithSkew(d time.Duration) Option { return func(c *Checker) { c.skew = d } }

// WithDebounce sets the repeated-read window (default 3 s; 0 disables): the
// same credential seen again within it repeats the previous decision with
// no new scan counted and no new event.
func WithDebounce(d time.Duration) Option { return func(c *Checker) { c.debounce = d } }

// WithSink sets where pass events go (Present and Scan).
func WithSink(s accessctl.EventSink) Option { return func(c *Checker) { c.sink = s } }

// WithDevice names the door in events.
func WithDevice(d accessctl.DeviceRef) Option { return func(c *Checker) { c.device = d } }

// WithPlatform sets Event.Platform.
func WithPlatform(p string) Option { return func(c *Checker) { c.platform = p } }

// WithUndecodableEvents says whether a scan that is not a valid code still
// produces a 103 event (default true; cameras also read product barcodes).
func WithUndecodableEvents(on bool) Option { return func(c *Checker) { c.undecodableEvents = on } }

// WithFailureEventLimit caps refusal events per minute (default 30; 0 no
// cap). Refusals over the cap are decided as usual and counted in
// Stats.EventsSuppressed.
func WithFailureEventLimit(perMinute int) Option {
	return func(c *Checker) { c.failPerMinute = perMinute }
}

// WithPasswordInEvents puts the password itself in pass events (the
// platform's wire format carries it). Off by default.
func WithPasswordInEvents(on bool) Option { return func(c *Checker) { c.passwordInEvents = on } }

// WithPasswordResults replaces the proposed 401–403 password refusals.
func WithPasswordResults(r Results) Option { return func(c *Checker) { c.pwResults = r } }

// New returns a Checker over store.
func New(store *permfile.Store, opts ...Option) *Checker {
	c := &Checker{
		store:             store,
		now:               time.Now,
		clockOK:           func(t time.Time) bool { return !t.Before(ClockFloor) },
		debounce:          3 * time.Second,
		undecodableEvents: true,
		failPerMinute:     30,
		pwResults:         passwordResults,
	}
	for _, o := range opts {
		o(c)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	c.idBase = hex.EncodeToString(b[:])
	c.deb.window = c.debounce
	c.limiter.max = c.failPerMinute
	return c
}

// SetKey replaces the RSA public key (a new RSAPublicKey property).
// Setting the same key again changes nothing.
func (c *Checker) SetKey(k *qrcode.Key) {
	old := c.key.Swap(k)
	if c.grace > 0 && old != nil && (k == nil || old.String() != k.String()) {
		c.prev.Store(&prevKey{key: old, until: c.now().Add(c.grace)})
	}
}

// SetPublicKey parses and installs an RSAPublicKey property value. A value
// that does not parse is refused and the previous key stays (spec §2.1).
func (c *Checker) SetPublicKey(s string) error {
	k, err := qrcode.ParseKey(s)
	if err != nil {
		return err
	}
	c.SetKey(k)
	return nil
}

// Key returns the current RSA public key, nil if none.
func (c *Checker) Key() *qrcode.Key { return c.key.Load() }

// Outcome is a decided attempt.
type Outcome struct {
	Decision accessctl.Decision
	// Event is the pass event for this attempt; nil when none is due (a
	// repeated read, an undecodable scan with events off, a refusal over
	// the rate cap).
	Event *accessctl.Event
	// Repeat: a read of the same credential within the debounce window;
	// Decision repeats the earlier one.
	Repeat bool
	// Payload is the decoded QR code (RSA mode, when it decoded).
	Payload *qrcode.Payload
}

// Decide implements accessctl.Decider. The Checker's own clock decides
// (r.At is the device's claim). Decide counts the scan but reports nothing:
// a driver that answers a device's question reports the device's own
// pass record; use Present when this process is the door.
func (c *Checker) Decide(ctx context.Context, r accessctl.DecisionRequest) (accessctl.Decision, error) {
	o, err := c.check(ctx, r.Credential, r.Direction)
	if err != nil {
		return accessctl.Decision{}, err
	}
	return o.Decision, nil
}

// Check decides without reporting; the Outcome carries the event to report.
func (c *Checker) Check(ctx context.Context, cred accessctl.Credential) (Outcome, error) {
	return c.check(ctx, cred, accessctl.DirectionUnknown)
}

// Present decides an attempt and sends its pass event to the sink. An
// error from the sink is returned with the Outcome: the decision stands.
func (c *Checker) Present(ctx context.Context, cred accessctl.Credential, dir accessctl.Direction) (Outcome, error) {
	o, err := c.check(ctx, cred, dir)
	if err != nil || o.Event == nil || c.sink == nil {
		return o, err
	}
	if err := c.sink.Handle(ctx, *o.Event); err != nil {
		c.stats.sinkErrors.Add(1)
		return o, fmt.Errorf("passcheck: pass event not delivered: %w", err)
	}
	c.stats.events.Add(1)
	return o, nil
}

// Scan is Present for the text a QR reader produced: what a door does.
func (c *Checker) Scan(ctx context.Context, text string) (Outcome, error) {
	return c.Present(ctx, accessctl.Credential{Kind: accessctl.CredQRCode, Value: text}, accessctl.DirectionUnknown)
}

func (c *Checker) check(ctx context.Context, cred accessctl.Credential, dir accessctl.Direction) (Outcome, error) {
	if err := ctx.Err(); err != nil {
		return Outcome{}, err
	}
	var res Results
	switch cred.Kind {
	case accessctl.CredQRCode:
		res = qrResults
	case accessctl.CredCard:
		res = cardResults
	case accessctl.CredBLECard:
		res = bleResults
	case accessctl.CredPassword:
		res = c.pwResults
	default:
		return Outcome{}, fmt.Errorf("passcheck: %s credentials: %w", cred.Kind, accessctl.ErrUnsupported)
	}
	now := c.now()
	if !c.clockOK(now) {
		c.stats.clockRefusals.Add(1)
		return Outcome{}, ErrClockUnsynced
	}

	a := attempt{kind: cred.Kind, dir: dir, at: now, content: cred.Value}
	if cred.Kind != accessctl.CredPassword && a.content == "" && cred.Card != nil {
		a.content = cred.Card.Raw
	}
	key := a.content
	var expiredQR bool
	if cred.Kind == accessctl.CredQRCode {
		text := strings.TrimSpace(cred.Value)
		if c.plain {
			key = text
		} else {
			k := c.key.Load()
			if k == nil {
				return Outcome{}, ErrNoKey
			}
			p, err := k.Open(text)
			if errors.Is(err, qrcode.ErrBadSignature) {
				if pk := c.prev.Load(); pk != nil && !now.After(pk.until) {
					if pp, perr := pk.key.Open(text); perr == nil {
						p, err = pp, nil
					}
				}
			}
			if err != nil {
				// Undecodable: 103, the raw text as content (spec §5.6).
				c.stats.undecodable.Add(1)
				a.content = truncate(text, 256)
				a.noEvent = !c.undecodableEvents
				return c.finish(a, res.Unknown, nil, nil), nil
			}
			a.payload = &p
			key = p.Code
			a.content = p.Code
			expiredQR = p.ExpiresAt.Unix() < now.Add(-c.skew).Unix()
		}
	}
	key = permfile.NormalizeKey(cred.Kind, key)
	if key == "" {
		return c.finish(a, res.Unknown, nil, nil), nil
	}

	if o, ok := c.deb.get(cred.Kind, key, now); ok {
		c.stats.repeats.Add(1)
		return o, nil
	}

	rec, found := c.store.Lookup(cred.Kind, key)
	var o Outcome
	switch {
	case !found:
		o = c.finish(a, res.Unknown, nil, nil)
	case expiredQR:
		o = c.finish(a, res.Expired, &rec, nil)
	default:
		switch rec.Window(now, c.skew) {
		case permfile.NotYetValid:
			o = c.finish(a, res.NotYetValid, &rec, nil)
		case permfile.Expired:
			o = c.finish(a, res.Expired, &rec, nil)
		default:
			remaining, ok, err := c.store.Consume(ctx, rec)
			if err != nil {
				return Outcome{}, fmt.Errorf("passcheck: scan counter: %w", err)
			}
			var left *int
			if rec.Limited() {
				left = &remaining
			}
			if ok {
				o = c.finish(a, ResultOf(CodeSuccess), &rec, left)
			} else {
				o = c.finish(a, ResultOf(CodeQRUsedUp), &rec, left)
			}
		}
	}
	c.deb.put(cred.Kind, key, now, o)
	return o, nil
}

type attempt struct {
	kind    accessctl.CredentialKind
	dir     accessctl.Direction
	at      time.Time
	content string
	payload *qrcode.Payload
	noEvent bool
}

func (c *Checker) finish(a attempt, res accessctl.Result, rec *permfile.Record, remaining *int) Outcome {
	c.stats.decisions.Add(1)
	if res.Granted {
		c.stats.granted.Add(1)
	} else {
		c.stats.denied.Add(1)
	}
	d := accessctl.Decision{Allow: res.Granted, Result: res, Display: []string{res.Message}, RemainingScans: remaining}
	var person *accessctl.PersonRef
	if rec != nil && rec.UserID != "" {
		person = &accessctl.PersonRef{Platform: c.platform, ID: rec.UserID}
		d.Person = person
	}
	o := Outcome{Decision: d, Payload: a.payload}
	if a.noEvent {
		return o
	}
	if !res.Granted && !c.limiter.allow(a.at) {
		c.stats.suppressed.Add(1)
		return o
	}
	pe := &accessctl.PassEvent{
		Person:         person,
		Method:         methodOf(a.kind),
		Credential:     a.content,
		Direction:      a.dir,
		Kind:           accessctl.PassDenied,
		Result:         res,
		RemainingScans: remaining,
	}
	if res.Granted {
		pe.Kind = accessctl.PassGranted
	}
	switch a.kind {
	case accessctl.CredCard, accessctl.CredBLECard:
		pe.Card = &accessctl.CardNo{Raw: a.content, Notation: accessctl.CardOpaque}
	case accessctl.CredPassword:
		if !c.passwordInEvents {
			pe.Credential = ""
		}
	}
	ev := &accessctl.Event{
		ID:         c.idBase + "-" + strconv.FormatUint(c.seq.Add(1), 10),
		Kind:       accessctl.KindPass,
		Platform:   c.platform,
		Device:     c.device,
		OccurredAt: a.at,
		TimeSource: accessctl.TimeDevice,
		ReceivedAt: a.at,
		Pass:       pe,
	}
	userID := ""
	if rec != nil {
		userID = rec.UserID
	}
	if raw, err := WirePassEvent(pe, a.at, userID); err == nil {
		ev.Raw = raw
	}
	o.Event = ev
	return o
}

func methodOf(k accessctl.CredentialKind) accessctl.Method {
	switch k {
	case accessctl.CredQRCode:
		return accessctl.MethodQRCode
	case accessctl.CredCard:
		return accessctl.MethodCard
	case accessctl.CredBLECard:
		return accessctl.MethodBLECard
	case accessctl.CredPassword:
		return accessctl.MethodPassword
	}
	return accessctl.MethodUnknown
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// debouncer remembers recent decisions per credential, bounded in size.
type debouncer struct {
	window time.Duration
	mu     sync.Mutex
	m      map[debKey]debEntry
}

type debKey struct {
	kind accessctl.CredentialKind
	key  string
}

type debEntry struct {
	at time.Time
	o  Outcome
}

const debounceCap = 4096

func (d *debouncer) get(kind accessctl.CredentialKind, key string, now time.Time) (Outcome, bool) {
	if d.window <= 0 {
		return Outcome{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[debKey{kind, key}]
	if !ok {
		return Outcome{}, false
	}
	if age := now.Sub(e.at); age < 0 || age >= d.window {
		return Outcome{}, false
	}
	o := e.o
	o.Event, o.Repeat = nil, true
	return o, true
}

func (d *debouncer) put(kind accessctl.CredentialKind, key string, now time.Time, o Outcome) {
	if d.window <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[debKey]debEntry{}
	}
	if len(d.m) >= debounceCap {
		for k, e := range d.m {
			if now.Sub(e.at) >= d.window || now.Before(e.at) {
				delete(d.m, k)
			}
		}
		if len(d.m) >= debounceCap {
			clear(d.m) // a flood of distinct codes: forget rather than grow
		}
	}
	d.m[debKey{kind, key}] = debEntry{at: now, o: o}
}

// minuteLimiter allows max events per wall-clock minute.
type minuteLimiter struct {
	max    int
	mu     sync.Mutex
	minute int64
	n      int
}

func (l *minuteLimiter) allow(now time.Time) bool {
	if l.max <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	m := now.Unix() / 60
	if m != l.minute {
		l.minute, l.n = m, 0
	}
	if l.n >= l.max {
		return false
	}
	l.n++
	return true
}

// Stats counts what a Checker did since New.
type Stats struct {
	Decisions        uint64 // attempts decided (repeats excluded)
	Granted, Denied  uint64
	Repeats          uint64 // reads answered from the debounce window
	Undecodable      uint64 // scans that were not a valid code
	ClockRefusals    uint64 // attempts refused because the clock is unsynchronised
	EventsDelivered  uint64 // pass events the sink accepted
	EventsSuppressed uint64 // refusal events over the rate cap
	SinkErrors       uint64 // pass events the sink refused (returned to the caller)
}

type statsCounters struct {
	decisions, granted, denied, repeats, undecodable, clockRefusals, events, suppressed, sinkErrors atomic.Uint64
}

// Stats returns the counters.
func (c *Checker) Stats() Stats {
	s := &c.stats
	return Stats{
		Decisions: s.decisions.Load(), Granted: s.granted.Load(), Denied: s.denied.Load(),
		Repeats: s.repeats.Load(), Undecodable: s.undecodable.Load(), ClockRefusals: s.clockRefusals.Load(),
		EventsDelivered: s.events.Load(), EventsSuppressed: s.suppressed.Load(), SinkErrors: s.sinkErrors.Load(),
	}
}
