package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// DefaultMaxBody bounds a request body: a user object with a face photo.
const DefaultMaxBody = 16 << 20

// Source is what the API serves: a driver that can list its devices. A
// server devices dial into (wsterm.Server) is one; FleetOf makes one of a
// fixed set. The API lists with Devices and opens the device a request
// names with Open, each request anew: Open must be cheap, and the API does
// not close what it opened (a server's handle holds nothing of its own).
type Source interface {
	accessctl.Driver
	accessctl.DeviceLister
}

// The operations of UserCommander.
const (
	OpAdd    = "add"    // POST users: the whole object
	OpEdit   = "edit"   // PUT users/{userId}: empty fields stay unchanged
	OpDelete = "delete" // DELETE users/{userId}: userId only
	OpSelect = "select" // GET users: userId and name filter, both empty for all
)

// UserCommander is an optional capability of a device whose protocol takes
// the user object as is and whose answer the API passes on verbatim
// (wsterm: the terminal's reply frame, commandId and code included). When a
// device has it, the user routes use it instead of PermissionSync. Its
// signature uses only standard types so that a driver implements it
// without importing this package.
//
// user is the validated user object as JSON (for OpDelete and OpSelect only
// userId and name). A field the protocol cannot carry (cards, say) must
// give an error wrapping accessctl.ErrUnsupported, which the API answers
// with 501. A non-nil answer is written with 200 whatever err says (a
// refusal is the device's answer too); without one, err is mapped to a
// status.
type UserCommander interface {
	UserCommand(ctx context.Context, op string, user json.RawMessage) (answer json.RawMessage, err error)
}

// Option configures New.
type Option func(*handler)

// WithTimeout bounds every device call (default 0: only the driver's own
// timeouts and the request's context).
func WithTimeout(d time.Duration) Option { return func(h *handler) { h.timeout = d } }

// WithMaxBody bounds request bodies (default DefaultMaxBody).
func WithMaxBody(n int64) Option { return func(h *handler) { h.maxBody = n } }

// WithOperator names the API in the OpenRequests it makes (default
// "admin-api"), so that door logs say who opened.
func WithOperator(name string) Option { return func(h *handler) { h.operator = name } }

// WithDeviceType is the type GET /devices shows for a device whose status
// does not carry one in Info.Extra["type"] (default "").
func WithDeviceType(typ string) Option { return func(h *handler) { h.typ = typ } }

// WithToken makes every request present "Authorization: Bearer token";
// without it, or with another token, the API answers 401 with
// WWW-Authenticate: Bearer. Tokens are compared in constant time. New
// refuses a token shorter than MinTokenLen or with characters a header
// cannot carry. Without WithToken (or with ""), anyone who reaches the
// API may use it: bind it to loopback.
func WithToken(token string) Option { return func(h *handler) { h.token = token } }

// WithLogger logs every write (add, edit, delete, open) with who made it:
// the token's fingerprint, never the token, and the remote address. nil
// discards.
func WithLogger(l *slog.Logger) Option { return func(h *handler) { h.log = l } }

type handler struct {
	src      Source
	timeout  time.Duration
	maxBody  int64
	operator string
	typ      string
	token    string
	log      *slog.Logger
}

// New returns the admin API over src. Errors wrap accessctl.ErrInvalid: a
// nil src, a bad token, a body bound that is not positive.
func New(src Source, opts ...Option) (http.Handler, error) {
	h := &handler{src: src, maxBody: DefaultMaxBody, operator: "admin-api"}
	for _, o := range opts {
		if o != nil {
			o(h)
		}
	}
	switch {
	case src == nil:
		return nil, fmt.Errorf("%w: adminapi: nil source", accessctl.ErrInvalid)
	case h.maxBody <= 0:
		return nil, fmt.Errorf("%w: adminapi: max body %d", accessctl.ErrInvalid, h.maxBody)
	}
	if err := CheckToken(h.token); h.token != "" && err != nil {
		return nil, err
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /devices", h.list)
	mux.HandleFunc("POST /devices/{sn}/users", h.userRoute(OpAdd))
	mux.HandleFunc("PUT /devices/{sn}/users/{userId}", h.userRoute(OpEdit))
	mux.HandleFunc("DELETE /devices/{sn}/users/{userId}", h.userRoute(OpDelete))
	mux.HandleFunc("GET /devices/{sn}/users", h.userRoute(OpSelect))
	mux.HandleFunc("POST /devices/{sn}/open", h.open)
	return h.guard(mux), nil
}

// Entry is one row of GET /devices.
type Entry struct {
	SN     string `json:"sn"`
	IP     string `json:"ip"`
	MAC    string `json:"mac"`
	Type   string `json:"type"`
	Online bool   `json:"online"`
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	sts, err := h.src.Devices(r.Context())
	if err != nil {
		reply(w, err)
		return
	}
	rows := make([]Entry, 0, len(sts)) // [] rather than null
	for _, st := range sts {
		typ := st.Info.Extra["type"]
		if typ == "" {
			typ = h.typ
		}
		rows = append(rows, Entry{SN: st.Device.ID, IP: st.Info.IP, MAC: st.Info.MAC, Type: typ, Online: st.Online})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].SN < rows[j].SN })
	writeJSON(w, http.StatusOK, rows)
}

func (h *handler) open(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.callContext(r)
	defer cancel()
	d, ok := h.device(ctx, w, r)
	if !ok {
		return
	}
	reply(w, d.OpenDoor(ctx, accessctl.OpenRequest{Operator: h.operator, Reason: r.URL.Query().Get("reason")}))
}

// userRoute reads the request into a user object, then hands it to the
// device's UserCommander, or to the protocol-neutral path.
func (h *handler) userRoute(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := h.readUser(w, r, op)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		ctx, cancel := h.callContext(r)
		defer cancel()
		d, ok := h.device(ctx, w, r)
		if !ok {
			return
		}
		if uc, ok := d.(UserCommander); ok {
			h.command(ctx, w, uc, op, u)
			return
		}
		switch op {
		case OpAdd, OpEdit:
			h.put(ctx, w, d, u, op == OpEdit)
		case OpDelete:
			if ps, ok := capability[accessctl.PermissionSync](w, d, "device cannot hold users"); ok {
				reply(w, ps.RemoveGrant(ctx, accessctl.PersonRef{ID: u.UserID}))
			}
		case OpSelect:
			h.query(ctx, w, d, u.UserID)
		}
	}
}

func (h *handler) command(ctx context.Context, w http.ResponseWriter, uc UserCommander, op string, u User) {
	if op == OpDelete || op == OpSelect {
		u = User{UserID: u.UserID, Name: u.Name}
	}
	body, err := json.Marshal(u)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	answer, err := uc.UserCommand(ctx, op, body)
	if answer != nil {
		writeRaw(w, answer)
		return
	}
	reply(w, err)
}

// readUser builds the operation's user object and validates it before any
// device is asked: the body for add and edit (the path's userId wins, and
// must agree with the body's), the path or the query for the others.
func (h *handler) readUser(w http.ResponseWriter, r *http.Request, op string) (User, error) {
	var u User
	switch op {
	case OpDelete:
		u.UserID = r.PathValue("userId")
		return u, ValidID("userId", u.UserID)
	case OpSelect:
		q := r.URL.Query()
		u.UserID, u.Name = q.Get("userId"), q.Get("name")
		if u.UserID != "" {
			return u, ValidID("userId", u.UserID)
		}
		return u, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		return u, fmt.Errorf("body: %v", err)
	}
	if err := json.Unmarshal(body, &u); err != nil {
		return u, fmt.Errorf("body is not a user object: %v", err)
	}
	if id := r.PathValue("userId"); id != "" {
		if u.UserID != "" && u.UserID != id {
			return u, errors.New("userId in the body differs from the path")
		}
		u.UserID = id
	}
	return u, u.Validate()
}

// put adds or edits through PermissionSync. An edit starts from what the
// device holds, when it can say (GrantGetter), so that absent fields and
// other credentials stay as they are.
func (h *handler) put(ctx context.Context, w http.ResponseWriter, d accessctl.Device, u User, edit bool) {
	ps, ok := capability[accessctl.PermissionSync](w, d, "device cannot hold users")
	if !ok {
		return
	}
	g, err := u.Grant()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if getter, ok := d.(accessctl.GrantGetter); ok && edit {
		have, err := getter.GetGrant(ctx, g.Person)
		switch {
		case err == nil:
			g = u.merge(have, g)
		case !errors.Is(err, accessctl.ErrNotFound): // absent: the edit creates
			reply(w, err)
			return
		}
	}
	reply(w, ps.PutGrant(ctx, g))
}

// query answers GET users: the one person asked for ([] when absent), or
// every person the device lists.
func (h *handler) query(ctx context.Context, w http.ResponseWriter, d accessctl.Device, id string) {
	users := []User{}
	if id != "" {
		getter, ok := capability[accessctl.GrantGetter](w, d, "device cannot be queried")
		if !ok {
			return
		}
		g, err := getter.GetGrant(ctx, accessctl.PersonRef{ID: id})
		switch {
		case errors.Is(err, accessctl.ErrNotFound):
		case err != nil:
			reply(w, err)
			return
		default:
			users = append(users, UserOf(g))
		}
		writeJSON(w, http.StatusOK, users)
		return
	}
	lister, ok := capability[accessctl.GrantLister](w, d, "device cannot list its users")
	if !ok {
		return
	}
	refs, err := lister.ListGrants(ctx)
	if err != nil {
		reply(w, err)
		return
	}
	for _, p := range refs {
		users = append(users, User{UserID: p.ID})
	}
	writeJSON(w, http.StatusOK, users)
}

// device finds the device the path names among those the source lists
// (404 otherwise), and opens it.
func (h *handler) device(ctx context.Context, w http.ResponseWriter, r *http.Request) (accessctl.Device, bool) {
	sn := r.PathValue("sn")
	sts, err := h.src.Devices(ctx)
	if err != nil {
		reply(w, err)
		return nil, false
	}
	known := false
	for _, st := range sts {
		if st.Device.ID == sn {
			known = true
			break
		}
	}
	if !known {
		writeError(w, http.StatusNotFound, "unknown device "+strconv.Quote(sn))
		return nil, false
	}
	d, err := h.src.Open(ctx, accessctl.DeviceConfig{ID: sn})
	if err != nil {
		reply(w, err)
		return nil, false
	}
	return d, true
}

func (h *handler) callContext(r *http.Request) (context.Context, context.CancelFunc) {
	if h.timeout > 0 {
		return context.WithTimeout(r.Context(), h.timeout)
	}
	return context.WithCancel(r.Context())
}

// capability finds d as a T, or answers 501 with why.
func capability[T any](w http.ResponseWriter, d accessctl.Device, why string) (T, bool) {
	c, ok := d.(T)
	if !ok {
		writeError(w, http.StatusNotImplemented, why)
	}
	return c, ok
}

// Status maps a device call's error to the API's status: 200 for nil and
// for a refusal (the device answered), 404 offline, closed or not found,
// 504 no answer in time, 501 unsupported, 400 input the device cannot take,
// 502 anything else.
func Status(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, accessctl.ErrOffline), errors.Is(err, accessctl.ErrClosed), errors.Is(err, accessctl.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, accessctl.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, accessctl.ErrUnsupported): // before ErrRejected: a device may refuse with "unsupported"
		return http.StatusNotImplemented
	case errors.Is(err, accessctl.ErrRejected):
		return http.StatusOK
	case errors.Is(err, accessctl.ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusBadGateway
}

// answer is the body of a 200 on the protocol-neutral path: code 0 for
// success, else the device's code (a number when it is one) and text.
type answer struct {
	Code    any    `json:"code"`
	Message string `json:"message"`
}

// reply writes a device call's outcome.
func reply(w http.ResponseWriter, err error) {
	var re *accessctl.RejectedError
	switch status := Status(err); {
	case err == nil:
		writeJSON(w, status, answer{Code: 0, Message: "success"})
	case status == http.StatusOK && errors.As(err, &re):
		var code any = re.Code
		if n, err := strconv.Atoi(re.Code); err == nil {
			code = n
		}
		writeJSON(w, status, answer{Code: code, Message: re.Message})
	case status == http.StatusOK: // rejected without the details
		writeJSON(w, status, answer{Code: "rejected", Message: err.Error()})
	default:
		writeError(w, status, err.Error())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRaw(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
