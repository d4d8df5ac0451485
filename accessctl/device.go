package accessctl

import (
	"context"
	"time"
)

// Device is the smallest thing every door-like device can do. Everything
// else is an optional capability interface, found by type assertion.
//
// Methods that talk to the device honour ctx and return ErrOffline when the
// device is not connected, ErrTimeout when it does not answer and
// ErrUnsupported when its protocol cannot do the thing asked.
type Device interface {
	// ID is the device's identity in its protocol (a serial number, an iotId).
	ID() string
	// Status is the device's connection state and what it told about itself.
	Status(ctx context.Context) (Status, error)
	// OpenDoor opens a door now.
	OpenDoor(ctx context.Context, req OpenRequest) error
	// Close releases the handle. It does not disconnect other handles to the
	// same device, and it is safe to call more than once.
	Close() error
}

// OpenRequest asks a device to open one of its doors.
type OpenRequest struct {
	Door          int    // 0: the device's only or first door
	Operator      string // who asked, for the record
	Reason        string
	CorrelationID string // the platform's id for this command
}

// Status is a device's connection state.
type Status struct {
	Device   DeviceRef  `json:"device"`
	Online   bool       `json:"online"`
	Since    time.Time  `json:"since,omitzero"`    // when Online last changed
	LastSeen time.Time  `json:"lastSeen,omitzero"` // the last frame of any kind
	Info     DeviceInfo `json:"info,omitzero"`
}

// DeviceInfo is what a device said about itself.
type DeviceInfo struct {
	Vendor   string            `json:"vendor,omitempty"`
	Model    string            `json:"model,omitempty"`
	Firmware string            `json:"firmware,omitempty"`
	Serial   string            `json:"serial,omitempty"`
	IP       string            `json:"ip,omitempty"`
	MAC      string            `json:"mac,omitempty"`
	Role     DoorRole          `json:"role,omitempty"`
	Extra    map[string]string `json:"extra,omitempty"`
}

// DeviceLister is implemented by drivers that know their devices, such as
// a server devices dial into: the status of every device seen, online or
// not, in any order. A host lists a fleet through it without knowing the
// protocol (the admin API's GET /devices), then opens one with Driver.Open.
// Status.Info.Extra["type"], when set, is the device's own type word.
type DeviceLister interface {
	Devices(ctx context.Context) ([]Status, error)
}

// PermissionSync puts and removes grants on a device. Both calls are
// idempotent by person id: putting the same grant twice leaves one person,
// and removing a person the device does not hold succeeds.
type PermissionSync interface {
	PutGrant(ctx context.Context, g Grant) error
	RemoveGrant(ctx context.Context, p PersonRef) error
}

// GrantLister is implemented by devices that can say which persons they hold.
// A reconciler diffs against it; without it, against its own ledger.
type GrantLister interface {
	ListGrants(ctx context.Context) ([]PersonRef, error)
}

// GrantGetter is implemented by devices that can read one person back.
// It returns ErrNotFound when the device does not hold the person.
type GrantGetter interface {
	GetGrant(ctx context.Context, p PersonRef) (Grant, error)
}

// FaceComparer is implemented by devices that can tell whether a face is
// already enrolled.
type FaceComparer interface {
	CompareFace(ctx context.Context, face Image) (enrolled bool, err error)
}

// KeepOpener is implemented by devices that can hold a door open.
type KeepOpener interface {
	SetKeepOpen(ctx context.Context, door int, open bool) error
	KeepOpen(ctx context.Context, door int) (bool, error)
}

// Rebooter is implemented by devices that can be restarted remotely.
type Rebooter interface {
	Reboot(ctx context.Context) error
}

// EventQuerier is implemented by devices that can fetch a past event by id.
type EventQuerier interface {
	QueryEvent(ctx context.Context, id string) (Event, error)
}
