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

	paho "github.com/eclipse/paho.mqtt.golang"
)

// ServiceHandler answers one service invoke on the device side. The
// returned data becomes the reply's data; an error becomes an error code
// (a *ReplyError chooses it).
type ServiceHandler func(ctx context.Context, req *Request) (data any, err error)

// DeviceOption configures Dial.
type DeviceOption func(*deviceConfig) error

type deviceConfig struct {
	clientID   string
	signMethod SignMethod
	timeout    time.Duration
	qos        byte
	tls        *tls.Config
	announce   bool
	services   map[string]ServiceHandler
	propSet    ServiceHandler
	queueDepth int
	logger     *slog.Logger
	now        func() time.Time
	signTime   time.Time
	keepAlive  time.Duration
}

// WithDeviceClientID sets the id part of the MQTT client id (default "{pk}.{dn}").
func WithDeviceClientID(id string) DeviceOption {
	return func(c *deviceConfig) error { c.clientID = id; return nil }
}

// WithSignMethod sets the password HMAC (default hmacsha256).
func WithSignMethod(m SignMethod) DeviceOption {
	return func(c *deviceConfig) error { c.signMethod = m; return nil }
}

// WithDeviceTimeout bounds waits for the host's replies to posts (default 5 s).
func WithDeviceTimeout(d time.Duration) DeviceOption {
	return func(c *deviceConfig) error { c.timeout = d; return nil }
}

// WithDeviceTLS connects over TLS.
func WithDeviceTLS(cfg *tls.Config) DeviceOption {
	return func(c *deviceConfig) error { c.tls = cfg; return nil }
}

// WithDeviceQoS sets the QoS of the device's publications (default 1).
func WithDeviceQoS(q byte) DeviceOption {
	return func(c *deviceConfig) error {
		if q > 1 {
			return errors.New("thingmodel: QoS must be 0 or 1")
		}
		c.qos = q
		return nil
	}
}

// WithAnnounce controls the retained online message and offline will on
// /as/mqtt/status/{pk}/{dn} (default on): a Host on an external broker
// learns sessions from them; the embedded broker knows them itself.
func WithAnnounce(on bool) DeviceOption {
	return func(c *deviceConfig) error { c.announce = on; return nil }
}

// WithService registers a service handler before connecting, so that no
// invoke arriving right after the connect finds it missing.
func WithService(identifier string, h ServiceHandler) DeviceOption {
	return func(c *deviceConfig) error {
		if !validIdentifier(identifier) || identifier == "property" {
			return fmt.Errorf("thingmodel: invalid service identifier %q", identifier)
		}
		c.services[identifier] = h
		return nil
	}
}

// WithPropertySet registers the handler of thing.service.property.set.
func WithPropertySet(h ServiceHandler) DeviceOption {
	return func(c *deviceConfig) error { c.propSet = h; return nil }
}

// WithSignTime signs the MQTT password with a fixed time instead of the
// clock's: doors without a clock do this, and a broker that stores static
// passwords (Mosquitto's password_file) needs it.
func WithSignTime(t time.Time) DeviceOption {
	return func(c *deviceConfig) error { c.signTime = t; return nil }
}

// WithDeviceKeepAlive sets the MQTT keepalive the device declares (default
// paho's 30 s). The broker drops a session silent for 1.5 × it, which is
// how a host learns that a door went quiet without closing its socket.
func WithDeviceKeepAlive(d time.Duration) DeviceOption {
	return func(c *deviceConfig) error {
		if d < time.Second {
			return errors.New("thingmodel: keepalive under 1 s")
		}
		c.keepAlive = d
		return nil
	}
}

// WithDeviceLogger sets the device client's logger (default: discard).
func WithDeviceLogger(l *slog.Logger) DeviceOption {
	return func(c *deviceConfig) error { c.logger = orDiscard(l); return nil }
}

// DeviceClient is the device side of the carrier, for simulators and Go
// firmware: it connects with the triple, answers service invokes and
// property sets, and posts properties and events.
type DeviceClient struct {
	triple   Triple
	dev      DeviceKey
	clientID string
	cfg      deviceConfig
	c        paho.Client
	ids      *idGen
	pend     *pending
	ctx      context.Context
	cancel   context.CancelFunc

	mu     sync.Mutex
	queues map[string]chan *Request // one worker per service: per-service order, no cross-blocking
	wg     sync.WaitGroup
	closed atomic.Bool

	connected                                 atomic.Bool
	posts, postErrors, invokes, busy, badMsgs atomic.Uint64
}

// DeviceStats are a DeviceClient's counters.
type DeviceStats struct {
	Posts      uint64 // property and event posts acknowledged with 200
	PostErrors uint64 // posts that failed (timeout, error code, offline)
	Invokes    uint64 // service invokes and property sets received
	Busy       uint64 // invokes refused with 429 because the service queue was full
	Malformed  uint64
	Connected  bool
}

// Dial connects a device to brokerURL ("tcp://host:1883") with its triple.
func Dial(ctx context.Context, brokerURL string, t Triple, opts ...DeviceOption) (*DeviceClient, error) {
	cfg := deviceConfig{signMethod: HMACSHA256, timeout: 5 * time.Second, qos: 1, announce: true,
		services: map[string]ServiceHandler{}, queueDepth: 256, logger: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	signAt := cfg.signTime
	if signAt.IsZero() {
		signAt = cfg.now()
	}
	cred, err := Sign(t, cfg.clientID, signAt, cfg.signMethod)
	if err != nil {
		return nil, err
	}
	d := &DeviceClient{triple: t, dev: t.Key(), cfg: cfg, clientID: cred.ClientID, ids: newIDGen(), pend: newPending(), queues: map[string]chan *Request{}}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	pc := pahoConfig{url: brokerURL, clientID: cred.ClientID, username: cred.Username, password: cred.Password,
		tls: cfg.tls, keepAlive: cfg.keepAlive}
	if cfg.announce {
		pc.will = &willMsg{topic: StatusTopic(d.dev), payload: d.statusPayload("offline")}
	}
	subscribed := make(chan error, 1)
	pc.onConnect = func(c paho.Client) {
		// Runs after every (re)connect: clean sessions forget subscriptions.
		err := d.subscribe(c)
		if err == nil && cfg.announce {
			t := c.Publish(StatusTopic(d.dev), 1, true, d.statusPayload("online"))
			if !t.WaitTimeout(cfg.timeout) {
				err = fmt.Errorf("%w: announce", ErrTimeout)
			} else {
				err = t.Error()
			}
		}
		d.connected.Store(err == nil)
		select {
		case subscribed <- err:
		default:
		}
	}
	pc.onLost = func(error) {
		d.connected.Store(false)
		d.pend.failDevice(nil, fmt.Errorf("%w: connection lost", ErrOffline))
	}
	d.c = newPaho(pc) // stored before connecting: invokes may arrive at once
	if err := connect(ctx, d.c, brokerURL); err != nil {
		d.cancel()
		return nil, err
	}
	select {
	case err = <-subscribed:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("thingmodel: device %s setup: %w", d.dev, err)
	}
	return d, nil
}

func (d *DeviceClient) statusPayload(status string) []byte {
	b, _ := json.Marshal(map[string]any{"status": status, "productKey": d.dev.ProductKey, "deviceName": d.dev.DeviceName,
		"clientId": d.clientID, "time": d.cfg.now().UnixMilli()})
	return b
}

// subscribe runs on paho's connect goroutine; waiting for SUBACKs there is allowed.
func (d *DeviceClient) subscribe(c paho.Client) error {
	base := "/sys/" + d.dev.ProductKey + "/" + d.dev.DeviceName + "/thing/"
	filters := map[string]byte{base + "event/+/post_reply": d.cfg.qos, base + "service/property/set": d.cfg.qos}
	d.mu.Lock()
	for id := range d.cfg.services {
		filters[base+"service/"+id] = d.cfg.qos
	}
	d.mu.Unlock()
	t := c.SubscribeMultiple(filters, d.onMessage)
	if !t.WaitTimeout(d.cfg.timeout) {
		return fmt.Errorf("%w: subscribe", ErrTimeout)
	}
	return t.Error()
}

// HandleService registers (or replaces) a service handler after Dial.
func (d *DeviceClient) HandleService(ctx context.Context, identifier string, h ServiceHandler) error {
	if !validIdentifier(identifier) || identifier == "property" {
		return fmt.Errorf("thingmodel: invalid service identifier %q", identifier)
	}
	d.mu.Lock()
	d.cfg.services[identifier] = h
	d.mu.Unlock()
	return wait(ctx, d.c.Subscribe(ServiceTopic(d.dev, identifier), d.cfg.qos, d.onMessage))
}

// Key returns the device's ProductKey/DeviceName.
func (d *DeviceClient) Key() DeviceKey { return d.dev }

func (d *DeviceClient) onMessage(_ paho.Client, m paho.Message) {
	t, err := ParseTopic(m.Topic())
	if err != nil || t.Device != d.dev {
		d.badMsgs.Add(1)
		return
	}
	switch t.Kind {
	case TopicEventPostReply, TopicPropertyPostReply:
		r, err := DecodeReply(m.Payload())
		if err != nil {
			d.badMsgs.Add(1)
			if id, ok := PeekID(m.Payload()); ok {
				d.pend.failID(d.dev, id, err)
			}
			return
		}
		d.pend.resolve(d.dev, r)
	case TopicService, TopicPropertySet:
		d.enqueue(t, m.Payload())
	default:
		d.badMsgs.Add(1)
	}
}

// enqueue hands an invoke to its service's worker without blocking paho's
// delivery goroutine (which also carries the replies posts wait for).
func (d *DeviceClient) enqueue(t Topic, payload []byte) {
	d.invokes.Add(1)
	rt := t.ReplyTopic()
	req, err := DecodeRequest(payload)
	if err != nil {
		d.badMsgs.Add(1)
		if id, ok := PeekID(payload); ok {
			d.replyNoWait(rt, &Reply{ID: id, Code: CodeBadRequest, Message: err.Error()})
		}
		return
	}
	d.mu.Lock()
	if d.closed.Load() {
		d.mu.Unlock()
		return
	}
	q, ok := d.queues[t.Identifier]
	if !ok {
		q = make(chan *Request, d.cfg.queueDepth)
		d.queues[t.Identifier] = q
		d.wg.Add(1)
		go d.worker(t, q)
	}
	d.mu.Unlock()
	select {
	case q <- req:
	default:
		d.busy.Add(1)
		d.replyNoWait(rt, &Reply{ID: req.ID, Code: CodeTooMany, Message: "busy", Method: req.Method})
	}
}

func (d *DeviceClient) worker(t Topic, q chan *Request) {
	defer d.wg.Done()
	rt := t.ReplyTopic()
	for {
		select {
		case req := <-q:
			data, err := d.call(t, req)
			code, msg := replyCode(err)
			r := &Reply{ID: req.ID, Code: code, Message: msg, Method: req.Method, Version: Version}
			if err == nil && data != nil {
				if b, mErr := marshalParams(data); mErr == nil {
					r.Data = b
				} else {
					r.Code, r.Message = CodeInternal, mErr.Error()
				}
			}
			d.publishReply(rt, r)
		case <-d.ctx.Done():
			return
		}
	}
}

func (d *DeviceClient) call(t Topic, req *Request) (data any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("thingmodel: service handler panic: %v", p)
		}
	}()
	d.mu.Lock()
	h := d.cfg.services[t.Identifier]
	if t.Kind == TopicPropertySet {
		h = d.cfg.propSet
	}
	d.mu.Unlock()
	if h == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoHandler, req.Method)
	}
	return h(d.ctx, req)
}

// replyNoWait is for paho's delivery goroutine, which must never wait for
// an acknowledgement: paho reads PUBACKs on the goroutine that feeds it.
func (d *DeviceClient) replyNoWait(t Topic, r *Reply) {
	if b, err := r.Encode(); err == nil {
		d.c.Publish(t.String(), d.cfg.qos, false, b)
	}
}

func (d *DeviceClient) publishReply(t Topic, r *Reply) {
	b, err := r.Encode()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.timeout)
	defer cancel()
	if err := wait(ctx, d.c.Publish(t.String(), d.cfg.qos, false, b)); err != nil {
		d.cfg.logger.Warn("thingmodel: reply not sent", "topic", t.String(), "error", err)
	}
}

// PostEvent posts event identifier with its output data, stamped now, and
// waits for the host's reply. Keep the event and retry when this fails:
// the host acknowledges only what it has accepted.
func (d *DeviceClient) PostEvent(ctx context.Context, identifier string, value any) (*Reply, error) {
	return d.PostEventAt(ctx, identifier, value, d.cfg.now())
}

// PostEventAt posts an event that happened at a given time (queued offline events).
func (d *DeviceClient) PostEventAt(ctx context.Context, identifier string, value any, at time.Time) (*Reply, error) {
	if !validIdentifier(identifier) || identifier == "property" {
		return nil, fmt.Errorf("thingmodel: invalid event identifier %q", identifier)
	}
	v, err := marshalParams(value)
	if err != nil {
		return nil, err
	}
	params, err := json.Marshal(EventParams{Value: v, Time: at.UnixMilli()})
	if err != nil {
		return nil, err
	}
	return d.post(ctx, Topic{Kind: TopicEventPost, Device: d.dev, Identifier: identifier}, params)
}

// PostProperties posts property values ({"Prop": value, ...}).
func (d *DeviceClient) PostProperties(ctx context.Context, props any) (*Reply, error) {
	params, err := marshalParams(props)
	if err != nil {
		return nil, err
	}
	return d.post(ctx, Topic{Kind: TopicPropertyPost, Device: d.dev, Identifier: "property"}, params)
}

func (d *DeviceClient) post(ctx context.Context, t Topic, params json.RawMessage) (*Reply, error) {
	r, err := d.doPost(ctx, t, params)
	if err != nil {
		d.postErrors.Add(1)
	} else {
		d.posts.Add(1)
	}
	return r, err
}

func (d *DeviceClient) doPost(ctx context.Context, t Topic, params json.RawMessage) (*Reply, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	if !d.connected.Load() {
		return nil, fmt.Errorf("%w: %s not connected", ErrOffline, d.dev)
	}
	return d.pend.call(ctx, d.ids, t, params, d.cfg.timeout, func(ctx context.Context, topic string, payload []byte) error {
		return wait(ctx, d.c.Publish(topic, d.cfg.qos, false, payload))
	})
}

// Stats returns the device client's counters.
func (d *DeviceClient) Stats() DeviceStats {
	return DeviceStats{Posts: d.posts.Load(), PostErrors: d.postErrors.Load(), Invokes: d.invokes.Load(),
		Busy: d.busy.Load(), Malformed: d.badMsgs.Load(), Connected: d.connected.Load()}
}

// Close announces offline (a clean disconnect sends no will), disconnects
// and stops the service workers.
func (d *DeviceClient) Close() error {
	d.mu.Lock()
	already := d.closed.Swap(true)
	d.mu.Unlock()
	if already {
		return nil
	}
	if d.cfg.announce && d.connected.Load() {
		d.c.Publish(StatusTopic(d.dev), 1, true, d.statusPayload("offline")).WaitTimeout(time.Second)
	}
	d.connected.Store(false)
	d.cancel()
	d.pend.failDevice(nil, ErrClosed)
	d.c.Disconnect(250)
	d.wg.Wait()
	return nil
}
