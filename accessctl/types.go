package accessctl

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// PersonRef names a person as a platform knows them: HC's userId, 闪开's
// mobile, Aliyun's identityId. IDKind says what the ID is when a platform has
// several kinds (Aliyun's userType: IDENTITY, OPEN, PHONE, ...).
type PersonRef struct {
	Platform string `json:"platform,omitempty"`
	ID       string `json:"id"`
	IDKind   string `json:"idKind,omitempty"`
}

func (p PersonRef) String() string {
	if p.Platform == "" {
		return p.ID
	}
	return p.Platform + ":" + p.ID
}

// DeviceRef names a device: a terminal's serial number, HC's machineCode,
// Aliyun's iotId. Aux holds a second identifier some platforms pair with it
// (HC's extMachineId, a LinkKit productKey/deviceName).
type DeviceRef struct {
	Platform string `json:"platform,omitempty"`
	ID       string `json:"id"`
	Aux      string `json:"aux,omitempty"`
}

func (d DeviceRef) String() string {
	if d.Platform == "" {
		return d.ID
	}
	return d.Platform + ":" + d.ID
}

// SiteRef names a site (community, parking lot, organisation).
type SiteRef struct {
	Platform string `json:"platform,omitempty"`
	ID       string `json:"id,omitempty"`
}

// Image is a picture: a face to enrol or a snapshot taken at a pass. Either
// the bytes or a URL is set. Its String form never prints the bytes.
type Image struct {
	Data []byte `json:"data,omitempty"`
	URL  string `json:"url,omitempty"`
	MIME string `json:"mime,omitempty"`
}

func (im *Image) String() string {
	if im == nil {
		return "<nil>"
	}
	if im.URL != "" {
		return "image(" + im.URL + ")"
	}
	return fmt.Sprintf("image(%s, %d bytes)", im.MIME, len(im.Data))
}

// Empty reports whether the image carries neither bytes nor a URL.
func (im *Image) Empty() bool { return im == nil || (len(im.Data) == 0 && im.URL == "") }

// DecodeImage decodes a base64 image as devices and platforms send it: with
// or without a data-URL prefix, MIME line breaks, the URL-safe alphabet or
// missing padding. The MIME type comes from the prefix or the magic bytes.
func DecodeImage(s string) (*Image, error) {
	mime := ""
	if strings.HasPrefix(s, "data:") {
		comma := strings.IndexByte(s, ',')
		if comma < 0 {
			return nil, fmt.Errorf("%w: data URL without a comma", ErrInvalid)
		}
		meta := s[len("data:"):comma]
		mime, _, _ = strings.Cut(meta, ";")
		s = s[comma+1:]
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\n', '\r', '\t':
			return -1
		case '-':
			return '+'
		case '_':
			return '/'
		}
		return r
	}, s)
	data, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%w: image is not base64: %v", ErrInvalid, err)
	}
	if sniffed := SniffImage(data); sniffed != "" {
		mime = sniffed
	}
	return &Image{Data: data, MIME: mime}, nil
}

// SniffImage returns "image/jpeg" or "image/png" from magic bytes, or "".
func SniffImage(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "image/jpeg"
	case len(b) >= 4 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G':
		return "image/png"
	}
	return ""
}

// CardNotation says how a card number was written.
type CardNotation string

const (
	CardDecimal CardNotation = "decimal"
	CardHex     CardNotation = "hex"
	CardOpaque  CardNotation = "opaque" // kept as text, not a number
)

// CardNo is a card number as the platform wrote it (Raw) and, where it is a
// number, its value.
type CardNo struct {
	Raw      string       `json:"raw"`
	Value    uint64       `json:"value,omitempty"`
	Notation CardNotation `json:"notation,omitempty"`
}

// Direction is which way a person or vehicle goes through a door or lane.
type Direction string

const (
	DirectionUnknown Direction = ""
	DirectionIn      Direction = "in"
	DirectionOut     Direction = "out"
)

// DoorRole is what a device guards: an entry, an exit, or both.
type DoorRole string

const (
	RoleUnknown DoorRole = ""
	RoleEntry   DoorRole = "entry"
	RoleExit    DoorRole = "exit"
	RoleBoth    DoorRole = "both"
)

// CredentialKind is how a person proves who they are.
type CredentialKind string

const (
	CredFace     CredentialKind = "face"
	CredCard     CredentialKind = "card"
	CredBLECard  CredentialKind = "ble_card"
	CredQRCode   CredentialKind = "qr_code"
	CredPassword CredentialKind = "password"
	CredPlate    CredentialKind = "plate"
)

// ScanScope says where a QR code's scan counter lives.
type ScanScope string

const (
	// ScopeDevice counts scans per device (the default).
	ScopeDevice ScanScope = "DEVICE"
	// ScopeShare counts scans across every device that holds the code.
	ScopeShare ScanScope = "SHARE"
)

// QRLimits limits how often a QR code opens a door.
type QRLimits struct {
	MaxScans int       `json:"maxScans"` // -1: unlimited; 0: none
	Scope    ScanScope `json:"scope,omitempty"`
}

// Credential is one way a person opens a door. Value holds the card number,
// BLE card id, QR code, password or plate as the platform gave it; Face holds
// the photo. A validity window here narrows the grant's own.
type Credential struct {
	Kind      CredentialKind `json:"kind"`
	Value     string         `json:"value,omitempty"`
	Card      *CardNo        `json:"card,omitempty"`
	Face      *Image         `json:"face,omitempty"`
	QR        *QRLimits      `json:"qr,omitempty"`
	ValidFrom *time.Time     `json:"validFrom,omitempty"`
	ValidTo   *time.Time     `json:"validTo,omitempty"`
}

// String never prints a password or image bytes.
func (c Credential) String() string {
	switch c.Kind {
	case CredPassword:
		return "password(***)"
	case CredFace:
		return "face(" + c.Face.String() + ")"
	}
	return string(c.Kind) + "(" + c.Value + ")"
}

// PersonType is the person's relation to the site. Platforms' own codes (HC's
// personType 1001/2002/3003) are mapped by their drivers; unknown ones are
// kept verbatim.
type PersonType string

const (
	PersonUnknown  PersonType = ""
	PersonOwner    PersonType = "owner"
	PersonFamily   PersonType = "family"
	PersonTenant   PersonType = "tenant"
	PersonVisitor  PersonType = "visitor"
	PersonStaff    PersonType = "staff"
	PersonResident PersonType = "resident"
)

// Policy says whether a grant lets the person in or keeps them out
// (Aliyun face policy PERMISSION / DENY, a blacklist).
type Policy string

const (
	PolicyAllow Policy = "" // the default
	PolicyDeny  Policy = "deny"
)

// Grant is what a person may do at a set of devices: who they are, the
// credentials they present and the window in which they are valid.
// PermissionSync is idempotent by Person.ID.
type Grant struct {
	Person      PersonRef    `json:"person"`
	Name        string       `json:"name,omitempty"`
	Phone       string       `json:"phone,omitempty"`
	IDNumber    string       `json:"idNumber,omitempty"` // sensitive: never logged
	Account     string       `json:"account,omitempty"`  // login name on the device, where it has one
	Admin       bool         `json:"admin,omitempty"`    // device administrator
	PersonType  PersonType   `json:"personType,omitempty"`
	Policy      Policy       `json:"policy,omitempty"`
	Credentials []Credential `json:"credentials,omitempty"`
	Devices     []DeviceRef  `json:"devices,omitempty"`
	ValidFrom   *time.Time   `json:"validFrom,omitempty"`
	ValidTo     *time.Time   `json:"validTo,omitempty"`
	// Ext carries platform extensions verbatim (HC attrs, Aliyun extInfo).
	Ext map[string]any `json:"ext,omitempty"`
	// CorrelationID ties the grant to the platform's request (HC taskId).
	CorrelationID string `json:"correlationId,omitempty"`
}

// Credential returns the grant's first credential of kind k.
func (g *Grant) Credential(k CredentialKind) (Credential, bool) {
	for _, c := range g.Credentials {
		if c.Kind == k {
			return c, true
		}
	}
	return Credential{}, false
}

// ValidAt reports whether t falls in the grant's window (open ends allowed).
func (g *Grant) ValidAt(t time.Time) bool {
	return within(t, g.ValidFrom, g.ValidTo)
}

func within(t time.Time, from, to *time.Time) bool {
	if from != nil && t.Before(*from) {
		return false
	}
	if to != nil && t.After(*to) {
		return false
	}
	return true
}

// String identifies the grant without its secrets.
func (g Grant) String() string {
	kinds := make([]string, 0, len(g.Credentials))
	for _, c := range g.Credentials {
		kinds = append(kinds, c.String())
	}
	return fmt.Sprintf("grant(%s %q [%s])", g.Person, g.Name, strings.Join(kinds, " "))
}
