package linkkit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/passcheck"
	"github.com/menjin/menjin/transport/thingmodel"
)

// Thing-model identifiers of the multi-function door (spec §1.1).
const (
	PropertyRSAPublicKey   = "RSAPublicKey"
	ServiceSyncPermissions = "syncPermissions"
	ServiceRemoteOpen      = "remoteOpen"
	EventPass              = "passEvent"
)

// passEvent credential types (the wire's "type").
const (
	TypeQRCode   = "qrCode"
	TypeTradCard = "tradCard"
	TypeBLECard  = "bleCard"
	TypePassword = "password"
	TypeFace     = "face"
)

// Method maps a passEvent type to the accessctl method.
func Method(typ string) accessctl.Method {
	switch typ {
	case TypeQRCode:
		return accessctl.MethodQRCode
	case TypeTradCard:
		return accessctl.MethodCard
	case TypeBLECard:
		return accessctl.MethodBLECard
	case TypePassword:
		return accessctl.MethodPassword
	case TypeFace:
		return accessctl.MethodFace
	}
	return accessctl.MethodUnknown
}

// PassEvent is the passEvent output data as the door sends it (the door
// side renders it with passcheck.WirePassEvent).
type PassEvent struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Type    string `json:"type"`
	Content string `json:"content"`
	// ExtInfo is a JSON object serialised into a string (spec §5.2).
	ExtInfo string `json:"extInfo,omitempty"`
}

// ExtInfo is what the SDK reads from passEvent.extInfo.
type ExtInfo struct {
	Type            string `json:"type,omitempty"`
	QRCode          string `json:"qrCode,omitempty"`
	CardID          string `json:"cardId,omitempty"`
	UserID          string `json:"userID,omitempty"` // sic, capital ID
	EventTime       string `json:"eventTime,omitempty"`
	RemainScanTimes *int   `json:"remainScanTimes,omitempty"`
}

// ErrBadPassEvent: a passEvent that cannot be read at all.
var ErrBadPassEvent = errors.New("linkkit: malformed passEvent")

// DecodePassEvent reads a passEvent value leniently: code as number or
// string, extInfo as a string or an object. An unreadable extInfo is kept
// out of the result rather than failing the event (spec §10 item 34).
func DecodePassEvent(value json.RawMessage) (*PassEvent, *ExtInfo, error) {
	var w struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Content string          `json:"content"`
		ExtInfo json.RawMessage `json:"extInfo"`
	}
	if err := json.Unmarshal(value, &w); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadPassEvent, err)
	}
	code, err := intField(w.Code)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: code: %v", ErrBadPassEvent, err)
	}
	pe := &PassEvent{Code: code, Message: w.Message, Type: w.Type, Content: w.Content}
	ext := &ExtInfo{}
	raw := bytes.TrimSpace(w.ExtInfo)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			pe.ExtInfo = s
			raw = []byte(s)
		}
	} else if len(raw) > 0 && raw[0] == '{' {
		pe.ExtInfo = string(raw)
	}
	if len(raw) == 0 || json.Unmarshal(raw, ext) != nil {
		ext = nil
	}
	return pe, ext, nil
}

func intField(raw json.RawMessage) (int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, errors.New("missing")
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
	}
	return strconv.Atoi(s)
}

// EventOptions shape the accessctl event made from a passEvent.
type EventOptions struct {
	Platform string
	Site     accessctl.SiteRef
	// KeepPasswords keeps the password a door reports in Credential; by
	// default it is redacted (spec §5.6).
	KeepPasswords bool
	Direction     accessctl.Direction
}

// ToEvent turns a thing-model passEvent post into an accessctl pass event.
// The event ID hashes the device and the post's params, which a door's
// retry repeats verbatim, so a redelivered event keeps its ID.
func ToEvent(dev accessctl.DeviceRef, m *thingmodel.Message, o EventOptions) (accessctl.Event, error) {
	pe, ext, err := DecodePassEvent(m.Value)
	if err != nil {
		return accessctl.Event{}, err
	}
	sum := sha256.Sum256(append([]byte(dev.ID+"\x00"+m.Identifier+"\x00"), m.Request.Params...))
	ev := accessctl.Event{
		ID:         "linkkit:" + hex.EncodeToString(sum[:12]),
		Kind:       accessctl.KindPass,
		Platform:   o.Platform,
		Site:       o.Site,
		Device:     dev,
		ReceivedAt: m.ReceivedAt,
		Raw:        m.Value,
	}
	msg := pe.Message
	if msg == "" {
		msg = passcheck.Message(pe.Code)
	}
	p := &accessctl.PassEvent{
		Method:     Method(pe.Type),
		Credential: pe.Content,
		Direction:  o.Direction,
		Kind:       accessctl.PassDenied,
		Result:     accessctl.Result{Granted: pe.Code == passcheck.CodeSuccess, Code: pe.Code, Message: msg},
	}
	if p.Result.Granted {
		p.Kind = accessctl.PassGranted
	}
	if p.Method == accessctl.MethodPassword && !o.KeepPasswords {
		p.Credential = ""
	}
	if p.Method == accessctl.MethodCard || p.Method == accessctl.MethodBLECard {
		p.Card = &accessctl.CardNo{Raw: pe.Content, Notation: accessctl.CardOpaque}
	}
	// Time: extInfo.eventTime (epoch-s, stamped when the door decided) first,
	// then the post's time, then receipt.
	switch {
	case ext != nil && ext.EventTime != "":
		if n, err := strconv.ParseInt(ext.EventTime, 10, 64); err == nil && n > 0 {
			if n >= 1e11 {
				ev.OccurredAt = time.UnixMilli(n)
			} else {
				ev.OccurredAt = time.Unix(n, 0)
			}
			ev.TimeSource = accessctl.TimeDevice
		}
	}
	if ev.OccurredAt.IsZero() && !m.Time.IsZero() {
		ev.OccurredAt, ev.TimeSource = m.Time, accessctl.TimeDevice
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt, ev.TimeSource = m.ReceivedAt, accessctl.TimeReceipt
	}
	if ext != nil {
		if ext.UserID != "" {
			p.Person = &accessctl.PersonRef{Platform: o.Platform, ID: ext.UserID}
		}
		p.RemainingScans = ext.RemainScanTimes
	}
	ev.Pass = p
	return ev, nil
}
