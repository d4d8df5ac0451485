package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // faces arrive as JPEG or PNG
	_ "image/png"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/internal/jsonfast"
)

// Bounds of the user object, checked before a device is asked.
const (
	MaxIDLen    = 64   // userId, user and each card number, in bytes
	MaxNameLen  = 128  // name, in bytes
	MaxCards    = 32   // cards, and bleCards, per person
	MaxImagePix = 4096 // width and height of a face photo, in pixels
)

// User is the API's user object: the WebSocket terminals' one
// (accessctl/wsterm/PROTOCOL.md A.6) plus cards, Bluetooth cards and a validity
// window, which gateways map to the credentials their protocol has.
type User struct {
	User      string     `json:"user,omitempty"` // login name (accessctl.Grant.Account)
	UserID    string     `json:"userId"`         // person id
	Pwd       string     `json:"pwd,omitempty"`  // password credential
	Name      string     `json:"name,omitempty"`
	Role      string     `json:"role,omitempty"`      // "0" user, "1" administrator
	Img       string     `json:"img,omitempty"`       // base64 face photo, data URL allowed
	Cards     []string   `json:"cards,omitempty"`     // card numbers as written
	BLECards  []string   `json:"bleCards,omitempty"`  // Bluetooth card numbers as written
	ValidFrom *time.Time `json:"validFrom,omitempty"` // RFC 3339; absent: already valid
	ValidTo   *time.Time `json:"validTo,omitempty"`   // RFC 3339; absent: no end
}

// UnmarshalJSON takes numbers where strings are expected (a numeric userId
// is common, accessctl/wsterm/PROTOCOL.md D.2) and null for absent. It refuses what
// would be read two ways: a key given twice (encoding/json keeps the last,
// matching case-insensitively) and text that is not UTF-8 (it would become
// U+FFFD, so two different ids would collide).
func (u *User) UnmarshalJSON(b []byte) error {
	if err := jsonfast.CheckKeys(b, 8); err != nil {
		return err
	}
	var raw struct {
		User      scalar     `json:"user"`
		UserID    scalar     `json:"userId"`
		Pwd       scalar     `json:"pwd"`
		Name      scalar     `json:"name"`
		Role      scalar     `json:"role"`
		Img       scalar     `json:"img"`
		Cards     []scalar   `json:"cards"`
		BLECards  []scalar   `json:"bleCards"`
		ValidFrom *time.Time `json:"validFrom"`
		ValidTo   *time.Time `json:"validTo"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*u = User{User: string(raw.User), UserID: string(raw.UserID), Pwd: string(raw.Pwd), Name: string(raw.Name),
		Role: string(raw.Role), Img: string(raw.Img), ValidFrom: raw.ValidFrom, ValidTo: raw.ValidTo,
		Cards: strs(raw.Cards), BLECards: strs(raw.BLECards)}
	return nil
}

func strs(in []scalar) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}

// scalar is a JSON string, or a number kept as written; null leaves it
// alone. Unlike the terminals' fields it refuses booleans, and text that
// was not UTF-8 (encoding/json would turn it into U+FFFD).
type scalar string

func (s *scalar) UnmarshalJSON(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("text is not UTF-8")
	}
	v, kind, err := jsonfast.Scalar(b)
	switch {
	case err != nil && kind == '"':
		return err
	case err != nil || kind == 't' || kind == 'f':
		return fmt.Errorf("want a string or a number, got %.20s", b)
	case strings.ContainsRune(v, utf8.RuneError):
		return errors.New("text holds U+FFFD or an unpaired surrogate")
	case kind != 'n':
		*s = scalar(v)
	}
	return nil
}

// Validate checks what a device would otherwise have to: a userId, ids
// and names of bounded length in valid UTF-8, card numbers, a window that
// ends after it starts, and an img that decodes as a JPEG or PNG photo no
// larger than MaxImagePix a side. Errors wrap accessctl.ErrInvalid.
func (u User) Validate() error {
	if err := ValidID("userId", u.UserID); err != nil {
		return err
	}
	if u.User != "" {
		if err := ValidID("user", u.User); err != nil {
			return err
		}
	}
	if len(u.Name) > MaxNameLen || !utf8.ValidString(u.Name) {
		return fmt.Errorf("%w: name: at most %d bytes of UTF-8", accessctl.ErrInvalid, MaxNameLen)
	}
	if u.Role != "" && u.Role != "0" && u.Role != "1" {
		return fmt.Errorf("%w: role must be \"0\" or \"1\"", accessctl.ErrInvalid)
	}
	for _, list := range []struct {
		name  string
		cards []string
	}{{"cards", u.Cards}, {"bleCards", u.BLECards}} {
		if len(list.cards) > MaxCards {
			return fmt.Errorf("%w: %s: at most %d", accessctl.ErrInvalid, list.name, MaxCards)
		}
		for _, c := range list.cards {
			if err := ValidID(list.name, c); err != nil {
				return err
			}
		}
	}
	if u.ValidFrom != nil && u.ValidTo != nil && !u.ValidTo.After(*u.ValidFrom) {
		return fmt.Errorf("%w: validTo must be after validFrom", accessctl.ErrInvalid)
	}
	if u.Img != "" {
		if _, err := decodeFace(u.Img); err != nil {
			return err
		}
	}
	return nil
}

// ValidID checks an id (a userId, a card number) the way the API does:
// not empty, at most MaxIDLen bytes, valid UTF-8 without U+FFFD or control
// characters. Errors wrap accessctl.ErrInvalid and name field.
func ValidID(field, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: %s is required", accessctl.ErrInvalid, field)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%w: %s: at most %d bytes", accessctl.ErrInvalid, field, MaxIDLen)
	case !utf8.ValidString(id) || strings.ContainsRune(id, utf8.RuneError):
		return fmt.Errorf("%w: %s is not UTF-8", accessctl.ErrInvalid, field)
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%w: %s holds a control character", accessctl.ErrInvalid, field)
	}
	return nil
}

// decodeFace decodes a base64 photo and checks it is one: its header
// first (so a few bytes claiming a huge picture cost nothing), then the
// whole picture.
func decodeFace(s string) (*accessctl.Image, error) {
	img, err := accessctl.DecodeImage(s)
	if err != nil {
		return nil, fmt.Errorf("img: %w", err)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(img.Data))
	if err != nil {
		return nil, fmt.Errorf("%w: img is not a JPEG or PNG picture: %v", accessctl.ErrInvalid, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxImagePix || cfg.Height > MaxImagePix {
		return nil, fmt.Errorf("%w: img is %d×%d, at most %d a side", accessctl.ErrInvalid, cfg.Width, cfg.Height, MaxImagePix)
	}
	if _, _, err := image.Decode(bytes.NewReader(img.Data)); err != nil {
		return nil, fmt.Errorf("%w: img does not decode: %v", accessctl.ErrInvalid, err)
	}
	return img, nil
}

// String identifies the user without password or image.
func (u User) String() string {
	return fmt.Sprintf("user(%s %q login=%q role=%s pwd=%t img=%d bytes cards=%d ble=%d)", u.UserID, u.Name, u.User, u.Role, u.Pwd != "", len(u.Img), len(u.Cards), len(u.BLECards))
}

// Grant maps the user object to a grant: userId is the person id, user the
// account, role "1" an administrator, img a face credential, pwd a
// password, cards and bleCards card credentials, validFrom and validTo the
// grant's window. It validates first (errors wrap accessctl.ErrInvalid).
func (u User) Grant() (accessctl.Grant, error) {
	if err := u.Validate(); err != nil {
		return accessctl.Grant{}, err
	}
	g := accessctl.Grant{Person: accessctl.PersonRef{ID: u.UserID}, Name: u.Name, Account: u.User, Admin: u.Role == "1",
		ValidFrom: u.ValidFrom, ValidTo: u.ValidTo}
	if u.Img != "" {
		img, err := decodeFace(u.Img)
		if err != nil {
			return g, err
		}
		g.Credentials = append(g.Credentials, accessctl.Credential{Kind: accessctl.CredFace, Face: img})
	}
	if u.Pwd != "" {
		g.Credentials = append(g.Credentials, accessctl.Credential{Kind: accessctl.CredPassword, Value: u.Pwd})
	}
	for _, c := range u.Cards {
		g.Credentials = append(g.Credentials, accessctl.Credential{Kind: accessctl.CredCard, Value: c, Card: &accessctl.CardNo{Raw: c}})
	}
	for _, c := range u.BLECards {
		g.Credentials = append(g.Credentials, accessctl.Credential{Kind: accessctl.CredBLECard, Value: c, Card: &accessctl.CardNo{Raw: c}})
	}
	return g, nil
}

// merge edits have with what u sets, patch being u.Grant(): empty fields
// leave have's as they are (the editUser rule, A.6); a new face, password,
// card list or Bluetooth card list replaces the old one of its kind, other
// credentials (QR codes) are kept.
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
	if u.ValidFrom != nil {
		have.ValidFrom = patch.ValidFrom
	}
	if u.ValidTo != nil {
		have.ValidTo = patch.ValidTo
	}
	replaced := map[accessctl.CredentialKind]bool{}
	if u.Cards != nil {
		replaced[accessctl.CredCard] = true
	}
	if u.BLECards != nil {
		replaced[accessctl.CredBLECard] = true
	}
	for _, c := range patch.Credentials {
		replaced[c.Kind] = true
	}
	// A new slice: have may share its slice with the device's copy.
	out := make([]accessctl.Credential, 0, len(have.Credentials)+len(patch.Credentials))
	for _, c := range have.Credentials {
		if !replaced[c.Kind] {
			out = append(out, c)
		}
	}
	have.Credentials = append(out, patch.Credentials...)
	return have
}

// UserOf maps a grant back to a user object: cards and the window
// included, the password and the face never (an answer is no place for
// secrets or megabytes).
func UserOf(g accessctl.Grant) User {
	u := User{UserID: g.Person.ID, Name: g.Name, User: g.Account, Role: "0", ValidFrom: g.ValidFrom, ValidTo: g.ValidTo}
	if g.Admin {
		u.Role = "1"
	}
	for _, c := range g.Credentials {
		no := c.Value
		if c.Card != nil && c.Card.Raw != "" {
			no = c.Card.Raw
		}
		switch c.Kind {
		case accessctl.CredCard:
			u.Cards = append(u.Cards, no)
		case accessctl.CredBLECard:
			u.BLECards = append(u.BLECards, no)
		}
	}
	return u
}
