package stdproto

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Terminal is the edge's handle of one provisioned terminal. It implements
// accessctl.Device (OpenDoor is /remoteOpen), accessctl.KeepOpener,
// accessctl.PermissionSync (faces via syncFaces, cards and Bluetooth cards
// via their syncPermissions), accessctl.GrantLister and GrantGetter (from
// the face library). Client gives every other edge → terminal interface.
//
// Calls fail with ErrOffline while the terminal is not connected to the
// edge. Handles are cheap; Close closes only the handle.
type Terminal struct {
	e      *Edge
	st     *terminalState
	closed atomic.Bool
}

var (
	_ accessctl.Device         = (*Terminal)(nil)
	_ accessctl.KeepOpener     = (*Terminal)(nil)
	_ accessctl.PermissionSync = (*Terminal)(nil)
	_ accessctl.GrantLister    = (*Terminal)(nil)
	_ accessctl.GrantGetter    = (*Terminal)(nil)
	_ accessctl.Driver         = (*Edge)(nil)
)

// ID is the terminal's sn ("" on a nil handle).
func (t *Terminal) ID() string {
	if t == nil || t.st == nil {
		return ""
	}
	return t.st.cfg.SN
}

// errNoHandle is what a nil or zero Terminal answers instead of panicking
// (a handle must come from Edge.Terminal or Edge.Open).
var errNoHandle = fmt.Errorf("%w: stdproto: no terminal handle (use Edge.Terminal's error)", accessctl.ErrInvalid)

// Client calls the terminal's interfaces directly (temperature rule, SIP
// account, elevator, raw syncs). It does not check that the terminal is
// online.
func (t *Terminal) Client() *Client {
	if t == nil || t.st == nil {
		return nil
	}
	return t.st.cli()
}

// Status reports whether the terminal's link to the edge is alive.
func (t *Terminal) Status(ctx context.Context) (accessctl.Status, error) {
	if t == nil || t.st == nil {
		return accessctl.Status{}, errNoHandle
	}
	st := t.st
	cfg := st.config()
	st.mu.Lock()
	s := accessctl.Status{
		Device: accessctl.DeviceRef{Platform: Platform, ID: st.cfg.SN},
		Online: st.online,
		Since:  st.since,
		Info: accessctl.DeviceInfo{Serial: st.cfg.SN, IP: st.ip, MAC: st.mac,
			Extra: map[string]string{"addr": cfg.Addr, "keepalive": st.keepalive.String()}},
	}
	if s.Info.IP == "" {
		s.Info.IP = cfg.IP
	}
	st.mu.Unlock()
	if seen, ok := t.e.tokens.lastSeen(st.cfg.SN); ok {
		s.LastSeen = seen
	}
	return s, nil
}

// ElevatorStates is the last run state the terminal's elevator controller
// reported.
func (t *Terminal) ElevatorStates() []CarState {
	if t == nil || t.st == nil {
		return nil
	}
	t.st.mu.Lock()
	defer t.st.mu.Unlock()
	return append([]CarState(nil), t.st.states...)
}

// ready checks what every call needs: an open handle, a live context, an
// online terminal.
func (t *Terminal) ready(ctx context.Context) error {
	if t == nil || t.st == nil {
		return errNoHandle
	}
	if t.closed.Load() || t.e.closed.Load() {
		return accessctl.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t.st.mu.Lock()
	on := t.st.online
	t.st.mu.Unlock()
	if !on {
		return fmt.Errorf("%w: terminal %s is not connected to the edge", accessctl.ErrOffline, t.ID())
	}
	return nil
}

func checkDoor(door int) error {
	if door > 1 {
		return fmt.Errorf("%w: the protocol has no door index (door %d)", accessctl.ErrUnsupported, door)
	}
	return nil
}

// OpenDoor opens the terminal's door with /remoteOpen. The protocol has no
// door index, operator or reason (C.B.9): door 0 or 1 only.
func (t *Terminal) OpenDoor(ctx context.Context, req accessctl.OpenRequest) error {
	if err := t.ready(ctx); err != nil {
		return err
	}
	if err := checkDoor(req.Door); err != nil {
		return err
	}
	return t.st.cli().RemoteOpen(ctx)
}

// SetKeepOpen implements accessctl.KeepOpener with /setKeepOpen.
func (t *Terminal) SetKeepOpen(ctx context.Context, door int, open bool) error {
	if err := t.ready(ctx); err != nil {
		return err
	}
	if err := checkDoor(door); err != nil {
		return err
	}
	return t.st.cli().SetKeepOpen(ctx, open)
}

// KeepOpen implements accessctl.KeepOpener with /getKeepOpen.
func (t *Terminal) KeepOpen(ctx context.Context, door int) (bool, error) {
	if err := t.ready(ctx); err != nil {
		return false, err
	}
	if err := checkDoor(door); err != nil {
		return false, err
	}
	return t.st.cli().KeepOpen(ctx)
}

// Close closes the handle. It is idempotent.
func (t *Terminal) Close() error {
	if t == nil {
		return nil
	}
	t.closed.Store(true)
	return nil
}

// epochMs is t as the protocol's epoch-ms decimal text; "" for nil.
func epochMs(t *time.Time) Text {
	if t == nil {
		return ""
	}
	return Text(strconv.FormatInt(t.UnixMilli(), 10))
}

// cardKey normalises a card number for comparison: trimmed, hex letters
// upper-cased (permissions spec §3.3).
func cardKey(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// md5JSON is the edge's opaque change token for a value (C.B.15: the
// serialisation is ours to choose).
func md5JSON(v any) string {
	b, _ := json.Marshal(v)
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// cardOps are the permission entries of one kind a grant needs.
func cardOps(g *accessctl.Grant, kind accessctl.CredentialKind) map[string]Permission {
	out := map[string]Permission{}
	for _, c := range g.Credentials {
		if c.Kind != kind {
			continue
		}
		v := c.Value
		if v == "" && c.Card != nil {
			v = c.Card.Raw
		}
		k := cardKey(v)
		if k == "" {
			continue
		}
		from, to := g.ValidFrom, g.ValidTo
		if c.ValidFrom != nil {
			from = c.ValidFrom
		}
		if c.ValidTo != nil {
			to = c.ValidTo
		}
		eff, exp := epochMs(from), epochMs(to)
		if eff == "" {
			eff = "0"
		}
		if exp == "" {
			exp = "4102444800000" // 2100-01-01: the protocol requires a bound
		}
		out[k] = Permission{Type: PermAdd, UserID: g.Person.ID, CardID: k, EffectiveTime: eff, ExpiryTime: exp}
	}
	return out
}

// PutGrant puts a person on the terminal: a face record (userInfo, and the
// feature vector of the grant's face photo through the edge's
// FeatureExtractor), card and Bluetooth-card whitelist entries. Cards the
// person no longer has are deleted (from the edge's record of what it
// pushed, kept in the ledger of WithLedger: the protocol cannot read cards
// back, C.B.22). Passwords and QR codes are not synced: the protocol has no
// password, and QR codes are checked by the edge (/qrcode).
//
// On code 4 the edge connects again and retries once (D.7). A terminal
// without device-side face comparison (HTTP 404 on syncFaces) still gets
// cards when the grant has no face.
func (t *Terminal) PutGrant(ctx context.Context, g accessctl.Grant) error {
	if err := validPerson(g.Person); err != nil {
		return err
	}
	if err := t.ready(ctx); err != nil {
		return err
	}
	st := t.st
	face, hasFace := g.Credential(accessctl.CredFace)
	var feature []float64
	if hasFace && !face.Face.Empty() {
		if t.e.o.extractor == nil {
			return fmt.Errorf("%w: no FeatureExtractor configured, cannot sync a face (the protocol sends features, not photos)", accessctl.ErrUnsupported)
		}
		var err error
		feature, err = t.e.o.extractor(ctx, *face.Face)
		if err != nil {
			return fmt.Errorf("%w: extracting face features: %w", accessctl.ErrInvalid, err)
		}
	}
	info := &UserInfo{UserID: g.Person.ID, UserName: g.Name, ExpiryTime: epochMs(g.ValidTo), IsInBlackList: Bool(g.Policy == accessctl.PolicyDeny)}
	op := FaceOp{Type: FaceAdd, FaceID: g.Person.ID, UserInfo: info, UserInfoMd5: md5JSON(info)}
	if feature != nil {
		op.Feature, op.FeatureMd5 = feature, md5JSON(feature)
	}

	st.syncMu.Lock()
	defer st.syncMu.Unlock()
	if _, known := st.faces[op.FaceID]; known {
		op.Type = FaceUpdate
	}
	_, err := st.cli().SyncFaces(ctx, []FaceOp{op})
	switch {
	case err == nil:
		prev := st.faces[op.FaceID]
		fi := FaceInfo{FaceID: op.FaceID, UserInfoMd5: op.UserInfoMd5, FeatureMd5: op.FeatureMd5}
		if fi.FeatureMd5 == "" {
			fi.FeatureMd5 = prev.FeatureMd5 // an update without feature keeps it
		}
		st.faces[op.FaceID] = fi
	case !hasFace && (errors.Is(err, accessctl.ErrUnsupported) || errors.Is(err, accessctl.ErrRejected)):
		// No face library, or one that wants a feature with every record:
		// a person without a face goes on as cards only.
	default:
		return err
	}
	st.names[g.Person.ID] = g.Name
	for _, kind := range []struct {
		path string
		cred accessctl.CredentialKind
	}{{PathCardSync, accessctl.CredCard}, {PathBLESync, accessctl.CredBLECard}} {
		if err := t.syncCardsLocked(ctx, g.Person.ID, kind.path, cardOps(&g, kind.cred)); err != nil {
			return err
		}
	}
	return nil
}

// syncCardsLocked makes the terminal's entries of one list for person
// equal to want. Callers hold st.syncMu.
func (t *Terminal) syncCardsLocked(ctx context.Context, person, path string, want map[string]Permission) error {
	st := t.st
	had := st.cards[person]
	var ops []Permission
	for k, c := range had {
		if c.path != path {
			continue
		}
		if _, keep := want[k]; !keep {
			ops = append(ops, Permission{Type: PermDelete, UserID: person, CardID: k})
		}
	}
	for _, p := range want {
		ops = append(ops, p)
	}
	if len(ops) == 0 {
		return nil
	}
	// Revocation survives a crash: what may reach the terminal is recorded
	// (in memory and in the ledger) before the push, and a deletion is
	// forgotten only after the terminal confirmed it. A failed push leaves
	// the union, which a later removal deletes.
	union := maps.Clone(had)
	if union == nil {
		union = map[string]pushedCard{}
	}
	for _, p := range want {
		p.Type = PermAdd // re-pushed later as an upsert
		union[p.CardID] = pushedCard{path: path, perm: p}
	}
	if err := t.e.recordCards(ctx, st.cfg.SN, person, union); err != nil {
		return err
	}
	st.cards[person] = union
	for k, c := range union {
		st.owners[c.path+"|"+k] = person
	}
	var err error
	if path == PathCardSync {
		_, err = st.cli().SyncCards(ctx, ops)
	} else {
		_, err = st.cli().SyncBLECards(ctx, ops)
	}
	if err != nil {
		return err
	}
	for _, p := range ops {
		if p.Type == PermDelete {
			delete(st.cards[person], p.CardID)
			delete(st.owners, path+"|"+p.CardID)
		}
	}
	if len(st.cards[person]) == 0 {
		delete(st.cards, person)
	}
	return t.e.recordCards(ctx, st.cfg.SN, person, st.cards[person])
}

func validPerson(p accessctl.PersonRef) error {
	if p.ID == "" {
		return fmt.Errorf("%w: grant without a person id", accessctl.ErrInvalid)
	}
	if len(p.ID) > MaxFaceIDBytes {
		return fmt.Errorf("%w: person id longer than %d bytes (it is the faceId)", accessctl.ErrInvalid, MaxFaceIDBytes)
	}
	return nil
}

// RemoveGrant deletes the person's face record and every card the edge
// pushed for them, as the ledger records them (with a durable ledger, also
// those pushed before a restart). Removing an absent person succeeds.
func (t *Terminal) RemoveGrant(ctx context.Context, p accessctl.PersonRef) error {
	if err := validPerson(p); err != nil {
		return err
	}
	if err := t.ready(ctx); err != nil {
		return err
	}
	st := t.st
	st.syncMu.Lock()
	defer st.syncMu.Unlock()
	_, err := st.cli().SyncFaces(ctx, []FaceOp{{Type: FaceDelete, FaceID: p.ID}})
	if err != nil && !errors.Is(err, accessctl.ErrUnsupported) {
		return err
	}
	delete(st.faces, p.ID)
	for _, path := range []string{PathCardSync, PathBLESync} {
		if err := t.syncCardsLocked(ctx, p.ID, path, nil); err != nil {
			return err
		}
	}
	delete(st.names, p.ID)
	return nil
}

// ListGrants lists the persons in the terminal's face library (queryFaces,
// all pages). Persons with cards only are not listed: the protocol cannot
// read cards back.
func (t *Terminal) ListGrants(ctx context.Context) ([]accessctl.PersonRef, error) {
	if err := t.ready(ctx); err != nil {
		return nil, err
	}
	faces, err := t.st.cli().AllFaces(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]accessctl.PersonRef, 0, len(faces))
	seen := map[string]bool{}
	for _, f := range faces {
		if !seen[f.FaceID] {
			seen[f.FaceID] = true
			out = append(out, accessctl.PersonRef{ID: f.FaceID})
		}
	}
	return out, nil
}

// GetGrant reads one person back: present in the face library, with the
// name and cards the edge pushed. ErrNotFound when absent.
func (t *Terminal) GetGrant(ctx context.Context, p accessctl.PersonRef) (accessctl.Grant, error) {
	refs, err := t.ListGrants(ctx)
	if err != nil {
		return accessctl.Grant{}, err
	}
	for _, r := range refs {
		if r.ID != p.ID {
			continue
		}
		st := t.st
		st.syncMu.Lock()
		defer st.syncMu.Unlock()
		g := accessctl.Grant{Person: accessctl.PersonRef{ID: p.ID}, Name: st.names[p.ID], Devices: []accessctl.DeviceRef{{Platform: Platform, ID: t.ID()}}}
		for k, c := range st.cards[p.ID] {
			kind := accessctl.CredCard
			if c.path == PathBLESync {
				kind = accessctl.CredBLECard
			}
			g.Credentials = append(g.Credentials, accessctl.Credential{Kind: kind, Value: k})
		}
		return g, nil
	}
	return accessctl.Grant{}, fmt.Errorf("%w: %s on %s", accessctl.ErrNotFound, p.ID, t.ID())
}
