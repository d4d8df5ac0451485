package adminapi

import (
	"encoding/json"
	"fmt"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/internal/jsonfast"
)

// User is the API's user object (the WebSocket terminals' one,
// door-terminals.md A.6, plus card numbers for terminals that take cards).
type User struct {
	User     string   `json:"user,omitempty"` // login name (accessctl.Grant.Account)
	UserID   string   `json:"userId"`         // person id
	Pwd      string   `json:"pwd,omitempty"`  // password credential
	Name     string   `json:"name,omitempty"`
	Role     string   `json:"role,omitempty"`     // "0" user, "1" administrator
	Img      string   `json:"img,omitempty"`      // base64 face photo, data URL allowed
	Cards    []string `json:"cards,omitempty"`    // card numbers (CredCard)
	BLECards []string `json:"bleCards,omitempty"` // Bluetooth card numbers (CredBLECard)
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
		User     S   `json:"user"`
		UserID   S   `json:"userId"`
		Pwd      S   `json:"pwd"`
		Name     S   `json:"name"`
		Role     S   `json:"role"`
		Img      S   `json:"img"`
		Cards    []S `json:"cards"`
		BLECards []S `json:"bleCards"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return User{}, err
	}
	return User{string(raw.User), string(raw.UserID), string(raw.Pwd), string(raw.Name), string(raw.Role), string(raw.Img),
		strs(raw.Cards), strs(raw.BLECards)}, nil
}

func strs[S ~string](in []S) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
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
	for _, kc := range []struct {
		kind  accessctl.CredentialKind
		cards []string
	}{{accessctl.CredCard, u.Cards}, {accessctl.CredBLECard, u.BLECards}} {
		for _, c := range kc.cards {
			if c == "" {
				return g, fmt.Errorf("%w: empty %s number", accessctl.ErrInvalid, kc.kind)
			}
			g.Credentials = append(g.Credentials, accessctl.Credential{Kind: kc.kind, Value: c})
		}
	}
	return g, nil
}

// merge edits have with what u sets, patch being u.Grant(): empty fields
// leave have's as they are (the editUser rule, A.6); the credentials of a
// kind u sets (face, password, cards) replace that kind's, other kinds
// (QR codes, say) are kept.
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
	set := map[accessctl.CredentialKind]bool{}
	for _, c := range patch.Credentials {
		set[c.Kind] = true
	}
	// A new slice: have may share its slice with the device's copy.
	out := make([]accessctl.Credential, 0, len(have.Credentials)+len(patch.Credentials))
	for _, c := range have.Credentials {
		if !set[c.Kind] {
			out = append(out, c)
		}
	}
	have.Credentials = append(out, patch.Credentials...)
	return have
}

// UserOf maps a grant back to a user object. The password and the face are
// never returned: an answer is no place for secrets or megabytes.
func UserOf(g accessctl.Grant) User {
	u := User{UserID: g.Person.ID, Name: g.Name, User: g.Account, Role: "0"}
	if g.Admin {
		u.Role = "1"
	}
	for _, c := range g.Credentials {
		switch c.Kind {
		case accessctl.CredCard:
			u.Cards = append(u.Cards, c.Value)
		case accessctl.CredBLECard:
			u.BLECards = append(u.BLECards, c.Value)
		}
	}
	return u
}
