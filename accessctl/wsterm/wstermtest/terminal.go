package wstermtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/menjin/menjin/accessctl/wsterm"
	"github.com/menjin/menjin/internal/jsonfast"
	"github.com/menjin/menjin/transport"
)

// Errors of the simulator.
var (
	// ErrNotRegistered: the terminal has no registered connection.
	ErrNotRegistered = errors.New("wstermtest: not registered")
	// ErrNacked: the platform answered a report with a code other than 200.
	ErrNacked = errors.New("wstermtest: report refused by the platform")
	// ErrClosed: the terminal was closed.
	ErrClosed = errors.New("wstermtest: terminal closed")
)

// Behavior makes the terminal misbehave for a command, for tests.
type Behavior struct {
	Silent      bool          // never answer
	Delay       time.Duration // answer this much later
	Code        string        // answer with this code (e.g. "500") without executing
	NoCommandID bool          // answer without commandId (an "orphan" reply)
}

// Option configures a Terminal.
type Option func(*Terminal)

// WithSN sets the serial number (default "SIM0001").
func WithSN(sn string) Option { return func(t *Terminal) { t.sn = sn } }

// WithAddress sets the ip and mac sent in 205.
func WithAddress(ip, mac string) Option { return func(t *Terminal) { t.ip, t.mac = ip, mac } }

// WithType sets the door role sent in 205: "0" both, "1" exit, "2" entry.
func WithType(typ string) Option { return func(t *Terminal) { t.typ = typ } }

// WithHeartbeat overrides the heartbeat period the platform asks for.
func WithHeartbeat(d time.Duration) Option { return func(t *Terminal) { t.heartbeat = d } }

// WithUsers preloads the user table.
func WithUsers(users ...wsterm.User) Option {
	return func(t *Terminal) {
		for _, u := range users {
			t.users[u.UserID] = row{User: u}
		}
	}
}

// WithTransport passes options to the WebSocket client (backoff, ...).
func WithTransport(opts ...transport.Option) Option {
	return func(t *Terminal) { t.topts = append(t.topts, opts...) }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(t *Terminal) {
		if l != nil {
			t.log = l
		}
	}
}

// report is one report awaiting its ack, in FIFO order.
type report struct {
	code    string
	eventID string
	msg     []byte
	done    chan error // nil for 205 and 206
}

// Stats counts what the simulated terminal did.
type Stats struct {
	Registrations int // 205 acked with 200
	Rejections    int // 205 acked with something else
	Heartbeats    int // 206 sent
	EventsAcked   int // 207 acked with 200
	Commands      int // commands received
	Answered      int // replies sent
}

// Terminal simulates a WebSocket face terminal (the device side of
// accessctl/wsterm/PROTOCOL.md Part A): it dials the platform, registers (205), sends
// heartbeats (206), keeps a user table that the commands act on, generates
// events (207) and resends those the platform has not acknowledged after a
// reconnect. It reconnects with jittered exponential backoff.
type Terminal struct {
	url              string
	sn, ip, mac, typ string
	heartbeat        time.Duration
	topts            []transport.Option
	log              *slog.Logger

	mu         sync.Mutex
	client     *transport.Client
	conn       *transport.Conn
	fifo       []*report
	fifoSince  time.Time // when the oldest unacked report started waiting
	outbox     []*report // events not acked yet, resent after (re)registration
	users      map[string]row
	events     map[string]json.RawMessage
	behave     map[string]Behavior
	registered chan struct{} // closed while registered
	isReg      bool
	rejected   string
	seq        int
	stats      Stats
	wg         sync.WaitGroup
	closed     bool
	stop       chan struct{} // closed by Close
}

// NewTerminal starts a simulated terminal that dials url (ws://host:port/path).
func NewTerminal(url string, opts ...Option) *Terminal {
	t := &Terminal{
		url: url, sn: "SIM0001", ip: "127.0.0.1", mac: "02-00-00-00-00-01", typ: "0",
		log: slog.New(slog.DiscardHandler), users: map[string]row{},
		events: map[string]json.RawMessage{}, behave: map[string]Behavior{},
		registered: make(chan struct{}), stop: make(chan struct{}),
		// A terminal holds one connection: gorilla's usual 4 KiB read buffer
		// takes a command with a thumbnail in one read, where the server's
		// small idle-friendly default would need two.
		topts: []transport.Option{transport.WithBufferSizes(4096, 0)},
	}
	for _, o := range opts {
		o(t)
	}
	t.mu.Lock()
	t.startLocked()
	t.mu.Unlock()
	return t
}

func (t *Terminal) startLocked() {
	t.client = transport.NewClient(t.url, t.newConn, t.topts...)
}

// SN is the terminal's serial number.
func (t *Terminal) SN() string { return t.sn }

// WaitRegistered waits until the platform has acked a 205 with "200".
func (t *Terminal) WaitRegistered(ctx context.Context) error {
	for {
		t.mu.Lock()
		ch, ok := t.registered, t.isReg
		t.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNotRegistered, ctx.Err())
		case <-t.stop:
			return ErrClosed
		}
	}
}

// Registered reports whether the terminal is registered now.
func (t *Terminal) Registered() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.isReg
}

// Rejected returns the reason of the last refused 205, or "".
func (t *Terminal) Rejected() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rejected
}

// Stats returns what the terminal did so far.
func (t *Terminal) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}

// User returns a user of the table.
func (t *Terminal) User(id string) (wsterm.User, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.users[id]
	return r.user(), ok
}

// Users returns the user table, by id.
func (t *Terminal) Users() []wsterm.User {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sortedUsersLocked(func(wsterm.User) bool { return true })
}

func (t *Terminal) sortedUsersLocked(keep func(wsterm.User) bool) []wsterm.User {
	out := make([]wsterm.User, 0, len(t.users))
	for _, r := range t.users {
		if u := r.user(); keep(u) {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out
}

// Misbehave sets the behaviour for a command ("" for every command without
// its own). A zero Behavior restores normal answers.
func (t *Terminal) Misbehave(command string, b Behavior) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b == (Behavior{}) {
		delete(t.behave, command)
		return
	}
	t.behave[command] = b
}

// Pass reports a face pass of userID through door ("0" in, "1" out) and
// waits for the platform's ack. The event is resent after reconnects until
// acked, so it survives a platform restart. It returns the eventid.
func (t *Terminal) Pass(ctx context.Context, userID, door string) (string, error) {
	return t.event(ctx, "1", func(id string) any {
		return map[string]string{"userId": userID, "img": tinySnapshot, "door": door}
	})
}

// Enroll adds u to the table as if enrolled on the device, and reports it
// (207 type 2).
func (t *Terminal) Enroll(ctx context.Context, u wsterm.User) (string, error) {
	t.mu.Lock()
	t.users[u.UserID] = row{User: u}
	t.mu.Unlock()
	return t.event(ctx, "2", func(string) any { return u })
}

// tinySnapshot is a 4-byte JPEG signature in Base64: enough for a snapshot
// to decode as image/jpeg.
const tinySnapshot = "/9j/4A=="

type eventBody struct {
	EventID string `json:"eventid"`
	Type    string `json:"type"`
	Data    any    `json:"data"`
}

func (t *Terminal) event(ctx context.Context, typ string, data func(id string) any) (string, error) {
	t.mu.Lock()
	t.seq++
	id := time.Now().UTC().Format("20060102150405") + fmt.Sprintf("%04d", t.seq%10000) + t.sn
	body, _ := json.Marshal(eventBody{EventID: id, Type: typ, Data: data(id)})
	t.events[id] = body
	r := &report{code: "207", eventID: id, done: make(chan error, 1),
		msg: []byte(`{"code":"207","data":` + string(body) + `}`)}
	t.outbox = append(t.outbox, r)
	if t.isReg {
		t.sendLocked(r)
	}
	t.mu.Unlock()
	select {
	case err := <-r.done:
		return id, err
	case <-ctx.Done():
		return id, ctx.Err()
	case <-t.stop:
		return id, ErrClosed
	}
}

// SendRaw sends msg as is on the current connection (for bad-input tests).
// It does not expect an ack.
func (t *Terminal) SendRaw(msg []byte) error {
	t.mu.Lock()
	c := t.conn
	t.mu.Unlock()
	if c == nil {
		return ErrNotRegistered
	}
	return c.Send(msg)
}

// SendReport sends a report whose ack the terminal will expect (FIFO).
func (t *Terminal) SendReport(code string, data any) error {
	body, err := json.Marshal(map[string]any{"code": code, "data": data})
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		return ErrNotRegistered
	}
	t.sendLocked(&report{code: code, msg: body})
	return nil
}

func (t *Terminal) sendLocked(r *report) {
	if t.conn == nil {
		return
	}
	if err := t.conn.Send(r.msg); err != nil {
		t.log.Debug("send failed", "err", err)
		return
	}
	if len(t.fifo) == 0 {
		t.fifoSince = time.Now()
	}
	t.fifo = append(t.fifo, r)
}

// Drop closes the current connection; the terminal reconnects by itself.
func (t *Terminal) Drop() {
	t.mu.Lock()
	c := t.conn
	t.mu.Unlock()
	if c != nil {
		_ = c.Close()
		<-c.Done()
	}
}

// Disconnect takes the terminal off the network until Reconnect.
func (t *Terminal) Disconnect() {
	t.mu.Lock()
	cl := t.client
	t.client = nil
	t.mu.Unlock()
	if cl != nil {
		_ = cl.Close()
	}
}

// Reconnect brings a disconnected terminal back.
func (t *Terminal) Reconnect() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.client == nil && !t.closed {
		t.startLocked()
	}
}

// Close stops the terminal and waits for its goroutines.
func (t *Terminal) Close() error {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.stop)
	}
	t.mu.Unlock()
	t.Disconnect()
	t.wg.Wait()
	return nil
}

// newConn runs for every new connection: it queues the 205 register report.
func (t *Terminal) newConn(c *transport.Conn) transport.Handler {
	reg, _ := json.Marshal(map[string]any{"code": "205", "data": map[string]string{
		"ip": t.ip, "mac": t.mac, "sn": t.sn, "type": t.typ}})
	t.mu.Lock()
	t.conn = c
	t.fifo = nil
	t.sendLocked(&report{code: "205", msg: reg})
	t.mu.Unlock()
	return (*connHandler)(t)
}

type connHandler Terminal

// inbound is everything the platform sends, decoded in one pass: acks
// (command "response") and commands share the shape, and the content
// fields of every command and of an ack fit one struct.
type inbound struct {
	CommandID wsterm.FlexString `json:"commandId"`
	Command   wsterm.FlexString `json:"command"`
	Content   content           `json:"content"`
}

type content struct {
	// img is the face image as it arrived, when the fast reader took it
	// (it wins over Img).
	img      []byte
	User     wsterm.FlexString `json:"user"`
	UserID   wsterm.FlexString `json:"userId"`
	Pwd      wsterm.FlexString `json:"pwd"`
	Name     wsterm.FlexString `json:"name"`
	Role     wsterm.FlexString `json:"role"`
	Img      wsterm.FlexString `json:"img"`
	EventID  wsterm.FlexString `json:"eventid"`
	Code     wsterm.FlexString `json:"code"`
	Data     wsterm.FlexString `json:"data"`
	Interval wsterm.FlexString `json:"interval"`
}

// row is a user of the table. A face image stays in the message it came
// in (the transport hands every message over for keeps), so storing a
// 40 KiB face costs no copy; it becomes a string when it is read back.
type row struct {
	wsterm.User        // Img is empty when img is set
	img         []byte // the image as received
}

func (r row) user() wsterm.User {
	u := r.User
	if r.img != nil {
		u.Img = string(r.img)
	}
	return u
}

func (r row) hasImg() bool { return r.img != nil || r.Img != "" }

func (r row) imgIs(img []byte) bool {
	if r.img != nil {
		return bytes.Equal(r.img, img)
	}
	return r.Img == string(img)
}

func (c *content) row() row {
	r := row{User: wsterm.User{User: string(c.User), UserID: string(c.UserID), Pwd: string(c.Pwd),
		Name: string(c.Name), Role: string(c.Role)}}
	if c.img != nil {
		r.img = c.img
	} else if c.Img != "" {
		r.img = []byte(c.Img)
	}
	return r
}

func (h *connHandler) HandleMessage(c *transport.Conn, msg []byte) {
	t := (*Terminal)(h)
	var in inbound // stays on the stack: the slow paths have their own
	if decodeInbound(msg, &in) {
		t.dispatch(c, &in)
		return
	}
	t.handleSlow(c, msg)
}

// handleSlow decodes what the fast reader left: with encoding/json, then
// leniently, frame by frame.
func (t *Terminal) handleSlow(c *transport.Conn, msg []byte) {
	var in inbound
	if err := json.Unmarshal(msg, &in); err == nil {
		t.dispatch(c, &in)
		return
	}
	// Not the plain shape: decode leniently, frame by frame.
	frames, _, err := wsterm.DecodeFrames(msg)
	if err != nil {
		t.log.Warn("bad frame from platform", "err", err)
		return
	}
	for i := range frames {
		in := inbound{CommandID: frames[i].CommandID, Command: frames[i].Command}
		if p := frames[i].Content; len(p) > 0 && p[0] == '{' {
			if err := json.Unmarshal(p, &in.Content); err != nil {
				in.Content = content{Code: "bad"}
			}
		}
		t.dispatch(c, &in)
	}
}

// decodeInbound reads a plain message — one object, what json.Unmarshal
// into inbound would accept — without reflection, validating all of it. A
// plain image is kept as the bytes it arrived in. It reports false for
// anything else (the lenient path takes over).
func decodeInbound(msg []byte, in *inbound) bool {
	var s jsonfast.Scanner
	s.Reset(msg)
	for key := range s.Members() {
		var ok bool
		switch string(key) {
		case "commandId":
			ok = flex(&in.CommandID, &s)
		case "command":
			ok = flex(&in.Command, &s)
		case "content":
			ok = in.Content.read(&s)
		default:
			ok = !jsonfast.FoldsTo(key, "commandId", "command", "content")
		}
		if !ok {
			return false
		}
	}
	return s.Done()
}

// read reads the content object, as json.Unmarshal into content would.
func (c *content) read(s *jsonfast.Scanner) bool {
	if s.Kind() == 'n' {
		return s.Skip() // null leaves the struct alone, as in encoding/json
	}
	for key := range s.Members() {
		if !c.set(key, s) {
			return false
		}
	}
	return true // the caller's Done reports an error
}

func (c *content) set(key []byte, s *jsonfast.Scanner) bool {
	var dst *wsterm.FlexString
	switch string(key) {
	case "img":
		if s.Kind() == '"' {
			raw, plain, ok := s.Value()
			if ok && plain {
				c.img, c.Img = raw[1:len(raw)-1:len(raw)-1], ""
				return true
			}
			c.img = nil
			return ok && c.Img.UnmarshalJSON(raw) == nil
		}
		c.img = nil
		dst = &c.Img
	case "user":
		dst = &c.User
	case "userId":
		dst = &c.UserID
	case "pwd":
		dst = &c.Pwd
	case "name":
		dst = &c.Name
	case "role":
		dst = &c.Role
	case "eventid":
		dst = &c.EventID
	case "code":
		dst = &c.Code
	case "data":
		dst = &c.Data
	case "interval":
		dst = &c.Interval
	default:
		return !jsonfast.FoldsTo(key, "img", "user", "userId", "pwd", "name", "role", "eventid", "code", "data", "interval")
	}
	return flex(dst, s)
}

// flex reads a scalar into dst.
func flex(dst *wsterm.FlexString, s *jsonfast.Scanner) bool {
	raw, _, ok := s.Value()
	return ok && dst.UnmarshalJSON(raw) == nil
}

func (t *Terminal) dispatch(c *transport.Conn, in *inbound) {
	if in.Command == "response" {
		t.acked(c, &in.Content)
		return
	}
	t.command(c, in)
}

func (h *connHandler) HandleClose(c *transport.Conn, err error) {
	t := (*Terminal)(h)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == c {
		t.conn = nil
		t.fifo = nil
		if t.isReg {
			t.isReg = false
			t.registered = make(chan struct{})
		}
	}
}

// acked matches an ack to the oldest unacknowledged report (C.A.7).
func (t *Terminal) acked(c *transport.Conn, ack *content) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fifo) == 0 {
		t.log.Warn("ack without a report")
		return
	}
	r := t.fifo[0]
	t.fifo = t.fifo[1:]
	t.fifoSince = time.Now() // the next report waits from now at most
	switch r.code {
	case "205":
		if ack.Code != "200" {
			t.stats.Rejections++
			t.rejected = string(ack.Data)
			return
		}
		t.stats.Registrations++
		t.rejected = ""
		if !t.isReg {
			t.isReg = true
			close(t.registered)
		}
		period := t.heartbeat
		if period <= 0 {
			period = 20 * time.Second
			if n, err := strconv.Atoi(string(ack.Interval)); err == nil && n > 0 {
				period = time.Duration(n) * time.Second
			}
		}
		t.wg.Add(1)
		go t.heartbeats(c, period)
		for _, ev := range t.outbox { // resend what was never acked
			t.sendLocked(ev)
		}
	case "207":
		var err error
		if ack.Code != "200" {
			err = fmt.Errorf("%w: code %s", ErrNacked, ack.Code)
		} else {
			t.stats.EventsAcked++
		}
		if r.done != nil { // nil for reports sent with SendReport
			r.done <- err
		}
		for i, ev := range t.outbox {
			if ev == r {
				t.outbox = append(t.outbox[:i], t.outbox[i+1:]...)
				break
			}
		}
	}
}

func (t *Terminal) heartbeats(c *transport.Conn, period time.Duration) {
	defer t.wg.Done()
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-c.Done():
			return
		case <-tick.C:
			hb, _ := json.Marshal(map[string]any{"code": "206", "data": map[string]string{
				"time": time.Now().Format("2006-01-02 15:04:05")}})
			t.mu.Lock()
			stale := t.conn == c && len(t.fifo) > 0 && time.Since(t.fifoSince) > 3*period
			if t.conn == c && !stale {
				t.sendLocked(&report{code: "206", msg: hb})
				t.stats.Heartbeats++
			}
			t.mu.Unlock()
			if stale { // A.4: no ack for 3 × interval; the platform is gone
				t.log.Warn("no ack for 3 intervals; reconnecting")
				_ = c.Close()
				return
			}
		}
	}
}

type reply struct {
	Code      string `json:"code"`
	Data      any    `json:"data,omitempty"`
	Content   any    `json:"content,omitempty"`
	CommandID string `json:"commandId,omitempty"`
}

// encode writes the reply as json.Marshal does; the common shape, a text
// and no content, without reflection.
func (r reply) encode() []byte {
	text, isText := r.Data.(string)
	if !isText || r.Content != nil {
		msg, _ := json.Marshal(r) // a copy escapes, on this path only
		return msg
	}
	b := make([]byte, 0, 48+len(r.Code)+len(text)+len(r.CommandID))
	b = append(b, `{"code":`...)
	b = jsonfast.AppendString(b, r.Code)
	b = append(b, `,"data":`...)
	b = jsonfast.AppendString(b, text)
	if r.CommandID != "" {
		b = append(b, `,"commandId":`...)
		b = jsonfast.AppendString(b, r.CommandID)
	}
	return append(b, '}')
}

// command executes one platform command and answers it as the spec's
// examples do.
func (t *Terminal) command(c *transport.Conn, in *inbound) {
	name, id := string(in.Command), string(in.CommandID)
	t.mu.Lock()
	t.stats.Commands++
	b, ok := t.behave[name]
	if !ok {
		b = t.behave[""]
	}
	var rep reply
	if b.Code != "" {
		rep = reply{Code: b.Code, Data: "simulated failure"}
	} else {
		rep = t.executeLocked(name, &in.Content)
	}
	t.mu.Unlock()
	if b.Silent {
		return
	}
	if !b.NoCommandID {
		rep.CommandID = id
	}
	if rep.Data == nil && rep.Content == nil {
		rep.Data = ""
	}
	msg := rep.encode()
	if b.Delay <= 0 {
		t.answer(c, msg)
		return
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		select {
		case <-time.After(b.Delay):
			t.answer(c, msg)
		case <-c.Done():
		}
	}()
}

func (t *Terminal) answer(c *transport.Conn, msg []byte) {
	if c.Send(msg) == nil {
		t.mu.Lock()
		t.stats.Answered++
		t.mu.Unlock()
	}
}

func (t *Terminal) executeLocked(name string, in *content) reply {
	if in.Code == "bad" {
		return reply{Code: "500", Data: "bad content"}
	}
	r := in.row()
	u := r.User
	switch name {
	case wsterm.CmdAddUser:
		if u.UserID == "" {
			return reply{Code: "500", Data: "missing userId"}
		}
		t.users[u.UserID] = r // an existing id is updated (C.A.1)
		return reply{Code: "200"}
	case wsterm.CmdEditUser:
		old, ok := t.users[u.UserID]
		if !ok {
			return reply{Code: "500", Data: "user not found"}
		}
		for _, p := range []struct {
			dst *string
			src string
		}{
			{&old.User.User, u.User}, {&old.Pwd, u.Pwd}, {&old.Name, u.Name}, {&old.Role, u.Role},
		} {
			if p.src != "" {
				*p.dst = p.src
			}
		}
		if len(r.img) > 0 {
			old.Img, old.img = "", r.img
		}
		t.users[u.UserID] = old
		return reply{Code: "200"}
	case wsterm.CmdDeleteUser:
		if _, ok := t.users[u.UserID]; !ok {
			return reply{Code: "500", Data: "user not found"}
		}
		delete(t.users, u.UserID)
		return reply{Code: "200"}
	case wsterm.CmdSelectUser:
		return reply{Code: "203", Content: t.sortedUsersLocked(func(x wsterm.User) bool {
			return (u.UserID == "" || x.UserID == u.UserID) && (u.Name == "" || x.Name == u.Name)
		})}
	case wsterm.CmdCompareUser:
		exit := "0"
		for _, x := range t.users {
			if len(r.img) > 0 && x.hasImg() && x.imgIs(r.img) {
				exit = "1"
			}
		}
		return reply{Code: "204", Content: map[string]string{"exit": exit}}
	case wsterm.CmdQueryEvent:
		if ev, ok := t.events[string(in.EventID)]; ok {
			return reply{Code: "208", Content: ev}
		}
		return reply{Code: "500", Data: "event not found"}
	}
	return reply{Code: "500", Data: "unknown command"}
}
