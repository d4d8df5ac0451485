package wsterm

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/transport"
)

// KindReport is the kind of an event built from a report whose code or
// event type the protocol does not define: acknowledged and delivered raw
// (PROTOCOL.md D.3). Sinks that do not know it can ignore it.
const KindReport accessctl.EventKind = "wsterm_report"

var ackOK = []byte(`{"command":"response","content":{"code":"200","data":""}}`)

func ackFail(reason string) []byte {
	b, _ := json.Marshal(reason)
	return []byte(`{"command":"response","content":{"code":"500","data":` + string(b) + `}}`)
}

// session is one connection of one terminal. Fields below "reader only" are
// touched by the connection's reader goroutine alone.
type session struct {
	srv      *Server
	conn     *transport.Conn
	remote   string
	pending  transport.Pending[*Frame]
	slots    chan struct{} // commands in flight
	lastSeen atomic.Int64
	deadline *time.Timer

	registered atomic.Bool
	unreg      atomic.Bool // counted in Server.unreg
	// acked is closed once the register ack is queued: commands wait for it
	// (no command may precede the ack, C.A.24), while the session is already
	// visible to hosts the moment the terminal can hear its ack.
	acked     chan struct{}
	ackedOnce sync.Once
	mu        sync.Mutex // guards sn against Device calls
	sn        string

	// reader only
	badRun     int
	early      []Frame
	earlyBytes int
}

// leaveUnreg takes the session out of the unregistered count, once.
func (s *session) leaveUnreg() {
	if s.unreg.CompareAndSwap(true, false) {
		s.srv.unreg.Add(-1)
	}
}

func (s *session) seen() time.Time { return time.Unix(0, s.lastSeen.Load()) }

func (s *session) id() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sn
}

func (s *session) log() *slog.Logger { return s.srv.cfg.logger.With("sn", s.sn, "remote", s.remote) }

func (s *session) ack(msg []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), transport.DefaultWriteTimeout)
	defer cancel()
	if err := s.conn.SendPriority(ctx, msg); err != nil {
		s.log().Debug("ack not queued", "err", err)
	}
}

// HandleMessage classifies every frame of a message (PROTOCOL.md A.2).
func (s *session) HandleMessage(c *transport.Conn, msg []byte) {
	now := time.Now()
	s.lastSeen.Store(now.UnixNano())
	frames, repaired, err := DecodeFrames(msg)
	if err != nil {
		s.srv.st.badFrames.Add(1)
		s.badRun++
		s.log().Warn("bad frame dropped", "len", len(msg), "err", err, "inARow", s.badRun)
		if s.badRun >= maxBadFramesInARow {
			c.CloseWithError(fmt.Errorf("%w: %d in a row", ErrBadFrame, s.badRun))
		}
		return
	}
	s.badRun = 0
	if repaired {
		s.srv.st.repaired.Add(1)
	}
	if s.registered.Load() {
		// Any frame is a sign of life for the tracker's silence check, not
		// only heartbeats; it also retries an online the sink refused.
		ctx, cancel := context.WithTimeout(context.Background(), s.srv.cfg.sinkTimeout)
		if err := s.srv.lv.Seen(ctx, accessctl.DeviceRef{ID: s.id()}); err != nil {
			s.srv.st.sinkErrors.Add(1)
		}
		cancel()
	}
	for i := range frames {
		s.handle(&frames[i], now)
	}
}

func isReplyCode(code FlexString) bool {
	switch code {
	case "200", "203", "204", "208", "500":
		return true
	}
	return false
}

func (s *session) handle(f *Frame, now time.Time) {
	switch {
	case f.CommandID != "":
		s.reply(string(f.CommandID), f)
	case f.Code == "205":
		s.register(f, now)
	case f.Code == "206":
		s.heartbeat(f, now)
	case f.Code == "207":
		s.report(f, now)
	case isReplyCode(f.Code):
		if id, ok := s.pending.Only(); ok {
			s.srv.st.orphansAttributed.Add(1)
			s.log().Warn("reply without commandId attributed to the only command in flight", "commandId", id, "code", f.Code)
			s.reply(id, f)
			return
		}
		s.srv.st.orphansDropped.Add(1)
		s.log().Warn("reply without commandId dropped", "code", f.Code, "inFlight", s.pending.Len())
	case f.Code != "":
		s.srv.st.unknownReports.Add(1)
		s.report(f, now)
	default:
		s.srv.st.noCode.Add(1)
		s.log().Warn("frame without code or commandId dropped", "command", f.Command)
	}
}

func (s *session) reply(id string, f *Frame) {
	switch s.pending.Resolve(id, f) {
	case transport.Delivered:
		// Counted by the caller, so that Stats includes a reply as soon as
		// its command has returned.
	case transport.Late:
		s.srv.st.late.Add(1)
		s.log().Warn("late reply", "commandId", id, "code", f.Code)
		if s.srv.cfg.lateReply != nil {
			s.srv.cfg.lateReply(s.id(), *f)
		}
	case transport.Duplicate:
		s.srv.st.dupRep.Add(1)
		s.log().Info("duplicate reply dropped", "commandId", id)
	default:
		s.srv.st.unknownReplies.Add(1)
		s.log().Warn("reply to an unknown commandId dropped", "commandId", id, "code", f.Code)
	}
}

type registerData struct {
	IP   FlexString `json:"ip"`
	MAC  FlexString `json:"mac"`
	SN   FlexString `json:"sn"`
	Type FlexString `json:"type"`
}

// RoleOf maps the register report's type to a door role: "0" entry and
// exit, "1" exit, "2" entry (not the event's door encoding, C.A.17).
func RoleOf(typ string) accessctl.DoorRole {
	switch typ {
	case "0":
		return accessctl.RoleBoth
	case "1":
		return accessctl.RoleExit
	case "2":
		return accessctl.RoleEntry
	}
	return accessctl.RoleUnknown
}

// DirectionOf maps a pass event's door field to a direction: "0" in,
// "1" out (not the register type encoding, C.A.17).
func DirectionOf(door string) accessctl.Direction {
	switch door {
	case "0":
		return accessctl.DirectionIn
	case "1":
		return accessctl.DirectionOut
	}
	return accessctl.DirectionUnknown
}

func (s *session) register(f *Frame, now time.Time) {
	var d registerData
	if !isNull(f.Data) {
		if err := json.Unmarshal(f.Data, &d); err != nil {
			s.log().Warn("register report with unreadable data", "err", err)
		}
	}
	sn := string(d.SN)
	if sn == "" {
		s.reject("missing sn")
		return
	}
	r := Registration{SN: sn, IP: string(d.IP), MAC: string(d.MAC), Type: string(d.Type), RemoteAddr: s.remote}
	if why := s.srv.cfg.allowed(r); why != "" {
		s.srv.cfg.logger.Warn("terminal rejected by the allow-list", "sn", sn, "ip", r.IP, "mac", r.MAC, "remote", s.remote, "why", why)
		s.reject(why)
		return
	}
	if a := s.srv.cfg.admission; a != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.srv.cfg.sinkTimeout)
		err := a(ctx, r)
		cancel()
		if err != nil {
			s.srv.cfg.logger.Warn("terminal rejected by admission", "sn", sn, "ip", r.IP, "mac", r.MAC, "remote", s.remote, "err", err)
			s.reject(err.Error())
			return
		}
	}
	again := s.registered.Load()
	prev := s.id()
	if (!again || prev != sn) && s.conflict(sn, now) {
		return // refused, and the socket is closing
	}
	if again && prev != sn { // same socket, new identity: the old one goes offline
		s.goOffline(prev, fmt.Errorf("re-registered as %s", sn))
		again = false
	}
	// Record the terminal before it can hear its ack, so that a host that
	// reacts to the terminal finds it; commands still wait for the ack.
	s.mu.Lock()
	s.sn = sn
	s.mu.Unlock()
	s.registered.Store(true)
	s.leaveUnreg()
	s.deadline.Stop()
	s.conn.SetIdleTimeout(s.srv.cfg.offlineAfter)
	s.conn.SetReadLimit(0) // admitted: face-sized messages from now on
	s.srv.st.registrations.Add(1)

	info := accessctl.DeviceInfo{Serial: sn, IP: r.IP, MAC: r.MAC, Role: RoleOf(r.Type)}
	s.srv.mu.Lock()
	rec := s.srv.recordLocked(sn)
	rec.info, rec.typ, rec.lastSeen = info, r.Type, now
	if !again {
		rec.online, rec.since = true, now
	}
	since := rec.since
	s.srv.mu.Unlock()
	if !again {
		if old, replaced := s.srv.reg.Put(sn, s); replaced {
			s.srv.st.replaced.Add(1)
			s.srv.cfg.logger.Info("terminal reconnected; old session replaced", "sn", sn)
			old.pending.Close(fmt.Errorf("%w: %w", accessctl.ErrOffline, transport.ErrReplaced))
			old.conn.CloseWithError(transport.ErrReplaced)
		}
	}
	s.ack(s.srv.ackRegister)
	s.ackedOnce.Do(func() { close(s.acked) })
	if again {
		return // a repeated 205 on the same socket only updates attributes (A.5)
	}
	st := accessctl.Status{Device: accessctl.DeviceRef{ID: sn}, Online: true, Since: since, LastSeen: now, Info: info}
	s.status(accessctl.KindOnline, st, f.Raw, now)
	for _, e := range s.early {
		s.deliver(&e, now, false)
	}
	s.early = nil
}

// conflictWait is how long a newcomer waits for the session it would
// replace to finish closing (a terminal that dropped its socket and dialled
// again at once), before the session counts as alive.
const conflictWait = 500 * time.Millisecond

// conflict reports whether sn belongs to another session that is alive
// (heard from within takeoverAfter). Then the newcomer is refused and an
// alarm raised: a socket cannot take over a door by claiming its serial,
// and a revocation cannot be diverted to an impostor. A silent session may
// be replaced; that is how a terminal that lost its socket comes back.
func (s *session) conflict(sn string, now time.Time) bool {
	old, ok := s.srv.reg.Get(sn)
	if !ok || old == s || old.conn.Err() != nil {
		return false
	}
	if now.Sub(old.seen()) >= s.srv.cfg.takeoverAfter {
		return false
	}
	select {
	case <-old.conn.Done():
		return false
	case <-time.After(conflictWait):
	}
	if old.conn.Err() != nil {
		return false // closing: the terminal's new socket is welcome
	}
	s.srv.st.conflicts.Add(1)
	s.srv.cfg.logger.Warn("second connection for a live terminal refused", "sn", sn, "remote", s.remote,
		"live", old.remote, "liveSeen", old.seen().Format(time.RFC3339Nano))
	s.reject("session_conflict")
	s.srv.mu.Lock()
	rec := s.srv.recordLocked(sn)
	alarm := now.Sub(rec.alarmed) >= s.srv.cfg.takeoverAfter // one a window: no alarm flood from a loop
	if alarm {
		rec.alarmed = now
	}
	s.srv.mu.Unlock()
	if !alarm {
		return true
	}
	e := accessctl.Event{
		ID: sn + ":" + AlarmSessionConflict + ":" + strconv.FormatInt(now.UnixNano(), 10), Kind: accessctl.KindAlarm,
		Device: accessctl.DeviceRef{ID: sn}, OccurredAt: now, TimeSource: accessctl.TimeReceipt, ReceivedAt: now,
		Alarm: &accessctl.Alarm{Type: AlarmSessionConflict,
			Message: fmt.Sprintf("connection from %s registered as %s while its session from %s is alive; refused", s.remote, sn, old.remote)},
	}
	if err := s.srv.emit(e); err != nil {
		s.srv.st.sinkErrors.Add(1)
		s.srv.cfg.logger.Error("event sink refused a session-conflict alarm", "sn", sn, "err", err)
	}
	return true
}

func (s *session) reject(reason string) {
	s.srv.st.rejected.Add(1)
	s.ack(ackFail(reason))
	s.conn.CloseWithError(fmt.Errorf("%w: %s", accessctl.ErrRejected, reason))
}

// status emits an online, offline or heartbeat event. Online and offline go
// through the server's liveness tracker: a refused one is emitted again, with
// its id, at the next heartbeat or silence check.
func (s *session) status(kind accessctl.EventKind, st accessctl.Status, raw json.RawMessage, now time.Time) {
	sn := st.Device.ID
	ctx, cancel := context.WithTimeout(context.Background(), s.srv.cfg.sinkTimeout)
	defer cancel()
	var err error
	switch kind {
	case accessctl.KindOnline:
		err = s.srv.lv.Connected(ctx, st.Device)
	case accessctl.KindOffline:
		err = s.srv.lv.Lost(ctx, st.Device)
	default:
		if err = s.srv.lv.Seen(ctx, st.Device); err == nil {
			err = s.srv.emit(accessctl.Event{
				ID: sn + "/" + string(kind) + "/" + strconv.FormatInt(now.UnixNano(), 10), Kind: kind,
				Device: st.Device, OccurredAt: now, TimeSource: accessctl.TimeReceipt, ReceivedAt: now,
				Status: &st, Raw: raw,
			})
		}
	}
	if err != nil {
		s.srv.st.sinkErrors.Add(1)
		s.srv.cfg.logger.Error("event sink refused a status event", "sn", sn, "kind", kind, "err", err)
	}
	if kind != accessctl.KindHeartbeat && s.srv.cfg.onStatus != nil {
		s.srv.cfg.onStatus(st)
	}
}

func (s *session) heartbeat(f *Frame, now time.Time) {
	s.ack(ackOK)
	if !s.registered.Load() {
		return
	}
	s.srv.st.heartbeats.Add(1)
	sn := s.id()
	st := s.srv.status(sn)
	st.LastSeen = now
	var d struct {
		Time FlexString `json:"time"`
	}
	if !isNull(f.Data) && json.Unmarshal(f.Data, &d) == nil && d.Time != "" {
		st.Info.Extra = map[string]string{"clock": string(d.Time)}
		// D.12: the terminal evaluates nothing by our clock, but a drifting
		// clock is worth a warning. Its time has no zone: assume ours.
		if t, err := time.ParseInLocation("2006-01-02 15:04:05", string(d.Time), time.Local); err == nil {
			skew := t.Sub(now).Round(time.Second)
			st.Info.Extra["clockSkew"] = skew.String()
			if skew > 5*time.Minute || skew < -5*time.Minute {
				s.log().Warn("terminal clock drifts", "skew", skew, "clock", string(d.Time))
			}
		}
	}
	s.status(accessctl.KindHeartbeat, st, f.Raw, now)
}

// report handles a 207 event or an unknown report.
func (s *session) report(f *Frame, now time.Time) {
	if !s.registered.Load() {
		if len(s.early) >= maxPreRegisterEvents || s.earlyBytes+len(f.Raw) > preRegisterBytes {
			s.log().Warn("too many events before 205; closing without ack")
			s.conn.CloseWithError(errNoRegister)
			return
		}
		s.srv.st.early.Add(1)
		// A.5: ack at once and buffer until the terminal registers; they
		// are delivered only if it does, as the device it registers as.
		s.early = append(s.early, *f)
		s.earlyBytes += len(f.Raw)
		s.ack(ackOK)
		return
	}
	s.deliver(f, now, true)
}

// deliver hands an event to the sink and acks it only when the sink took it.
// withAck is false for events buffered before 205 (acked already).
func (s *session) deliver(f *Frame, now time.Time, withAck bool) {
	sn := s.id()
	e, eventID := buildEvent(sn, f, now, s.srv.cfg.maxSnapshot)
	var dd *dedup
	if eventID != "" && sn != "" {
		dd = s.srv.dedupOf(sn)
		if dd.seen(eventID) {
			s.srv.st.dupEvents.Add(1)
			if withAck {
				s.ack(ackOK) // a resend: ack again, deliver once (D.6)
			}
			return
		}
	}
	if err := s.srv.emit(e); err != nil {
		s.srv.st.sinkErrors.Add(1)
		if !withAck {
			s.srv.st.unregLost.Add(1)
			s.log().Error("event sink refused an event that was acked before 205; it is lost", "eventid", eventID, "err", err)
			return
		}
		s.log().Error("event sink refused an event; not acked, closing so the terminal resends", "eventid", eventID, "err", err)
		s.conn.CloseWithError(fmt.Errorf("%w: %w", errSinkFailed, err))
		return
	}
	if dd != nil {
		dd.add(eventID)
	}
	s.srv.st.events.Add(1)
	if e.Pass != nil && e.Pass.SnapshotDropped != "" {
		s.srv.st.snapDropped.Add(1)
		s.log().Warn("pass snapshot dropped; pass delivered without it", "eventid", eventID, "why", e.Pass.SnapshotDropped)
	}
	if withAck {
		s.ack(ackOK)
	}
}

// HandleClose fails pending commands and reports the terminal offline,
// unless a newer connection of the same terminal replaced this one.
func (s *session) HandleClose(c *transport.Conn, err error) {
	s.deadline.Stop()
	s.leaveUnreg()
	s.pending.Close(fmt.Errorf("%w: %w", accessctl.ErrOffline, err))
	if n := len(s.early); n > 0 {
		// Never registered (or refused): nobody vouches for these, and a
		// pass without a door must not be recorded as one. Counted only.
		s.srv.st.unregDropped.Add(uint64(n))
		s.log().Warn("events of a connection that never registered dropped", "events", n)
	}
	s.early = nil
	if s.registered.Load() {
		s.goOffline(s.id(), err)
	}
}

func (s *session) goOffline(sn string, cause error) {
	if !s.srv.reg.Remove(sn, s) {
		return // replaced: the terminal is still online through another socket
	}
	now := time.Now()
	s.srv.mu.Lock()
	rec := s.srv.recordLocked(sn)
	rec.online, rec.since, rec.lastSeen = false, now, s.seen()
	rec.reason = ""
	if cause != nil {
		rec.reason = cause.Error()
	}
	st := accessctl.Status{Device: accessctl.DeviceRef{ID: sn}, Online: false, Since: now, LastSeen: rec.lastSeen, Info: rec.info}
	s.srv.forgetLocked(now)
	s.srv.mu.Unlock()
	if cause != nil {
		st.Info.Extra = map[string]string{"reason": cause.Error()}
	}
	s.srv.cfg.logger.Info("terminal offline", "sn", sn, "reason", cause)
	s.status(accessctl.KindOffline, st, nil, now)
}

// eventData is the data of a 207 report and the content of a queryEvent
// reply (A.8.3).
type eventData struct {
	EventID FlexString      `json:"eventid"`
	Type    FlexString      `json:"type"`
	Data    json.RawMessage `json:"data"`
}

type passData struct {
	UserID FlexString `json:"userId"`
	Img    FlexString `json:"img"`
	Door   FlexString `json:"door"`
}

// buildEvent turns a 207 report (or any unknown report) into an Event. It
// never fails: what it cannot read stays in Raw, under KindReport.
func buildEvent(sn string, f *Frame, now time.Time, maxSnapshot int) (accessctl.Event, string) {
	e := accessctl.Event{
		Kind: KindReport, Device: accessctl.DeviceRef{ID: sn},
		OccurredAt: now, TimeSource: accessctl.TimeReceipt, ReceivedAt: now, Raw: f.Raw,
	}
	var d eventData
	if f.Code != "207" || isNull(f.Data) || json.Unmarshal(f.Data, &d) != nil {
		e.ID = sn + ":rx:" + strconv.FormatInt(now.UnixNano(), 10)
		return e, ""
	}
	fillEvent(&e, &d, maxSnapshot)
	eventID := string(d.EventID)
	if eventID != "" {
		e.ID = sn + ":" + eventID
	} else {
		e.ID = sn + ":rx:" + strconv.FormatInt(now.UnixNano(), 10)
	}
	return e, eventID
}

// fillEvent sets the kind and payload from an event object.
func fillEvent(e *accessctl.Event, d *eventData, maxSnapshot int) {
	switch d.Type {
	case "1":
		var p passData
		if !isNull(d.Data) {
			_ = json.Unmarshal(d.Data, &p) // a broken payload still yields the pass
		}
		pass := &accessctl.PassEvent{
			Method: accessctl.MethodFace, Direction: DirectionOf(string(p.Door)),
			Kind: accessctl.PassGranted, Result: accessctl.Result{Granted: true},
		}
		if p.UserID != "" {
			pass.Person = &accessctl.PersonRef{ID: string(p.UserID)}
		} else { // a record without a user is a stranger the terminal refused
			pass.Kind, pass.Result.Granted = accessctl.PassDenied, false
		}
		if p.Img != "" {
			pass.Snapshot, pass.SnapshotDropped = snapshot(string(p.Img), maxSnapshot)
		}
		e.Kind, e.Pass = accessctl.KindPass, pass
	case "2":
		var u User
		if !isNull(d.Data) {
			_ = json.Unmarshal(d.Data, &u)
		}
		g := GrantOf(u)
		e.Kind, e.Enrolled = accessctl.KindEnrolled, &g
	}
}

// snapshot decodes a pass's Base64 snapshot, or says why it was dropped:
// the door opened (or refused) whatever its picture, so a bad one costs the
// picture, never the pass.
func snapshot(b64 string, max int) (*accessctl.Image, string) {
	if len(b64)/4*3 > max+3 { // decoded size, before paying for the decode
		return nil, fmt.Sprintf("over %d bytes", max)
	}
	im, err := accessctl.DecodeImage(b64)
	switch {
	case err != nil:
		return nil, "not Base64"
	case len(im.Data) > max:
		return nil, fmt.Sprintf("over %d bytes", max)
	case accessctl.SniffImage(im.Data) == "":
		return nil, "not a JPEG or PNG"
	}
	return im, ""
}

// GrantOf converts a terminal's user object into a Grant.
func GrantOf(u User) accessctl.Grant {
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: u.UserID}, Name: u.Name, Account: u.User, Admin: u.Role == "1"}
	if u.Img != "" {
		face := accessctl.Credential{Kind: accessctl.CredFace}
		if im, err := accessctl.DecodeImage(u.Img); err == nil {
			face.Face = im
		} else {
			face.Value = u.Img // not Base64 (the spec's placeholders): keep it verbatim
		}
		g.Credentials = append(g.Credentials, face)
	}
	if u.Pwd != "" {
		g.Credentials = append(g.Credentials, accessctl.Credential{Kind: accessctl.CredPassword, Value: u.Pwd})
	}
	return g
}
