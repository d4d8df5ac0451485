package thingmodel

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Broker is the embedded MQTT broker (mochi-mqtt): devices authenticate
// with their LinkKit triple signature and may only touch their own topics.
// A Host runs one by default; NewBroker lets several Hosts or tests share one.
type Broker struct {
	srv              *mqtt.Server
	listener         *guardedListener
	verifier         Verifier
	authTO           time.Duration
	maxKeepAlive     uint16
	maxSessionExpiry uint32

	clientDev sync.Map // *mqtt.Client -> DeviceKey (authenticated sessions)
	admins    sync.Map // *mqtt.Client -> struct{} (WithAdmin sessions)
	admin     *adminCred

	mu       sync.Mutex
	sessions map[DeviceKey]*session
	watchers map[int]func(DeviceKey, Status)
	watchID  int

	connects, authFailures, aclDenials, disconnects, replaced, willsRefused atomic.Uint64
	closeOnce                                                               sync.Once
}

type session struct {
	cl     *mqtt.Client
	status Status
}

// BrokerStats counts the embedded broker's session traffic.
type BrokerStats struct {
	Connects     uint64 // authenticated sessions established
	AuthFailures uint64 // CONNECTs refused by the signature check
	ACLDenials   uint64 // publishes/subscriptions outside the device's own topics
	Disconnects  uint64
	Replaced     uint64 // sessions closed because the device connected again
	// WillsRefused counts CONNECTs refused because their will names a
	// topic the device may not publish (also counted in ACLDenials).
	WillsRefused uint64
	// AcceptErrors counts failed accepts (EMFILE...) the broker backed off from.
	AcceptErrors uint64
	// OverPending counts sockets closed at once because MaxPendingConnections
	// sockets were already waiting to authenticate.
	OverPending uint64
	Pending     int // sockets accepted that have not authenticated yet
	Online      int
}

// BrokerOption configures NewBroker.
type BrokerOption func(*brokerConfig) error

type adminCred struct{ username, password string }

type brokerConfig struct {
	admin         *adminCred
	addr          string
	ln            net.Listener
	tls           *tls.Config
	maxSkew       time.Duration
	logger        *slog.Logger
	authTO        time.Duration
	maxPacket     int
	connectTO     time.Duration
	maxKeepAlive  time.Duration
	maxPending    int
	sessionExpiry time.Duration
}

// Defaults of the broker's bounds; each has an option.
const (
	// DefaultMaxPacketSize is the largest MQTT packet accepted, the
	// platform's 256 KiB message limit; a larger one (CONNECT included) is
	// refused from its fixed header, before its body is read.
	DefaultMaxPacketSize = 256 << 10
	// DefaultConnectTimeout is how long a new socket has to send its
	// CONNECT (TLS handshake included); the signature check then has at
	// most 5 s more (or this, if shorter).
	DefaultConnectTimeout = 10 * time.Second
	// DefaultMaxKeepAlive replaces a keepalive of 0 (none) or above it;
	// a session silent for 1.5 times its keepalive is closed (MQTT 3.1.2.10).
	DefaultMaxKeepAlive = 5 * time.Minute
	// DefaultMaxPendingConnections caps sockets accepted but not yet
	// authenticated; more are closed at once.
	DefaultMaxPendingConnections = 256
	// maxSessionExpiry bounds how long a disconnected persistent session
	// (clean session off, or an MQTT 5 session expiry) is kept: without it
	// a device cycling client ids would grow the broker's table forever.
	maxSessionExpiry = 10 * time.Minute
)

// WithBrokerAddr sets the TCP address devices connect to (default ":1883").
func WithBrokerAddr(addr string) BrokerOption {
	return func(c *brokerConfig) error { c.addr = addr; return nil }
}

// WithBrokerListener serves on l (already listening) instead of opening
// WithBrokerAddr; the broker closes it. With WithBrokerTLS, l must
// already hand out TLS connections.
func WithBrokerListener(l net.Listener) BrokerOption {
	return func(c *brokerConfig) error {
		if l == nil {
			return errors.New("thingmodel: WithBrokerListener needs a listener")
		}
		c.ln = l
		return nil
	}
}

// WithMaxPacketSize sets the largest MQTT packet accepted (default
// DefaultMaxPacketSize). A client announcing a larger one is disconnected
// before the broker reads or allocates its body.
func WithMaxPacketSize(n int) BrokerOption {
	return func(c *brokerConfig) error {
		if n < 128 || n > 256<<20 {
			return errors.New("thingmodel: max packet size must be between 128 B and 256 MiB")
		}
		c.maxPacket = n
		return nil
	}
}

// WithConnectTimeout bounds the time from accept to a complete CONNECT
// (default DefaultConnectTimeout); a socket that has not sent one by then
// is closed.
func WithConnectTimeout(d time.Duration) BrokerOption {
	return func(c *brokerConfig) error {
		if d <= 0 {
			return errors.New("thingmodel: connect timeout must be positive")
		}
		c.connectTO = d
		return nil
	}
}

// WithMaxKeepAlive caps the keepalive the broker grants (default
// DefaultMaxKeepAlive, at least 1 s): a client announcing 0 or more gets
// this one (MQTT 5 clients are told in the CONNACK), and a session silent
// for 1.5 times it is closed.
func WithMaxKeepAlive(d time.Duration) BrokerOption {
	return func(c *brokerConfig) error {
		if d < time.Second || d > 65535*time.Second {
			return errors.New("thingmodel: max keepalive must be between 1 s and 65535 s")
		}
		c.maxKeepAlive = d
		return nil
	}
}

// WithMaxPendingConnections caps the sockets accepted but not yet
// authenticated (default DefaultMaxPendingConnections); the broker closes
// more at once, so that a flood of idle sockets cannot exhaust it.
func WithMaxPendingConnections(n int) BrokerOption {
	return func(c *brokerConfig) error {
		if n < 1 {
			return errors.New("thingmodel: max pending connections must be positive")
		}
		c.maxPending = n
		return nil
	}
}

// WithBrokerTLS serves MQTT over TLS (securemode=2 devices).
func WithBrokerTLS(cfg *tls.Config) BrokerOption {
	return func(c *brokerConfig) error { c.tls = cfg; return nil }
}

// WithMaxClockSkew rejects signatures whose timestamp is further than d from
// the broker's clock (0, the default, accepts any: doorsets often lack an RTC).
func WithMaxClockSkew(d time.Duration) BrokerOption {
	return func(c *brokerConfig) error { c.maxSkew = d; return nil }
}

// WithAdmin admits one privileged MQTT user that may publish and subscribe
// anywhere: another Host process, a bridge, a monitoring tool. Its
// username must not contain '&' (so that it can never be a device's).
func WithAdmin(username, password string) BrokerOption {
	return func(c *brokerConfig) error {
		if username == "" || password == "" || strings.Contains(username, "&") {
			return errors.New("thingmodel: admin needs a username without '&' and a password")
		}
		c.admin = &adminCred{username, password}
		return nil
	}
}

// WithBrokerLogger sets the broker's logger (default and nil: discard).
// Nothing the broker logs carries a password or a device secret.
func WithBrokerLogger(l *slog.Logger) BrokerOption {
	return func(c *brokerConfig) error { c.logger = orDiscard(l); return nil }
}

// orDiscard makes a nil logger one that discards.
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// NewBroker starts an embedded broker that authenticates devices against secrets.
func NewBroker(secrets SecretStore, opts ...BrokerOption) (*Broker, error) {
	if secrets == nil {
		return nil, errors.New("thingmodel: NewBroker needs a SecretStore")
	}
	cfg := brokerConfig{addr: ":1883", logger: slog.New(slog.DiscardHandler), authTO: 5 * time.Second,
		maxPacket: DefaultMaxPacketSize, connectTO: DefaultConnectTimeout, maxKeepAlive: DefaultMaxKeepAlive,
		maxPending: DefaultMaxPendingConnections, sessionExpiry: maxSessionExpiry}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = uint32(cfg.maxPacket)
	caps.MaximumSessionExpiryInterval = uint32(cfg.sessionExpiry / time.Second)
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: cfg.logger, Capabilities: caps})
	b := &Broker{
		srv:              srv,
		verifier:         Verifier{Secrets: secrets, MaxSkew: cfg.maxSkew},
		authTO:           min(cfg.authTO, cfg.connectTO),
		maxKeepAlive:     uint16(cfg.maxKeepAlive / time.Second),
		maxSessionExpiry: caps.MaximumSessionExpiryInterval,
		admin:            cfg.admin,
		sessions:         make(map[DeviceKey]*session),
	}
	if err := srv.AddHook(&authHook{b: b}, nil); err != nil {
		return nil, err
	}
	b.listener = &guardedListener{id: "linkkit", addr: cfg.addr, tlsConfig: cfg.tls, ln: cfg.ln,
		connectTO: cfg.connectTO, maxPending: cfg.maxPending, log: cfg.logger, stop: make(chan struct{}),
		conns: map[*pendingConn]struct{}{}, serveEnd: make(chan struct{})}
	if err := srv.AddListener(b.listener); err != nil {
		if cfg.ln != nil {
			_ = cfg.ln.Close()
		}
		return nil, fmt.Errorf("thingmodel: broker listen %s: %w", cfg.addr, err)
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return nil, err
	}
	return b, nil
}

// Addr is the address the broker listens on (host:port).
func (b *Broker) Addr() string { return b.listener.Address() }

// URL is the address in the form MQTT clients take ("tcp://host:port").
func (b *Broker) URL() string {
	host, port, err := net.SplitHostPort(b.Addr())
	if err != nil {
		return "tcp://" + b.Addr()
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	return "tcp://" + net.JoinHostPort(host, port)
}

// Close disconnects every device and stops listening.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() { _ = b.srv.Close() })
	return nil
}

// Online reports whether the device has a session now.
func (b *Broker) Online(dev DeviceKey) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.sessions[dev]
	return ok
}

// Status returns the device's session state.
func (b *Broker) Status(dev DeviceKey) (Status, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.sessions[dev]
	if !ok {
		return Status{}, false
	}
	return s.status, true
}

// Stats returns the broker's counters.
func (b *Broker) Stats() BrokerStats {
	b.mu.Lock()
	online := len(b.sessions)
	b.mu.Unlock()
	return BrokerStats{
		Connects: b.connects.Load(), AuthFailures: b.authFailures.Load(), ACLDenials: b.aclDenials.Load(),
		Disconnects: b.disconnects.Load(), Replaced: b.replaced.Load(), WillsRefused: b.willsRefused.Load(),
		AcceptErrors: b.listener.acceptErrors.Load(), OverPending: b.listener.overPending.Load(),
		Pending: int(b.listener.pending.Load()), Online: online,
	}
}

// watch registers fn for session changes and returns the devices online
// now and a function that unregisters fn. fn runs on the broker's
// connection goroutines and must not block.
func (b *Broker) watch(fn func(DeviceKey, Status)) (map[DeviceKey]Status, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.watchers == nil {
		b.watchers = map[int]func(DeviceKey, Status){}
	}
	b.watchID++
	id := b.watchID
	b.watchers[id] = fn
	now := make(map[DeviceKey]Status, len(b.sessions))
	for k, s := range b.sessions {
		now[k] = s.status
	}
	return now, func() {
		b.mu.Lock()
		delete(b.watchers, id)
		b.mu.Unlock()
	}
}

func (b *Broker) notify(dev DeviceKey, st Status) {
	b.mu.Lock()
	ws := make([]func(DeviceKey, Status), 0, len(b.watchers))
	for _, fn := range b.watchers {
		ws = append(ws, fn)
	}
	b.mu.Unlock()
	for _, fn := range ws {
		fn(dev, st)
	}
}

// authHook is the broker's LinkKit policy.
type authHook struct {
	mqtt.HookBase
	b *Broker
}

func (h *authHook) ID() string { return "menjin-linkkit" }

func (h *authHook) Provides(hb byte) bool {
	switch hb {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish, mqtt.OnWill, mqtt.OnSessionEstablished, mqtt.OnDisconnect:
		return true
	}
	return false
}

// OnConnect caps the keepalive before mochi arms the read deadline with
// it: 0 would otherwise mean a socket that is never closed for silence.
func (h *authHook) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	if ka := h.b.maxKeepAlive; cl.State.Keepalive == 0 || cl.State.Keepalive > ka {
		cl.State.Keepalive = ka
		cl.State.ServerKeepalive = true // MQTT 5 clients learn it from the CONNACK
	}
	// mochi announces its maximum session expiry but keeps what an MQTT 5
	// client asked for.
	if p := &cl.Properties.Props; p.SessionExpiryInterval > h.b.maxSessionExpiry {
		p.SessionExpiryInterval = h.b.maxSessionExpiry
	}
	return nil
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if pc, ok := cl.Net.Conn.(*pendingConn); ok {
		defer pc.authenticated() // accepted or refused, it no longer waits
	}
	if a := h.b.admin; a != nil && string(pk.Connect.Username) == a.username {
		if subtle.ConstantTimeCompare(pk.Connect.Password, []byte(a.password)) == 1 {
			h.b.admins.Store(cl, struct{}{})
			return true
		}
		h.b.authFailures.Add(1)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.b.authTO)
	defer cancel()
	dev, _, err := h.b.verifier.Verify(ctx, cl.ID, string(pk.Connect.Username), pk.Connect.Password)
	if err != nil {
		h.b.authFailures.Add(1)
		h.Log.Info("linkkit: connect refused", "client", cl.ID, "remote", cl.Net.Remote, "error", err)
		return false
	}
	// mochi publishes a will without an ACL check: a will is a publish
	// the device makes later, so it must pass the same check now. The
	// connection is refused rather than the will dropped, so that the
	// device's owner sees the misconfiguration at once.
	if pk.Connect.WillFlag && !allowed(dev, pk.Connect.WillTopic, true) {
		h.b.aclDenials.Add(1)
		h.b.willsRefused.Add(1)
		h.Log.Info("linkkit: connect refused, will on a foreign topic", "device", dev.String(), "topic", pk.Connect.WillTopic)
		return false
	}
	h.b.clientDev.Store(cl, dev)
	return true
}

// OnPublish keeps retained messages of devices only on their status
// topic (their birth announcement): retained posts or replies would be
// replayed to every new subscriber as if just sent.
func (h *authHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if !pk.FixedHeader.Retain || cl.Net.Inline {
		return pk, nil
	}
	if v, ok := h.b.clientDev.Load(cl); ok && pk.TopicName != StatusTopic(v.(DeviceKey)) {
		pk.FixedHeader.Retain = false
	}
	return pk, nil
}

// OnWill applies OnPublish's retain rule to wills, which mochi retains
// without calling OnPublish.
func (h *authHook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	if v, ok := h.b.clientDev.Load(cl); ok && will.TopicName != StatusTopic(v.(DeviceKey)) {
		will.Retain = false
	}
	return will, nil
}

// OnACLCheck lets a device publish only on its own upward topics (posts,
// replies, its status) and subscribe only under /sys/{pk}/{dn}/thing/.
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	if _, ok := h.b.admins.Load(cl); ok {
		return true
	}
	v, ok := h.b.clientDev.Load(cl)
	if !ok {
		h.b.aclDenials.Add(1)
		return false
	}
	dev := v.(DeviceKey)
	if allowed(dev, topic, write) {
		return true
	}
	h.b.aclDenials.Add(1)
	h.Log.Info("linkkit: topic refused", "device", dev.String(), "topic", topic, "write", write)
	return false
}

func allowed(dev DeviceKey, topic string, write bool) bool {
	if !write {
		return strings.HasPrefix(topic, "/sys/"+dev.ProductKey+"/"+dev.DeviceName+"/thing/")
	}
	if topic == StatusTopic(dev) {
		return true
	}
	t, err := ParseTopic(topic)
	if err != nil || t.Device != dev {
		return false
	}
	switch t.Kind {
	case TopicPropertyPost, TopicEventPost, TopicPropertySetReply, TopicServiceReply:
		return true
	}
	return false
}

func (h *authHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	v, ok := h.b.clientDev.Load(cl)
	if !ok {
		return
	}
	dev := v.(DeviceKey)
	st := Status{Online: true, Since: time.Now(), ClientID: cl.ID, RemoteAddr: cl.Net.Remote}
	h.b.mu.Lock()
	old := h.b.sessions[dev]
	h.b.sessions[dev] = &session{cl: cl, status: st}
	h.b.mu.Unlock()
	h.b.connects.Add(1)
	if old != nil && old.cl != cl {
		// One session per device, as on the platform: the newest wins.
		h.b.replaced.Add(1)
		_ = h.b.srv.DisconnectClient(old.cl, packets.ErrSessionTakenOver)
	}
	h.b.notify(dev, st)
}

func (h *authHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.b.admins.Delete(cl)
	v, ok := h.b.clientDev.LoadAndDelete(cl)
	if !ok {
		return
	}
	dev := v.(DeviceKey)
	h.b.mu.Lock()
	cur, isCurrent := h.b.sessions[dev]
	isCurrent = isCurrent && cur.cl == cl
	var st Status
	if isCurrent {
		delete(h.b.sessions, dev)
		st = Status{Online: false, Since: time.Now(), ClientID: cl.ID, RemoteAddr: cl.Net.Remote}
	}
	h.b.mu.Unlock()
	h.b.disconnects.Add(1)
	if isCurrent {
		h.b.notify(dev, st)
	}
}

// embeddedLink is the Host's in-process path to the embedded broker.
type embeddedLink struct {
	b    *Broker
	qos  byte
	own  bool
	mu   sync.Mutex
	subs map[int]string
}

// inlineSubIDs keeps inline subscription ids unique across Hosts sharing a broker.
var inlineSubIDs atomic.Int32

func (l *embeddedLink) publish(_ context.Context, topic string, payload []byte) error {
	return l.b.srv.Publish(topic, payload, false, l.qos)
}

func (l *embeddedLink) publishNoWait(topic string, payload []byte) {
	_ = l.b.srv.Publish(topic, payload, false, l.qos)
}

func (l *embeddedLink) subscribe(_ context.Context, filter string, h func(topic string, payload []byte)) error {
	id := int(inlineSubIDs.Add(1))
	l.mu.Lock()
	if l.subs == nil {
		l.subs = map[int]string{}
	}
	l.subs[id] = filter
	l.mu.Unlock()
	return l.b.srv.Subscribe(filter, id, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		h(pk.TopicName, pk.Payload)
	})
}

func (l *embeddedLink) close() error {
	l.mu.Lock()
	subs := l.subs
	l.subs = nil
	l.mu.Unlock()
	for id, filter := range subs {
		_ = l.b.srv.Unsubscribe(filter, id)
	}
	if l.own {
		return l.b.Close()
	}
	return nil
}
