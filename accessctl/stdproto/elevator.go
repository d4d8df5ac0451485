package stdproto

import (
	"encoding/json"
	"strings"
)

// Control modes of person–elevator linkage (B.11).
const (
	ModeCallOnly       = "CALL_ONLY"
	ModeCallWithTarget = "CALL_WITH_TARGET"
	ModeReleaseOnly    = "RELEASE_ONLY"
	ModeActivateOnly   = "ACTIVATE_ONLY"
)

// Car states and directions (B.11.1).
const (
	CarStopped = 0
	CarMoving  = 1
	DirNone    = 0
	DirUp      = 1
	DirDown    = 2
)

// CarState is one car's status.
type CarState struct {
	ElevatorID   string `json:"elevatorId,omitempty"`
	CurrentFloor Text   `json:"currentFloor"`
	CarState     Int    `json:"carState"`
	CarDirection Int    `json:"carDirection"`
}

// Validate checks the enums.
func (c *CarState) Validate() error {
	if c.CarState != CarStopped && c.CarState != CarMoving {
		return badParam("carState %d not in {0,1}", c.CarState)
	}
	if c.CarDirection < DirNone || c.CarDirection > DirDown {
		return badParam("carDirection %d not in 0..2", c.CarDirection)
	}
	return nil
}

// RunStateReport is /elevator/reportRunState (B.11.1).
type RunStateReport struct {
	ElevatorHeader
	Data []CarState `json:"data"`
}

// Validate checks every car.
func (r *RunStateReport) Validate() error {
	if r.Data == nil {
		return badParam("data is required")
	}
	for i := range r.Data {
		if r.Data[i].CurrentFloor == "" {
			return badParam("data[%d].currentFloor is required", i)
		}
		if err := r.Data[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}

// GetRunStateRequest is /elevator/getRunState (B.11.2). The ids travel as
// elevatorList (table) and data (example); both are read, both are sent
// (C.B.29).
type GetRunStateRequest struct {
	ElevatorHeader
	ElevatorList []string `json:"elevatorList,omitempty"`
	Data         []string `json:"data,omitempty"`
}

// IDs is the car list under either key.
func (r *GetRunStateRequest) IDs() []string {
	if r.ElevatorList != nil {
		return r.ElevatorList
	}
	return r.Data
}

// FloorRoom is a floor and, for through-cars, a room. It reads roomNumber
// and room alike (C.B.30) and writes roomNumber.
type FloorRoom struct {
	Floor      Text `json:"floor"`
	RoomNumber Text `json:"roomNumber,omitempty"`
}

// UnmarshalJSON accepts room as an alias of roomNumber.
func (f *FloorRoom) UnmarshalJSON(b []byte) error {
	var w struct {
		Floor      Text `json:"floor"`
		RoomNumber Text `json:"roomNumber"`
		Room       Text `json:"room"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	f.Floor, f.RoomNumber = w.Floor, w.RoomNumber
	if f.RoomNumber == "" {
		f.RoomNumber = w.Room
	}
	return nil
}

// releaseFloorRoom is FloorRoom as /elevator/releaseFloors writes it.
type releaseFloorRoom struct {
	Floor Text `json:"floor"`
	Room  Text `json:"room,omitempty"`
}

// ReleaseFloorsRequest is /elevator/releaseFloors (B.11.3). No list:
// release every floor.
type ReleaseFloorsRequest struct {
	ElevatorHeader
	ElevatorID    string      `json:"elevatorId,omitempty"`
	FloorRoomList []FloorRoom `json:"floorRoomList,omitempty"`
}

// MarshalJSON writes room, not roomNumber, as the source's example does.
func (r ReleaseFloorsRequest) MarshalJSON() ([]byte, error) {
	var list []releaseFloorRoom
	for _, f := range r.FloorRoomList {
		list = append(list, releaseFloorRoom{Floor: f.Floor, Room: f.RoomNumber})
	}
	return json.Marshal(struct {
		ElevatorHeader
		ElevatorID    string             `json:"elevatorId,omitempty"`
		FloorRoomList []releaseFloorRoom `json:"floorRoomList,omitempty"`
	}{r.ElevatorHeader, r.ElevatorID, list})
}

// Validate requires a floor on each listed entry.
func (r *ReleaseFloorsRequest) Validate() error { return validateFloors(r.FloorRoomList, false) }

func validateFloors(list []FloorRoom, required bool) error {
	if required && len(list) == 0 {
		return badParam("floorRoomList is required")
	}
	for i, f := range list {
		if strings.TrimSpace(string(f.Floor)) == "" {
			return badParam("floorRoomList[%d].floor is required", i)
		}
	}
	return nil
}

// ActivateFloorRequest is /elevator/activateFloor (B.11.4). A sender always
// includes the list; a receiver that gets none answers 5 (C.B.31).
type ActivateFloorRequest struct {
	ElevatorHeader
	ElevatorID    string      `json:"elevatorId,omitempty"`
	FloorRoomList []FloorRoom `json:"floorRoomList"`
}

// Validate requires at least one floor.
func (r *ActivateFloorRequest) Validate() error { return validateFloors(r.FloorRoomList, true) }

// CallRequest is /elevator/call (B.11.5). targetFloor arrives as a number in
// the source's example (C.B.32); it is sent as a string.
type CallRequest struct {
	ElevatorHeader
	ElevatorID      string `json:"elevatorId,omitempty"`
	StartFloor      Text   `json:"startFloor"`
	StartRoom       Text   `json:"startRoom,omitempty"`
	TargetFloor     Text   `json:"targetFloor,omitempty"`
	TargetRoom      Text   `json:"targetRoom,omitempty"`
	TargetDirection *Int   `json:"targetDirection,omitempty"`
}

// Validate requires startFloor and a direction in {1, 2} when given.
func (r *CallRequest) Validate() error {
	if strings.TrimSpace(string(r.StartFloor)) == "" {
		return badParam("startFloor is required")
	}
	if r.TargetDirection != nil && *r.TargetDirection != DirUp && *r.TargetDirection != DirDown {
		return badParam("targetDirection %d not in {1,2}", *r.TargetDirection)
	}
	return nil
}

// Elevator modes of /elevator/info/get.
const (
	ElevatorSingle = "SINGLE"
	ElevatorGroup  = "GROUP"
	ElevatorAll    = "ALL"
)

// FloorInfo is one floor residents can see, with its rooms (through-cars).
type FloorInfo struct {
	Floor    Text     `json:"floor"`
	RoomList RoomList `json:"roomList,omitempty"`
}

// RoomList reads plain strings or {"roomNumber": …} objects (C.B.34) and
// writes strings.
type RoomList []string

// UnmarshalJSON accepts both item forms.
func (l *RoomList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(RoomList, 0, len(raw))
	for _, r := range raw {
		var t Text
		if err := json.Unmarshal(r, &t); err == nil {
			out = append(out, string(t))
			continue
		}
		var o struct {
			RoomNumber Text `json:"roomNumber"`
		}
		if err := json.Unmarshal(r, &o); err != nil {
			return badParam("roomList item %.40s", r)
		}
		out = append(out, string(o.RoomNumber))
	}
	*l = out
	return nil
}

// FloorInfos reads an array or a single object (C.B.34).
type FloorInfos []FloorInfo

// UnmarshalJSON accepts both forms.
func (l *FloorInfos) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, "{") {
		var one FloorInfo
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = FloorInfos{one}
		return nil
	}
	var many []FloorInfo
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// CarInfo is one car of the controller's topology.
type CarInfo struct {
	ElevatorID     string     `json:"elevatorId,omitempty"`
	ElevatorName   string     `json:"elevatorName,omitempty"`
	IsDualCardDoor Bool       `json:"isDualCardDoor"`
	FloorInfo      FloorInfos `json:"floorInfo"`
}

// ElevatorInfo is /elevator/info/get's answer (B.11.6).
type ElevatorInfo struct {
	ElevatorMode  string    `json:"elevatorMode"`
	FloorInfoList []CarInfo `json:"floorInfoList"`
}

// Validate checks the mode.
func (e *ElevatorInfo) Validate() error {
	switch e.ElevatorMode {
	case ElevatorSingle, ElevatorGroup, ElevatorAll:
		return nil
	}
	return badParam("elevatorMode %q not SINGLE, GROUP or ALL", e.ElevatorMode)
}

// Rule is a user's elevator rule (B.11.7), also the body of rule/get items.
type Rule struct {
	RuleID              string      `json:"ruleId,omitempty"`
	ElevatorID          string      `json:"elevatorId,omitempty"`
	UserID              string      `json:"userId,omitempty"`
	ControlMode         string      `json:"controlMode,omitempty"`
	StartFloor          Text        `json:"startFloor,omitempty"`
	StartRoom           Text        `json:"startRoom,omitempty"`
	TargetFloorRoomList []FloorRoom `json:"targetFloorRoomList,omitempty"`
	DelaySeconds        *Int        `json:"delaySeconds,omitempty"`
	EffectiveTime       Text        `json:"effectiveTime,omitempty"`
	ExpiryTime          Text        `json:"expiryTime,omitempty"`
}

// Validate checks the per-mode field presence table of B.11 (rooms cannot
// be checked without the topology) and the delay limit.
func (r *Rule) Validate() error {
	start := strings.TrimSpace(string(r.StartFloor)) != ""
	targets := len(r.TargetFloorRoomList) > 0
	switch r.ControlMode {
	case ModeCallOnly:
		if !start || targets {
			return badParam("%s needs startFloor and no targets", r.ControlMode)
		}
	case ModeCallWithTarget:
		if !start || !targets {
			return badParam("%s needs startFloor and targets", r.ControlMode)
		}
	case ModeReleaseOnly, ModeActivateOnly:
		if start || !targets {
			return badParam("%s needs targets and no startFloor", r.ControlMode)
		}
	case "":
	default:
		return badParam("controlMode %q unknown", r.ControlMode)
	}
	if err := validateFloors(r.TargetFloorRoomList, false); err != nil {
		return err
	}
	if r.DelaySeconds != nil && (*r.DelaySeconds < 0 || *r.DelaySeconds > MaxDelaySeconds) {
		return badParam("delaySeconds %d not in 0..%d", *r.DelaySeconds, MaxDelaySeconds)
	}
	return nil
}

// Rule operation types of /elevator/rule/sync.
const (
	RuleAdd       = 1
	RuleDelete    = 2
	RuleUpdate    = 3
	RuleDeleteAll = 4
)

// RuleOp is one entry of /elevator/rule/sync. A missing type reads as 1
// (upsert), as the source's example omits it (C.B.35).
type RuleOp struct {
	Type *Int `json:"type,omitempty"`
	Rule
}

// Op is the entry's type, 1 when absent.
func (o *RuleOp) Op() int {
	if o.Type == nil {
		return RuleAdd
	}
	return int(*o.Type)
}

// Validate checks the type, ruleId for types 1–3 and the rule itself.
func (o *RuleOp) Validate() error {
	switch o.Op() {
	case RuleAdd, RuleUpdate:
		if o.RuleID == "" {
			return badParam("ruleId is required")
		}
		return o.Rule.Validate()
	case RuleDelete:
		if o.RuleID == "" {
			return badParam("ruleId is required")
		}
	case RuleDeleteAll:
	default:
		return badParam("rule type %d not in 1..4", o.Op())
	}
	return nil
}

// RuleSyncRequest is /elevator/rule/sync (B.11.7).
type RuleSyncRequest struct {
	ElevatorHeader
	Rules []RuleOp `json:"rules"`
}

// Validate checks every entry and the batch limit.
func (r *RuleSyncRequest) Validate() error {
	if r.Rules == nil {
		return badParam("rules is required")
	}
	if len(r.Rules) > MaxRulesPerSync {
		return badParam("%d rules in one call, at most %d", len(r.Rules), MaxRulesPerSync)
	}
	for i := range r.Rules {
		if err := r.Rules[i].Validate(); err != nil {
			return badParam("rules[%d]: %v", i, err.(*paramError).msg)
		}
	}
	return nil
}

// RuleGetRequest is /elevator/rule/get (B.11.8); paging values arrive as
// "01" in the source's example.
type RuleGetRequest struct {
	ElevatorHeader
	CurrentPage *Int `json:"currentPage,omitempty"`
	PageSize    *Int `json:"pageSize,omitempty"`
}

// Validate rejects non-positive paging values.
func (r *RuleGetRequest) Validate() error {
	if (r.CurrentPage != nil && *r.CurrentPage < 1) || (r.PageSize != nil && *r.PageSize < 1) {
		return badParam("paging values must be ≥ 1")
	}
	return nil
}

// RuleGetData is /elevator/rule/get's answer.
type RuleGetData struct {
	CurrentPage Int    `json:"currentPage"`
	PageCount   Int    `json:"pageCount"`
	PageSize    Int    `json:"pageSize"`
	UserData    []Rule `json:"userData"`
}

// Auth types of /elevator/rule/report.
const (
	AuthFace      = "face"
	AuthQRCode    = "qrcode"
	AuthCard      = "card"
	AuthBluetooth = "bluetooth"
)

// RuleReport is /elevator/rule/report (B.11.9).
type RuleReport struct {
	ElevatorHeader
	RuleID              string      `json:"ruleId"`
	ElevatorID          string      `json:"elevatorId,omitempty"`
	UserID              string      `json:"userId"`
	AuthType            string      `json:"authType"`
	AuthContent         string      `json:"authContent"`
	ControlMode         string      `json:"controlMode"`
	StartFloor          Text        `json:"startFloor,omitempty"`
	StartRoom           Text        `json:"startRoom,omitempty"`
	TargetFloorRoomList []FloorRoom `json:"targetFloorRoomList,omitempty"`
	DelaySeconds        *Int        `json:"delaySeconds,omitempty"`
}

// Validate requires the mandatory fields; unknown authType values are
// accepted (event reports are delivered raw, D.3).
func (r *RuleReport) Validate() error {
	if r.RuleID == "" || r.UserID == "" || r.AuthType == "" || r.ControlMode == "" {
		return badParam("ruleId, userId, authType and controlMode are required")
	}
	rule := Rule{ControlMode: r.ControlMode, StartFloor: r.StartFloor, TargetFloorRoomList: r.TargetFloorRoomList, DelaySeconds: r.DelaySeconds}
	return rule.Validate()
}

// Availability values of person–elevator linkage.
const (
	AvailabilityEnable  = "enable"
	AvailabilityDisable = "disable"
)

// AvailabilityRequest is /elevator/rule/setAvailability (B.11.10).
type AvailabilityRequest struct {
	ElevatorHeader
	Availability string `json:"availability"`
}

// Validate requires enable or disable.
func (r *AvailabilityRequest) Validate() error {
	if r.Availability != AvailabilityEnable && r.Availability != AvailabilityDisable {
		return badParam("availability %q not enable or disable", r.Availability)
	}
	return nil
}

// AvailabilityData is /elevator/rule/getAvailability's answer.
type AvailabilityData struct {
	Availability string `json:"availability"`
}
