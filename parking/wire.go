package parking

import (
	"fmt"
	"strings"
)

// Wire identifiers of the multi-function parking camera's thing model
// (spec §2). Misspellings are the real identifiers and stay as they are on
// the wire (§10 G2); only the Go names are spelled correctly.
const (
	// Properties (§2.1).
	PropertyLedRowNumber  = "LedRowNumber"
	PropertyLedNoticeMode = "LedNoticeMode"
	PropertyQrCodeSupport = "IsSurportQrCode" // sic
	PropertyGateState     = "GateState"
	PropertyVehicleState  = "VehicleState"
	PropertyVolume        = "Volume"
	PropertyBrightness    = "Brightness"

	// Services (§2.2).
	ServiceAddVehiclePermission          = "AddVehicleIOfPermission" // sic
	ServiceGetVehiclePermission          = "GetVehiclePermission"
	ServiceGetPermissionDownloadProgress = "GetPermissionDownloadProgress"
	ServiceSendOssStsToken               = "SendOssStsToken"
	ServiceNoticeBroadcast               = "NoticeBroadcast"
	ServiceNoticeDisplay                 = "NoticeDisplay"
	ServiceDefaultDisplay                = "DefaultDisplay"
	ServiceAddLedData                    = "AddLedData"
	ServiceQrCodeDisplay                 = "QrCodeDisplay"
	ServiceTriggerRecognition            = "TriggerRecognition"
	ServiceOperateGate                   = "OperatGate" // sic

	// Events (§2.3).
	EventIntelligentAlarm   = "IntelligentAlarm"
	EventOssStsTokenRequest = "OssStsTokenRequest"
	EventAbnormalOpenGate   = "AbnormalOpenGate"

	// Service and event parameters.
	ParamVehiclePermissionURL    = "VehiclePermissionUrl"
	ParamVehiclePermissionStatus = "VehiclePermissionStatus"
	ParamDownloadStatus          = "DownloadStatus"
	ParamCredentials             = "Credentials"
	ParamBucketName              = "BucketName"
	ParamObjectName              = "ObjectName"
	ParamEndPoint                = "EndPoint"
	ParamStatus                  = "Status"
	ParamVoiceContent            = "VoiceContent"
	ParamPlaySpeed               = "PlaySpeed"
	ParamDisplayContent          = "DisplayContent"
	ParamRowNumber               = "RowNumber"
	ParamMovingSpeed             = "MovingSpeed"
	ParamDisplayTime             = "DisplayTime"
	ParamMovingType              = "MovingType"
	ParamDefaultSituation        = "DefaultSituation"
	ParamLedData                 = "LedData"
	ParamResult                  = "Result"
	ParamQrCode                  = "QrCode"
	ParamOperateType             = "OperatType" // sic
	ParamRequestType             = "RequestType"
	ParamOpenType                = "OpenType"
	ParamImagePath               = "ImagePath"

	// LinkVisual intelligent alarm (§5.2).
	LVEventTypeVehicle = 10005
	LVMediaJPEG        = 0
)

// Limits (§3.3). Lengths of text fields are checked in UTF-8 bytes when
// producing and in characters when consuming (§10 G9).
const (
	MaxLedDataLen         = 2048
	MaxContentLen         = 2048 // VoiceContent, DisplayContent, QrCode
	MaxCustomContextLen   = 128  // characters (§10 G8)
	MaxImagePathLen       = 2048
	MaxAlarmAdditionBytes = 2048
	MaxAlarmMediaBytes    = 1_000_000 // "1MB": 10^6 satisfies both readings
	MaxRows               = 100
	MaxDisplayTime        = 3600
	DefaultShowTime       = 10 // seconds, the cloud default (§10 G5)
	DefaultScreenLines    = 4
)

// NoticeMode is LedNoticeMode: how the screen and speaker are driven.
type NoticeMode int

const (
	// Separated: rows refresh individually, voice and text are separate
	// services (NoticeBroadcast, NoticeDisplay, DefaultDisplay).
	Separated NoticeMode = 0
	// Mixed: voice and text travel together in AddLedData.
	Mixed NoticeMode = 1
)

func (m NoticeMode) String() string {
	switch m {
	case Separated:
		return "separated"
	case Mixed:
		return "mixed"
	}
	return fmt.Sprintf("NoticeMode(%d)", int(m))
}

// ContentType is LedData.Type.
type ContentType int

const (
	FixedScene        ContentType = 0 // stored as the template of a scene
	TemporaryScene    ContentType = 1 // shown now for ShowTime seconds (§10 G6)
	PersonalizedScene ContentType = 2 // like temporary, bound to the current vehicle
)

// Valid reports whether t is one of the three documented types.
func (t ContentType) Valid() bool { return t >= FixedScene && t <= PersonalizedScene }

// Situation is a scene: LedData.Situation and DefaultDisplay.DefaultSituation.
type Situation int

const (
	SituationIdle      Situation = 0 // no vehicle
	SituationOrdinary  Situation = 1 // ordinary-permission or whitelist vehicle passing
	SituationBlacklist Situation = 2
	SituationTemporary Situation = 3
	SituationNoPlate   Situation = 4 // unplated vehicle
)

// Valid reports whether s is a documented scene.
func (s Situation) Valid() bool { return s >= SituationIdle && s <= SituationNoPlate }

func (s Situation) String() string {
	switch s {
	case SituationIdle:
		return "idle"
	case SituationOrdinary:
		return "ordinary"
	case SituationBlacklist:
		return "blacklist"
	case SituationTemporary:
		return "temporary"
	case SituationNoPlate:
		return "no-plate"
	}
	return fmt.Sprintf("Situation(%d)", int(s))
}

// RunType is a line's scroll mode (LedData RunType, NoticeDisplay MovingType).
type RunType int

const (
	Static      RunType = 0
	RightToLeft RunType = 1
	LeftToRight RunType = 2
	BottomToTop RunType = 3
	TopToBottom RunType = 4
)

// Normalize maps unknown run types to Static (§11 item 6).
func (r RunType) Normalize() RunType {
	if r < Static || r > TopToBottom {
		return Static
	}
	return r
}

// Color is a line's text colour. Only red and green exist (§10 G11).
type Color int

const (
	ColorDefault Color = 0 // not a wire value: "use the default", green
	Red          Color = 1
	Green        Color = 2
)

// Normalize maps anything but red to green, the default (§11 item 4).
func (c Color) Normalize() Color {
	if c == Red {
		return Red
	}
	return Green
}

func (c Color) String() string {
	switch c {
	case Red:
		return "red"
	case Green:
		return "green"
	case ColorDefault:
		return "default"
	}
	return fmt.Sprintf("Color(%d)", int(c))
}

// MarshalText names the colour in JSON output meant for people.
func (c Color) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// LedParseResult is AddLedData's Result.
type LedParseResult int

const (
	LedParsedOK    LedParseResult = 0
	LedParseFailed LedParseResult = 1
)

// GateCommand is OperatGate's OperatType.
type GateCommand int

const (
	GateClose    GateCommand = 0
	GateOpen     GateCommand = 1
	GateKeepOpen GateCommand = 2
)

// Valid reports whether c is a documented command.
func (c GateCommand) Valid() bool { return c >= GateClose && c <= GateKeepOpen }

func (c GateCommand) String() string {
	switch c {
	case GateClose:
		return "close"
	case GateOpen:
		return "open"
	case GateKeepOpen:
		return "keepOpen"
	}
	return fmt.Sprintf("GateCommand(%d)", int(c))
}

// MarshalText writes the domain model's command names (§4.1).
func (c GateCommand) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// ParseGateCommand reads a command as the parking domain service writes
// it ("open", "close", "keepOpen", any case) or as OperatType ("0"–"2").
func ParseGateCommand(s string) (GateCommand, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "close", "0":
		return GateClose, nil
	case "open", "1":
		return GateOpen, nil
	case "keepopen", "keep_open", "2":
		return GateKeepOpen, nil
	}
	return 0, fieldErr("barrier command", "command", ErrUnknownValue, "%q", TruncateRunes(s, 32))
}

// UnmarshalText is ParseGateCommand.
func (c *GateCommand) UnmarshalText(b []byte) error {
	v, err := ParseGateCommand(string(b))
	if err == nil {
		*c = v
	}
	return err
}

// GateState is the GateState property.
type GateState int

const (
	GateOpened  GateState = 0
	GateClosed  GateState = 1
	GateOpening GateState = 2
	GateClosing GateState = 3
	// GateUnknown is not a wire value: the state has not been reported.
	GateUnknown GateState = -1
)

func (s GateState) String() string {
	switch s {
	case GateOpened:
		return "opened"
	case GateClosed:
		return "closed"
	case GateOpening:
		return "opening"
	case GateClosing:
		return "closing"
	case GateUnknown:
		return "unknown"
	}
	return fmt.Sprintf("GateState(%d)", int(s))
}

// MarshalText names the state in JSON output meant for people.
func (s GateState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// DomainStatus is the parking domain's BarrierDTO.status: "open" or
// "close" (§4.1's recommended mapping), "" when unknown.
func (s GateState) DomainStatus() string {
	switch s {
	case GateOpened, GateOpening:
		return "open"
	case GateClosed, GateClosing:
		return "close"
	}
	return ""
}

// Open reports whether the state counts as open: opening is reported as
// commanded open, closing as closed (§4.1 recommended mapping).
func (s GateState) Open() bool { return s == GateOpened || s == GateOpening }

// VehicleState is the VehicleState property (presence at the barrier).
type VehicleState int

const (
	NoVehicle           VehicleState = 0
	VehiclePresent      VehicleState = 1
	VehicleNotSupported VehicleState = 2 // the safety input is missing: do not assume "no vehicle"
	VehicleUnknown      VehicleState = -1
)

// AbnormalOpenType is AbnormalOpenGate's OpenType.
type AbnormalOpenType int

const (
	OpenByRemoteControl AbnormalOpenType = 0
	OpenByDeviceButton  AbnormalOpenType = 1
	OpenByOther         AbnormalOpenType = 99
)

func (t AbnormalOpenType) String() string {
	switch t {
	case OpenByRemoteControl:
		return "remote control"
	case OpenByDeviceButton:
		return "device button"
	case OpenByOther:
		return "other"
	}
	return fmt.Sprintf("AbnormalOpenType(%d)", int(t))
}

// StsRequestType is OssStsTokenRequest's RequestType.
type StsRequestType int

const (
	StsImageFile StsRequestType = 0
	StsTextFile  StsRequestType = 1
	StsOtherFile StsRequestType = 2
)
