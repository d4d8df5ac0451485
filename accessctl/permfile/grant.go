package permfile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// GrantEntries turns a grant into add entries, one per QR code, card, BLE
// card or password credential (faces travel another way). A credential's
// own window narrows the grant's. The person id becomes userId.
func GrantEntries(g accessctl.Grant) []Entry {
	var out []Entry
	for _, c := range g.Credentials {
		if ListName(c.Kind) == "" {
			continue
		}
		key := c.Value
		if key == "" && c.Card != nil {
			key = c.Card.Raw
		}
		key = NormalizeKey(c.Kind, key)
		if key == "" {
			continue
		}
		e := Entry{Kind: c.Kind, Op: OpAdd, Key: key, UserID: g.Person.ID}
		e.Start = later(g.ValidFrom, c.ValidFrom)
		e.End = earlier(g.ValidTo, c.ValidTo)
		if c.Kind == accessctl.CredQRCode && c.QR != nil {
			n := c.QR.MaxScans
			if n < 0 {
				n = -1
			}
			e.MaxScans = &n
			if c.QR.Scope != "" {
				s := c.QR.Scope
				e.Scope = &s
			}
		}
		out = append(out, e)
	}
	return out
}

func later(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.After(*a)) {
		return b
	}
	return a
}

func earlier(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}

// PutGrant makes the store hold exactly the grant's credentials for its
// person: credentials the person no longer has are deleted, in the same
// atomic step. Putting the same grant twice changes nothing.
func (s *Store) PutGrant(ctx context.Context, g accessctl.Grant) error {
	if g.Person.ID == "" {
		return fmt.Errorf("%w: grant without a person id", accessctl.ErrInvalid)
	}
	adds := GrantEntries(g)
	keep := map[[2]string]bool{}
	for _, e := range adds {
		keep[[2]string{string(e.Kind), e.Key}] = true
	}
	ops := s.personDeletes(g.Person.ID, keep)
	// Replace rather than merge (a grant is the whole truth for its
	// person), but keep the scan counters: re-putting a grant must not
	// hand a limited code its budget back.
	for _, e := range adds {
		e.replace = true
		ops = append(ops, e)
	}
	_, err := s.Apply(ctx, &File{Entries: ops})
	return err
}

// RemoveGrant deletes every credential of the person. A person the store
// does not hold is not an error.
func (s *Store) RemoveGrant(ctx context.Context, p accessctl.PersonRef) error {
	ops := s.personDeletes(p.ID, nil)
	if len(ops) == 0 {
		return ctx.Err()
	}
	_, err := s.Apply(ctx, &File{Entries: ops})
	return err
}

func (s *Store) personDeletes(personID string, keep map[[2]string]bool) []Entry {
	var ops []Entry
	for kind, m := range s.state.Load().lists {
		for key, r := range m {
			if r.UserID == personID && !keep[[2]string{string(kind), key}] {
				ops = append(ops, Entry{Kind: kind, Op: OpDelete, Key: key})
			}
		}
	}
	return ops
}

var _ accessctl.PermissionSync = (*Store)(nil)

// Marshal writes entries as a permission file in the platform's wire form
// (what a cloud serves at permissionUrl): the four lists, times as epoch-ms
// strings, maxScanTimes as a number, maxScanScope as a string. Entries keep
// their order within each list.
func Marshal(entries []Entry) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	for _, l := range lists {
		var items []json.RawMessage
		for _, e := range entries {
			if e.Kind != l.kind {
				continue
			}
			raw, err := marshalEntry(e)
			if err != nil {
				return nil, err
			}
			items = append(items, raw)
		}
		if len(items) == 0 {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		name, _ := json.Marshal(l.name)
		buf.Write(name)
		buf.WriteByte(':')
		arr, err := json.Marshal(items)
		if err != nil {
			return nil, err
		}
		buf.Write(arr)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func marshalEntry(e Entry) (json.RawMessage, error) {
	m := map[string]any{}
	for k, v := range e.Extra {
		m[k] = v
	}
	m["type"] = int(e.Op)
	startName, endName, keyName := "effectiveTime", "expiryTime", "cardId"
	switch e.Kind {
	case accessctl.CredQRCode:
		startName, endName, keyName = "startTime", "endTime", "qrCode"
	case accessctl.CredPassword:
		keyName = "password"
	}
	m[keyName] = e.Key
	if e.UserID != "" {
		m["userId"] = e.UserID
	}
	if e.Start != nil {
		m[startName] = strconv.FormatInt(e.Start.UnixMilli(), 10)
	}
	if e.End != nil {
		m[endName] = strconv.FormatInt(e.End.UnixMilli(), 10)
	}
	if e.MaxScans != nil {
		m["maxScanTimes"] = *e.MaxScans
	}
	if e.Scope != nil {
		m["maxScanScope"] = string(*e.Scope)
	}
	return json.Marshal(m)
}
