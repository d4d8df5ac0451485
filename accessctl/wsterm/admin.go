package wsterm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/internal/adminapi"
)

// AdminHandler is the gateways' admin HTTP API (internal/adminapi) over a
// Server, the one examples/wsgateway serves:
//
//	GET    /devices                       → [{"sn","ip","mac","type","online"}, ...]
//	POST   /devices/{sn}/users            body: the user object → addUser
//	PUT    /devices/{sn}/users/{userId}   body: the user object → editUser
//	DELETE /devices/{sn}/users/{userId}                          → deleteUser
//	GET    /devices/{sn}/users[?userId=][&name=]                 → selectUser
//	POST   /devices/{sn}/open                                    → 501: the protocol cannot
//
// User routes answer 200 with the terminal's reply verbatim, whatever its
// code (a refusal shows as "code":"500" in the body); 404 when the terminal
// is unknown or offline; 504 when it does not answer in time; 400 for a bad
// body. The user object goes to the terminal as sent (an edit sends only
// the fields given). A GET without userId asks for every user with photo
// (D.4).
func AdminHandler(srv *Server) http.Handler { return adminapi.New(adminFleet{srv}) }

// adminFleet lists the terminals the server has seen.
type adminFleet struct{ srv *Server }

func (f adminFleet) Devices(context.Context) []adminapi.Entry {
	ts := f.srv.Terminals()
	out := make([]adminapi.Entry, len(ts))
	for i, t := range ts {
		out[i] = adminapi.Entry{SN: t.SN, IP: t.IP, MAC: t.MAC, Type: t.Type, Online: t.Online}
	}
	return out
}

func (f adminFleet) Device(sn string) (accessctl.Device, bool) {
	for _, t := range f.srv.Terminals() { // the admin API is rare traffic: a scan is fine
		if t.SN == sn {
			d, err := f.srv.Device(sn)
			return adminDevice{d}, err == nil
		}
	}
	return nil, false
}

// adminDevice is a Device that also passes the user object through as a
// command and answers with the terminal's reply (adminapi.UserCommander).
type adminDevice struct{ *Device }

func (d adminDevice) UserCommand(ctx context.Context, op adminapi.UserOp, u adminapi.User) (json.RawMessage, error) {
	var (
		name    string
		content any
	)
	switch op {
	case adminapi.OpAdd:
		name, content = CmdAddUser, userOf(u)
	case adminapi.OpEdit:
		name, content = CmdEditUser, userEdit(userOf(u))
	case adminapi.OpDelete:
		name, content = CmdDeleteUser, UserQuery{UserID: u.UserID}
	case adminapi.OpSelect:
		name, content = CmdSelectUser, UserQuery{UserID: u.UserID, Name: u.Name}
	default:
		return nil, fmt.Errorf("%w: user operation %d", accessctl.ErrUnsupported, op)
	}
	rep, err := d.Do(ctx, name, content)
	if rep != nil { // answered, refusals included
		return rep.Raw, nil
	}
	return nil, err
}
