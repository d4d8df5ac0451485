package linkkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/passcheck"
	"github.com/menjin/menjin/accessctl/permfile"
	"github.com/menjin/menjin/transport/thingmodel"
)

// DoorClient is the device side of a multi-function door, for Go firmware
// and simulators: it connects with the triple, applies permission files
// (permfile: download with limits, parse, atomic apply, in arrival order),
// keeps the RSAPublicKey it is pushed, decides presented credentials
// (passcheck: RSA QR verification, windows, scan limits, exact codes) and
// posts passEvent, and drives its lock on remoteOpen.
type DoorClient struct {
	c       *thingmodel.DeviceClient
	dev     accessctl.DeviceRef
	store   *permfile.Store
	syncer  *permfile.Syncer
	checker *passcheck.Checker
	lock    func(ctx context.Context) error
	ready   chan struct{} // closed once c is set: handlers may run before DialDoor returns
	wg      sync.WaitGroup
	opens   atomic.Int64
}

// DoorOption configures DialDoor.
type DoorOption func(*doorConfig)

type doorConfig struct {
	store       *permfile.Store
	fetcher     *permfile.Fetcher
	lock        func(ctx context.Context) error
	checkerOpts []passcheck.Option
	deviceOpts  []thingmodel.DeviceOption
}

// WithStore sets the permission store (default: in memory; use
// permfile.OpenFile for one that survives a reboot, spec §3.5).
func WithStore(s *permfile.Store) DoorOption { return func(c *doorConfig) { c.store = s } }

// WithFetcher sets how permission files are downloaded (default: the spec's limits).
func WithFetcher(f *permfile.Fetcher) DoorOption { return func(c *doorConfig) { c.fetcher = f } }

// WithLock sets the lock driver remoteOpen and granted passes call
// (default: none). An error makes remoteOpen fail.
func WithLock(open func(ctx context.Context) error) DoorOption {
	return func(c *doorConfig) { c.lock = open }
}

// WithCheckerOptions configures the pass decisions (clock, plain-QR mode,
// debounce, password codes, ...).
func WithCheckerOptions(opts ...passcheck.Option) DoorOption {
	return func(c *doorConfig) { c.checkerOpts = append(c.checkerOpts, opts...) }
}

// WithDeviceOptions configures the MQTT side (client id, TLS, timeouts).
func WithDeviceOptions(opts ...thingmodel.DeviceOption) DoorOption {
	return func(c *doorConfig) { c.deviceOpts = append(c.deviceOpts, opts...) }
}

// DialDoor connects a door to brokerURL with its triple. It is the
// device-side library, for a door whose firmware is written in Go; hosts
// test against it the way they would against a real door.
func DialDoor(ctx context.Context, brokerURL string, t thingmodel.Triple, opts ...DoorOption) (*DoorClient, error) {
	var cfg doorConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.store == nil {
		cfg.store = permfile.NewStore()
	}
	d := &DoorClient{dev: accessctl.DeviceRef{ID: DeviceID(t.Key())}, store: cfg.store, lock: cfg.lock, ready: make(chan struct{})}
	d.syncer = &permfile.Syncer{Store: cfg.store, Fetcher: cfg.fetcher}
	sink := accessctl.EventSinkFunc(d.postPass)
	d.checker = passcheck.New(cfg.store, append([]passcheck.Option{passcheck.WithDevice(d.dev), passcheck.WithSink(sink)}, cfg.checkerOpts...)...)
	devOpts := append([]thingmodel.DeviceOption{
		thingmodel.WithService(ServiceRemoteOpen, d.remoteOpen),
		thingmodel.WithService(ServiceSyncPermissions, d.syncPermissions),
		// The test procedure delivers the key as a service, the thing model
		// as a property (spec §2.1 rule 4): both are accepted.
		thingmodel.WithService(PropertyRSAPublicKey, d.setProperties),
		thingmodel.WithPropertySet(d.setProperties),
	}, cfg.deviceOpts...)
	c, err := thingmodel.Dial(ctx, brokerURL, t, devOpts...)
	if err != nil {
		return nil, err
	}
	d.c = c
	close(d.ready)
	return d, nil
}

// Client returns the door's thing-model client.
func (d *DoorClient) Client() *thingmodel.DeviceClient { return d.c }

// Store returns the door's permission store.
func (d *DoorClient) Store() *permfile.Store { return d.store }

// Checker returns the door's pass decider.
func (d *DoorClient) Checker() *passcheck.Checker { return d.checker }

// SyncStatus returns the outcome of the last syncPermissions.
func (d *DoorClient) SyncStatus() permfile.SyncStatus { return d.syncer.Status() }

// Opens counts remoteOpen invocations the lock carried out.
func (d *DoorClient) Opens() int { return int(d.opens.Load()) }

// Scan decides what a QR reader read and posts the passEvent. When the host
// does not acknowledge the event the error says so; the decision stands
// and the caller keeps the event (Outcome.Event) to post again.
func (d *DoorClient) Scan(ctx context.Context, text string) (passcheck.Outcome, error) {
	return d.Present(ctx, accessctl.Credential{Kind: accessctl.CredQRCode, Value: text})
}

// Present decides any credential (card, BLE card, password, QR) and posts the passEvent.
func (d *DoorClient) Present(ctx context.Context, cred accessctl.Credential) (passcheck.Outcome, error) {
	o, err := d.checker.Present(ctx, cred, accessctl.DirectionUnknown)
	if err == nil && o.Decision.Allow && d.lock != nil {
		err = d.lock(ctx)
	}
	return o, err
}

// Repost sends a pass event again (one Present could not deliver).
func (d *DoorClient) Repost(ctx context.Context, ev accessctl.Event) error {
	return d.postPass(ctx, ev)
}

func (d *DoorClient) postPass(ctx context.Context, ev accessctl.Event) error {
	if len(ev.Raw) == 0 {
		return errors.New("linkkit: pass event without its passEvent payload")
	}
	_, err := d.c.PostEventAt(ctx, EventPass, json.RawMessage(ev.Raw), ev.OccurredAt)
	return err
}

// Close disconnects the door.
func (d *DoorClient) Close() error {
	err := d.c.Close()
	d.wg.Wait()
	return err
}

func (d *DoorClient) remoteOpen(ctx context.Context, _ *thingmodel.Request) (any, error) {
	// Reply once the lock is driven, not when the door closes again (spec §6).
	if d.lock != nil {
		if err := d.lock(ctx); err != nil {
			return nil, &thingmodel.ReplyError{Code: thingmodel.CodeInternal, Message: "lock: " + err.Error()}
		}
	}
	d.opens.Add(1)
	return nil, nil
}

func (d *DoorClient) syncPermissions(ctx context.Context, req *thingmodel.Request) (any, error) {
	var p struct {
		URL string `json:"permissionUrl"`
	}
	if err := json.Unmarshal(req.Params, &p); err != nil || p.URL == "" {
		return nil, &thingmodel.ReplyError{Code: thingmodel.CodeBadParams, Message: "permissionUrl missing"}
	}
	if _, err := d.syncer.Sync(ctx, p.URL); err != nil {
		// Nothing was applied; the reply carries the reason (spec §3.5 step 5).
		return nil, &thingmodel.ReplyError{Code: thingmodel.CodeInternal, Message: err.Error()}
	}
	return nil, nil
}

func (d *DoorClient) setProperties(_ context.Context, req *thingmodel.Request) (any, error) {
	props, err := thingmodel.DecodeProperties(req.Params)
	if err != nil {
		return nil, err
	}
	p, ok := props[PropertyRSAPublicKey]
	if !ok {
		return nil, nil
	}
	var key string
	if err := json.Unmarshal(p.Value, &key); err != nil {
		return nil, &thingmodel.ReplyError{Code: thingmodel.CodeBadParams, Message: "RSAPublicKey is not a string"}
	}
	if err := d.checker.SetPublicKey(key); err != nil {
		// Refused; the previous key stays (spec §2.1 rule 1).
		return nil, &thingmodel.ReplyError{Code: thingmodel.CodeBadParams, Message: fmt.Sprintf("RSAPublicKey: %v", err)}
	}
	// Report the accepted value back (spec §2.1 rule 6), after this reply.
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		select {
		case <-d.ready:
		case <-ctx.Done():
			return
		}
		_, _ = d.c.PostProperties(ctx, map[string]string{PropertyRSAPublicKey: key})
	}()
	return nil, nil
}
