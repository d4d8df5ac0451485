package adminapi

import (
	"encoding/json"
	"fmt"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/internal/jsonfast"
)

// User is the API's user object (the WebSocket terminals' one,
// door-terminals.md A.6). The field order matches wsterm.User so that a
// driver can convert it directly.
type User struct {
	User   string `json:"user,omitempty"` // login name (accessctl.Grant.Account)
	UserID string `json:"userId"`         // person id
	Pwd    string `json:"pwd,omitempty"`  // password credential
	Name   string `json:"name,omitempty"`
	Role   string `json:"role,omitempty"` // "0" user, "1" administrator
	Img    string `json:"img,omitempty"`  // base64 face photo, data URL allowed
}

// UnmarshalJSON takes numbers where strings are expected (a numeric userId
// is common, door-terminals.md D.2) and null for absent.
func (u *User) UnmarshalJSON(b []byte) error {
	v, err := DecodeUser[scalar](b)
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// DecodeUser decodes a user object whose fields are read by S, a string
// type whose UnmarshalJSON takes numbers for strings (jsonfast.Scalar) and
// whatever else its caller allows: wsterm.User, which has the same fields,
// passes wsterm.FlexString; the API its own scalar. One copy of the field
// list and the mapping serves both.
func DecodeUser[S ~string](b []byte) (User, error) {
	var raw struct {
		User   S `json:"user"`
		UserID S `json:"userId"`
		Pwd    S `json:"pwd"`
		Name   S `json:"name"`
		Role   S `json:"role"`
		Img    S `json:"img"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return User{}, err
	}
	return User{string(raw.User), string(raw.UserID), string(raw.Pwd), string(raw.Name), string(raw.Role), string(raw.Img)}, nil
}

// scalar is a JSON string, or a number kept as written; null leaves it
// alone. Unlike the terminals' fields it refuses booleans.
type scalar string

func (s *scalar) UnmarshalJSON(b []byte) error {
	v, kind, err := jsonfast.Scalar(b)
	switch {
	case err != nil && kind == '"':
		return err
	case err != nil || kind == 't' || kind == 'f':
		return fmt.Errorf("want a string or a number, got %.20s", b)
	case kind != 'n':
		*s = scalar(v)
	}
	return nil
}

// String identifies the user without password or image.
func (u User) String() string {
	return fmt.Sprintf("user(%s %q login=%q role=%s pwd=%t img=%d bytes)", u.UserID, u.Name, u.User, u.Role, u.Pwd != "", len(u.Img))
}

// Grant maps the user object to a grant: userId is the person id, user the
// account, role "1" an administrator, img a face credential (decoded, so a
// bad image fails here with accessctl.ErrInvalid), pwd a password
// credential.
func (u User) Grant() (accessctl.Grant, error) {
	if u.UserID == "" {
		return accessctl.Grant{}, fmt.Errorf("%w: userId is required", accessctl.ErrInvalid)
	}
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: u.UserID}, Name: u.Name, Account: u.User, Admin: u.Role == "1"}
	if u.Img != "" {
		img, err := accessctl.DecodeImage(u.Img)
		if err != nil {
			return g, fmt.Errorf("img: %w", err)
		}
		g.Credentials = append(g.Credentials, accessctl.Credential{Kind: accessctl.CredFace, Face: img})
	}
	if u.Pwd != "" {
		g.Credentials = append(g.Credentials, accessctl.Credential{Kind: accessctl.CredPassword, Value: u.Pwd})
	}
	return g, nil
}

// merge edits have with what u sets, patch being u.Grant(): empty fields
// leave have's as they are (the editUser rule, A.6); a new face or password
// replaces the old one, other credentials (cards, QR codes) are kept.
func (u User) merge(have, patch accessctl.Grant) accessctl.Grant {
	if u.Name != "" {
		have.Name = patch.Name
	}
	if u.User != "" {
		have.Account = patch.Account
	}
	if u.Role != "" {
		have.Admin = patch.Admin
	}
	for _, c := range patch.Credentials {
		replaceCredential(&have, c)
	}
	return have
}

// replaceCredential puts c in place of g's credentials of its kind, on a
// new slice: g may share its slice with the device's copy.
func replaceCredential(g *accessctl.Grant, c accessctl.Credential) {
	out := make([]accessctl.Credential, 0, len(g.Credentials)+1)
	for _, have := range g.Credentials {
		if have.Kind != c.Kind {
			out = append(out, have)
		}
	}
	g.Credentials = append(out, c)
}

// UserOf maps a grant back to a user object. The password and the face are
// never returned: an answer is no place for secrets or megabytes.
func UserOf(g accessctl.Grant) User {
	u := User{UserID: g.Person.ID, Name: g.Name, User: g.Account, Role: "0"}
	if g.Admin {
		u.Role = "1"
	}
	return u
}
