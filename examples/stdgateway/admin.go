package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Fleet is what the admin API needs from a gateway: its devices by id. It
// is protocol-neutral on purpose, so that every gateway (wsgateway,
// stdgateway, ...) can serve the same API: a device is an
// accessctl.Device, users need accessctl.PermissionSync, queries
// accessctl.GrantLister / GrantGetter.
type Fleet interface {
	Device(id string) (accessctl.Device, bool)
	Devices() []accessctl.Device
}

// User is the admin API's user object (the WebSocket terminals' user
// object, spec door-terminals.md A.6).
type User struct {
	User   string `json:"user,omitempty"`
	UserID string `json:"userId"`
	Pwd    string `json:"pwd,omitempty"`
	Name   string `json:"name,omitempty"`
	Role   string `json:"role,omitempty"` // "0" user, "1" administrator
	Img    string `json:"img,omitempty"`  // base64 face photo
}

// grant maps a user object to a grant.
func (u User) grant() (accessctl.Grant, error) {
	if u.UserID == "" {
		return accessctl.Grant{}, errors.New("userId is required")
	}
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: u.UserID}, Name: u.Name, Account: u.User, Admin: u.Role == "1"}
	if u.Img != "" {
		img, err := accessctl.DecodeImage(u.Img)
		if err != nil {
			return g, err
		}
		g.Credentials = append(g.Credentials, accessctl.Credential{Kind: accessctl.CredFace, Face: img})
	}
	if u.Pwd != "" {
		g.Credentials = append(g.Credentials, accessctl.Credential{Kind: accessctl.CredPassword, Value: u.Pwd})
	}
	return g, nil
}

// deviceJSON is one entry of GET /devices.
type deviceJSON struct {
	SN     string `json:"sn"`
	IP     string `json:"ip"`
	MAC    string `json:"mac"`
	Type   string `json:"type"`
	Online bool   `json:"online"`
}

// adminHandler serves the admin HTTP API over a Fleet.
func adminHandler(f Fleet, deviceType string, timeout time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		out := []deviceJSON{}
		for _, d := range f.Devices() {
			st, _ := d.Status(r.Context())
			out = append(out, deviceJSON{SN: d.ID(), IP: st.Info.IP, MAC: st.Info.MAC, Type: deviceType, Online: st.Online})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].SN < out[j].SN })
		writeJSON(w, http.StatusOK, out)
	})
	put := func(w http.ResponseWriter, r *http.Request, pathID string) {
		ps, ok := capability[accessctl.PermissionSync](w, r, f, "device cannot hold users")
		if !ok {
			return
		}
		var u User
		if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&u); err != nil {
			writeJSON(w, http.StatusBadRequest, answer(1, "bad body: "+err.Error()))
			return
		}
		if pathID != "" {
			if u.UserID != "" && u.UserID != pathID {
				writeJSON(w, http.StatusBadRequest, answer(1, "userId in the body differs from the path"))
				return
			}
			u.UserID = pathID
		}
		g, err := u.grant()
		if err != nil {
			writeJSON(w, http.StatusBadRequest, answer(1, err.Error()))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		reply(w, ps.PutGrant(ctx, g))
	}
	mux.HandleFunc("POST /devices/{sn}/users", func(w http.ResponseWriter, r *http.Request) { put(w, r, "") })
	mux.HandleFunc("PUT /devices/{sn}/users/{userId}", func(w http.ResponseWriter, r *http.Request) { put(w, r, r.PathValue("userId")) })
	mux.HandleFunc("DELETE /devices/{sn}/users/{userId}", func(w http.ResponseWriter, r *http.Request) {
		ps, ok := capability[accessctl.PermissionSync](w, r, f, "device cannot hold users")
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		reply(w, ps.RemoveGrant(ctx, accessctl.PersonRef{ID: r.PathValue("userId")}))
	})
	mux.HandleFunc("GET /devices/{sn}/users", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		users := []User{}
		if id := r.URL.Query().Get("userId"); id != "" {
			getter, ok := capability[accessctl.GrantGetter](w, r, f, "device cannot be queried")
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
				users = append(users, userOf(g))
			}
			writeJSON(w, http.StatusOK, users)
			return
		}
		lister, ok := capability[accessctl.GrantLister](w, r, f, "device cannot be queried")
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
	})
	mux.HandleFunc("POST /devices/{sn}/open", func(w http.ResponseWriter, r *http.Request) {
		d, ok := capability[accessctl.Device](w, r, f, "")
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		reply(w, d.OpenDoor(ctx, accessctl.OpenRequest{Operator: "admin-api", Reason: r.URL.Query().Get("reason")}))
	})
	return mux
}

func userOf(g accessctl.Grant) User {
	u := User{UserID: g.Person.ID, Name: g.Name, User: g.Account, Role: "0"}
	if g.Admin {
		u.Role = "1"
	}
	return u
}

// capability finds the path's device as a T: 404 for an unknown device,
// 501 (with why) for one without the capability.
func capability[T any](w http.ResponseWriter, r *http.Request, f Fleet, why string) (T, bool) {
	var zero T
	d, ok := f.Device(r.PathValue("sn"))
	if !ok {
		writeJSON(w, http.StatusNotFound, answer(4, "unknown device"))
		return zero, false
	}
	c, ok := d.(T)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, answer(99, why))
		return zero, false
	}
	return c, true
}

func answer(code int, msg string) map[string]any { return map[string]any{"code": code, "message": msg} }

// reply maps a device call's outcome to the API's statuses: 200 with the
// device's answer (its refusals included), 404 offline, 504 no answer in
// time, 400 input the device cannot take, 501 unsupported.
func reply(w http.ResponseWriter, err error) {
	var re *accessctl.RejectedError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, answer(0, "success"))
	case errors.Is(err, accessctl.ErrOffline), errors.Is(err, accessctl.ErrClosed):
		writeJSON(w, http.StatusNotFound, answer(4, err.Error()))
	case errors.Is(err, accessctl.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		writeJSON(w, http.StatusGatewayTimeout, answer(99, err.Error()))
	case errors.Is(err, accessctl.ErrUnsupported):
		writeJSON(w, http.StatusNotImplemented, answer(99, err.Error()))
	case errors.As(err, &re):
		writeJSON(w, http.StatusOK, map[string]any{"code": re.Code, "message": re.Message})
	case errors.Is(err, accessctl.ErrInvalid):
		writeJSON(w, http.StatusBadRequest, answer(5, err.Error()))
	default:
		writeJSON(w, http.StatusBadGateway, answer(99, err.Error()))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
