package wsterm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/transport"
)

// Device is the handle of one terminal, by serial number. It stays valid
// across reconnects: every call uses the terminal's current connection and
// returns accessctl.ErrOffline while there is none.
//
// Besides accessctl.Device it implements PermissionSync, GrantGetter,
// FaceComparer and EventQuerier. It does not implement GrantLister: that
// needs a selectUser without a filter, which returns every user with photo
// and no paging (PROTOCOL.md D.4); call SelectUser explicitly if you
// accept that.
//
// OpenDoor returns accessctl.ErrUnsupported: the protocol has no remote
// opening command.
type Device struct {
	srv    *Server
	sn     string
	closed atomic.Bool
}

var (
	_ accessctl.Device         = (*Device)(nil)
	_ accessctl.PermissionSync = (*Device)(nil)
	_ accessctl.GrantGetter    = (*Device)(nil)
	_ accessctl.FaceComparer   = (*Device)(nil)
	_ accessctl.EventQuerier   = (*Device)(nil)
	_ accessctl.Driver         = (*Server)(nil)
)

// ID is the terminal's serial number.
func (d *Device) ID() string { return d.sn }

// Status reports whether the terminal is connected and registered, and what
// its last 205 said (IP, MAC, role from type).
func (d *Device) Status(ctx context.Context) (accessctl.Status, error) {
	if d.closed.Load() {
		return accessctl.Status{}, accessctl.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return accessctl.Status{}, err
	}
	return d.srv.status(d.sn), nil
}

// OpenDoor is not part of this protocol: it returns accessctl.ErrUnsupported
// (ErrClosed after Close).
func (d *Device) OpenDoor(ctx context.Context, req accessctl.OpenRequest) error {
	if d.closed.Load() {
		return accessctl.ErrClosed
	}
	return fmt.Errorf("%w: wsterm has no remote-open command", accessctl.ErrUnsupported)
}

// Close releases the handle; the terminal stays connected.
func (d *Device) Close() error {
	d.closed.Store(true)
	return nil
}

// Reply is a terminal's answer to a command.
type Reply = Frame

// success lists the codes that mean success per command (A.9, liberal).
func success(command string, code FlexString) bool {
	switch command {
	case CmdAddUser, CmdEditUser, CmdDeleteUser:
		return code == "200"
	case CmdSelectUser:
		return code == "203" || code == "200"
	case CmdCompareUser:
		return code == "204" || code == "200"
	case CmdQueryEvent:
		return code == "208" || code == "207" || code == "200"
	}
	return true // unknown commands: the caller reads the code
}

// Do sends a command with content (marshalled to JSON) and waits for the
// reply, at most the command's timeout (A.10). A reply whose code is not a
// success for the command returns the reply and an error wrapping
// accessctl.ErrRejected (a *accessctl.RejectedError with the code and text).
// Errors: ErrOffline (not connected, or disconnected while waiting; the
// command may have been applied), ErrTimeout (no reply in time, or the write
// queue was full), ctx errors.
func (d *Device) Do(ctx context.Context, command string, content any) (*Reply, error) {
	timeout, ok := d.srv.cfg.timeouts[command]
	if !ok {
		timeout = 30 * time.Second
	}
	if command == CmdSelectUser {
		if q, ok := content.(UserQuery); ok && q.UserID == "" && q.Name == "" {
			timeout = d.srv.cfg.timeouts[selectAll]
		}
	}
	return d.do(ctx, command, content, nil, timeout)
}

// doUser sends addUser or editUser.
func (d *Device) doUser(ctx context.Context, command string, uc *userContent) (*Reply, error) {
	timeout, ok := d.srv.cfg.timeouts[command]
	if !ok {
		timeout = 30 * time.Second
	}
	return d.do(ctx, command, nil, uc, timeout)
}

type request struct {
	CommandID string `json:"commandId"`
	Command   string `json:"command"`
	Content   any    `json:"content"`
}

func (d *Device) do(ctx context.Context, command string, content any, uc *userContent, timeout time.Duration) (*Reply, error) {
	if d.closed.Load() {
		return nil, accessctl.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sess, ok := d.srv.reg.Get(d.sn)
	if !ok {
		return nil, fmt.Errorf("%w: terminal %s is not connected", accessctl.ErrOffline, d.sn)
	}
	select { // one command in flight per terminal (A.3); the rest queue here
	case sess.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-sess.conn.Done():
		return nil, fmt.Errorf("%w: terminal %s disconnected", accessctl.ErrOffline, d.sn)
	}
	defer func() { <-sess.slots }()
	select { // the register ack goes out before any command (C.A.24)
	case <-sess.acked:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-sess.conn.Done():
		return nil, fmt.Errorf("%w: terminal %s disconnected", accessctl.ErrOffline, d.sn)
	}

	id := commandIDs.next()
	buf := frameBufs.Get().(*[]byte)
	msg, err := appendRequest(*buf, id, command, content, uc)
	if err != nil {
		frameBufs.Put(buf)
		return nil, fmt.Errorf("%w: %s content: %v", accessctl.ErrInvalid, command, err)
	}
	call, err := sess.pending.Add(id)
	if err != nil {
		frameBufs.Put(buf)
		return nil, accessctl.MapTransportError(command, err)
	}
	queued, err := sess.conn.SendOwned(msg)
	if !queued && cap(msg) <= maxPooledFrame { // written (or refused): the buffer is ours again
		*buf = msg[:0]
		frameBufs.Put(buf)
	}
	if err != nil {
		call.Cancel()
		return nil, accessctl.MapTransportError(command, err)
	}
	d.srv.st.sent.Add(1)
	rep, err := call.Wait(ctx, timeout)
	call.Release()
	if err != nil {
		if errors.Is(err, transport.ErrTimeout) {
			d.srv.st.timeouts.Add(1)
		}
		return nil, fmt.Errorf("wsterm %s (commandId %s): %w", d.sn, id, accessctl.MapTransportError(command, err))
	}
	d.srv.st.replies.Add(1)
	if !success(command, rep.Code) {
		return rep, accessctl.Rejected(command, string(rep.Code), rep.Text())
	}
	return rep, nil
}

// AddUser creates a user (all six fields are sent, as the source requires).
func (d *Device) AddUser(ctx context.Context, u User) error {
	plain, err := d.checkUser(u, true)
	if err != nil {
		return err
	}
	_, err = d.doUser(ctx, CmdAddUser, &userContent{User: u, plainImg: plain})
	return err
}

// EditUser changes a user; empty fields are left out and stay unchanged.
func (d *Device) EditUser(ctx context.Context, u User) error {
	plain, err := d.checkUser(u, false)
	if err != nil {
		return err
	}
	_, err = d.doUser(ctx, CmdEditUser, &userContent{User: u, edit: true, plainImg: plain})
	return err
}

// checkUser validates u before sending; plain reports an image known to
// need no JSON escaping.
func (d *Device) checkUser(u User, add bool) (plain bool, err error) {
	if u.UserID == "" {
		return false, fmt.Errorf("%w: user without userId", accessctl.ErrInvalid)
	}
	if u.Img == "" && add {
		return false, fmt.Errorf("%w: addUser needs a face image", accessctl.ErrInvalid)
	}
	if u.Img != "" && d.srv.cfg.validateImages {
		return checkImage(u.Img)
	}
	return false, nil
}

// b64class maps a byte to its standard-alphabet form, 1 for padding and
// whitespace, 0 for bytes that cannot appear in Base64.
var b64class = func() (t [256]byte) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = c
	}
	t['-'], t['_'] = '+', '/'
	for _, c := range []byte("= \n\r\t") {
		t[c] = 1
	}
	return t
}()

// b64kind sorts bytes for the bulk check: 0 for the alphabets (standard and
// URL-safe) and padding, 2 for whitespace (valid, but JSON escapes it), 4
// for anything else.
var b64kind = func() (t [256]byte) {
	for c := range t {
		switch k := b64class[c]; {
		case k == 0:
			t[c] = 4
		case k == 1 && c != '=':
			t[c] = 2
		}
	}
	return t
}()

// checkImage verifies that s is Base64 (any variant D.5 lists) of a JPEG or
// PNG without decoding all of it: one pass over the alphabet, and the magic
// bytes from the head. Decoding a copy of every face would double the cost
// of an addUser.
// It also reports whether s is plain: it can go into JSON as it is, with no
// whitespace and nothing in a data: prefix that needs escaping.
func checkImage(s string) (plain bool, err error) {
	plain = true
	if strings.HasPrefix(s, "data:") {
		comma := strings.IndexByte(s, ',')
		if comma < 0 {
			return false, fmt.Errorf("%w: data URL without a comma", accessctl.ErrInvalid)
		}
		for i := 0; i < comma; i++ { // the media type goes out verbatim too
			plain = plain && jsonSafe(s[i])
		}
		s = s[comma+1:]
	}
	// Sixteen bytes per step, no branch per byte: a face image is tens of
	// KiB and this check runs on every addUser.
	var a, b byte
	for t := s; len(t) >= 16; t = t[16:] {
		a |= b64kind[t[0]] | b64kind[t[1]] | b64kind[t[2]] | b64kind[t[3]] |
			b64kind[t[4]] | b64kind[t[5]] | b64kind[t[6]] | b64kind[t[7]]
		b |= b64kind[t[8]] | b64kind[t[9]] | b64kind[t[10]] | b64kind[t[11]] |
			b64kind[t[12]] | b64kind[t[13]] | b64kind[t[14]] | b64kind[t[15]]
	}
	for i := len(s) &^ 15; i < len(s); i++ {
		a |= b64kind[s[i]]
	}
	if (a|b)&4 != 0 {
		for i := 0; i < len(s); i++ {
			if b64class[s[i]] == 0 {
				return false, fmt.Errorf("%w: face image is not Base64 (byte %q at %d)", accessctl.ErrInvalid, s[i], i)
			}
		}
	}
	plain = plain && (a|b)&2 == 0
	var head [12]byte
	n := 0
	for i := 0; i < len(s) && n < len(head); i++ {
		if c := b64class[s[i]]; c > 1 {
			head[n] = c
			n++
		}
	}
	var magic [9]byte
	m, err := base64.RawStdEncoding.Decode(magic[:], head[:n/4*4])
	if err != nil || accessctl.SniffImage(magic[:m]) == "" {
		return false, fmt.Errorf("%w: face image is neither JPEG nor PNG", accessctl.ErrInvalid)
	}
	return plain, nil
}

// DeleteUser deletes a user and their photo. name is informational.
func (d *Device) DeleteUser(ctx context.Context, userID, name string) error {
	if userID == "" {
		return fmt.Errorf("%w: deleteUser without userId", accessctl.ErrInvalid)
	}
	_, err := d.Do(ctx, CmdDeleteUser, UserQuery{UserID: userID, Name: name})
	return err
}

// SelectUser queries users. An empty query returns every user with photo
// (D.4: possibly huge); prefer querying by id. "None found" (an empty list,
// no content, or code 500) is an empty result, not an error (D.9).
func (d *Device) SelectUser(ctx context.Context, q UserQuery) ([]User, error) {
	rep, err := d.Do(ctx, CmdSelectUser, q)
	if errors.Is(err, accessctl.ErrRejected) && rep != nil && rep.Code == "500" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var users []User
	if p := rep.Payload(); p != nil && p[0] == '[' {
		if err := json.Unmarshal(p, &users); err != nil {
			return nil, fmt.Errorf("%w: selectUser reply: %v", ErrBadFrame, err)
		}
	}
	return users, nil
}

// CompareUser asks whether a Base64 face is enrolled (reply field exit,
// sic; exist is read too).
func (d *Device) CompareUser(ctx context.Context, img string) (bool, error) {
	rep, err := d.Do(ctx, CmdCompareUser, struct {
		Img string `json:"img"`
	}{img})
	if err != nil {
		return false, err
	}
	var c struct {
		Exit  FlexString `json:"exit"`
		Exist FlexString `json:"exist"`
	}
	if p := rep.Payload(); p != nil && p[0] == '{' {
		if err := json.Unmarshal(p, &c); err != nil {
			return false, fmt.Errorf("%w: compareUser reply: %v", ErrBadFrame, err)
		}
	}
	return c.Exit.Truthy() || c.Exist.Truthy(), nil
}

// CompareFace implements accessctl.FaceComparer.
func (d *Device) CompareFace(ctx context.Context, face accessctl.Image) (bool, error) {
	if len(face.Data) == 0 {
		return false, fmt.Errorf("%w: compareUser needs image bytes", accessctl.ErrInvalid)
	}
	return d.CompareUser(ctx, base64.StdEncoding.EncodeToString(face.Data))
}

// QueryEvent implements accessctl.EventQuerier: it fetches one event by its
// eventid and returns it as the 207 report would have been delivered. An
// unknown id gives accessctl.ErrNotFound.
func (d *Device) QueryEvent(ctx context.Context, id string) (accessctl.Event, error) {
	rep, err := d.Do(ctx, CmdQueryEvent, struct {
		EventID string `json:"eventid"`
	}{id})
	if errors.Is(err, accessctl.ErrRejected) {
		return accessctl.Event{}, fmt.Errorf("%w: event %s: %w", accessctl.ErrNotFound, id, err)
	}
	if err != nil {
		return accessctl.Event{}, err
	}
	p := rep.Payload()
	if p == nil || p[0] != '{' {
		return accessctl.Event{}, fmt.Errorf("%w: event %s", accessctl.ErrNotFound, id)
	}
	now := time.Now()
	e, _ := buildEvent(d.sn, &Frame{Code: "207", Data: p, Raw: rep.Raw}, now, d.srv.cfg.maxSnapshot)
	return e, nil
}

// GetGrant implements accessctl.GrantGetter with a selectUser by id.
func (d *Device) GetGrant(ctx context.Context, p accessctl.PersonRef) (accessctl.Grant, error) {
	users, err := d.SelectUser(ctx, UserQuery{UserID: p.ID})
	if err != nil {
		return accessctl.Grant{}, err
	}
	for _, u := range users {
		if u.UserID == p.ID { // name matching may be fuzzy; ids are exact (C.A.12)
			return GrantOf(u), nil
		}
	}
	return accessctl.Grant{}, fmt.Errorf("%w: user %s on %s", accessctl.ErrNotFound, p.ID, d.sn)
}

// UserOf converts a grant to the terminal's user object. The grant needs a
// person id and a face credential with image bytes; a deny policy cannot be
// expressed by this protocol. Validity windows are not carried either: the
// terminal has no such fields, so the host removes the grant when it ends.
func UserOf(g accessctl.Grant) (User, error) {
	if g.Person.ID == "" {
		return User{}, fmt.Errorf("%w: grant without a person id", accessctl.ErrInvalid)
	}
	if g.Policy == accessctl.PolicyDeny {
		return User{}, fmt.Errorf("%w: wsterm cannot hold a deny policy", accessctl.ErrUnsupported)
	}
	face, ok := g.Credential(accessctl.CredFace)
	if !ok || face.Face == nil || len(face.Face.Data) == 0 {
		return User{}, fmt.Errorf("%w: wsterm needs a face credential with image bytes", accessctl.ErrUnsupported)
	}
	u := User{User: g.Account, UserID: g.Person.ID, Name: g.Name, Role: "0",
		Img: base64.StdEncoding.EncodeToString(face.Face.Data)}
	if u.User == "" {
		u.User = g.Person.ID
	}
	if g.Admin {
		u.Role = "1"
	}
	if pwd, ok := g.Credential(accessctl.CredPassword); ok {
		u.Pwd = pwd.Value
	}
	return u, nil
}

// PutGrant sends addUser; a refusal (the id may exist already) is retried
// as editUser (D.8). Idempotent by person id.
func (d *Device) PutGrant(ctx context.Context, g accessctl.Grant) error {
	if d.closed.Load() {
		return accessctl.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	u, err := UserOf(g)
	if err != nil {
		return err
	}
	if face, _ := g.Credential(accessctl.CredFace); d.srv.cfg.validateImages && accessctl.SniffImage(face.Face.Data) == "" {
		return fmt.Errorf("%w: face image is neither JPEG nor PNG", accessctl.ErrInvalid)
	}
	// We encoded the image ourselves: it is valid, plain Base64.
	_, err = d.doUser(ctx, CmdAddUser, &userContent{User: u, plainImg: true})
	if errors.Is(err, accessctl.ErrRejected) {
		if _, err2 := d.doUser(ctx, CmdEditUser, &userContent{User: u, edit: true, plainImg: true}); err2 != nil {
			return fmt.Errorf("addUser refused (%v), then editUser: %w", err, err2)
		}
		return nil
	}
	return err
}

// RemoveGrant sends deleteUser; a refusal is checked with selectUser and
// counts as done when the user is absent (D.8). Removing an absent person
// succeeds.
func (d *Device) RemoveGrant(ctx context.Context, p accessctl.PersonRef) error {
	if d.closed.Load() {
		return accessctl.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := d.DeleteUser(ctx, p.ID, "")
	if !errors.Is(err, accessctl.ErrRejected) {
		return err
	}
	if _, err2 := d.GetGrant(ctx, p); errors.Is(err2, accessctl.ErrNotFound) {
		return nil
	} else if err2 != nil {
		return fmt.Errorf("deleteUser refused (%v), then selectUser: %w", err, err2)
	}
	return err
}
