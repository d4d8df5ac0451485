package linkkit

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Op is a permission file operation (spec §3.4).
type Op int

// Operations.
const (
	OpAdd    Op = 1 // insert, or update when the key exists
	OpDelete Op = 2 // remove the record and its scan counter
	OpModify Op = 3 // update, or insert when the key is absent
)

// Entry is one operation of the permission file a host sends (the host-side
// mirror of what a door parses). Key is the qrCode, cardId or password.
type Entry struct {
	Kind     accessctl.CredentialKind // CredQRCode, CredCard, CredBLECard, CredPassword
	Op       Op
	Key      string
	Start    *time.Time
	End      *time.Time
	MaxScans *int // QR only; -1 unlimited
	Scope    accessctl.ScanScope
	UserID   string // echoed by the door in passEvent.extInfo.userID
}

// wireEntry is an entry as the door reads it: QR entries with startTime /
// endTime / maxScanTimes / maxScanScope (spec §3.2), card, BLE and password
// entries in the edge protocol's shape with effectiveTime / expiryTime
// (spec §3.3). Times are epoch-ms strings, as in the source's examples.
type wireEntry struct {
	Type          int    `json:"type"`
	QRCode        string `json:"qrCode,omitempty"`
	CardID        string `json:"cardId,omitempty"`
	Password      string `json:"password,omitempty"`
	StartTime     string `json:"startTime,omitempty"`
	EndTime       string `json:"endTime,omitempty"`
	EffectiveTime string `json:"effectiveTime,omitempty"`
	ExpiryTime    string `json:"expiryTime,omitempty"`
	MaxScanTimes  *int   `json:"maxScanTimes,omitempty"`
	MaxScanScope  string `json:"maxScanScope,omitempty"`
	UserID        string `json:"userId,omitempty"`
}

type wireFile struct {
	QR       []wireEntry `json:"qrCodePermissionList,omitempty"`
	TradCard []wireEntry `json:"tradCardPermissionList,omitempty"`
	BLECard  []wireEntry `json:"bleCardPermissionList,omitempty"`
	Password []wireEntry `json:"passwordPermissionList,omitempty"`
}

func ms(t *time.Time) string {
	if t == nil {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// BuildFile serialises entries into a permission file, keeping their order
// within each list (the door applies each list in order).
func BuildFile(entries []Entry) ([]byte, error) {
	var f wireFile
	for _, e := range entries {
		if e.Key == "" {
			return nil, fmt.Errorf("%w: permission entry without a key", accessctl.ErrInvalid)
		}
		if e.Op < OpAdd || e.Op > OpModify {
			return nil, fmt.Errorf("%w: permission entry op %d", accessctl.ErrInvalid, e.Op)
		}
		w := wireEntry{Type: int(e.Op), UserID: e.UserID}
		del := e.Op == OpDelete
		switch e.Kind {
		case accessctl.CredQRCode:
			w.QRCode = e.Key
			if !del {
				w.StartTime, w.EndTime, w.MaxScanTimes = ms(e.Start), ms(e.End), e.MaxScans
				w.MaxScanScope = string(e.Scope)
			}
			f.QR = append(f.QR, w)
		case accessctl.CredCard, accessctl.CredBLECard:
			w.CardID = e.Key
			if !del {
				w.EffectiveTime, w.ExpiryTime = ms(e.Start), ms(e.End)
			}
			if e.Kind == accessctl.CredCard {
				f.TradCard = append(f.TradCard, w)
			} else {
				f.BLECard = append(f.BLECard, w)
			}
		case accessctl.CredPassword:
			w.Password = e.Key
			if !del {
				w.EffectiveTime, w.ExpiryTime = ms(e.Start), ms(e.End)
			}
			f.Password = append(f.Password, w)
		default:
			return nil, fmt.Errorf("%w: %s credentials are not carried by the permission file", accessctl.ErrUnsupported, e.Kind)
		}
	}
	return json.Marshal(&f)
}

// Carried reports whether the permission file can carry credentials of kind k.
// Faces are synced by LinkFace, a separate binary SDK (spec §7).
func Carried(k accessctl.CredentialKind) bool {
	switch k {
	case accessctl.CredQRCode, accessctl.CredCard, accessctl.CredBLECard, accessctl.CredPassword:
		return true
	}
	return false
}

// GrantEntries turns a grant into add entries, one per credential the file
// can carry; the others are returned as skipped. A credential's window
// narrows the grant's. A deny grant yields no entries: the door has no
// deny list, so a denied person is one it does not hold.
func GrantEntries(g accessctl.Grant) (entries []Entry, skipped []accessctl.Credential) {
	for _, c := range g.Credentials {
		if !Carried(c.Kind) {
			skipped = append(skipped, c)
			continue
		}
		if g.Policy == accessctl.PolicyDeny {
			continue
		}
		key := c.Value
		if key == "" && c.Card != nil {
			key = c.Card.Raw
		}
		if key == "" {
			skipped = append(skipped, c)
			continue
		}
		e := Entry{Kind: c.Kind, Op: OpAdd, Key: key, Start: later(g.ValidFrom, c.ValidFrom), End: earlier(g.ValidTo, c.ValidTo), UserID: g.Person.ID}
		if c.Kind == accessctl.CredQRCode {
			unlimited := -1
			e.MaxScans, e.Scope = &unlimited, accessctl.ScopeDevice
			if c.QR != nil {
				n := c.QR.MaxScans
				e.MaxScans = &n
				if c.QR.Scope != "" {
					e.Scope = c.QR.Scope
				}
			}
		}
		entries = append(entries, e)
	}
	return entries, skipped
}

func later(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.After(*a)) {
		return b
	}
	return a
}

func earlier(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}
