package parking

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Camera is a lane's camera as a Lane drives it: a barrier and a screen.
// ThingCamera implements it over any thing-model carrier; parkingsim has
// a simulated one.
type Camera interface {
	// ID is the camera's identity (an iotId, a ProductKey/DeviceName).
	ID() string
	// Profile is what its screen can do.
	Profile(ctx context.Context) (Profile, error)
	// OperateGate sends OperatGate. It returns when the camera accepted the
	// command, not when the barrier has moved.
	OperateGate(ctx context.Context, cmd GateCommand) error
	// Show renders s for the screen's mode and sends it.
	Show(ctx context.Context, s Screen) (Rendering, error)
}

// GateWatcher is implemented by cameras that know the barrier's state
// from the camera's property posts. A Lane uses it to refuse closing onto
// a vehicle.
type GateWatcher interface {
	GateState() GateState
	VehicleState() VehicleState
}

// Subscriber is implemented by cameras that deliver their events to a
// handler. NewLane subscribes itself.
type Subscriber interface {
	Subscribe(h EventHandler)
}

// EventHandler receives a camera's events. A Lane is one. An error means
// the event was not taken: the driver does not acknowledge it, so the
// camera reports it again.
type EventHandler interface {
	HandleRecognition(ctx context.Context, r Recognition) error
	HandleAbnormalOpen(ctx context.Context, e AbnormalOpen) error
}

// AbnormalOpen is an AbnormalOpenGate event with its envelope.
type AbnormalOpen struct {
	EventID string
	At      time.Time
	AbnormalOpenGate
	Raw json.RawMessage
}

// Invoker is the host side of a thing-model carrier, reduced to what a
// camera needs: invoke a service by identifier and get its output data.
// The MQTT carrier's Host adapts to it; parkingsim.Camera is one, in memory.
type Invoker interface {
	Invoke(ctx context.Context, identifier string, params json.RawMessage) (json.RawMessage, error)
}

// InvokerFunc adapts a function to Invoker.
type InvokerFunc func(ctx context.Context, identifier string, params json.RawMessage) (json.RawMessage, error)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx context.Context, identifier string, params json.RawMessage) (json.RawMessage, error) {
	return f(ctx, identifier, params)
}

// ThingEvent is one event a carrier delivered from a camera.
type ThingEvent struct {
	ID         string // the carrier's message id, made unique per device
	Identifier string // IntelligentAlarm, AbnormalOpenGate, OssStsTokenRequest
	At         time.Time
	Params     json.RawMessage // the event's output data
}

// Properties are the camera's properties as posted; nil fields were not in
// the post.
type Properties struct {
	LedRowNumber  *int
	LedNoticeMode *NoticeMode
	QRCode        *bool
	GateState     *GateState
	VehicleState  *VehicleState
	Volume        *int
	Brightness    *int
}

// DecodeProperties reads a property post ({"GateState":1,...}); values may
// be numbers or numeric strings, and the {"value":..,"time":..} form.
// Unknown properties are ignored; out-of-range ones are errors, except
// Volume and Brightness, which are clamped to 0–100.
func DecodeProperties(params []byte) (Properties, error) {
	const payload = "properties"
	var p Properties
	o, err := parseObject(payload, params)
	if err != nil {
		return p, err
	}
	// Unwrap {"value": v, "time": t}.
	for k, v := range o.m {
		if len(v) > 0 && v[0] == '{' {
			if inner, err := parseObject(payload, v); err == nil {
				if val, ok := inner.get("value"); ok {
					o.m[k] = val
				}
			}
		}
	}
	ranged := func(name string, lo, hi int) (*int, error) {
		v, ok, err := o.int(name)
		if err != nil || !ok {
			return nil, err
		}
		if v < lo || v > hi {
			return nil, o.err(name, ErrOutOfRange, "%d not in %d..%d", v, lo, hi)
		}
		return &v, nil
	}
	if p.LedRowNumber, err = ranged(PropertyLedRowNumber, -MaxRows, MaxRows); err != nil {
		return p, err
	}
	if v, err := ranged(PropertyLedNoticeMode, 0, 1); err != nil {
		return p, err
	} else if v != nil {
		m := NoticeMode(*v)
		p.LedNoticeMode = &m
	}
	if raw, ok := o.get(PropertyQrCodeSupport); ok {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			n, err := parseInt(raw)
			if err != nil || n < 0 || n > 1 {
				return p, o.err(PropertyQrCodeSupport, ErrBadType, "want 0, 1 or a boolean")
			}
			b = n == 1
		}
		p.QRCode = &b
	}
	if v, err := ranged(PropertyGateState, 0, 3); err != nil {
		return p, err
	} else if v != nil {
		s := GateState(*v)
		p.GateState = &s
	}
	if v, err := ranged(PropertyVehicleState, 0, 2); err != nil {
		return p, err
	} else if v != nil {
		s := VehicleState(*v)
		p.VehicleState = &s
	}
	for _, f := range []struct {
		name string
		dst  **int
	}{{PropertyVolume, &p.Volume}, {PropertyBrightness, &p.Brightness}} {
		v, ok, err := o.int(f.name)
		if err != nil {
			return p, err
		}
		if ok {
			v = clamp(v, 0, 100)
			*f.dst = &v
		}
	}
	return p, nil
}

// Encode writes the properties that are set as a property post.
func (p Properties) Encode() (json.RawMessage, error) {
	m := map[string]any{}
	if p.LedRowNumber != nil {
		m[PropertyLedRowNumber] = *p.LedRowNumber
	}
	if p.LedNoticeMode != nil {
		m[PropertyLedNoticeMode] = int(*p.LedNoticeMode)
	}
	if p.QRCode != nil {
		m[PropertyQrCodeSupport] = b2i(*p.QRCode)
	}
	if p.GateState != nil {
		m[PropertyGateState] = int(*p.GateState)
	}
	if p.VehicleState != nil {
		m[PropertyVehicleState] = int(*p.VehicleState)
	}
	if p.Volume != nil {
		m[PropertyVolume] = *p.Volume
	}
	if p.Brightness != nil {
		m[PropertyBrightness] = *p.Brightness
	}
	return marshalNoEscape(m)
}

// ThingCamera is the host side of a parking camera over a thing-model
// carrier: it encodes services for an Invoker, and decodes the camera's
// property posts and events (HandleProperties, HandleEvent) for its
// EventHandler. Safe for concurrent use.
type ThingCamera struct {
	id  string
	inv Invoker

	mu        sync.Mutex
	profile   Profile
	known     bool // profile came from the device or WithProfile
	gate      GateState
	vehicle   VehicleState
	handler   EventHandler
	onProps   func(Properties)
	onSts     func(OssStsTokenRequest)
	online    func() bool
	since     time.Time // when online last changed, as seen here
	wasOnline bool
	lastSeen  time.Time
}

// CameraOption configures NewThingCamera.
type CameraOption func(*ThingCamera)

// WithProfile sets the screen profile instead of waiting for the camera's
// property post (LedNoticeMode, LedRowNumber, IsSurportQrCode).
func WithProfile(p Profile) CameraOption {
	return func(c *ThingCamera) { c.profile, c.known = p, true }
}

// WithOnline tells the driver whether the carrier has a session with the
// camera now (thingmodel.Host.Online). Without it a camera counts as
// online once it has posted anything.
func WithOnline(f func() bool) CameraOption { return func(c *ThingCamera) { c.online = f } }

// WithOnProperties is called with every property post, after it is applied.
func WithOnProperties(f func(Properties)) CameraOption { return func(c *ThingCamera) { c.onProps = f } }

// WithOnStsTokenRequest is called when the camera asks for a new OSS STS
// token; answer with SendOssStsToken.
func WithOnStsTokenRequest(f func(OssStsTokenRequest)) CameraOption {
	return func(c *ThingCamera) { c.onSts = f }
}

// NewThingCamera returns the host-side driver of camera id reached through inv.
func NewThingCamera(id string, inv Invoker, opts ...CameraOption) *ThingCamera {
	c := &ThingCamera{id: id, inv: inv, gate: GateUnknown, vehicle: VehicleUnknown}
	for _, o := range opts {
		o(c)
	}
	return c
}

// ID implements Camera.
func (c *ThingCamera) ID() string { return c.id }

// Profile implements Camera. Until the camera posts its properties (or
// WithProfile), it is the separated 4-row default.
func (c *ThingCamera) Profile(context.Context) (Profile, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.profile, nil
}

// GateState implements GateWatcher.
func (c *ThingCamera) GateState() GateState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gate
}

// VehicleState implements GateWatcher.
func (c *ThingCamera) VehicleState() VehicleState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vehicle
}

// Online reports whether the camera is reachable now, since when, and
// when it last posted anything.
func (c *ThingCamera) Online() (online bool, since, lastSeen time.Time) {
	c.mu.Lock()
	f := c.online
	c.mu.Unlock()
	var on bool
	if f != nil {
		on = f()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f == nil {
		on = !c.lastSeen.IsZero()
	}
	if on != c.wasOnline || c.since.IsZero() {
		c.wasOnline, c.since = on, time.Now()
	}
	if on && c.lastSeen.IsZero() {
		c.lastSeen = c.since
	}
	return on, c.since, c.lastSeen
}

func (c *ThingCamera) seen() {
	c.mu.Lock()
	c.lastSeen = time.Now()
	c.mu.Unlock()
}

// Subscribe implements Subscriber.
func (c *ThingCamera) Subscribe(h EventHandler) {
	c.mu.Lock()
	c.handler = h
	c.mu.Unlock()
}

// Call sends one service and returns its output data.
func (c *ThingCamera) Call(ctx context.Context, s Service) (json.RawMessage, error) {
	args, err := s.Args()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := c.inv.Invoke(ctx, s.Identifier(), args)
	if err == nil {
		c.seen()
	}
	return out, err
}

// OperateGate implements Camera.
func (c *ThingCamera) OperateGate(ctx context.Context, cmd GateCommand) error {
	_, err := c.Call(ctx, OperateGate{Command: cmd})
	return err
}

// Show implements Camera. AddLedData answered with Result 1 is a
// *accessctl.RejectedError.
func (c *ThingCamera) Show(ctx context.Context, s Screen) (Rendering, error) {
	p, _ := c.Profile(ctx)
	r := p.Render(s)
	return r, c.send(ctx, r.Services)
}

// SetDefault makes lines the resting content of scene sit.
func (c *ThingCamera) SetDefault(ctx context.Context, sit Situation, lines []string, color Color) (Rendering, error) {
	p, _ := c.Profile(ctx)
	r := p.RenderDefault(sit, lines, color)
	return r, c.send(ctx, r.Services)
}

func (c *ThingCamera) send(ctx context.Context, svcs []Service) error {
	for _, s := range svcs {
		out, err := c.Call(ctx, s)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Identifier(), err)
		}
		if s.Identifier() == ServiceAddLedData {
			var res struct{ Result *int }
			if json.Unmarshal(out, &res) == nil && res.Result != nil && *res.Result != int(LedParsedOK) {
				return accessctl.Rejected(ServiceAddLedData, fmt.Sprint(*res.Result), "LedData parse error")
			}
		}
	}
	return nil
}

// ShowQRCode sends QrCodeDisplay; ErrUnsupported when the camera said it
// cannot.
func (c *ThingCamera) ShowQRCode(ctx context.Context, code string) error {
	p, _ := c.Profile(ctx)
	c.mu.Lock()
	known := c.known
	c.mu.Unlock()
	if known && !p.QRCode {
		return fmt.Errorf("%w: IsSurportQrCode is 0", accessctl.ErrUnsupported)
	}
	_, err := c.Call(ctx, QrCodeDisplay{QrCode: code})
	return err
}

// TriggerRecognition asks for a capture; the answer arrives as an event.
func (c *ThingCamera) TriggerRecognition(ctx context.Context) error {
	_, err := c.Call(ctx, TriggerRecognition{})
	return err
}

// PushPermissions sends AddVehicleIOfPermission with the file's URL. A
// VehiclePermissionStatus of 1 (download failed) is a *RejectedError.
func (c *ThingCamera) PushPermissions(ctx context.Context, url string) error {
	out, err := c.Call(ctx, AddVehiclePermission{URL: url})
	if err != nil {
		return err
	}
	o, err := parseObject(ServiceAddVehiclePermission, out)
	if err != nil {
		return err
	}
	st, _, err := o.int(ParamVehiclePermissionStatus)
	if err != nil {
		return err
	}
	if st != 0 {
		return accessctl.Rejected(ServiceAddVehiclePermission, fmt.Sprint(st), "download failed")
	}
	return nil
}

// ExportPermissions sends GetVehiclePermission and returns the URL of the
// file the camera uploaded.
func (c *ThingCamera) ExportPermissions(ctx context.Context) (string, error) {
	out, err := c.Call(ctx, GetVehiclePermission{})
	if err != nil {
		return "", err
	}
	o, err := parseObject(ServiceGetVehiclePermission, out)
	if err != nil {
		return "", err
	}
	return o.requiredStr(ParamVehiclePermissionURL)
}

// PermissionDownloadDone sends GetPermissionDownloadProgress.
func (c *ThingCamera) PermissionDownloadDone(ctx context.Context) (bool, error) {
	out, err := c.Call(ctx, GetPermissionDownloadProgress{})
	if err != nil {
		return false, err
	}
	o, err := parseObject(ServiceGetPermissionDownloadProgress, out)
	if err != nil {
		return false, err
	}
	st, err := o.requiredInt(ParamDownloadStatus)
	return st == 0, err
}

// HandleProperties applies a property post from the camera.
func (c *ThingCamera) HandleProperties(_ context.Context, params json.RawMessage) error {
	p, err := DecodeProperties(params)
	if err != nil {
		return err
	}
	c.seen()
	c.mu.Lock()
	if p.LedNoticeMode != nil {
		c.profile.Mode, c.known = *p.LedNoticeMode, true
	}
	if p.LedRowNumber != nil {
		c.profile.Rows, c.known = *p.LedRowNumber, true
	}
	if p.QRCode != nil {
		c.profile.QRCode, c.known = *p.QRCode, true
	}
	if p.GateState != nil {
		c.gate = *p.GateState
	}
	if p.VehicleState != nil {
		c.vehicle = *p.VehicleState
	}
	f := c.onProps
	c.mu.Unlock()
	if f != nil {
		f(p)
	}
	return nil
}

// HandleEvent decodes a camera event and hands it to the subscribed
// handler. Without a handler, or for an event it does not know, it
// returns an error so that the carrier does not acknowledge the event:
// nothing the camera reported is dropped silently.
func (c *ThingCamera) HandleEvent(ctx context.Context, e ThingEvent) error {
	c.seen()
	c.mu.Lock()
	h, onSts := c.handler, c.onSts
	c.mu.Unlock()
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	switch e.Identifier {
	case EventIntelligentAlarm:
		a, err := DecodeIntelligentAlarm(e.Params)
		if err != nil {
			return err
		}
		if h == nil {
			return fmt.Errorf("%w: no handler for %s", accessctl.ErrClosed, e.Identifier)
		}
		return h.HandleRecognition(ctx, RecognitionFromAlarm(c.eventID(e), at, a, e.Params))
	case EventAbnormalOpenGate:
		a, err := DecodeAbnormalOpenGate(e.Params)
		if err != nil {
			return err
		}
		if h == nil {
			return fmt.Errorf("%w: no handler for %s", accessctl.ErrClosed, e.Identifier)
		}
		return h.HandleAbnormalOpen(ctx, AbnormalOpen{EventID: c.eventID(e), At: at, AbnormalOpenGate: a, Raw: e.Params})
	case EventOssStsTokenRequest:
		r, err := DecodeOssStsTokenRequest(e.Params)
		if err != nil {
			return err
		}
		if onSts == nil {
			return fmt.Errorf("%w: no handler for %s", accessctl.ErrUnsupported, e.Identifier)
		}
		onSts(r)
		return nil
	}
	return fieldErr(e.Identifier, "", ErrUnknownValue, "unknown event %q", e.Identifier)
}

func (c *ThingCamera) eventID(e ThingEvent) string {
	if e.ID == "" {
		return ""
	}
	return c.id + "/" + e.ID
}
