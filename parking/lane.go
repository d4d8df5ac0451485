package parking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Lane is one entrance or exit: a camera, a barrier and a screen. Each
// recognition goes to the host's Decider; the Lane then opens the barrier
// (if allowed) and updates the screen at the same time, within a bounded
// time, and reports a pass event. Duplicate recognitions of one car inside
// the duplicate window act once. Gate commands are serialised.
//
// A Lane uses accessctl.Decider as it is: Decision already carries allow,
// display lines and voice, and WithScreen maps a Decision to colour,
// seconds and scene where a host wants more.
type Lane struct {
	cam     Camera
	decider accessctl.Decider
	sink    accessctl.EventSink
	cfg     laneConfig
	gate    *gateQueue

	mu     sync.Mutex
	recent map[string]*laneEntry // by PlateKey and by event id
	order  []recentKey           // the keys of recent, oldest first
	closed bool
	wg     sync.WaitGroup

	st laneCounters
}

type recentKey struct {
	key   string
	entry *laneEntry
}

type laneEntry struct {
	at        time.Time
	done      chan struct{}
	outcome   Outcome
	event     accessctl.Event
	deliverMu sync.Mutex // one delivery at a time: the first and a duplicate may race
	delivered bool
}

type laneConfig struct {
	log           *slog.Logger
	sink          accessctl.EventSink
	direction     accessctl.Direction
	device        accessctl.DeviceRef
	site          accessctl.SiteRef
	platform      string
	window        time.Duration
	decideTimeout time.Duration
	cmdTimeout    time.Duration
	seconds       int
	screen        func(Recognition, accessctl.Decision) Screen
	fallback      func(Recognition, error) accessctl.Decision
	onOutcome     func(Outcome)
	now           func() time.Time
	maxRecent     int
	confirm       time.Duration
}

// LaneOption configures NewLane.
type LaneOption func(*laneConfig)

// WithLogger sets the lane's logger (default and nil: discard). It logs a
// recognition whose decision, gate command or screen failed, and the
// pictures it dropped.
func WithLogger(l *slog.Logger) LaneOption { return func(c *laneConfig) { c.log = l } }

// WithSink sets where the lane's pass and alarm events go (default:
// discarded); use accessctl.NewBuffer in front of a slow sink.
func WithSink(s accessctl.EventSink) LaneOption { return func(c *laneConfig) { c.sink = s } }

// WithDirection sets the lane's direction, copied into every pass event.
func WithDirection(d accessctl.Direction) LaneOption { return func(c *laneConfig) { c.direction = d } }

// WithDevice sets the DeviceRef of events (default: the camera's ID).
func WithDevice(d accessctl.DeviceRef) LaneOption { return func(c *laneConfig) { c.device = d } }

// WithSite sets the SiteRef of events.
func WithSite(s accessctl.SiteRef) LaneOption { return func(c *laneConfig) { c.site = s } }

// WithDuplicateWindow sets how long further recognitions of a plate are
// treated as the same car (default 10 s; 0 turns it off).
func WithDuplicateWindow(d time.Duration) LaneOption { return func(c *laneConfig) { c.window = d } }

// WithDecisionTimeout bounds the Decider (default 1 s). On timeout or
// error the fallback decision is used.
func WithDecisionTimeout(d time.Duration) LaneOption {
	return func(c *laneConfig) { c.decideTimeout = d }
}

// WithCommandTimeout bounds the gate and screen commands (default 2 s).
func WithCommandTimeout(d time.Duration) LaneOption { return func(c *laneConfig) { c.cmdTimeout = d } }

// WithGateConfirm makes every barrier command wait, up to d, for the
// camera to report the matching GateState (cameras that are GateWatchers);
// a barrier that does not follow is an accessctl.ErrTimeout (§11 item 20).
// Default 0: the camera's acceptance of the command is enough.
func WithGateConfirm(d time.Duration) LaneOption { return func(c *laneConfig) { c.confirm = d } }

// WithShowSeconds sets how long the screen shows a decision (default 10).
func WithShowSeconds(n int) LaneOption { return func(c *laneConfig) { c.seconds = n } }

// WithScreen replaces the mapping of a decision to the screen.
func WithScreen(f func(Recognition, accessctl.Decision) Screen) LaneOption {
	return func(c *laneConfig) { c.screen = f }
}

// WithFallback decides when the Decider fails or is late (default: deny,
// code -1, "请稍候" on the screen — a car is never let in by accident).
func WithFallback(f func(Recognition, error) accessctl.Decision) LaneOption {
	return func(c *laneConfig) { c.fallback = f }
}

// WithOnOutcome is called after every recognition, duplicates included.
func WithOnOutcome(f func(Outcome)) LaneOption { return func(c *laneConfig) { c.onOutcome = f } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) LaneOption { return func(c *laneConfig) { c.now = now } }

// Outcome is what a Lane did with one recognition.
type Outcome struct {
	EventID   string              `json:"eventId"`
	Plate     string              `json:"plate"`
	Direction accessctl.Direction `json:"direction,omitempty"`
	Decision  accessctl.Decision  `json:"decision"`
	Screen    Screen              `json:"screen"`
	Shown     []string            `json:"shown"`     // the rows as sent
	GateSent  bool                `json:"gateSent"`  // an open went to the barrier
	Duplicate bool                `json:"duplicate"` // same car inside the window: nothing sent
	Fallback  bool                `json:"fallback"`  // the Decider failed or was late
	Latency   time.Duration       `json:"latency"`   // recognition to commands sent
	Err       error               `json:"-"`         // decider, gate or screen failure
}

// LaneStats counts a Lane's traffic.
type LaneStats struct {
	Recognitions, Duplicates, Allowed, Denied, Fallbacks uint64
	GateSent, GateRefused, GateFailed, GateUnconfirmed   uint64
	DisplayFailed, Delivered, DeliveryFailed, Alarms     uint64
	// SnapshotsDropped counts passes delivered without the camera's
	// picture (corrupt or not an image); the pass itself was kept.
	SnapshotsDropped uint64
}

type laneCounters struct {
	recognitions, duplicates, allowed, denied, fallbacks atomic.Uint64
	displayFailed, delivered, deliveryFailed, alarms     atomic.Uint64
	snapsDropped                                         atomic.Uint64
}

// NewLane returns a Lane; its events go to the sink given by WithSink. If
// cam is a Subscriber the Lane subscribes to its events.
func NewLane(cam Camera, decider accessctl.Decider, opts ...LaneOption) *Lane {
	cfg := laneConfig{
		window: 10 * time.Second, decideTimeout: time.Second, cmdTimeout: 2 * time.Second,
		seconds: DefaultShowTime, now: time.Now, maxRecent: 4096,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.device.ID == "" {
		cfg.device = accessctl.DeviceRef{ID: cam.ID()}
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	if cfg.screen == nil {
		cfg.screen = func(r Recognition, d accessctl.Decision) Screen { return DefaultScreen(r, d, cfg.seconds) }
	}
	if cfg.fallback == nil {
		cfg.fallback = func(Recognition, error) accessctl.Decision {
			return accessctl.Decision{Allow: false, Result: accessctl.Result{Code: -1, Message: "decision unavailable"},
				Display: []string{"#p", "请稍候"}, Voice: "请稍候"}
		}
	}
	sink := cfg.sink
	if sink == nil {
		sink = accessctl.Discard
	}
	l := &Lane{cam: cam, decider: decider, sink: sink, cfg: cfg, gate: newGateQueue(cam, cfg.confirm), recent: map[string]*laneEntry{}}
	if s, ok := cam.(Subscriber); ok {
		s.Subscribe(l)
	}
	return l
}

// DefaultScreen is what a Lane shows without WithScreen: the decision's
// lines (else the plate and 欢迎光临 or 禁止通行), its voice (else the same
// words), green when allowed and red when not.
func DefaultScreen(r Recognition, d accessctl.Decision, seconds int) Screen {
	s := Screen{Plate: r.Plate, Lines: d.Display, Voice: d.Voice, Seconds: seconds, Color: Green,
		Situation: r.Record.Category().Situation()}
	if !d.Allow {
		s.Color = Red
	}
	plate := r.Plate
	if plate == "" {
		plate = "无牌车"
	}
	if len(s.Lines) == 0 {
		msg := "欢迎光临"
		if !d.Allow {
			msg = "禁止通行"
		}
		if d.Result.Message != "" && !d.Allow {
			msg = d.Result.Message
		}
		s.Lines = []string{plate, msg}
		if s.Voice == "" {
			s.Voice = SpeakablePlate(r.Plate) + " " + msg
		}
	}
	return s
}

// HandleRecognition implements EventHandler: decide, drive the barrier and
// the screen, report the pass. A duplicate (same plate inside the window,
// or the same event id redelivered) waits for the first one's outcome and
// returns it marked Duplicate; if the first one's event was not delivered
// it is delivered again. The error is non-nil only when the pass event was
// not taken by the sink, so the driver does not acknowledge the camera.
func (l *Lane) HandleRecognition(ctx context.Context, r Recognition) error {
	_, err := l.Recognize(ctx, r)
	return err
}

// Recognize is HandleRecognition returning the Outcome.
func (l *Lane) Recognize(ctx context.Context, r Recognition) (Outcome, error) {
	start := l.cfg.now()
	if r.At.IsZero() {
		r.At = start
	}
	key := PlateKey(r.Plate)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return Outcome{}, fmt.Errorf("%w: lane", accessctl.ErrClosed)
	}
	l.sweep(start)
	prev := l.lookup(key, r.EventID, start)
	if prev != nil {
		l.mu.Unlock()
		return l.duplicate(ctx, prev, r)
	}
	e := &laneEntry{at: start, done: make(chan struct{})}
	if key != "" && l.cfg.window > 0 {
		l.remember("p:"+key, e)
	}
	if r.EventID != "" {
		l.remember("e:"+r.EventID, e)
	}
	l.wg.Add(1)
	l.mu.Unlock()
	defer l.wg.Done()
	l.st.recognitions.Add(1)
	if r.PictureDropped != "" {
		l.st.snapsDropped.Add(1)
		l.cfg.log.Info("parking: pass kept, picture dropped", "lane", l.cfg.device.ID, "event", r.EventID, "why", r.PictureDropped)
	}

	out := l.act(ctx, r, start)
	if out.Err != nil {
		l.cfg.log.Warn("parking: recognition handled with errors", "lane", l.cfg.device.ID, "event", r.EventID,
			"allowed", out.Decision.Allow, "fallback", out.Fallback, "err", out.Err)
	}
	e.outcome = out
	e.event = l.passEvent(r, out)
	close(e.done)
	if l.cfg.onOutcome != nil {
		l.cfg.onOutcome(out)
	}
	return out, l.deliver(ctx, e)
}

func (l *Lane) lookup(key, id string, now time.Time) *laneEntry {
	if id != "" {
		if e, ok := l.recent["e:"+id]; ok {
			return e
		}
	}
	if key != "" && l.cfg.window > 0 {
		if e, ok := l.recent["p:"+key]; ok && now.Sub(e.at) < l.cfg.window {
			return e
		}
	}
	return nil
}

// sweep forgets entries older than the window (event ids: 10 windows, so
// that a redelivery after a sink failure still finds its entry). Entries
// are queued in arrival order, so this is amortised O(1).
func (l *Lane) sweep(now time.Time) {
	keep := max(l.cfg.window, time.Second)
	for len(l.order) > 0 {
		k := l.order[0]
		ttl := keep
		if k.key[0] == 'e' {
			ttl = 10 * keep
		}
		e, ok := l.recent[k.key]
		if ok && e != k.entry { // replaced by a later entry with its own queue slot
			ok = false
		}
		if ok && now.Sub(e.at) < ttl && len(l.order) <= l.cfg.maxRecent {
			return
		}
		if ok {
			select {
			case <-e.done:
			default:
				return // still in progress: keep it and everything after it
			}
			delete(l.recent, k.key)
		}
		l.order[0] = recentKey{}
		l.order = l.order[1:]
	}
}

func (l *Lane) remember(key string, e *laneEntry) {
	l.recent[key] = e
	l.order = append(l.order, recentKey{key, e})
}

func (l *Lane) duplicate(ctx context.Context, e *laneEntry, r Recognition) (Outcome, error) {
	l.st.duplicates.Add(1)
	select {
	case <-e.done:
	case <-ctx.Done():
		return Outcome{EventID: r.EventID, Plate: r.Plate, Duplicate: true, Err: ctx.Err()}, ctx.Err()
	}
	out := e.outcome
	out.Duplicate, out.GateSent, out.Latency = true, false, 0
	if r.EventID != "" {
		out.EventID = r.EventID
	}
	if l.cfg.onOutcome != nil {
		l.cfg.onOutcome(out)
	}
	return out, l.deliver(ctx, e)
}

func (l *Lane) deliver(ctx context.Context, e *laneEntry) error {
	e.deliverMu.Lock()
	defer e.deliverMu.Unlock()
	if e.delivered {
		return nil
	}
	if err := l.sink.Handle(ctx, e.event); err != nil {
		l.st.deliveryFailed.Add(1)
		return fmt.Errorf("parking: pass event %s not delivered: %w", e.event.ID, err)
	}
	e.delivered = true
	l.st.delivered.Add(1)
	return nil
}

func (l *Lane) act(ctx context.Context, r Recognition, start time.Time) Outcome {
	out := Outcome{EventID: r.EventID, Plate: r.Plate, Direction: l.cfg.direction}
	dctx, cancel := context.WithTimeout(ctx, l.cfg.decideTimeout)
	req := accessctl.DecisionRequest{
		Device: l.cfg.device, Direction: l.cfg.direction, At: r.At, Snapshot: r.Picture, Raw: r.Raw,
		Credential: accessctl.Credential{Kind: accessctl.CredPlate, Value: r.Plate},
	}
	d, err := l.decide(dctx, req)
	cancel()
	if err != nil {
		l.st.fallbacks.Add(1)
		d, out.Fallback, out.Err = l.cfg.fallback(r, err), true, fmt.Errorf("decider: %w", err)
	}
	d.Result.Granted = d.Allow
	out.Decision = d
	if d.Allow {
		l.st.allowed.Add(1)
	} else {
		l.st.denied.Add(1)
	}
	out.Screen = l.cfg.screen(r, d)

	cctx, cancel := context.WithTimeout(ctx, l.cfg.cmdTimeout)
	defer cancel()
	var gate gateResult
	var wg sync.WaitGroup
	if d.Allow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gate = l.gate.submit(cctx, GateOpen, true, false)
		}()
	}
	rend, derr := l.cam.Show(cctx, out.Screen)
	wg.Wait()
	out.Shown = rend.Rows
	out.GateSent = gate.sent
	if derr != nil {
		l.st.displayFailed.Add(1)
	}
	out.Err = errors.Join(out.Err, wrapIf("gate", gate.err), wrapIf("screen", derr))
	out.Latency = l.cfg.now().Sub(start)
	return out
}

func wrapIf(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// decide calls the Decider, turning a panic into an error: a host bug must
// not leave a car without an answer.
func (l *Lane) decide(ctx context.Context, req accessctl.DecisionRequest) (d accessctl.Decision, err error) {
	if l.decider == nil {
		return d, errors.New("no decider")
	}
	type res struct {
		d   accessctl.Decision
		err error
	}
	ch := make(chan res, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- res{err: fmt.Errorf("decider panicked: %v", p)}
			}
		}()
		d, err := l.decider.Decide(ctx, req)
		ch <- res{d, err}
	}()
	select {
	case r := <-ch:
		return r.d, r.err
	case <-ctx.Done():
		return d, fmt.Errorf("%w: %w", accessctl.ErrTimeout, ctx.Err())
	}
}

func (l *Lane) passEvent(r Recognition, out Outcome) accessctl.Event {
	d := out.Decision
	kind := accessctl.PassGranted
	if !d.Allow {
		kind = accessctl.PassDenied
	}
	id := r.EventID
	if id == "" {
		id = l.cfg.device.ID + "/" + PlateKey(r.Plate) + "/" + strconv.FormatInt(r.At.UnixNano(), 10)
	}
	cred := r.Plate
	if d.Credential != "" { // the decider corrected a misread plate
		cred = d.Credential
	}
	p := &accessctl.PassEvent{
		Person: d.Person, PersonName: d.Name, Method: accessctl.MethodPlate, Credential: cred,
		Direction: l.cfg.direction, Kind: kind, Result: d.Result, Snapshot: r.Picture,
		SnapshotDropped: r.PictureDropped, RemainingScans: d.RemainingScans,
	}
	if r.Record.Category() == CategoryBlacklist {
		p.Policy = accessctl.PolicyDeny
	}
	return accessctl.Event{
		ID: id, Kind: accessctl.KindPass, Platform: l.cfg.platform, Site: l.cfg.site, Device: l.cfg.device,
		OccurredAt: r.At, TimeSource: accessctl.TimeDevice, ReceivedAt: l.cfg.now(), Pass: p, Raw: r.Raw,
	}
}

// HandleAbnormalOpen implements EventHandler: an abnormal lift becomes an
// alarm event (type "AbnormalOpenGate", the snapshot as a URL).
func (l *Lane) HandleAbnormalOpen(ctx context.Context, a AbnormalOpen) error {
	at := a.At
	if at.IsZero() {
		at = l.cfg.now()
	}
	id := a.EventID
	if id == "" {
		id = l.cfg.device.ID + "/abnormal/" + strconv.FormatInt(at.UnixNano(), 10)
	}
	al := &accessctl.Alarm{Type: EventAbnormalOpenGate, Message: "barrier lifted by " + a.OpenType.String()}
	if a.ImagePath != "" {
		al.Snapshot = &accessctl.Image{URL: a.ImagePath}
	}
	ev := accessctl.Event{
		ID: id, Kind: accessctl.KindAlarm, Platform: l.cfg.platform, Site: l.cfg.site, Device: l.cfg.device,
		OccurredAt: at, TimeSource: accessctl.TimeDevice, ReceivedAt: l.cfg.now(), Alarm: al, Raw: a.Raw,
	}
	if err := l.sink.Handle(ctx, ev); err != nil {
		l.st.deliveryFailed.Add(1)
		return fmt.Errorf("parking: alarm %s not delivered: %w", id, err)
	}
	l.st.alarms.Add(1)
	l.st.delivered.Add(1)
	return nil
}

// OperateGate sends an operator's command through the lane's queue, so it
// is ordered with the lane's own opens. An explicit close cancels
// keep-open; it is refused with ErrVehiclePresent while the camera reports
// a vehicle under the barrier, unless force.
func (l *Lane) OperateGate(ctx context.Context, cmd GateCommand, force bool) error {
	if !cmd.Valid() {
		return fieldErr(ServiceOperateGate, ParamOperateType, ErrUnknownValue, "%d", cmd)
	}
	err := l.gate.submit(ctx, cmd, false, force).err
	if errors.Is(err, errClosed) {
		err = fmt.Errorf("%w: lane", accessctl.ErrClosed)
	}
	return err
}

// ID implements accessctl.Device: the lane's device id.
func (l *Lane) ID() string { return l.cfg.device.ID }

// Status implements accessctl.Device from the camera's reachability
// (cameras that say: ThingCamera does).
func (l *Lane) Status(ctx context.Context) (accessctl.Status, error) {
	st := accessctl.Status{Device: l.cfg.device, Online: true}
	switch l.cfg.direction {
	case accessctl.DirectionIn:
		st.Info.Role = accessctl.RoleEntry
	case accessctl.DirectionOut:
		st.Info.Role = accessctl.RoleExit
	}
	if o, ok := l.cam.(interface {
		Online() (bool, time.Time, time.Time)
	}); ok {
		st.Online, st.Since, st.LastSeen = o.Online()
	}
	return st, ctx.Err()
}

// OpenDoor implements accessctl.Device: an operator's open of the barrier,
// through the lane's gate queue.
func (l *Lane) OpenDoor(ctx context.Context, req accessctl.OpenRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.OperateGate(ctx, GateOpen, false)
}

// SetKeepOpen implements accessctl.KeepOpener: keep the barrier up (長开)
// or close it again.
func (l *Lane) SetKeepOpen(ctx context.Context, _ int, open bool) error {
	if open {
		return l.OperateGate(ctx, GateKeepOpen, false)
	}
	return l.OperateGate(ctx, GateClose, false)
}

// KeepOpen implements accessctl.KeepOpener.
func (l *Lane) KeepOpen(context.Context, int) (bool, error) { return l.gate.keepOpen.Load(), nil }

// Stats returns the lane's counters.
func (l *Lane) Stats() LaneStats {
	return LaneStats{
		Recognitions: l.st.recognitions.Load(), Duplicates: l.st.duplicates.Load(),
		Allowed: l.st.allowed.Load(), Denied: l.st.denied.Load(), Fallbacks: l.st.fallbacks.Load(),
		GateSent: l.gate.sent.Load(), GateRefused: l.gate.refused.Load(),
		GateFailed: l.gate.failed.Load(), GateUnconfirmed: l.gate.unconfirmed.Load(), DisplayFailed: l.st.displayFailed.Load(),
		Delivered: l.st.delivered.Load(), DeliveryFailed: l.st.deliveryFailed.Load(), Alarms: l.st.alarms.Load(),
		SnapshotsDropped: l.st.snapsDropped.Load(),
	}
}

// Close waits for recognitions in progress and stops the gate queue. It is
// safe to call more than once.
func (l *Lane) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.wg.Wait()
	l.gate.close()
	return nil
}
