package linkkit

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/permfile"
	"github.com/menjin/menjin/transport/thingmodel"
)

// Door is a handle to one LinkKit multi-function door. It implements
// accessctl.Device (OpenDoor = the remoteOpen service) and
// accessctl.PermissionSync (a permission file per change, delivered by
// syncPermissions).
type Door struct {
	hub    *Hub
	key    thingmodel.DeviceKey
	ref    accessctl.DeviceRef
	st     *doorState
	closed atomic.Bool
}

var (
	_ accessctl.Device         = (*Door)(nil)
	_ accessctl.PermissionSync = (*Door)(nil)
)

// ID is "{productKey}/{deviceName}".
func (d *Door) ID() string { return d.ref.ID }

// Key returns the door's ProductKey/DeviceName.
func (d *Door) Key() thingmodel.DeviceKey { return d.key }

// Status reports the door's MQTT session.
func (d *Door) Status(ctx context.Context) (accessctl.Status, error) {
	if d.closed.Load() {
		return accessctl.Status{}, accessctl.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return accessctl.Status{}, err
	}
	s := accessctl.Status{Device: d.ref, Info: accessctl.DeviceInfo{Extra: map[string]string{}}}
	if st, ok := d.hub.host.Status(d.key); ok {
		s.Online, s.Since, s.LastSeen = st.Online, st.Since, st.LastSeen
		s.Info.IP = hostOf(st.RemoteAddr)
		if st.ClientID != "" {
			s.Info.Extra["clientId"] = st.ClientID
		}
	}
	if k := d.st.reported.Load(); k != nil {
		s.Info.Extra["RSAPublicKey"] = *k
	}
	return s, nil
}

// OpenDoor invokes remoteOpen. The door replies once the lock is driven
// (spec §6); it has one door, so Door must be 0 or 1.
func (d *Door) OpenDoor(ctx context.Context, req accessctl.OpenRequest) error {
	if d.closed.Load() {
		return accessctl.ErrClosed
	}
	if req.Door > 1 || req.Door < 0 {
		return fmt.Errorf("%w: a LinkKit door has one door, not %d", accessctl.ErrInvalid, req.Door)
	}
	_, err := d.hub.host.Invoke(ctx, d.key, ServiceRemoteOpen, struct{}{})
	return accessctl.MapTransportError(ServiceRemoteOpen, err)
}

// SetRSAPublicKey sets the door's RSAPublicKey property now.
func (d *Door) SetRSAPublicKey(ctx context.Context, key string) error {
	if d.closed.Load() {
		return accessctl.ErrClosed
	}
	_, err := d.hub.host.SetProperties(ctx, d.key, map[string]any{PropertyRSAPublicKey: key})
	return accessctl.MapTransportError("set "+PropertyRSAPublicKey, err)
}

// PutGrant sends the person's QR, card, BLE card and password credentials
// (adds), and deletes for the credentials the door held for the person but
// the grant no longer has. Faces travel by LinkFace, not here: a grant with
// nothing the file can carry returns ErrUnsupported.
//
// What the door holds is kept in the hub's ledger (WithLedger): with a
// durable one, a restarted host still deletes what it sent before.
func (d *Door) PutGrant(ctx context.Context, g accessctl.Grant) error {
	if g.Person.ID == "" {
		return fmt.Errorf("%w: grant without a person id", accessctl.ErrInvalid)
	}
	var entries []permfile.Entry
	if g.Policy != accessctl.PolicyDeny { // the door has no deny list: denied means not held
		entries = permfile.GrantEntries(g)
	}
	d.st.mu.Lock()
	defer d.st.mu.Unlock()
	old, err := d.held(ctx, g.Person.ID)
	if err != nil {
		return err
	}
	if len(entries) == 0 && len(old) == 0 && len(g.Credentials) > 0 && g.Policy != accessctl.PolicyDeny {
		return fmt.Errorf("%w: none of %d credentials can travel in a LinkKit permission file (faces need LinkFace)", accessctl.ErrUnsupported, len(g.Credentials))
	}
	ops := append(deletesFor(old, entries), entries...)
	if len(ops) == 0 {
		return nil
	}
	// Recorded before the file goes out: a crash mid-sync must not lose
	// what the door may now hold.
	if err := d.record(ctx, g.Person.ID, append(old, entries...)); err != nil {
		return err
	}
	if err := d.syncLocked(ctx, ops); err != nil {
		return err
	}
	return d.record(ctx, g.Person.ID, entries)
}

// RemoveGrant deletes every credential the door holds for the person. A
// person the hub never put is not an error, and nothing is sent.
func (d *Door) RemoveGrant(ctx context.Context, p accessctl.PersonRef) error {
	if p.ID == "" {
		return fmt.Errorf("%w: grant without a person id", accessctl.ErrInvalid)
	}
	d.st.mu.Lock()
	defer d.st.mu.Unlock()
	old, err := d.held(ctx, p.ID)
	if err != nil || len(old) == 0 {
		return err
	}
	if err := d.syncLocked(ctx, deletesFor(old, nil)); err != nil {
		return err
	}
	return d.record(ctx, p.ID, nil)
}

// ledgerRef names the door in the ledger, whatever platform its events carry.
func (d *Door) ledgerRef() accessctl.DeviceRef {
	return accessctl.DeviceRef{Platform: "linkkit", ID: d.ref.ID}
}

// held is what the ledger says the door holds for the person (kind and key
// are all a delete needs).
func (d *Door) held(ctx context.Context, person string) ([]permfile.Entry, error) {
	les, err := d.hub.cfg.ledger.Get(ctx, d.ledgerRef(), person)
	if err != nil {
		return nil, fmt.Errorf("linkkit: reading the ledger of %s: %w", d.ref.ID, err)
	}
	out := make([]permfile.Entry, 0, len(les))
	for _, le := range les {
		out = append(out, permfile.Entry{Kind: accessctl.CredentialKind(le.Kind), Key: le.Key})
	}
	return out, nil
}

// record stores the (kind, key) of entries as what the door holds for the
// person; none forgets the person.
func (d *Door) record(ctx context.Context, person string, entries []permfile.Entry) error {
	les := make([]accessctl.LedgerEntry, 0, len(entries))
	seen := map[[2]string]bool{}
	for _, e := range entries {
		if k := [2]string{string(e.Kind), e.Key}; !seen[k] {
			seen[k] = true
			les = append(les, accessctl.LedgerEntry{Kind: k[0], Key: k[1]})
		}
	}
	if err := d.hub.cfg.ledger.Put(ctx, d.ledgerRef(), person, les); err != nil {
		return fmt.Errorf("linkkit: recording %s on %s: %w", person, d.ref.ID, err)
	}
	return nil
}

// Sync sends a permission file of raw entries (bulk loads, a full resync)
// and returns when the door has answered syncPermissions.
func (d *Door) Sync(ctx context.Context, entries []permfile.Entry) (SyncResult, error) {
	d.st.mu.Lock()
	defer d.st.mu.Unlock()
	err := d.syncLocked(ctx, entries)
	return d.st.last, err
}

// LastSync returns the outcome of the door's last syncPermissions call.
func (d *Door) LastSync() SyncResult {
	d.st.mu.Lock()
	defer d.st.mu.Unlock()
	return d.st.last
}

// deletesFor lists delete ops for held entries that keep is missing.
func deletesFor(held, keep []permfile.Entry) []permfile.Entry {
	var out []permfile.Entry
	for _, h := range held {
		found := false
		for _, k := range keep {
			if k.Kind == h.Kind && k.Key == h.Key {
				found = true
				break
			}
		}
		if !found {
			out = append(out, permfile.Entry{Kind: h.Kind, Op: permfile.OpDelete, Key: h.Key})
		}
	}
	return out
}

// syncLocked publishes one file and invokes syncPermissions with its URL.
func (d *Door) syncLocked(ctx context.Context, entries []permfile.Entry) error {
	if d.closed.Load() {
		return accessctl.ErrClosed
	}
	files := d.hub.cfg.files
	if files == nil {
		return fmt.Errorf("%w: the hub has no FileServer for permission files (WithFileServer)", accessctl.ErrUnsupported)
	}
	if !d.hub.host.Online(d.key) {
		return fmt.Errorf("%w: %s", accessctl.ErrOffline, d.ref.ID)
	}
	data, err := permfile.Marshal(entries)
	if err != nil {
		return err
	}
	url, err := files.Put(data)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, d.hub.cfg.syncTimeout)
	defer cancel()
	_, err = d.hub.host.Invoke(ctx, d.key, ServiceSyncPermissions, map[string]string{"permissionUrl": url})
	err = accessctl.MapTransportError(ServiceSyncPermissions, err)
	d.st.last = SyncResult{URL: url, Entries: len(entries), Downloads: files.Downloads(url), At: time.Now(), Err: err}
	return err
}

// Close releases this handle; the door and other handles are unaffected.
func (d *Door) Close() error {
	d.closed.Store(true)
	return nil
}

func jsonString(raw json.RawMessage, s *string) error { return json.Unmarshal(raw, s) }
