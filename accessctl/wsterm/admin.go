package wsterm

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/menjin/menjin/accessctl"
)

// maxAdminBody bounds request bodies of the admin API (a user with a face).
const maxAdminBody = 8 << 20

// AdminHandler is a small HTTP API over a Server, the one examples/wsgateway
// serves:
//
//	GET    /devices                       → [{"sn","ip","mac","type","online"}, ...]
//	POST   /devices/{sn}/users            body: the user object → addUser
//	PUT    /devices/{sn}/users/{userId}   body: the user object → editUser
//	DELETE /devices/{sn}/users/{userId}                          → deleteUser
//	GET    /devices/{sn}/users[?userId=]                         → selectUser
//
// Command routes answer 200 with the terminal's reply verbatim, whatever its
// code (a refusal shows as "code":"500" in the body); 404 when the terminal
// is unknown or offline; 504 when it does not answer in time; 400 for a bad
// body. A GET without userId asks for every user with photo (D.4).
func AdminHandler(srv *Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		type row struct {
			SN     string `json:"sn"`
			IP     string `json:"ip"`
			MAC    string `json:"mac"`
			Type   string `json:"type"`
			Online bool   `json:"online"`
		}
		rows := []row{}
		for _, t := range srv.Terminals() {
			rows = append(rows, row{t.SN, t.IP, t.MAC, t.Type, t.Online})
		}
		writeJSON(w, http.StatusOK, rows)
	})
	mux.HandleFunc("POST /devices/{sn}/users", func(w http.ResponseWriter, r *http.Request) {
		u, ok := readUser(w, r)
		if !ok {
			return
		}
		if u.UserID == "" {
			httpError(w, http.StatusBadRequest, "userId is required")
			return
		}
		command(w, r, srv, CmdAddUser, u)
	})
	mux.HandleFunc("PUT /devices/{sn}/users/{userId}", func(w http.ResponseWriter, r *http.Request) {
		u, ok := readUser(w, r)
		if !ok {
			return
		}
		u.UserID = r.PathValue("userId")
		command(w, r, srv, CmdEditUser, userEdit(u))
	})
	mux.HandleFunc("DELETE /devices/{sn}/users/{userId}", func(w http.ResponseWriter, r *http.Request) {
		command(w, r, srv, CmdDeleteUser, UserQuery{UserID: r.PathValue("userId")})
	})
	mux.HandleFunc("GET /devices/{sn}/users", func(w http.ResponseWriter, r *http.Request) {
		command(w, r, srv, CmdSelectUser, UserQuery{UserID: r.URL.Query().Get("userId"), Name: r.URL.Query().Get("name")})
	})
	return mux
}

func readUser(w http.ResponseWriter, r *http.Request) (User, bool) {
	var u User
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		httpError(w, http.StatusBadRequest, "body: "+err.Error())
		return u, false
	}
	if err := json.Unmarshal(body, &u); err != nil {
		httpError(w, http.StatusBadRequest, "body is not a user object: "+err.Error())
		return u, false
	}
	return u, true
}

func command(w http.ResponseWriter, r *http.Request, srv *Server, name string, content any) {
	dev, err := srv.Device(r.PathValue("sn"))
	if err != nil {
		httpError(w, http.StatusNotFound, err.Error())
		return
	}
	rep, err := dev.Do(r.Context(), name, content)
	switch {
	case rep != nil: // answered, refusals included
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(rep.Raw)
	case errors.Is(err, accessctl.ErrOffline):
		httpError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, accessctl.ErrTimeout):
		httpError(w, http.StatusGatewayTimeout, err.Error())
	case errors.Is(err, accessctl.ErrInvalid):
		httpError(w, http.StatusBadRequest, err.Error())
	default:
		httpError(w, http.StatusBadGateway, err.Error())
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
