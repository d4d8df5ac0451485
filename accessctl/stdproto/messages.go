package stdproto

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// Interface paths (spec B.5). Every one is POSTed.
const (
	PathConnect           = "/connect"
	PathKeepalive         = "/keepalive"
	PathRemoteOpen        = "/remoteOpen"
	PathAlarmEvent        = "/alarmEvent"
	PathSetKeepOpen       = "/setKeepOpen"
	PathGetKeepOpen       = "/getKeepOpen"
	PathSetTempCheckRule  = "/setTempCheckRule"
	PathRecognize         = "/recognize"
	PathSyncFaces         = "/faceAC/syncFaces"
	PathQueryFaces        = "/faceAC/queryFaces"
	PathFacePassEvent     = "/faceAC/passEvent"
	PathQRCode            = "/qrcode"
	PathCardSync          = "/cardAC/syncPermissions"
	PathCardPassEvent     = "/cardAC/passEvent"
	PathBLESync           = "/bleAC/syncPermissions"
	PathBLEPassEvent      = "/bleAC/passEvent"
	PathSyncSipNumber     = "/visualIntercom/syncSipNumber"
	PathGetGroupID        = "/visualIntercom/getGroupId"
	PathCheckPhoneNumber  = "/visualIntercom/checkPhoneNumber"
	PathVerifyPhoneResult = "/visualIntercom/verifyPhoneResult"
	PathReportOpenDoor    = "/visualIntercom/reportOpenDoor"
	PathReportRunState    = "/elevator/reportRunState"
	PathGetRunState       = "/elevator/getRunState"
	PathReleaseFloors     = "/elevator/releaseFloors"
	PathActivateFloor     = "/elevator/activateFloor"
	PathCallElevator      = "/elevator/call"
	PathElevatorInfo      = "/elevator/info/get"
	PathRuleSync          = "/elevator/rule/sync"
	PathRuleGet           = "/elevator/rule/get"
	PathRuleReport        = "/elevator/rule/report"
	PathSetAvailability   = "/elevator/rule/setAvailability"
	PathGetAvailability   = "/elevator/rule/getAvailability"
)

// ElevatorVersion is the API version the elevator interfaces carry.
const ElevatorVersion = "2021-12-13"

// Limits stated by the source (spec B.5) or inferred by the spec.
const (
	MaxFacesPerSync = 50
	MaxPermsPerSync = 200
	MaxRulesPerSync = 200
	MaxTokenBytes   = 64
	MaxFaceIDBytes  = 64
	MaxDelaySeconds = 300
	MinKeepalive    = 10
	MaxKeepalive    = 120
)

// Response is the envelope of every answer (spec B.2). GroupID is where
// getGroupId puts its answer: at the top level (C.B.23).
type Response struct {
	Code    Int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
	GroupID string          `json:"groupId,omitempty"`
}

// TokenRequest is a request carrying only the token (/keepalive,
// /remoteOpen, /getKeepOpen).
type TokenRequest struct {
	Token string `json:"token"`
}

// String never prints the token.
func (r TokenRequest) String() string { return "token(redacted)" }

// ElevatorHeader is what every elevator request carries besides its body.
type ElevatorHeader struct {
	Version string `json:"version"`
	Token   string `json:"token"`
}

var snRE = regexp.MustCompile(`^[A-Za-z0-9_\-@.:]{4,32}$`)

// ValidSN reports whether s is a device id as the spec allows (B.1).
func ValidSN(s string) bool { return snRE.MatchString(s) }

// ConnectRequest is /connect (B.6.1). Port is an optional extension some
// sister protocols send (C.B.5).
type ConnectRequest struct {
	SN         string `json:"sn"`
	Time       Epoch  `json:"time"`
	IP         string `json:"ip"`
	MAC        string `json:"mac"`
	Keepalive  Int    `json:"keepalive"`
	SignMethod string `json:"signMethod"`
	Sign       string `json:"sign"`
	Port       Int    `json:"port,omitempty"`
}

// Validate checks presence; the sign is checked by VerifySign.
func (r *ConnectRequest) Validate() error {
	switch {
	case r.SN == "":
		return badParam("sn is required")
	case len(r.SN) > 64:
		return badParam("sn longer than 64 bytes")
	case r.Time == "":
		return badParam("time is required")
	case r.IP == "":
		return badParam("ip is required")
	case r.Sign == "":
		return badParam("sign is required")
	}
	return nil
}

// ConnectData is /connect's answer.
type ConnectData struct {
	Token string `json:"token"`
}

// String never prints the token: it is the link's only credential.
func (d ConnectData) String() string { return "connected(token redacted)" }

// Alarm types of /alarmEvent (B.6.4).
const (
	AlarmTamper          = 0
	AlarmTamperCleared   = 1
	AlarmInvalidCard     = 2
	AlarmInvalidBLECard  = 3
	AlarmForcedOpen      = 4
	AlarmForcedCleared   = 5
	AlarmDoorHeldOpen    = 6
	AlarmDoorHeldCleared = 7
)

// AlarmName names an alarm type; unknown types are "alarm-N".
func AlarmName(t int) string {
	switch t {
	case AlarmTamper:
		return "tamper"
	case AlarmTamperCleared:
		return "tamper cleared"
	case AlarmInvalidCard:
		return "invalid card"
	case AlarmInvalidBLECard:
		return "invalid bluetooth card"
	case AlarmForcedOpen:
		return "forced open"
	case AlarmForcedCleared:
		return "forced open cleared"
	case AlarmDoorHeldOpen:
		return "door held open"
	case AlarmDoorHeldCleared:
		return "door held open cleared"
	}
	return "alarm-" + strconv.Itoa(t)
}

// AlarmRequest is /alarmEvent (B.6.4).
type AlarmRequest struct {
	Token     string `json:"token"`
	AlarmType *Int   `json:"alarmType"`
	CardID    string `json:"cardId,omitempty"`
}

// Validate requires alarmType. Unknown types are accepted: event reports
// are delivered raw (D.3); a missing cardId for types 2/3 too (C.B.43).
func (r *AlarmRequest) Validate() error {
	if r.AlarmType == nil {
		return badParam("alarmType is required")
	}
	return nil
}

// KeepOpen is /setKeepOpen's data and /getKeepOpen's answer.
type KeepOpen struct {
	KeepOpen Int `json:"keepOpen"`
}

// keepOpenData accepts the object of the example or the array of the table
// (C.B.10).
type keepOpenData struct{ KeepOpen }

func (k *keepOpenData) UnmarshalJSON(b []byte) error {
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) > 0 && b[0] == '[' {
		var arr []KeepOpen
		if err := json.Unmarshal(b, &arr); err != nil {
			return err
		}
		if len(arr) == 0 {
			return badParam("data is an empty array")
		}
		k.KeepOpen = arr[0]
		return nil
	}
	return json.Unmarshal(b, &k.KeepOpen)
}

// SetKeepOpenRequest is /setKeepOpen (B.6.5).
type SetKeepOpenRequest struct {
	Token string        `json:"token"`
	Data  *keepOpenData `json:"data"`
}

// Validate requires data.keepOpen in {0, 1}.
func (r *SetKeepOpenRequest) Validate() error {
	if r.Data == nil {
		return badParam("data is required")
	}
	if k := r.Data.KeepOpen.KeepOpen; k != 0 && k != 1 {
		return badParam("keepOpen %d not in {0,1}", k)
	}
	return nil
}

// TempRule is /setTempCheckRule's data (B.6.7).
type TempRule struct {
	IsCheck      Int  `json:"isCheck"`
	MaxThreshold Text `json:"maxThreshold,omitempty"`
	MinThreshold Text `json:"minThreshold,omitempty"`
}

// SetTempRuleRequest is /setTempCheckRule.
type SetTempRuleRequest struct {
	Token string    `json:"token"`
	Data  *TempRule `json:"data"`
}

// Validate requires both thresholds when checking is on, min ≤ max (C.B.42).
func (r *SetTempRuleRequest) Validate() error {
	if r.Data == nil {
		return badParam("data is required")
	}
	return r.Data.Validate()
}

// Validate checks the rule.
func (t *TempRule) Validate() error {
	switch t.IsCheck {
	case 0:
		return nil
	case 1:
	default:
		return badParam("isCheck %d not in {0,1}", t.IsCheck)
	}
	hi, err1 := strconv.ParseFloat(string(t.MaxThreshold), 64)
	lo, err2 := strconv.ParseFloat(string(t.MinThreshold), 64)
	if err1 != nil || err2 != nil {
		return badParam("thresholds must be decimals when isCheck is 1")
	}
	if lo > hi {
		return badParam("minThreshold %s > maxThreshold %s", t.MinThreshold, t.MaxThreshold)
	}
	return nil
}

// Face operation types of /faceAC/syncFaces (B.7.2).
const (
	FaceAdd       = 1
	FaceDelete    = 2
	FaceUpdate    = 3
	FaceDeleteAll = 4
)

// UserInfo is a face's person data.
type UserInfo struct {
	UserID        string `json:"userId,omitempty"`
	UserName      string `json:"userName,omitempty"`
	ExpiryTime    Text   `json:"expiryTime,omitempty"` // epoch-ms as decimal text
	IsInBlackList Bool   `json:"isInBlackList"`
}

// FaceOp is one entry of /faceAC/syncFaces. Feature is the edge's feature
// vector; the two hashes are opaque tokens chosen by the edge (C.B.15).
type FaceOp struct {
	Type        Int       `json:"type"`
	FaceID      string    `json:"faceId,omitempty"`
	Feature     []float64 `json:"feature,omitempty"`
	FeatureMd5  string    `json:"featureMd5,omitempty"`
	UserInfo    *UserInfo `json:"userInfo,omitempty"`
	UserInfoMd5 string    `json:"userInfoMd5,omitempty"`
	// UserID beside userInfo is read as a fallback (C.B.14); never sent.
	UserID string `json:"userId,omitempty"`
}

// Validate checks one entry: known type, faceId for types 1–3 (≤ 64 bytes).
func (f *FaceOp) Validate() error {
	switch f.Type {
	case FaceAdd, FaceDelete, FaceUpdate:
		if f.FaceID == "" {
			return badParam("faceId is required for type %d", f.Type)
		}
		if len(f.FaceID) > MaxFaceIDBytes {
			return badParam("faceId longer than %d bytes", MaxFaceIDBytes)
		}
	case FaceDeleteAll:
	default:
		return badParam("face type %d not in 1..4", f.Type)
	}
	return nil
}

// EffectiveUserID is userInfo.userId, or the sibling userId (C.B.14).
func (f *FaceOp) EffectiveUserID() string {
	if f.UserInfo != nil && f.UserInfo.UserID != "" {
		return f.UserInfo.UserID
	}
	return f.UserID
}

// SyncFacesRequest is /faceAC/syncFaces (B.7.2).
type SyncFacesRequest struct {
	Token string   `json:"token"`
	Faces []FaceOp `json:"faces"`
}

// Validate checks every entry and the batch limit.
func (r *SyncFacesRequest) Validate() error {
	if r.Faces == nil {
		return badParam("faces is required")
	}
	if len(r.Faces) > MaxFacesPerSync {
		return badParam("%d faces in one call, at most %d", len(r.Faces), MaxFacesPerSync)
	}
	for i := range r.Faces {
		if err := r.Faces[i].Validate(); err != nil {
			return badParam("faces[%d]: %v", i, err.(*paramError).msg)
		}
	}
	return nil
}

// QueryFacesRequest is /faceAC/queryFaces (B.7.3). No page: full query.
type QueryFacesRequest struct {
	Token       string `json:"token"`
	CurrentPage *Int   `json:"currentPage,omitempty"`
	PageSize    *Int   `json:"pageSize,omitempty"`
}

// Validate rejects non-positive paging values.
func (r *QueryFacesRequest) Validate() error {
	if r.CurrentPage != nil && *r.CurrentPage < 1 {
		return badParam("currentPage must be ≥ 1")
	}
	if r.PageSize != nil && *r.PageSize < 1 {
		return badParam("pageSize must be ≥ 1")
	}
	return nil
}

// FaceInfo is one face the terminal holds: [faceId, userInfoMd5, featureMd5].
type FaceInfo struct {
	FaceID      string
	UserInfoMd5 string
	FeatureMd5  string
}

// MarshalJSON writes the fixed-order 3-element array.
func (f FaceInfo) MarshalJSON() ([]byte, error) {
	return json.Marshal([3]string{f.FaceID, f.UserInfoMd5, f.FeatureMd5})
}

// UnmarshalJSON reads the array; missing trailing elements are empty.
func (f *FaceInfo) UnmarshalJSON(b []byte) error {
	var a []string
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	if len(a) == 0 {
		return badParam("empty faceInfo entry")
	}
	a = append(a, "", "")
	*f = FaceInfo{a[0], a[1], a[2]}
	return nil
}

// QueryFacesData is /faceAC/queryFaces's answer.
type QueryFacesData struct {
	CurrentPage Int        `json:"currentPage"`
	PageCount   Int        `json:"pageCount"`
	PageSize    Int        `json:"pageSize"`
	Total       Int        `json:"total"`
	FaceInfo    []FaceInfo `json:"faceInfo"`
}

// RecognizeRequest is /recognize (B.7.1), a multipart form.
type RecognizeRequest struct {
	Token       string
	Photo       []byte
	PhotoName   string
	DetectFace  bool   // disableEdgeDetectFace = "1": the edge must find the face (C.B.12)
	Temperature string // °C, optional
}

// RecognizeData is /recognize's answer.
type RecognizeData struct {
	FaceID  string `json:"faceId"`
	Name    string `json:"name"`
	PhotoID string `json:"photoId"`
	UserID  string `json:"userId"`
}

// FacePassRequest is /faceAC/passEvent (B.7.4), a multipart form.
type FacePassRequest struct {
	Token       string
	FaceID      string
	Similarity  float64
	Photo       []byte // a JPEG or PNG, or nil when dropped
	PhotoName   string
	Temperature string
	// PhotoDropped is why the photo sent was not kept (missing, not a
	// JPEG or PNG, over the limit); the pass itself is still valid.
	PhotoDropped string
}

// PhotoData is /faceAC/passEvent's answer.
type PhotoData struct {
	PhotoID string `json:"photoId"`
}

// QRCodeRequest is /qrcode (B.8.1). The length is not enforced (C.B.20).
type QRCodeRequest struct {
	Token  string `json:"token"`
	QRCode string `json:"qrCode"`
}

// Validate requires a non-empty code.
func (r *QRCodeRequest) Validate() error {
	if strings.TrimSpace(r.QRCode) == "" {
		return badParam("qrCode is required")
	}
	return nil
}

// UserIDData is /qrcode's answer.
type UserIDData struct {
	UserID string `json:"userId"`
}

// Permission operation types (B.9.1): add and modify are both upserts.
const (
	PermAdd    = 1
	PermDelete = 2
	PermModify = 3
)

// Permission is one card or Bluetooth-card whitelist entry. Times are
// epoch-ms as decimal text.
type Permission struct {
	Type          Int    `json:"type"`
	UserID        string `json:"userId,omitempty"`
	CardID        string `json:"cardId"`
	EffectiveTime Text   `json:"effectiveTime,omitempty"`
	ExpiryTime    Text   `json:"expiryTime,omitempty"`
}

// Validate checks type and cardId; a delete needs only cardId (B.9.1).
func (p *Permission) Validate() error {
	if p.Type != PermAdd && p.Type != PermDelete && p.Type != PermModify {
		return badParam("permission type %d not in 1..3", p.Type)
	}
	if strings.TrimSpace(p.CardID) == "" {
		return badParam("cardId is required")
	}
	return nil
}

// PermissionsRequest is /cardAC/syncPermissions and /bleAC/syncPermissions.
type PermissionsRequest struct {
	Token       string       `json:"token"`
	Permissions []Permission `json:"permissions"`
}

// Validate checks every entry and the batch limit.
func (r *PermissionsRequest) Validate() error {
	if r.Permissions == nil {
		return badParam("permissions is required")
	}
	if len(r.Permissions) > MaxPermsPerSync {
		return badParam("%d permissions in one call, at most %d", len(r.Permissions), MaxPermsPerSync)
	}
	for i := range r.Permissions {
		if err := r.Permissions[i].Validate(); err != nil {
			return badParam("permissions[%d]: %v", i, err.(*paramError).msg)
		}
	}
	return nil
}

// CardPassRequest is /cardAC/passEvent and /bleAC/passEvent.
type CardPassRequest struct {
	Token  string `json:"token"`
	CardID string `json:"cardId"`
}

// Validate requires cardId.
func (r *CardPassRequest) Validate() error {
	if strings.TrimSpace(r.CardID) == "" {
		return badParam("cardId is required")
	}
	return nil
}

// SipNumberRequest is /visualIntercom/syncSipNumber (B.10.1).
type SipNumberRequest struct {
	Token         string `json:"token"`
	SipNumber     string `json:"sipNumber"`
	Password      string `json:"password"`
	SipServerAddr string `json:"sipServerAddr"`
	SipServerPort Text   `json:"sipServerPort"`
}

// Validate requires every field and a port in 1..65535.
func (r *SipNumberRequest) Validate() error {
	if r.SipNumber == "" || r.SipServerAddr == "" {
		return badParam("sipNumber and sipServerAddr are required")
	}
	if p, err := strconv.Atoi(string(r.SipServerPort)); err != nil || p < 1 || p > 65535 {
		return badParam("sipServerPort %q is not a port", r.SipServerPort)
	}
	return nil
}

// String never prints the password (D.16).
func (r SipNumberRequest) String() string {
	return "sip(" + r.SipNumber + "@" + r.SipServerAddr + ":" + string(r.SipServerPort) + ")"
}

// GroupIDRequest is /visualIntercom/getGroupId (B.10.2).
type GroupIDRequest struct {
	Token  string `json:"token"`
	RoomID string `json:"roomId"`
}

// Validate checks the room id leniently.
func (r *GroupIDRequest) Validate() error { return ValidateRoomID(r.RoomID) }

// ValidateRoomID accepts phase-building-unit-room: 4 non-empty alphanumeric
// parts. Longer parts than the source's maxima are allowed (C.B.27).
func ValidateRoomID(s string) error {
	parts := strings.Split(s, "-")
	if len(parts) != 4 {
		return badParam("roomId %q is not phase-building-unit-room", s)
	}
	for _, p := range parts {
		if p == "" {
			return badParam("roomId %q has an empty part", s)
		}
		for _, c := range p {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return badParam("roomId %q is not alphanumeric", s)
			}
		}
	}
	return nil
}

// PhoneRequest is /visualIntercom/checkPhoneNumber (B.10.3).
type PhoneRequest struct {
	Token       string `json:"token"`
	PhoneNumber string `json:"phoneNumber"`
}

// Validate requires the number.
func (r *PhoneRequest) Validate() error {
	if strings.TrimSpace(r.PhoneNumber) == "" {
		return badParam("phoneNumber is required")
	}
	return nil
}

// PhoneResultRequest is /visualIntercom/verifyPhoneResult (B.10.4).
type PhoneResultRequest struct {
	Token       string `json:"token"`
	PhoneNumber string `json:"phoneNumber"`
	Result      *Int   `json:"result"`
}

// Validate requires the number and a result in {0, 1}.
func (r *PhoneResultRequest) Validate() error {
	if strings.TrimSpace(r.PhoneNumber) == "" {
		return badParam("phoneNumber is required")
	}
	if r.Result == nil || (*r.Result != 0 && *r.Result != 1) {
		return badParam("result must be 0 or 1")
	}
	return nil
}

// Intercom types of /visualIntercom/reportOpenDoor.
const (
	IntercomSIP   = 0
	IntercomPhone = 1
)

// OpenDoorReport is /visualIntercom/reportOpenDoor (B.10.5).
type OpenDoorReport struct {
	Token  string `json:"token"`
	Type   *Int   `json:"type"`
	Number string `json:"number"`
	RoomID string `json:"roomId,omitempty"`
}

// Validate requires type and number; roomId is checked leniently (C.B.26).
func (r *OpenDoorReport) Validate() error {
	if r.Type == nil {
		return badParam("type is required")
	}
	if r.Number == "" {
		return badParam("number is required")
	}
	return nil
}
