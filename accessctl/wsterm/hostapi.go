package wsterm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/menjin/menjin/accessctl"
)

var _ accessctl.DeviceLister = (*Server)(nil)

// Devices implements accessctl.DeviceLister: every terminal seen since the
// server started, by sn, with its register type in Info.Extra["type"].
func (s *Server) Devices(ctx context.Context) ([]accessctl.Status, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ts := s.Terminals()
	out := make([]accessctl.Status, 0, len(ts))
	for _, t := range ts {
		st := s.status(t.SN)
		extra := make(map[string]string, len(st.Info.Extra)+1)
		for k, v := range st.Info.Extra { // a copy: the record's map is shared
			extra[k] = v
		}
		extra["type"] = t.Type
		st.Info.Extra = extra
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device.ID < out[j].Device.ID })
	return out, nil
}

// The operations of UserCommand, the admin API's user routes.
const (
	UserOpAdd    = "add"    // addUser with the whole object
	UserOpEdit   = "edit"   // editUser: empty fields stay unchanged
	UserOpDelete = "delete" // deleteUser by userId
	UserOpSelect = "select" // selectUser by userId and name, both empty for all
)

// UserCommand sends a user object (user, userId, pwd, name, role, img) as
// the terminal's own command for op and returns the terminal's reply frame
// verbatim, refusals included (a nil error then, the reply says no). This
// is the admin API's optional user-command capability; its signature uses
// only standard types, so the API finds it by type assertion without this
// package importing it.
//
// Fields the protocol cannot carry (cards, bleCards, validFrom, validTo or
// any other) give accessctl.ErrUnsupported before anything is sent; an
// unknown op too.
func (d *Device) UserCommand(ctx context.Context, op string, user json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(user, &fields); err != nil {
		return nil, fmt.Errorf("%w: wsterm: user object: %v", accessctl.ErrInvalid, err)
	}
	for k, v := range fields {
		switch k {
		case "user", "userId", "pwd", "name", "role", "img":
			continue
		}
		if s := string(bytes.TrimSpace(v)); s != "null" && s != "[]" && s != `""` {
			return nil, fmt.Errorf("%w: wsterm terminals cannot hold %q (no cards, Bluetooth cards or validity window)", accessctl.ErrUnsupported, k)
		}
	}
	var u User
	if err := json.Unmarshal(user, &u); err != nil {
		return nil, fmt.Errorf("%w: wsterm: user object: %v", accessctl.ErrInvalid, err)
	}
	var (
		name    string
		content any
	)
	switch op {
	case UserOpAdd:
		name, content = CmdAddUser, u
	case UserOpEdit:
		name, content = CmdEditUser, userEdit(u)
	case UserOpDelete:
		name, content = CmdDeleteUser, UserQuery{UserID: u.UserID}
	case UserOpSelect:
		name, content = CmdSelectUser, UserQuery{UserID: u.UserID, Name: u.Name}
	default:
		return nil, fmt.Errorf("%w: wsterm: user operation %q", accessctl.ErrUnsupported, op)
	}
	rep, err := d.Do(ctx, name, content)
	if rep != nil { // answered, refusals included
		return rep.Raw, nil
	}
	return nil, err
}
