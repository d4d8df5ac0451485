package thingmodel

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Message is one device-originated request the Host hands to its Handler:
// a property post or an event post.
type Message struct {
	Device     DeviceKey
	Kind       TopicKind // TopicPropertyPost or TopicEventPost
	Identifier string    // event identifier; "property" for property posts
	Request    *Request
	// Value is the event's output data (params.value) or, for a property
	// post, the params object (see DecodeProperties).
	Value json.RawMessage
	// Time is when the device says the event happened (params.time); zero when absent.
	Time       time.Time
	ReceivedAt time.Time
}

// Handler processes device posts. The Host replies 200 to the device only
// after ServeThing returns nil, so a device that keeps unacknowledged posts
// loses nothing when the handler fails; a *ReplyError picks the reply code.
// Calls for one device are sequential, in arrival order.
type Handler interface {
	ServeThing(ctx context.Context, m *Message) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, m *Message) error

// ServeThing implements Handler.
func (f HandlerFunc) ServeThing(ctx context.Context, m *Message) error { return f(ctx, m) }

// Status is a device's MQTT session state.
type Status struct {
	Online     bool
	Since      time.Time // when Online last changed
	LastSeen   time.Time // last message from the device (zero if none)
	ClientID   string
	RemoteAddr string
}

// Stats are the Host's counters.
type Stats struct {
	Invokes        uint64 // service invokes and property sets sent
	InvokeOK       uint64
	InvokeRejected uint64 // replies with a code other than 200
	InvokeTimeouts uint64
	InvokeOffline  uint64 // refused at once: no session
	UnknownReplies uint64 // replies whose id matched no request
	Events         uint64 // event posts received
	PropertyPosts  uint64
	HandlerErrors  uint64 // posts answered with an error code
	BusyPosts      uint64 // posts answered 429 because their device's queue was full
	Malformed      uint64 // messages that failed to decode
	BadTopics      uint64
	Pending        int
	Online         int
	Broker         *BrokerStats // embedded mode only
}

// Option configures NewHost.
type Option func(*hostConfig) error

type hostConfig struct {
	handler   Handler
	onStatus  func(DeviceKey, Status)
	onError   func(error)
	timeout   time.Duration
	qos       byte
	logger    *slog.Logger
	secrets   SecretStore
	brokerOps []BrokerOption
	broker    *Broker
	url       string
	username  string
	password  string
	clientID  string
	tls       *tls.Config
	shards    int
}

// WithHandler sets the Handler for device posts. Without one, posts are
// answered with code 404 (the device keeps them) and counted.
func WithHandler(h Handler) Option { return func(c *hostConfig) error { c.handler = h; return nil } }

// WithOnStatus is called when a device's session starts or ends. It
// runs on a connection goroutine and must not block.
func WithOnStatus(fn func(DeviceKey, Status)) Option {
	return func(c *hostConfig) error { c.onStatus = fn; return nil }
}

// WithOnError receives bad input from devices (*DecodeError,
// *UnknownReplyError, ErrBadTopic) that no caller is waiting for. It must not block.
func WithOnError(fn func(error)) Option {
	return func(c *hostConfig) error { c.onError = fn; return nil }
}

// WithRequestTimeout bounds each invoke when the context has no earlier
// deadline (default 5 s; the platform's remote open allows 15 s).
func WithRequestTimeout(d time.Duration) Option {
	return func(c *hostConfig) error {
		if d <= 0 {
			return errors.New("thingmodel: request timeout must be positive")
		}
		c.timeout = d
		return nil
	}
}

// WithQoS sets the MQTT QoS of the Host's publications and subscriptions (default 1).
func WithQoS(q byte) Option {
	return func(c *hostConfig) error {
		if q > 1 {
			return errors.New("thingmodel: QoS must be 0 or 1")
		}
		c.qos = q
		return nil
	}
}

// WithLogger sets the Host's logger (default and nil: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *hostConfig) error { c.logger = orDiscard(l); return nil }
}

// WithSecrets runs the default embedded broker, authenticating devices
// against s. opts configure it (address, TLS, clock skew).
func WithSecrets(s SecretStore, opts ...BrokerOption) Option {
	return func(c *hostConfig) error { c.secrets, c.brokerOps = s, opts; return nil }
}

// WithEmbeddedBroker attaches the Host to a Broker the caller owns.
func WithEmbeddedBroker(b *Broker) Option {
	return func(c *hostConfig) error { c.broker = b; return nil }
}

// WithBrokerURL makes the Host a client of an external broker
// ("tcp://host:1883", "ssl://host:8883") instead of running its own. The
// broker does device authentication and ACLs; devices announce their
// session on /as/mqtt/status/{pk}/{dn} (DeviceClient does, with a retained
// birth message and a will).
func WithBrokerURL(url, username, password string) Option {
	return func(c *hostConfig) error { c.url, c.username, c.password = url, username, password; return nil }
}

// WithClientID sets the Host's MQTT client id on an external broker.
func WithClientID(id string) Option { return func(c *hostConfig) error { c.clientID = id; return nil } }

// WithTLS sets the TLS configuration for an external broker.
func WithTLS(cfg *tls.Config) Option { return func(c *hostConfig) error { c.tls = cfg; return nil } }

// Host is the host side of the thing-model carrier: it invokes services and
// sets properties on devices, receives their posts, and tracks their sessions.
type Host struct {
	cfg      hostConfig
	link     link
	broker   *Broker
	external bool
	ids      *idGen
	pending  *pending
	ctx      context.Context // lifetime of handler calls
	cancel   context.CancelFunc
	posts    *dispatcher
	unwatch  func() // stops the embedded broker's session notifications

	subMu sync.Mutex
	subs  map[string]*subOnce // reply filters, subscribed on first use

	stMu    sync.Mutex
	status  map[DeviceKey]*Status
	waiters map[DeviceKey][]chan struct{} // WaitOnline callers
	ready   map[DeviceKey]*readiness

	closed atomic.Bool

	invokes, invokeOK, invokeRejected, invokeTimeouts, invokeOffline atomic.Uint64
	unknownReplies, events, propertyPosts, handlerErrors             atomic.Uint64
	malformedIn, badTopics, busyPosts                                atomic.Uint64
}

type subOnce struct {
	done chan struct{}
	err  error
}

// NewHost starts a Host. With WithBrokerURL it connects to that broker;
// with WithEmbeddedBroker it uses the given one; otherwise it starts an
// embedded broker, which needs WithSecrets.
func NewHost(ctx context.Context, opts ...Option) (*Host, error) {
	cfg := hostConfig{timeout: 5 * time.Second, qos: 1, logger: slog.New(slog.DiscardHandler), shards: 4}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	h := &Host{cfg: cfg, ids: newIDGen(), pending: newPending(), subs: map[string]*subOnce{}, status: map[DeviceKey]*Status{},
		ready: map[DeviceKey]*readiness{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	var err error
	switch {
	case cfg.url != "":
		h.external = true
		id := cfg.clientID
		if id == "" {
			id = randomID("menjin-host-")
		}
		var el *externalLink
		el, err = newExternalLink(ctx, pahoConfig{url: cfg.url, clientID: id, username: cfg.username,
			password: cfg.password, tls: cfg.tls}, cfg.qos)
		if err == nil {
			h.link = el
		}
	case cfg.broker != nil:
		h.broker = cfg.broker
		h.link = &embeddedLink{b: cfg.broker, qos: cfg.qos}
	default:
		if cfg.secrets == nil {
			err = errors.New("thingmodel: the embedded broker needs WithSecrets (or use WithBrokerURL)")
			break
		}
		h.broker, err = NewBroker(cfg.secrets, cfg.brokerOps...)
		if err == nil {
			h.link = &embeddedLink{b: h.broker, qos: cfg.qos, own: true}
		}
	}
	if err != nil {
		h.cancel()
		return nil, err
	}
	h.posts = newDispatcher(cfg.shards, 1024, h.onPost)
	if h.broker != nil {
		var online map[DeviceKey]Status
		online, h.unwatch = h.broker.watch(h.sessionChanged)
		for dev, st := range online {
			h.sessionChanged(dev, st)
		}
	}
	if err := h.subscribeAll(ctx); err != nil {
		_ = h.Close()
		return nil, err
	}
	return h, nil
}

func (h *Host) subscribeAll(ctx context.Context) error {
	if err := h.link.subscribe(ctx, "/sys/+/+/thing/event/+/post", h.offerPost); err != nil {
		return err
	}
	// On an external broker the announcements are the session state; on
	// the embedded one they say the device has subscribed (WaitReady).
	return h.link.subscribe(ctx, "/as/mqtt/status/+/+", h.onStatusMessage)
}

// Invoke calls service identifier on dev with params (any JSON-marshalable
// value; nil sends {}) and waits for the reply. A reply with a code other
// than 200 returns the reply and a *ReplyError (errors.Is(err, ErrRejected)).
func (h *Host) Invoke(ctx context.Context, dev DeviceKey, identifier string, params any) (*Reply, error) {
	if !validIdentifier(identifier) || identifier == "property" {
		return nil, fmt.Errorf("thingmodel: invalid service identifier %q", identifier)
	}
	return h.request(ctx, Topic{Kind: TopicService, Device: dev, Identifier: identifier}, params)
}

// SetProperties sends thing.service.property.set with props (e.g.
// map[string]any{"RSAPublicKey": key}) and waits for the device's reply.
func (h *Host) SetProperties(ctx context.Context, dev DeviceKey, props any) (*Reply, error) {
	return h.request(ctx, Topic{Kind: TopicPropertySet, Device: dev, Identifier: "property"}, props)
}

func (h *Host) request(ctx context.Context, t Topic, params any) (*Reply, error) {
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if !t.Device.Valid() {
		return nil, fmt.Errorf("thingmodel: invalid device key %q", t.Device)
	}
	h.invokes.Add(1)
	if !h.Online(t.Device) {
		h.invokeOffline.Add(1)
		return nil, fmt.Errorf("%w: %s", ErrOffline, t.Device)
	}
	rt := t.ReplyTopic()
	if err := h.ensureReplySub(ctx, rt); err != nil {
		return nil, err
	}
	raw, err := marshalParams(params)
	if err != nil {
		return nil, err
	}
	rep, err := h.pending.call(ctx, h.ids, t, raw, h.cfg.timeout, h.link.publish)
	switch {
	case err == nil:
		h.invokeOK.Add(1)
	case errors.Is(err, ErrRejected):
		h.invokeRejected.Add(1)
	case errors.Is(err, ErrTimeout):
		h.invokeTimeouts.Add(1)
	}
	return rep, err
}

// ensureReplySub subscribes to the reply topic of a service for all devices
// the first time it is invoked. Subscribing to exact reply topics (rather
// than /thing/service/+) keeps the Host from receiving its own requests.
func (h *Host) ensureReplySub(ctx context.Context, rt Topic) error {
	filter := "/sys/+/+/thing/service/" + rt.Identifier + replySuffix
	if rt.Kind == TopicPropertySetReply {
		filter = "/sys/+/+/thing/service/property/set_reply"
	}
	h.subMu.Lock()
	s, ok := h.subs[filter]
	if !ok {
		s = &subOnce{done: make(chan struct{})}
		h.subs[filter] = s
	}
	h.subMu.Unlock()
	if !ok {
		s.err = h.link.subscribe(ctx, filter, h.onReply)
		if s.err != nil {
			h.subMu.Lock()
			delete(h.subs, filter) // let a later call try again
			h.subMu.Unlock()
		}
		close(s.done)
	}
	select {
	case <-s.done:
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Host) report(err error) {
	h.cfg.logger.Debug("thingmodel: bad input", "error", err)
	if h.cfg.onError != nil {
		h.cfg.onError(err)
	}
}

// onReply matches a device's reply to the waiting request.
func (h *Host) onReply(topic string, payload []byte) {
	if h.closed.Load() {
		return
	}
	t, err := ParseTopic(topic)
	if err != nil || !t.Kind.IsReply() {
		h.badTopics.Add(1)
		h.report(badTopic(topic))
		return
	}
	h.seen(t.Device)
	r, err := DecodeReply(payload)
	if err != nil {
		h.malformedIn.Add(1)
		var de *DecodeError
		if errors.As(err, &de) {
			de.Topic = topic
		}
		// Fail the waiting request now rather than let it time out.
		if id, ok := PeekID(payload); ok {
			h.pending.failID(t.Device, id, err)
		} else {
			h.pending.failSole(t.Device, t.Kind, t.Identifier, err)
		}
		h.report(err)
		return
	}
	if !h.pending.resolve(t.Device, r) {
		h.unknownReplies.Add(1)
		h.report(&UnknownReplyError{Device: t.Device, Topic: topic, ID: r.ID})
	}
}

// onPost hands a device's property or event post to the Handler and
// replies with the outcome.
func (h *Host) onPost(topic string, payload []byte) {
	if h.closed.Load() {
		return
	}
	received := time.Now()
	t, err := ParseTopic(topic)
	if err != nil || (t.Kind != TopicPropertyPost && t.Kind != TopicEventPost) {
		h.badTopics.Add(1)
		h.report(badTopic(topic))
		return
	}
	h.seen(t.Device)
	rt := t.ReplyTopic()
	req, err := DecodeRequest(payload)
	if err != nil {
		h.malformedIn.Add(1)
		var de *DecodeError
		if errors.As(err, &de) {
			de.Topic = topic
		}
		h.report(err)
		if id, ok := PeekID(payload); ok {
			h.reply(rt, &Reply{ID: id, Code: CodeBadRequest, Message: err.Error(), Method: rt.Method()})
		}
		return
	}
	m := &Message{Device: t.Device, Kind: t.Kind, Identifier: t.Identifier, Request: req, ReceivedAt: received}
	if t.Kind == TopicEventPost {
		h.events.Add(1)
		m.Value, m.Time, err = DecodeEventParams(req.Params)
	} else {
		h.propertyPosts.Add(1)
		m.Value = req.Params
	}
	if err == nil {
		if h.cfg.handler == nil {
			err = ErrNoHandler
		} else {
			err = h.serve(m)
		}
	}
	if err != nil {
		h.handlerErrors.Add(1)
		h.cfg.logger.Warn("thingmodel: post not accepted", "device", t.Device.String(), "method", req.Method, "error", err)
	}
	if req.Sys != nil && req.Sys.Ack != nil && *req.Sys.Ack == 0 {
		return // the device asked for no reply
	}
	code, msg := replyCode(err)
	h.reply(rt, &Reply{ID: req.ID, Code: code, Message: msg, Method: req.Method, Version: Version})
}

// serve calls the handler, turning a panic into an error reply: a bad
// handler must not take the broker connection down.
func (h *Host) serve(m *Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("thingmodel: handler panic: %v", p)
		}
	}()
	return h.cfg.handler.ServeThing(h.ctx, m)
}

// offerPost queues a device's post for its shard, or answers 429 at once
// when the shard is full (the device keeps the post and retries).
func (h *Host) offerPost(topic string, payload []byte) {
	if h.closed.Load() || h.posts.offer(topic, payload) {
		return
	}
	h.busyPosts.Add(1)
	t, err := ParseTopic(topic)
	id, ok := PeekID(payload)
	if err != nil || !ok {
		return
	}
	rt := t.ReplyTopic()
	if b, err := (&Reply{ID: id, Code: CodeTooMany, Message: "busy", Method: rt.Method()}).Encode(); err == nil {
		h.link.publishNoWait(rt.String(), b)
	}
}

func (h *Host) reply(t Topic, r *Reply) {
	b, err := r.Encode()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.timeout)
	defer cancel()
	if err := h.link.publish(ctx, t.String(), b); err != nil {
		h.cfg.logger.Warn("thingmodel: reply not sent", "topic", t.String(), "error", err)
	}
}

// onStatusMessage reads session announcements on an external broker.
func (h *Host) onStatusMessage(topic string, payload []byte) {
	t, err := ParseTopic(topic)
	if err != nil || t.Kind != TopicStatus {
		h.badTopics.Add(1)
		return
	}
	var s struct {
		Status   string `json:"status"`
		ClientID string `json:"clientId"`
		ClientIP string `json:"clientIp"`
	}
	if err := json.Unmarshal(payload, &s); err != nil || (s.Status != "online" && s.Status != "offline") {
		h.malformedIn.Add(1)
		h.report(&DecodeError{Topic: topic, Reason: "bad status message", Err: ErrMalformed})
		return
	}
	online := s.Status == "online"
	if h.external {
		h.sessionChanged(t.Device, Status{Online: online, Since: time.Now(), ClientID: s.ClientID, RemoteAddr: s.ClientIP})
	}
	if online {
		h.markReady(t.Device)
	}
}

// readiness is per device: closed once the device announced itself in its
// current session, which a LinkKit device does after subscribing.
type readiness struct {
	ch     chan struct{}
	closed bool
}

func (h *Host) readyLocked(dev DeviceKey) *readiness {
	r := h.ready[dev]
	if r == nil {
		r = &readiness{ch: make(chan struct{})}
		h.ready[dev] = r
	}
	return r
}

func (h *Host) markReady(dev DeviceKey) {
	h.stMu.Lock()
	defer h.stMu.Unlock()
	if r := h.readyLocked(dev); !r.closed {
		r.closed = true
		close(r.ch)
	}
}

// WaitReady waits until dev has announced itself on its status topic in
// its current session (DeviceClient does once it has subscribed), so that
// a request sent now is heard. A device that never announces keeps
// WaitReady waiting until ctx ends: bound ctx and send anyway.
func (h *Host) WaitReady(ctx context.Context, dev DeviceKey) error {
	h.stMu.Lock()
	ch := h.readyLocked(dev).ch
	h.stMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-h.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Host) sessionChanged(dev DeviceKey, st Status) {
	h.stMu.Lock()
	cur, ok := h.status[dev]
	if !ok {
		cur = &Status{}
		h.status[dev] = cur
	}
	changed := cur.Online != st.Online || cur.ClientID != st.ClientID
	st.LastSeen = cur.LastSeen
	if st.Online && st.LastSeen.Before(st.Since) {
		st.LastSeen = st.Since // the CONNECT is traffic too
	}
	if changed && !h.external {
		// A session ended or a new one began: the next must announce itself
		// again, or a request sent between its CONNECT and its SUBSCRIBE
		// (WaitReady returning on the old session's announcement) is lost.
		if r := h.readyLocked(dev); r.closed {
			h.ready[dev] = &readiness{ch: make(chan struct{})}
		}
	}
	*cur = st
	if st.Online {
		for _, ch := range h.waiters[dev] {
			close(ch)
		}
		delete(h.waiters, dev)
	}
	h.stMu.Unlock()
	if !st.Online {
		h.pending.failDevice(&dev, fmt.Errorf("%w: %s disconnected", ErrOffline, dev))
	}
	if changed && h.cfg.onStatus != nil && !h.closed.Load() {
		h.cfg.onStatus(dev, st)
	}
}

// seen records traffic from dev. On an external broker a device that
// talks is online even if its announcement was lost.
func (h *Host) seen(dev DeviceKey) {
	now := time.Now()
	h.stMu.Lock()
	cur, ok := h.status[dev]
	if ok {
		cur.LastSeen = now
	}
	h.stMu.Unlock()
	if h.external && (!ok || !cur.Online) {
		h.sessionChanged(dev, Status{Online: true, Since: now, LastSeen: now})
	}
}

// Online reports whether dev has an MQTT session.
func (h *Host) Online(dev DeviceKey) bool {
	h.stMu.Lock()
	defer h.stMu.Unlock()
	st, ok := h.status[dev]
	return ok && st.Online
}

// WaitOnline blocks until dev has a session, ctx ends or the Host closes.
func (h *Host) WaitOnline(ctx context.Context, dev DeviceKey) error {
	h.stMu.Lock()
	if st, ok := h.status[dev]; ok && st.Online {
		h.stMu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	if h.waiters == nil {
		h.waiters = map[DeviceKey][]chan struct{}{}
	}
	h.waiters[dev] = append(h.waiters[dev], ch)
	h.stMu.Unlock()
	var err error
	select {
	case <-ch:
		return nil
	case <-h.ctx.Done():
		err = ErrClosed
	case <-ctx.Done():
		err = fmt.Errorf("%w: %s: %w", ErrOffline, dev, ctx.Err())
	}
	h.stMu.Lock()
	ws := h.waiters[dev]
	for i, c := range ws {
		if c == ch {
			h.waiters[dev] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(h.waiters[dev]) == 0 {
		delete(h.waiters, dev)
	}
	h.stMu.Unlock()
	return err
}

// Status returns what the Host knows about dev's session.
func (h *Host) Status(dev DeviceKey) (Status, bool) {
	h.stMu.Lock()
	defer h.stMu.Unlock()
	st, ok := h.status[dev]
	if !ok {
		return Status{}, false
	}
	return *st, true
}

// Broker returns the embedded broker, or nil on an external broker.
func (h *Host) Broker() *Broker { return h.broker }

// Stats returns the Host's counters.
func (h *Host) Stats() Stats {
	s := Stats{
		Invokes: h.invokes.Load(), InvokeOK: h.invokeOK.Load(), InvokeRejected: h.invokeRejected.Load(),
		InvokeTimeouts: h.invokeTimeouts.Load(), InvokeOffline: h.invokeOffline.Load(),
		UnknownReplies: h.unknownReplies.Load(), Events: h.events.Load(), PropertyPosts: h.propertyPosts.Load(),
		HandlerErrors: h.handlerErrors.Load(), BusyPosts: h.busyPosts.Load(), Malformed: h.malformedIn.Load(), BadTopics: h.badTopics.Load(),
		Pending: h.pending.len(),
	}
	h.stMu.Lock()
	for _, st := range h.status {
		if st.Online {
			s.Online++
		}
	}
	h.stMu.Unlock()
	if h.broker != nil {
		bs := h.broker.Stats()
		s.Broker = &bs
	}
	return s
}

// Close fails outstanding requests with ErrClosed and stops the Host (and
// the embedded broker it started).
func (h *Host) Close() error {
	if h.closed.Swap(true) {
		return nil
	}
	h.cancel()
	if h.unwatch != nil {
		h.unwatch()
	}
	h.pending.failDevice(nil, ErrClosed)
	err := h.link.close()
	if h.posts != nil {
		h.posts.close()
	}
	return err
}
