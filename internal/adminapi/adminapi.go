package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// DefaultMaxBody bounds a request body: a user object with a face photo.
const DefaultMaxBody = 16 << 20

// UserOp is what a UserCommander is asked to do.
type UserOp int

// The user routes' operations.
const (
	OpAdd    UserOp = iota // POST users: the whole object
	OpEdit                 // PUT users/{userId}: empty fields stay unchanged
	OpDelete               // DELETE users/{userId}: UserID only
	OpSelect               // GET users: UserID and Name filter, both empty for all
)

// UserCommander is an optional capability of a device whose protocol takes
// the user object as is and whose answer the API passes on verbatim
// (wsterm: the terminal's reply frame, commandId and code included). When a
// device has it, the user routes use it instead of PermissionSync.
//
// A non-nil answer is written with 200 whatever err says (a refusal is the
// device's answer too); without one, err is mapped to a status.
type UserCommander interface {
	UserCommand(ctx context.Context, op UserOp, u User) (answer json.RawMessage, err error)
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

type handler struct {
	fleet    Fleet
	timeout  time.Duration
	maxBody  int64
	operator string
}

// New returns the admin API over f.
func New(f Fleet, opts ...Option) http.Handler {
	h := &handler{fleet: f, maxBody: DefaultMaxBody, operator: "admin-api"}
	for _, o := range opts {
		o(h)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /devices", h.list)
	mux.HandleFunc("POST /devices/{sn}/users", h.userRoute(OpAdd))
	mux.HandleFunc("PUT /devices/{sn}/users/{userId}", h.userRoute(OpEdit))
	mux.HandleFunc("DELETE /devices/{sn}/users/{userId}", h.userRoute(OpDelete))
	mux.HandleFunc("GET /devices/{sn}/users", h.userRoute(OpSelect))
	mux.HandleFunc("POST /devices/{sn}/open", h.open)
	return mux
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	rows := h.fleet.Devices(r.Context())
	if rows == nil {
		rows = []Entry{} // [] rather than null
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].SN < rows[j].SN })
	writeJSON(w, http.StatusOK, rows)
}

func (h *handler) open(w http.ResponseWriter, r *http.Request) {
	d, ok := h.device(w, r)
	if !ok {
		return
	}
	ctx, cancel := h.callContext(r)
	defer cancel()
	reply(w, d.OpenDoor(ctx, accessctl.OpenRequest{Operator: h.operator, Reason: r.URL.Query().Get("reason")}))
}

// userRoute reads the request into a user object, then hands it to the
// device's UserCommander, or to the protocol-neutral path.
func (h *handler) userRoute(op UserOp) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d, ok := h.device(w, r)
		if !ok {
			return
		}
		u, err := h.readUser(w, r, op)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		ctx, cancel := h.callContext(r)
		defer cancel()
		if uc, ok := d.(UserCommander); ok {
			answer, err := uc.UserCommand(ctx, op, u)
			if answer != nil {
				writeRaw(w, answer)
				return
			}
			reply(w, err)
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

// readUser builds the operation's user object: the body for add and edit
// (the path's userId wins, and must agree with the body's), the path or the
// query for the others.
func (h *handler) readUser(w http.ResponseWriter, r *http.Request, op UserOp) (User, error) {
	switch op {
	case OpDelete:
		return User{UserID: r.PathValue("userId")}, nil
	case OpSelect:
		return User{UserID: r.URL.Query().Get("userId"), Name: r.URL.Query().Get("name")}, nil
	}
	var u User
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
	if u.UserID == "" {
		return u, errors.New("userId is required")
	}
	return u, nil
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

func (h *handler) device(w http.ResponseWriter, r *http.Request) (accessctl.Device, bool) {
	sn := r.PathValue("sn")
	d, ok := h.fleet.Device(sn)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown device "+strconv.Quote(sn))
	}
	return d, ok
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
