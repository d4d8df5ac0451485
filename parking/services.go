package parking

import (
	"encoding/json"
	"unicode/utf8"
)

// Service is the input of one camera service: its wire identifier and its
// params. Every service of §2.2 has a type here; a Camera driver sends
// Args() under Identifier() and a device decodes them with DecodeService.
type Service interface {
	Identifier() string
	Args() (json.RawMessage, error)
}

// NoticeBroadcast speaks VoiceContent (separated mode).
type NoticeBroadcast struct {
	VoiceContent string
	PlaySpeed    int // 1 slowest … 10 fastest; 0: device default (§10 G14)
}

// NoticeDisplay shows a temporary prompt on one row (separated mode).
type NoticeDisplay struct {
	DisplayContent string
	RowNumber      int     // 1 … 100
	MovingSpeed    int     // 1 … 10; 0: device default
	DisplayTime    int     // seconds 1 … 3600; 0: device default
	MovingType     RunType // default Static
}

// DefaultDisplay sets the resting text of one row for one scene.
type DefaultDisplay struct {
	DisplayContent   string
	RowNumber        int
	DefaultSituation Situation
}

// AddLedData carries mixed-mode content.
type AddLedData struct{ Data LedData }

// QrCodeDisplay shows a QR code (check IsSurportQrCode first).
type QrCodeDisplay struct{ QrCode string }

// TriggerRecognition makes the camera capture and answer with IntelligentAlarm.
type TriggerRecognition struct{}

// OperateGate is OperatGate: open, close or keep open the barrier.
type OperateGate struct{ Command GateCommand }

// AddVehiclePermission is AddVehicleIOfPermission: push a permission file by URL.
type AddVehiclePermission struct{ URL string }

// GetVehiclePermission asks the device to export its permissions.
type GetVehiclePermission struct{}

// GetPermissionDownloadProgress asks how the last push is going.
type GetPermissionDownloadProgress struct{}

// SendOssStsToken gives the device temporary upload rights. Credentials is
// encrypted by a scheme the source does not give (§10 G29).
type SendOssStsToken struct {
	Credentials, BucketName, ObjectName, EndPoint string
}

func (NoticeBroadcast) Identifier() string               { return ServiceNoticeBroadcast }
func (NoticeDisplay) Identifier() string                 { return ServiceNoticeDisplay }
func (DefaultDisplay) Identifier() string                { return ServiceDefaultDisplay }
func (AddLedData) Identifier() string                    { return ServiceAddLedData }
func (QrCodeDisplay) Identifier() string                 { return ServiceQrCodeDisplay }
func (TriggerRecognition) Identifier() string            { return ServiceTriggerRecognition }
func (OperateGate) Identifier() string                   { return ServiceOperateGate }
func (AddVehiclePermission) Identifier() string          { return ServiceAddVehiclePermission }
func (GetVehiclePermission) Identifier() string          { return ServiceGetVehiclePermission }
func (GetPermissionDownloadProgress) Identifier() string { return ServiceGetPermissionDownloadProgress }
func (SendOssStsToken) Identifier() string               { return ServiceSendOssStsToken }

// checkContent enforces a 2048 limit: bytes when producing (strict), characters
// when consuming (liberal), per §10 G9.
func checkContent(payload, field, s string, producing bool) error {
	n := utf8.RuneCountInString(s)
	unit := "characters"
	if producing {
		n, unit = len(s), "bytes"
	}
	if n > MaxContentLen {
		return fieldErr(payload, field, ErrTooLong, "%d %s, at most %d", n, unit, MaxContentLen)
	}
	return nil
}

func checkRow(payload string, row int) error {
	if row < 1 || row > MaxRows {
		return fieldErr(payload, ParamRowNumber, ErrOutOfRange, "%d not in 1..%d", row, MaxRows)
	}
	return nil
}

// speed clamps PlaySpeed/MovingSpeed to 1–10; 0 stays "device default".
func speed(v int) int {
	if v == 0 {
		return 0
	}
	return clamp(v, 1, 10)
}

func (s NoticeBroadcast) Args() (json.RawMessage, error) {
	if err := checkContent(ServiceNoticeBroadcast, ParamVoiceContent, s.VoiceContent, true); err != nil {
		return nil, err
	}
	return marshalNoEscape(struct {
		VoiceContent string `json:"VoiceContent"`
		PlaySpeed    int    `json:"PlaySpeed,omitempty"`
	}{s.VoiceContent, speed(s.PlaySpeed)})
}

func (s NoticeDisplay) Args() (json.RawMessage, error) {
	if err := checkContent(ServiceNoticeDisplay, ParamDisplayContent, s.DisplayContent, true); err != nil {
		return nil, err
	}
	if err := checkRow(ServiceNoticeDisplay, s.RowNumber); err != nil {
		return nil, err
	}
	dt := s.DisplayTime
	if dt != 0 {
		dt = clampDuration(dt, 0)
	}
	return marshalNoEscape(struct {
		DisplayContent string `json:"DisplayContent"`
		RowNumber      int    `json:"RowNumber"`
		MovingSpeed    int    `json:"MovingSpeed,omitempty"`
		DisplayTime    int    `json:"DisplayTime,omitempty"`
		MovingType     int    `json:"MovingType,omitempty"` // 0, static, is the default
	}{s.DisplayContent, s.RowNumber, speed(s.MovingSpeed), dt, int(s.MovingType.Normalize())})
}

func (s DefaultDisplay) Args() (json.RawMessage, error) {
	if err := checkContent(ServiceDefaultDisplay, ParamDisplayContent, s.DisplayContent, true); err != nil {
		return nil, err
	}
	if err := checkRow(ServiceDefaultDisplay, s.RowNumber); err != nil {
		return nil, err
	}
	if !s.DefaultSituation.Valid() {
		return nil, fieldErr(ServiceDefaultDisplay, ParamDefaultSituation, ErrUnknownValue, "%d", s.DefaultSituation)
	}
	return marshalNoEscape(struct {
		DisplayContent   string `json:"DisplayContent"`
		RowNumber        int    `json:"RowNumber"`
		DefaultSituation int    `json:"DefaultSituation"`
	}{s.DisplayContent, s.RowNumber, int(s.DefaultSituation)})
}

func (s AddLedData) Args() (json.RawMessage, error) { return AddLedDataArgs(s.Data) }

func (s QrCodeDisplay) Args() (json.RawMessage, error) {
	if err := checkContent(ServiceQrCodeDisplay, ParamQrCode, s.QrCode, true); err != nil {
		return nil, err
	}
	return marshalNoEscape(map[string]string{ParamQrCode: s.QrCode})
}

func (TriggerRecognition) Args() (json.RawMessage, error) { return json.RawMessage(`{}`), nil }

func (s OperateGate) Args() (json.RawMessage, error) {
	if !s.Command.Valid() {
		return nil, fieldErr(ServiceOperateGate, ParamOperateType, ErrUnknownValue, "%d", s.Command)
	}
	return marshalNoEscape(map[string]int{ParamOperateType: int(s.Command)})
}

func (s AddVehiclePermission) Args() (json.RawMessage, error) {
	if s.URL == "" {
		return nil, fieldErr(ServiceAddVehiclePermission, ParamVehiclePermissionURL, ErrMissing, "required")
	}
	return marshalNoEscape(map[string]string{ParamVehiclePermissionURL: s.URL})
}

func (GetVehiclePermission) Args() (json.RawMessage, error) { return json.RawMessage(`{}`), nil }
func (GetPermissionDownloadProgress) Args() (json.RawMessage, error) {
	return json.RawMessage(`{}`), nil
}

func (s SendOssStsToken) Args() (json.RawMessage, error) {
	return marshalNoEscape(map[string]string{
		ParamCredentials: s.Credentials, ParamBucketName: s.BucketName,
		ParamObjectName: s.ObjectName, ParamEndPoint: s.EndPoint,
	})
}

// content reads a required text of at most 2048 characters.
func (o object) content(name string) (string, error) {
	s, err := o.requiredStr(name)
	if err != nil {
		return "", err
	}
	return s, checkContent(o.payload, name, s, false)
}

// contentRow reads DisplayContent and a RowNumber in 1..100.
func (o object) contentRow() (string, int, error) {
	s, err := o.content(ParamDisplayContent)
	if err != nil {
		return "", 0, err
	}
	row, err := o.requiredInt(ParamRowNumber)
	if err != nil {
		return "", 0, err
	}
	return s, row, checkRow(o.payload, row)
}

// DecodeService parses the params of a service invoke as the device
// receives them. Unknown identifiers give ErrUnknownService; bad params a
// *FieldError. Out-of-range speeds and durations are clamped (§11 item 11),
// unknown moving types become Static, an unknown DefaultSituation or
// OperatType is an error.
func DecodeService(identifier string, params []byte) (Service, error) {
	if identifier == ServiceAddLedData {
		d, err := DecodeAddLedDataArgs(params)
		if err != nil {
			return nil, err
		}
		return AddLedData{Data: d}, nil
	}
	if len(params) == 0 {
		params = []byte("{}")
	}
	o, err := parseObject(identifier, params)
	if err != nil {
		return nil, err
	}
	switch identifier {
	case ServiceNoticeBroadcast:
		var s NoticeBroadcast
		if s.VoiceContent, err = o.content(ParamVoiceContent); err != nil {
			return nil, err
		}
		ps, _, err := o.int(ParamPlaySpeed)
		s.PlaySpeed = speed(ps)
		return s, err
	case ServiceNoticeDisplay:
		var s NoticeDisplay
		if s.DisplayContent, s.RowNumber, err = o.contentRow(); err != nil {
			return nil, err
		}
		ms, _, err := o.int(ParamMovingSpeed)
		if err != nil {
			return nil, err
		}
		s.MovingSpeed = speed(ms)
		dt, ok, err := o.int(ParamDisplayTime)
		if err != nil {
			return nil, err
		}
		if ok {
			s.DisplayTime = clampDuration(dt, 0)
		}
		mt, _, err := o.int(ParamMovingType)
		s.MovingType = RunType(mt).Normalize()
		return s, err
	case ServiceDefaultDisplay:
		var s DefaultDisplay
		if s.DisplayContent, s.RowNumber, err = o.contentRow(); err != nil {
			return nil, err
		}
		ds, err := o.requiredInt(ParamDefaultSituation)
		if err != nil {
			return nil, err
		}
		s.DefaultSituation = Situation(ds)
		if !s.DefaultSituation.Valid() {
			return nil, o.err(ParamDefaultSituation, ErrUnknownValue, "%d", ds)
		}
		return s, nil
	case ServiceQrCodeDisplay:
		s := QrCodeDisplay{}
		s.QrCode, err = o.content(ParamQrCode)
		return s, err
	case ServiceTriggerRecognition:
		return TriggerRecognition{}, nil
	case ServiceOperateGate:
		c, err := o.requiredInt(ParamOperateType)
		if err != nil {
			return nil, err
		}
		s := OperateGate{Command: GateCommand(c)}
		if !s.Command.Valid() {
			return nil, o.err(ParamOperateType, ErrUnknownValue, "%d", c)
		}
		return s, nil
	case ServiceAddVehiclePermission:
		u, err := o.requiredStr(ParamVehiclePermissionURL)
		return AddVehiclePermission{URL: u}, err
	case ServiceGetVehiclePermission:
		return GetVehiclePermission{}, nil
	case ServiceGetPermissionDownloadProgress:
		return GetPermissionDownloadProgress{}, nil
	case ServiceSendOssStsToken:
		var s SendOssStsToken
		for _, f := range []struct {
			name string
			dst  *string
		}{{ParamCredentials, &s.Credentials}, {ParamBucketName, &s.BucketName}, {ParamObjectName, &s.ObjectName}, {ParamEndPoint, &s.EndPoint}} {
			if *f.dst, _, err = o.str(f.name); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	return nil, fieldErr(identifier, "", ErrUnknownService, "%q", identifier)
}

// AbnormalOpenGate is the event of a barrier lifted other than by the
// automatic decision (§2.3, §4.2).
type AbnormalOpenGate struct {
	OpenType  AbnormalOpenType
	ImagePath string // snapshot address; empty when the snapshot failed (§11 item 22)
}

// Params returns the event's output data.
func (e AbnormalOpenGate) Params() (json.RawMessage, error) {
	if len(e.ImagePath) > MaxImagePathLen {
		return nil, fieldErr(EventAbnormalOpenGate, ParamImagePath, ErrTooLong, "%d bytes", len(e.ImagePath))
	}
	return marshalNoEscape(struct {
		OpenType  int    `json:"OpenType"`
		ImagePath string `json:"ImagePath"`
	}{int(e.OpenType), e.ImagePath})
}

// DecodeAbnormalOpenGate parses the event's output data. Unknown open types
// are kept (the alarm must not be lost for a code).
func DecodeAbnormalOpenGate(params []byte) (AbnormalOpenGate, error) {
	o, err := parseObject(EventAbnormalOpenGate, params)
	if err != nil {
		return AbnormalOpenGate{}, err
	}
	t, err := o.requiredInt(ParamOpenType)
	if err != nil {
		return AbnormalOpenGate{}, err
	}
	p, _, err := o.str(ParamImagePath)
	if err != nil {
		return AbnormalOpenGate{}, err
	}
	if n := utf8.RuneCountInString(p); n > MaxImagePathLen {
		return AbnormalOpenGate{}, o.err(ParamImagePath, ErrTooLong, "%d characters", n)
	}
	return AbnormalOpenGate{OpenType: AbnormalOpenType(t), ImagePath: p}, nil
}

// OssStsTokenRequest is the device asking for a new upload token.
type OssStsTokenRequest struct{ RequestType StsRequestType }

// Params returns the event's output data.
func (e OssStsTokenRequest) Params() (json.RawMessage, error) {
	return marshalNoEscape(map[string]int{ParamRequestType: int(e.RequestType)})
}

// DecodeOssStsTokenRequest parses the event's output data.
func DecodeOssStsTokenRequest(params []byte) (OssStsTokenRequest, error) {
	o, err := parseObject(EventOssStsTokenRequest, params)
	if err != nil {
		return OssStsTokenRequest{}, err
	}
	t, err := o.requiredInt(ParamRequestType)
	return OssStsTokenRequest{RequestType: StsRequestType(t)}, err
}
