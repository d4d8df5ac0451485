package accessctl

import (
	"encoding/json"
	"fmt"
	"time"
)

// EventKind says what an Event reports.
type EventKind string

const (
	KindOnline        EventKind = "online"         // a device connected or registered: every one is a (re)connect, even after an online
	KindOffline       EventKind = "offline"        // a device went silent or disconnected
	KindHeartbeat     EventKind = "heartbeat"      // a device's keep-alive
	KindPass          EventKind = "pass"           // a pass attempt, granted or denied
	KindAlarm         EventKind = "alarm"          // tamper, forced door, abnormal barrier lift, ...
	KindEnrolled      EventKind = "enrolled"       // a person enrolled on the device itself
	KindCommandResult EventKind = "command_result" // the late outcome of a command
)

// TimeSource says whose clock OccurredAt came from.
type TimeSource string

const (
	TimeDevice   TimeSource = "device"   // the device's clock
	TimePlatform TimeSource = "platform" // a platform's record
	TimeUpload   TimeSource = "upload"   // when it was uploaded
	TimeReceipt  TimeSource = "receipt"  // when Menjin received it (no device time)
)

// Event is what devices report to an EventSink: an envelope common to every
// kind plus the payload of its kind.
type Event struct {
	// ID is unique per reported event and stable across redelivery: sinks
	// use it as an idempotency key. Drivers derive it from the device's own
	// event id where there is one.
	ID         string     `json:"id"`
	Kind       EventKind  `json:"kind"`
	Platform   string     `json:"platform,omitempty"`
	Site       SiteRef    `json:"site,omitzero"`
	Device     DeviceRef  `json:"device"`
	OccurredAt time.Time  `json:"occurredAt"`
	TimeSource TimeSource `json:"timeSource,omitempty"`
	ReceivedAt time.Time  `json:"receivedAt"`

	Pass     *PassEvent     `json:"pass,omitempty"`
	Alarm    *Alarm         `json:"alarm,omitempty"`
	Status   *Status        `json:"status,omitempty"`   // online, offline, heartbeat
	Enrolled *Grant         `json:"enrolled,omitempty"` // enrolled
	Command  *CommandResult `json:"command,omitempty"`

	// Raw is the device's message verbatim, for vendor extensions.
	Raw json.RawMessage `json:"raw,omitempty"`
}

func (e Event) String() string {
	s := fmt.Sprintf("%s %s@%s", e.Kind, e.Device, e.OccurredAt.Format(time.RFC3339))
	if e.Pass != nil {
		s += " " + e.Pass.String()
	}
	return s
}

// Method is how a pass was attempted.
type Method string

const (
	MethodUnknown  Method = ""
	MethodFace     Method = "face"
	MethodCard     Method = "card"
	MethodBLECard  Method = "ble_card"
	MethodQRCode   Method = "qr_code"
	MethodPassword Method = "password"
	MethodPlate    Method = "plate"
	MethodRemote   Method = "remote"   // opened by a command from a platform or app
	MethodIntercom Method = "intercom" // opened from an intercom call
	MethodKey      Method = "key"      // mechanical key or exit button
)

// PassKind tells a pass from a snapshot of a visitor and from a refusal.
type PassKind string

const (
	PassGranted         PassKind = "pass"
	PassDenied          PassKind = "denied"
	PassVisitorSnapshot PassKind = "visitor_snapshot"
)

// Result is a device's verdict, with the platform's code kept verbatim
// (0 and 101–104, 201–203, 301–303, 501–507, 10000 in the Aliyun tables).
type Result struct {
	Granted bool   `json:"granted"`
	Code    int    `json:"code"`
	Message string `json:"message,omitempty"`
}

// PassEvent is someone or something going — or trying to go — through a door
// or a lane.
type PassEvent struct {
	Person     *PersonRef `json:"person,omitempty"` // nil: stranger or unknown
	PersonName string     `json:"personName,omitempty"`
	Phone      string     `json:"phone,omitempty"`
	IDNumber   string     `json:"idNumber,omitempty"`
	Method     Method     `json:"method"`
	// Credential is what was presented: a card number, the decoded QR code,
	// a plate. Passwords are kept here only if the host asked for it.
	Credential string    `json:"credential,omitempty"`
	Card       *CardNo   `json:"card,omitempty"`
	Direction  Direction `json:"direction,omitempty"`
	Door       int       `json:"door,omitempty"`
	Kind       PassKind  `json:"kind"`
	Result     Result    `json:"result"`
	Similarity *float64  `json:"similarity,omitempty"` // 0–1
	Snapshot   *Image    `json:"snapshot,omitempty"`
	// SnapshotDropped says the device sent a snapshot that was not kept
	// (corrupt, not an image, or over the size limit): the pass itself is
	// still reported, because the door did open or refuse.
	// Its text is the reason, for logs and counters.
	SnapshotDropped string `json:"snapshotDropped,omitempty"`
	RemainingScans  *int   `json:"remainingScans,omitempty"`
	Policy          Policy `json:"policy,omitempty"`
}

func (p *PassEvent) String() string {
	who := "unknown"
	if p.Person != nil {
		who = p.Person.String()
	}
	cred := p.Credential
	if p.Method == MethodPassword {
		cred = "***"
	}
	return fmt.Sprintf("%s %s by %s %s granted=%t code=%d", p.Kind, who, p.Method, cred, p.Result.Granted, p.Result.Code)
}

// Alarm is a device alarm.
type Alarm struct {
	Type     string `json:"type"` // the device's alarm type, verbatim
	Message  string `json:"message,omitempty"`
	Door     int    `json:"door,omitempty"`
	Snapshot *Image `json:"snapshot,omitempty"`
}

// CommandResult is the outcome of a command that completed after its call
// returned (or that a platform wants reported separately).
type CommandResult struct {
	Command       string `json:"command"`
	CorrelationID string `json:"correlationId,omitempty"`
	OK            bool   `json:"ok"`
	Code          string `json:"code,omitempty"`
	Message       string `json:"message,omitempty"`
}
