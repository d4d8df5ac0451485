package linkkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/liveness"
	"github.com/menjin/menjin/transport/backoff"
	"github.com/menjin/menjin/transport/thingmodel"
)

// Option configures NewHub.
type Option func(*config) error

type config struct {
	hostOpts    []thingmodel.Option
	sink        accessctl.EventSink
	files       *FileServer
	rsaKey      string
	event       EventOptions
	syncTimeout time.Duration
	logger      *slog.Logger
	fallback    thingmodel.Handler
	ledger      accessctl.Ledger
}

// WithHostOptions configures the thing-model Host (broker, secrets, timeouts).
func WithHostOptions(opts ...thingmodel.Option) Option {
	return func(c *config) error { c.hostOpts = append(c.hostOpts, opts...); return nil }
}

// WithSink receives pass events and online/offline changes. Without one,
// the doors' passEvents are refused (they keep them) rather than lost.
func WithSink(s accessctl.EventSink) Option { return func(c *config) error { c.sink = s; return nil } }

// WithFileServer serves the permission files PutGrant sends.
func WithFileServer(fs *FileServer) Option { return func(c *config) error { c.files = fs; return nil } }

// WithRSAPublicKey sets the RSAPublicKey property pushed to every door when
// it comes online (Base64 SPKI DER, spec §2.1).
func WithRSAPublicKey(key string) Option { return func(c *config) error { c.rsaKey = key; return nil } }

// WithEventOptions sets the platform, site, direction and password
// handling of the events made from passEvent.
func WithEventOptions(o EventOptions) Option {
	return func(c *config) error { c.event = o; return nil }
}

// WithSyncTimeout bounds one syncPermissions call, download included (default 60 s).
func WithSyncTimeout(d time.Duration) Option {
	return func(c *config) error { c.syncTimeout = d; return nil }
}

// WithLedger records in l the permission-file entries each door holds per
// person (a door cannot list them), so that RemoveGrant still deletes them
// after a restart. Default: an accessctl.MemoryLedger, lost on restart;
// hosts pass store.DB.Ledger(). Additions are recorded before the file is
// sent and deletions forgotten only after the door applied it, so a crash
// leaves the ledger holding at least what the door holds.
func WithLedger(l accessctl.Ledger) Option { return func(c *config) error { c.ledger = l; return nil } }

// WithLogger sets the hub's logger (default and nil: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.logger = l
		return nil
	}
}

// WithThingHandler receives the posts that are not passEvent (other events,
// property posts other than RSAPublicKey). Without it they are refused.
func WithThingHandler(h thingmodel.Handler) Option {
	return func(c *config) error { c.fallback = h; return nil }
}

// Hub drives LinkKit multi-function doors over one thing-model Host: door
// handles for opening and permission sync, passEvents to an EventSink, the
// RSA public key pushed after each connect.
type Hub struct {
	cfg  config
	host *thingmodel.Host
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	closeOnce sync.Once

	mu     sync.Mutex
	states map[thingmodel.DeviceKey]*doorState

	lv       *liveness.Tracker
	status   statusQueue // session changes the sink has yet to take
	statusWG sync.WaitGroup
	delivery accessctl.DeliveryCounter
	ips      sync.Map // door id -> the IP of its session, for status events

	passEvents, keyPushes, keyPushFailures atomic.Uint64
}

// maxStatusPerDoor bounds the session changes kept per door while the sink
// refuses them; beyond it the oldest are dropped (and counted).
const maxStatusPerDoor = 8

// statusQueue holds, per door and in order, the session changes (true:
// a session started) not yet accepted by the sink. Memory is bounded by
// the doors that authenticated, times maxStatusPerDoor.
type statusQueue struct {
	mu      sync.Mutex
	pending map[thingmodel.DeviceKey][]bool
	wake    chan struct{}
	quit    chan struct{}
}

// doorState is shared by every handle to one door.
type doorState struct {
	mu       sync.Mutex             // one permission sync at a time, files in order
	last     SyncResult             // the last syncPermissions outcome
	reported atomic.Pointer[string] // RSAPublicKey as the door last posted it (not under mu: a sync holds mu)
}

// SyncResult is the outcome of one syncPermissions call.
type SyncResult struct {
	URL       string
	Entries   int
	Downloads int // times the door fetched the file before replying
	At        time.Time
	Err       error
}

// HubStats are the hub's counters plus its Host's. Delivery counts pass
// and status events alike.
type HubStats struct {
	accessctl.DeliveryStats
	PassEvents      uint64
	StatusDropped   uint64 // online/offline events given up (at Close, or a door flapping faster than the sink takes them); same as Dropped
	KeyPushes       uint64
	KeyPushFailures uint64
	Host            thingmodel.Stats
	Files           *FileStats
}

// NewHub starts a Hub and its Host (by default with the embedded broker,
// which needs thingmodel.WithSecrets among the host options).
func NewHub(ctx context.Context, opts ...Option) (*Hub, error) {
	cfg := config{syncTimeout: 60 * time.Second, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.ledger == nil {
		cfg.ledger = accessctl.NewMemoryLedger()
	}
	h := &Hub{cfg: cfg, states: map[thingmodel.DeviceKey]*doorState{}}
	h.status = statusQueue{pending: map[thingmodel.DeviceKey][]bool{}, wake: make(chan struct{}, 1), quit: make(chan struct{})}
	if cfg.sink != nil {
		// The MQTT session is the truth: the broker's keepalive ends a silent
		// one, so the tracker needs no silence timer of its own.
		h.lv = liveness.New(cfg.sink, liveness.WithTimeout(100*365*24*time.Hour), liveness.WithDelivery(&h.delivery),
			liveness.WithEvent(h.decorate))
	}
	h.ctx, h.stop = context.WithCancel(context.Background())
	hostOpts := append([]thingmodel.Option{
		thingmodel.WithHandler(thingmodel.HandlerFunc(h.serveThing)),
		thingmodel.WithOnStatus(h.sessionChanged),
	}, cfg.hostOpts...)
	host, err := thingmodel.NewHost(ctx, hostOpts...)
	if err != nil {
		h.stop()
		return nil, err
	}
	h.host = host
	h.statusWG.Add(1)
	go h.deliverStatus()
	return h, nil
}

// Host returns the underlying thing-model Host.
func (h *Hub) Host() *thingmodel.Host { return h.host }

// Close stops the Host (and its embedded broker) and the hub's workers.
// Closing again returns ErrClosed.
func (h *Hub) Close() error {
	err := accessctl.ErrClosed
	h.closeOnce.Do(func() {
		h.stop()
		err = h.host.Close()
		h.wg.Wait()
		close(h.status.quit)
		h.statusWG.Wait()
	})
	return err
}

// Stats returns the hub's counters.
func (h *Hub) Stats() HubStats {
	d := h.delivery.Stats()
	s := HubStats{DeliveryStats: d, PassEvents: h.passEvents.Load(), StatusDropped: d.Dropped, KeyPushes: h.keyPushes.Load(),
		KeyPushFailures: h.keyPushFailures.Load(), Host: h.host.Stats()}
	if h.cfg.files != nil {
		fs := h.cfg.files.Stats()
		s.Files = &fs
	}
	return s
}

func (h *Hub) state(dev thingmodel.DeviceKey) *doorState {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.states[dev]
	if !ok {
		st = &doorState{}
		h.states[dev] = st
	}
	return st
}

// DeviceID is the accessctl id of a door: "{productKey}/{deviceName}".
func DeviceID(dev thingmodel.DeviceKey) string { return dev.ProductKey + "/" + dev.DeviceName }

// ParseDeviceID reads "{productKey}/{deviceName}".
func ParseDeviceID(id string) (thingmodel.DeviceKey, error) {
	pk, dn, _ := strings.Cut(id, "/")
	k := thingmodel.DeviceKey{ProductKey: pk, DeviceName: dn}
	if !k.Valid() {
		return k, fmt.Errorf("%w: LinkKit device id %q is not productKey/deviceName", accessctl.ErrInvalid, id)
	}
	return k, nil
}

func (h *Hub) ref(dev thingmodel.DeviceKey) accessctl.DeviceRef {
	return accessctl.DeviceRef{Platform: h.cfg.event.Platform, ID: DeviceID(dev)}
}

// serveThing handles the doors' posts.
func (h *Hub) serveThing(ctx context.Context, m *thingmodel.Message) error {
	switch {
	case m.Kind == thingmodel.TopicEventPost && m.Identifier == EventPass:
		if h.cfg.sink == nil {
			return fmt.Errorf("%w: no EventSink for passEvent", thingmodel.ErrNoHandler)
		}
		ev, err := ToEvent(h.ref(m.Device), m, h.cfg.event)
		if err != nil {
			return &thingmodel.ReplyError{Code: thingmodel.CodeBadParams, Message: err.Error()}
		}
		if err := h.delivery.Deliver(ctx, h.cfg.sink, ev); err != nil {
			return err // the door keeps the event and posts it again
		}
		h.passEvents.Add(1)
		return nil
	case m.Kind == thingmodel.TopicPropertyPost:
		props, err := thingmodel.DecodeProperties(m.Value)
		if err != nil {
			return err
		}
		if p, ok := props[PropertyRSAPublicKey]; ok {
			var key string
			if err := jsonString(p.Value, &key); err == nil {
				h.state(m.Device).reported.Store(&key)
			}
			if len(props) == 1 || h.cfg.fallback == nil {
				return nil
			}
		}
	}
	if h.cfg.fallback != nil {
		return h.cfg.fallback.ServeThing(ctx, m)
	}
	return fmt.Errorf("%w: %s", thingmodel.ErrNoHandler, m.Request.Method)
}

func (h *Hub) sessionChanged(dev thingmodel.DeviceKey, st thingmodel.Status) {
	if st.Online && h.cfg.rsaKey != "" {
		h.wg.Add(1)
		go h.pushKey(dev)
	}
	if h.lv == nil {
		return
	}
	if st.Online {
		h.ips.Store(DeviceID(dev), hostOf(st.RemoteAddr))
	}
	// This runs on a broker goroutine: queue and never block it.
	q := &h.status
	q.mu.Lock()
	p := append(q.pending[dev], st.Online)
	if len(p) > maxStatusPerDoor {
		p = p[1:]
		h.delivery.Drop()
		h.cfg.logger.Warn("linkkit: status change dropped, door flapping faster than the sink takes them", "device", DeviceID(dev))
	}
	q.pending[dev] = p
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// decorate completes the tracker's status events.
func (h *Hub) decorate(e *accessctl.Event) {
	e.Platform, e.Site = h.cfg.event.Platform, h.cfg.event.Site
	if ip, ok := h.ips.Load(e.Device.ID); ok && e.Status != nil {
		e.Status.Info.IP = ip.(string)
	}
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}

// deliverStatus hands session changes to the tracker, in order per door.
// A change the sink refuses stays queued and is tried again (the tracker
// keeps its event id), with back-off; at Close what is left is tried once
// more and then counted as dropped.
func (h *Hub) deliverStatus() {
	defer h.statusWG.Done()
	if h.lv == nil {
		<-h.status.quit
		return
	}
	policy := backoff.Policy{Min: 50 * time.Millisecond, Max: 5 * time.Second, Factor: 2, Jitter: 0.2}
	failures := 0
	for {
		var retry <-chan time.Time
		if failures > 0 {
			retry = time.After(policy.Delay(failures - 1))
		}
		select {
		case <-h.status.wake:
		case <-retry:
		case <-h.status.quit:
			h.flushStatus(true)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = h.lv.Close(ctx)
			cancel()
			return
		}
		if h.flushStatus(false) {
			failures = 0
		} else {
			failures++
		}
	}
}

// flushStatus delivers what is queued; ok is false if the sink refused.
func (h *Hub) flushStatus(final bool) (ok bool) {
	q := &h.status
	q.mu.Lock()
	devs := make([]thingmodel.DeviceKey, 0, len(q.pending))
	for d := range q.pending {
		devs = append(devs, d)
	}
	q.mu.Unlock()
	ok = true
	for _, dev := range devs {
		for {
			q.mu.Lock()
			p := q.pending[dev]
			if len(p) == 0 {
				delete(q.pending, dev)
				q.mu.Unlock()
				break
			}
			online := p[0]
			q.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var err error
			if online {
				err = h.lv.Connected(ctx, h.ref(dev))
			} else {
				err = h.lv.Lost(ctx, h.ref(dev))
			}
			cancel()
			q.mu.Lock()
			switch {
			case err == nil:
				q.pending[dev] = q.pending[dev][1:]
			case final:
				for range q.pending[dev] {
					h.delivery.Drop()
				}
				delete(q.pending, dev)
			}
			q.mu.Unlock()
			if err != nil {
				h.cfg.logger.Warn("linkkit: sink refused a status event; trying again", "device", DeviceID(dev), "error", err)
				ok = false
				break
			}
		}
	}
	return ok
}

// pushKey sets RSAPublicKey on a door that just came online, retrying a
// few times: doors need it before they can open any encrypted QR code.
func (h *Hub) pushKey(dev thingmodel.DeviceKey) {
	defer h.wg.Done()
	// The session starts before the door has subscribed: wait for its
	// announcement (a door that never announces gets the key anyway after
	// 2 s), then keep attempts short at first and back off.
	readyCtx, cancelReady := context.WithTimeout(h.ctx, 2*time.Second)
	_ = h.host.WaitReady(readyCtx, dev)
	cancelReady()
	policy := backoff.Policy{Min: 250 * time.Millisecond, Max: 10 * time.Second, Factor: 2, Jitter: 0.2}
	for attempt := 0; attempt < 6; attempt++ {
		ctx, cancel := context.WithTimeout(h.ctx, min(time.Second<<attempt, 15*time.Second))
		_, err := h.host.SetProperties(ctx, dev, map[string]any{PropertyRSAPublicKey: h.cfg.rsaKey})
		cancel()
		if err == nil {
			h.keyPushes.Add(1)
			return
		}
		if errors.Is(err, thingmodel.ErrOffline) || errors.Is(err, thingmodel.ErrClosed) || h.ctx.Err() != nil {
			break // the next connect pushes again
		}
		select {
		case <-time.After(policy.Delay(attempt)):
		case <-h.ctx.Done():
			return
		}
	}
	h.keyPushFailures.Add(1)
	h.cfg.logger.Warn("linkkit: RSAPublicKey not delivered", "device", DeviceID(dev))
}

// Door returns a handle to one door. Handles share the door's state;
// closing one does not affect the others.
func (h *Hub) Door(dev thingmodel.DeviceKey) *Door {
	return &Door{hub: h, key: dev, ref: h.ref(dev), st: h.state(dev)}
}

// Open implements accessctl.Driver: it opens a door of this hub from
// DeviceConfig.ID "{productKey}/{deviceName}" (or Params productKey and
// deviceName). Register the hub under a name: accessctl.Register("linkkit", hub).
func (h *Hub) Open(ctx context.Context, cfg accessctl.DeviceConfig) (accessctl.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	id := cfg.ID
	if pk, dn := cfg.Params["productKey"], cfg.Params["deviceName"]; pk != "" && dn != "" {
		id = pk + "/" + dn
	}
	dev, err := ParseDeviceID(id)
	if err != nil {
		return nil, err
	}
	return h.Door(dev), nil
}

// Devices implements accessctl.DeviceLister: every door the hub has heard
// of or been asked about, with its status (ID "{productKey}/{deviceName}").
func (h *Hub) Devices(ctx context.Context) ([]accessctl.Status, error) {
	h.mu.Lock()
	keys := make([]thingmodel.DeviceKey, 0, len(h.states))
	for k := range h.states {
		keys = append(keys, k)
	}
	h.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	out := make([]accessctl.Status, 0, len(keys))
	for _, k := range keys {
		st, err := h.Door(k).Status(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, st)
	}
	return out, nil
}
