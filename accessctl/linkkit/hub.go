package linkkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
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

	status   chan accessctl.Event // online/offline to the sink, in order
	statusWG sync.WaitGroup

	passEvents, statusDropped, keyPushes, keyPushFailures atomic.Uint64
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

// HubStats are the hub's counters plus its Host's.
type HubStats struct {
	PassEvents      uint64
	StatusDropped   uint64 // online/offline events dropped because the sink lagged 1024 behind
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
	h := &Hub{cfg: cfg, states: map[thingmodel.DeviceKey]*doorState{}, status: make(chan accessctl.Event, 1024)}
	h.ctx, h.stop = context.WithCancel(context.Background())
	hostOpts := append([]thingmodel.Option{
		thingmodel.WithHandler(thingmodel.HandlerFunc(h.serveThing)),
		thingmodel.WithStatusHandler(h.sessionChanged),
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
		close(h.status)
		h.statusWG.Wait()
	})
	return err
}

// Stats returns the hub's counters.
func (h *Hub) Stats() HubStats {
	s := HubStats{PassEvents: h.passEvents.Load(), StatusDropped: h.statusDropped.Load(), KeyPushes: h.keyPushes.Load(),
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
		if err := h.cfg.sink.Handle(ctx, ev); err != nil {
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
	kind := accessctl.KindOffline
	if st.Online {
		kind = accessctl.KindOnline
		if h.cfg.rsaKey != "" {
			h.wg.Add(1)
			go h.pushKey(dev)
		}
	}
	if h.cfg.sink == nil {
		return
	}
	s := accessctl.Status{Device: h.ref(dev), Online: st.Online, Since: st.Since, LastSeen: st.LastSeen,
		Info: accessctl.DeviceInfo{IP: hostOf(st.RemoteAddr)}}
	ev := accessctl.Event{
		ID:   "linkkit:" + string(kind) + ":" + DeviceID(dev) + ":" + strconv.FormatInt(st.Since.UnixNano(), 10),
		Kind: kind, Platform: h.cfg.event.Platform, Site: h.cfg.event.Site, Device: s.Device,
		OccurredAt: st.Since, TimeSource: accessctl.TimeReceipt, ReceivedAt: st.Since, Status: &s,
	}
	select { // this runs on a broker goroutine: never block it
	case h.status <- ev:
	default:
		h.statusDropped.Add(1)
		h.cfg.logger.Warn("linkkit: status event dropped, sink too slow", "device", DeviceID(dev), "kind", kind)
	}
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}

func (h *Hub) deliverStatus() {
	defer h.statusWG.Done()
	for ev := range h.status {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := h.cfg.sink.Handle(ctx, ev); err != nil {
			h.cfg.logger.Warn("linkkit: sink refused a status event", "event", ev.String(), "error", err)
		}
		cancel()
	}
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

// Driver returns an accessctl.Driver that opens doors of this hub from
// DeviceConfig.ID "{productKey}/{deviceName}" (or Params productKey and
// deviceName). Register it under a name: accessctl.Register("linkkit", hub.Driver()).
func (h *Hub) Driver() accessctl.Driver {
	return accessctl.DriverFunc(func(_ context.Context, cfg accessctl.DeviceConfig) (accessctl.Device, error) {
		id := cfg.ID
		if pk, dn := cfg.Params["productKey"], cfg.Params["deviceName"]; pk != "" && dn != "" {
			id = pk + "/" + dn
		}
		dev, err := ParseDeviceID(id)
		if err != nil {
			return nil, err
		}
		return h.Door(dev), nil
	})
}
