package passcheck

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// wireTypes are passEvent.type values (spec §5.1).
var wireTypes = map[accessctl.Method]string{
	accessctl.MethodQRCode:   "qrCode",
	accessctl.MethodCard:     "tradCard",
	accessctl.MethodBLECard:  "bleCard",
	accessctl.MethodPassword: "password",
	accessctl.MethodFace:     "face",
}

// wireEvent and wireExt fix the member order of the platform's examples.
type wireEvent struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Type    string `json:"type"`
	Content string `json:"content"`
	ExtInfo string `json:"extInfo,omitempty"`
}

type wireExt struct {
	Type            string `json:"type"`
	QRCode          string `json:"qrCode,omitempty"`
	CardID          string `json:"cardId,omitempty"`
	UserID          string `json:"userID,omitempty"` // sic: capital ID
	EventTime       string `json:"eventTime"`
	RemainScanTimes *int   `json:"remainScanTimes,omitempty"`
}

// WirePassEvent renders a pass as the LinkKit passEvent payload (spec §5):
// code, message, type, content and extInfo, a JSON object serialised into
// a string with type, qrCode or cardId, userID when known, eventTime in
// epoch seconds and remainScanTimes for limited QR codes.
func WirePassEvent(p *accessctl.PassEvent, at time.Time, userID string) ([]byte, error) {
	typ := wireTypes[p.Method]
	ext := wireExt{Type: typ, UserID: userID, EventTime: strconv.FormatInt(at.Unix(), 10), RemainScanTimes: p.RemainingScans}
	switch p.Method {
	case accessctl.MethodQRCode:
		ext.QRCode = p.Credential
	case accessctl.MethodCard, accessctl.MethodBLECard:
		ext.CardID = p.Credential
	}
	extJSON, err := json.Marshal(ext)
	if err != nil {
		return nil, err
	}
	return json.Marshal(wireEvent{
		Code: p.Result.Code, Message: p.Result.Message, Type: typ, Content: p.Credential, ExtInfo: string(extJSON),
	})
}
