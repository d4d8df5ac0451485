package wsterm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/liveness"
	"github.com/menjin/menjin/transport"
)

// DriverName is the name under which hosts usually register a Server
// (accessctl.Register(wsterm.DriverName, srv)).
const DriverName = "wsterm"

// errSinkFailed closes a connection whose event the sink refused; see Server.
var errSinkFailed = errors.New("wsterm: event sink failed; event left unacknowledged")

// errNoRegister closes a connection that never sent 205.
var errNoRegister = errors.New("wsterm: no register report (205) in time")

// Server is the platform side of the WebSocket face-terminal protocol: an
// http.Handler that terminals dial into, and an accessctl.Driver whose Open
// returns the Device handle of a terminal by its serial number.
//
// Events reach the EventSink on the connection's reader goroutine, before the
// terminal gets its ack: the ack of a 207 event is sent only after
// Handle returned nil. If the sink fails, the event is not acknowledged and
// the connection is closed. Closing (rather than skipping one ack) keeps the
// terminal's FIFO matching of acks to reports intact; the terminal
// reconnects and resends what it did not get acknowledged. Events resent
// within the de-dup window are acknowledged but delivered once.
type Server struct {
	cfg  config
	sink accessctl.EventSink
	ts   *transport.Server
	reg  transport.Registry[*session]

	mu        sync.Mutex
	known     map[string]*record
	lastSweep time.Time // of forgetLocked's TTL pass
	closed    atomic.Bool
	st        counters
	unreg     atomic.Int64 // connections that have not registered

	ackRegister []byte

	// lv turns sessions into online/offline events (the one rule of
	// accessctl/liveness); delivery counts every event handed to the sink.
	lv       *liveness.Tracker
	delivery accessctl.DeliveryCounter
}

// record is what the server remembers about a terminal across connections.
type record struct {
	info     accessctl.DeviceInfo
	typ      string
	online   bool
	since    time.Time
	lastSeen time.Time
	dedup    *dedup
	reason   string    // why the last session ended, for the offline event
	alarmed  time.Time // last session-conflict alarm, to rate-limit them
}

// NewServer returns a Server that delivers events to the sink given by
// WithSink (none: discard).
func NewServer(opts ...Option) *Server {
	s := &Server{cfg: defaultConfig(), known: make(map[string]*record)}
	for _, o := range opts {
		if o != nil {
			o(&s.cfg)
		}
	}
	if s.cfg.offlineAfter <= 0 {
		s.cfg.offlineAfter = 3 * s.cfg.interval
	}
	// A silent socket is closed after offlineAfter (its idle timeout), which
	// reports the terminal offline; the tracker's own silence check, at twice
	// that, only retries an offline the sink refused. So a terminal is
	// reported offline within offlineAfter of its last frame, and within
	// 2.5 × offlineAfter if the sink refused the first attempt.
	s.sink = s.cfg.sink
	if s.sink == nil {
		s.sink = accessctl.Discard
	}
	s.lv = liveness.New(s.sink, liveness.WithTimeout(2*s.cfg.offlineAfter), liveness.WithDelivery(&s.delivery),
		liveness.WithEvent(s.decorate))
	if s.cfg.takeoverAfter <= 0 {
		s.cfg.takeoverAfter = s.cfg.interval + s.cfg.interval/4
	}
	s.ackRegister = []byte(fmt.Sprintf(`{"command":"response","content":{"code":"200","interval":"%d","data":""}}`,
		int(s.cfg.interval/time.Second)))
	topts := append([]transport.Option{
		transport.WithIdleTimeout(s.cfg.registerDeadline),
		transport.WithLogger(s.cfg.logger),
	}, s.cfg.transport...)
	s.ts = transport.NewServer(s.accept, topts...)
	return s
}

func (s *Server) accept(c *transport.Conn, r *http.Request) transport.Handler {
	if s.closed.Load() {
		return nil
	}
	// Everything an anonymous socket can make us hold is bounded: how many
	// of them, how big a message, how long (the register deadline).
	if s.unreg.Add(1) > int64(s.cfg.maxUnregistered) {
		s.unreg.Add(-1)
		s.st.unregRefused.Add(1)
		s.cfg.logger.Warn("too many unregistered connections; refused", "remote", r.RemoteAddr, "max", s.cfg.maxUnregistered)
		return nil
	}
	c.SetReadLimit(s.cfg.preReadLimit)
	sess := &session{srv: s, conn: c, remote: r.RemoteAddr, slots: make(chan struct{}, s.cfg.maxInFlight), acked: make(chan struct{})}
	sess.lastSeen.Store(time.Now().UnixNano())
	sess.unreg.Store(true)
	sess.deadline = time.AfterFunc(s.cfg.registerDeadline, func() {
		if !sess.registered.Load() {
			c.CloseWithError(errNoRegister)
		}
	})
	s.st.connections.Add(1)
	return sess
}

// ServeHTTP accepts a terminal's WebSocket upgrade.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.ts.ServeHTTP(w, r) }

// Open implements accessctl.Driver: it returns the handle of the terminal
// whose sn is cfg.ID. The terminal need not be connected yet; calls on the
// handle return accessctl.ErrOffline while it is not.
func (s *Server) Open(ctx context.Context, cfg accessctl.DeviceConfig) (accessctl.Device, error) {
	return s.Device(cfg.ID)
}

// Device is Open with a typed result.
func (s *Server) Device(sn string) (*Device, error) {
	if sn == "" {
		return nil, fmt.Errorf("%w: wsterm: device id (sn) is empty", accessctl.ErrInvalid)
	}
	if s.closed.Load() {
		return nil, accessctl.ErrClosed
	}
	return &Device{srv: s, sn: sn}, nil
}

// Close disconnects every terminal, waits for their goroutines and delivers
// their offline events. The http.Server serving s is the caller's to close.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return s.ts.Close()
	}
	err := s.ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.sinkTimeout)
	defer cancel()
	_ = s.lv.Close(ctx) // refused offlines are counted as dropped
	return err
}

// decorate completes the tracker's status events with what the terminal
// told at registration, and why its last session ended.
func (s *Server) decorate(e *accessctl.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.known[e.Device.ID]
	if rec == nil || e.Status == nil {
		return
	}
	e.Status.Info = rec.info
	if e.Kind == accessctl.KindOffline && rec.reason != "" {
		e.Status.Info.Extra = map[string]string{"reason": rec.reason}
	}
}

// Terminal is a summary of one terminal the server has seen.
type Terminal struct {
	SN       string    `json:"sn"`
	IP       string    `json:"ip"`
	MAC      string    `json:"mac"`
	Type     string    `json:"type"`
	Online   bool      `json:"online"`
	Since    time.Time `json:"since"`
	LastSeen time.Time `json:"lastSeen"`
}

// Terminals lists the terminals connected and those the server still
// remembers (see WithForget), by sn.
func (s *Server) Terminals() []Terminal {
	s.mu.Lock()
	out := make([]Terminal, 0, len(s.known))
	for sn, r := range s.known {
		out = append(out, Terminal{SN: sn, IP: r.info.IP, MAC: r.info.MAC, Type: r.typ, Online: r.online, Since: r.since, LastSeen: r.lastSeen})
	}
	s.mu.Unlock()
	for i := range out {
		if sess, ok := s.reg.Get(out[i].SN); ok {
			out[i].LastSeen = sess.seen()
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SN < out[j].SN })
	return out
}

func (s *Server) status(sn string) accessctl.Status {
	st := accessctl.Status{Device: accessctl.DeviceRef{ID: sn}}
	s.mu.Lock()
	if r, ok := s.known[sn]; ok {
		st.Online, st.Since, st.LastSeen, st.Info = r.online, r.since, r.lastSeen, r.info
	}
	s.mu.Unlock()
	if sess, ok := s.reg.Get(sn); ok {
		st.LastSeen = sess.seen()
	}
	return st
}

func (s *Server) emit(e accessctl.Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.sinkTimeout)
	defer cancel()
	return s.delivery.Deliver(ctx, s.sink, e)
}

// Stats are the server's counters.
type Stats struct {
	accessctl.DeliveryStats        // every event handed to the sink, status included
	Connections             uint64 // WebSocket connections accepted
	Registrations           uint64 // 205 reports accepted
	Rejected                uint64 // 205 reports refused by admission, allow-list, conflict or lacking sn
	Replaced                uint64 // silent sessions replaced by a newer connection of the same sn
	Conflicts               uint64 // 205s refused because the sn's session is alive (AlarmSessionConflict)
	UnregRefused            uint64 // connections closed at once: too many unregistered ones
	UnregDropped            uint64 // events of connections that never registered: acked, not delivered
	Forgotten               uint64 // records of disconnected terminals dropped (WithForget)
	SnapshotsDropped        uint64 // pass snapshots dropped (corrupt, not an image, too big); the pass was kept
	Heartbeats              uint64
	Events                  uint64 // events delivered to the sink
	DuplicateEvents         uint64 // resent events acked but not delivered again
	EarlyEvents             uint64 // events received before 205, buffered until it is accepted
	UnregisteredLost        uint64 // buffered pre-205 events the sink refused after they were acked
	SinkErrors              uint64
	UnknownReports          uint64 // codes outside the table, acked and delivered raw
	BadFrames               uint64 // messages that did not decode even leniently
	RepairedFrames          uint64 // messages that needed the lenient repairs
	NoCodeDropped           uint64 // objects with neither commandId nor code
	CommandsSent            uint64
	Replies                 uint64 // replies a waiting command got (counted before it returns)
	CommandTimeouts         uint64
	LateReplies             uint64
	DuplicateReplies        uint64
	UnknownReplies          uint64 // a commandId no command of ours had
	OrphansAttributed       uint64 // id-less replies given to the single command in flight
	OrphansDropped          uint64
	Transport               transport.Stats
}

type counters struct {
	connections, registrations, rejected, replaced, heartbeats         atomic.Uint64
	events, dupEvents, early, unregLost, sinkErrors, unknownReports    atomic.Uint64
	badFrames, repaired, noCode, sent, replies, timeouts, late, dupRep atomic.Uint64
	unknownReplies, orphansAttributed, orphansDropped                  atomic.Uint64
	conflicts, unregRefused, unregDropped, forgotten, snapDropped      atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := &s.st
	return Stats{
		DeliveryStats: s.delivery.Stats(),
		Connections:   c.connections.Load(), Registrations: c.registrations.Load(), Rejected: c.rejected.Load(),
		Replaced: c.replaced.Load(), Heartbeats: c.heartbeats.Load(), Events: c.events.Load(),
		DuplicateEvents: c.dupEvents.Load(), EarlyEvents: c.early.Load(), UnregisteredLost: c.unregLost.Load(),
		SinkErrors: c.sinkErrors.Load(), UnknownReports: c.unknownReports.Load(), BadFrames: c.badFrames.Load(),
		RepairedFrames: c.repaired.Load(), NoCodeDropped: c.noCode.Load(), CommandsSent: c.sent.Load(),
		Replies: c.replies.Load(), CommandTimeouts: c.timeouts.Load(), LateReplies: c.late.Load(),
		DuplicateReplies: c.dupRep.Load(), UnknownReplies: c.unknownReplies.Load(),
		OrphansAttributed: c.orphansAttributed.Load(), OrphansDropped: c.orphansDropped.Load(),
		Conflicts: c.conflicts.Load(), UnregRefused: c.unregRefused.Load(), UnregDropped: c.unregDropped.Load(),
		Forgotten: c.forgotten.Load(), SnapshotsDropped: c.snapDropped.Load(),
		Transport: s.ts.Stats(),
	}
}

// dedup remembers the last n eventids of one terminal. Its ring grows as
// ids arrive, so a terminal that reported little costs little.
type dedup struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	size int
	next int
}

func (d *dedup) seen(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.set[id]
	return ok
}

func (d *dedup) add(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.set[id]; ok {
		return
	}
	if len(d.ring) < d.size {
		d.ring = append(d.ring, id)
		d.set[id] = struct{}{}
		return
	}
	delete(d.set, d.ring[d.next])
	d.ring[d.next] = id
	d.set[id] = struct{}{}
	d.next = (d.next + 1) % len(d.ring)
}

func (s *Server) dedupOf(sn string) *dedup {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recordLocked(sn)
	if r.dedup == nil {
		r.dedup = &dedup{set: make(map[string]struct{}), size: s.cfg.dedupWindow}
	}
	return r.dedup
}

func (s *Server) recordLocked(sn string) *record {
	r, ok := s.known[sn]
	if !ok {
		r = &record{info: accessctl.DeviceInfo{Serial: sn}}
		s.known[sn] = r
	}
	return r
}

// forgetLocked bounds the records of disconnected terminals (WithForget):
// those gone longer than forgetAfter go, and past maxOffline the longest
// gone go first, down to 7/8 of it so that the scan runs rarely.
func (s *Server) forgetLocked(now time.Time) {
	over := len(s.known) > s.reg.Len()+s.cfg.maxOffline
	if !over && now.Sub(s.lastSweep) < min(s.cfg.forgetAfter/8+time.Second, time.Hour) {
		return
	}
	s.lastSweep = now
	type gone struct {
		sn    string
		since time.Time
	}
	var offline []gone
	for sn, r := range s.known {
		if r.online {
			continue
		}
		if now.Sub(r.since) > s.cfg.forgetAfter {
			delete(s.known, sn)
			s.st.forgotten.Add(1)
			continue
		}
		offline = append(offline, gone{sn, r.since})
	}
	if len(offline) <= s.cfg.maxOffline {
		return
	}
	sort.Slice(offline, func(i, j int) bool { return offline[i].since.Before(offline[j].since) })
	for _, g := range offline[:len(offline)-s.cfg.maxOffline*7/8] {
		delete(s.known, g.sn)
		s.st.forgotten.Add(1)
	}
}
