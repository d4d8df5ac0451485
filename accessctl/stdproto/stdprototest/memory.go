package stdprototest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/menjin/menjin/accessctl/stdproto"
)

// Face is a face record as the simulated terminal stores it.
type Face struct {
	FaceID, UserID, UserName string
	ExpiryTime               string
	Blacklisted              bool
	Feature                  []float64
	FeatureMd5, UserInfoMd5  string
}

// Memory is an in-memory terminal: it implements stdproto.Backend and every
// optional backend interface, applies syncs in order under one lock (D.15)
// and records what the edge asked. The zero value is not usable; use
// NewMemory.
type Memory struct {
	mu        sync.Mutex
	opens     int
	keepOpen  bool
	temp      *stdproto.TempRule
	faces     map[string]*Face
	cards     map[string]stdproto.Permission
	ble       map[string]stdproto.Permission
	sip       *stdproto.SipNumberRequest
	phones    map[string]bool
	cars      []stdproto.CarState
	info      stdproto.ElevatorInfo
	rules     map[string]stdproto.Rule
	avail     bool
	commands  []string
	delay     time.Duration
	failCode  int
	pageLimit int
	syncs     int
}

// NewMemory returns an empty terminal with one elevator car.
func NewMemory() *Memory {
	return &Memory{
		faces: map[string]*Face{}, cards: map[string]stdproto.Permission{}, ble: map[string]stdproto.Permission{},
		phones: map[string]bool{}, rules: map[string]stdproto.Rule{}, avail: true, pageLimit: 1000,
		cars: []stdproto.CarState{{ElevatorID: "01", CurrentFloor: "1"}},
		info: stdproto.ElevatorInfo{ElevatorMode: stdproto.ElevatorAll, FloorInfoList: []stdproto.CarInfo{{
			ElevatorID: "01", ElevatorName: "east", FloorInfo: stdproto.FloorInfos{{Floor: "1"}, {Floor: "9", RoomList: stdproto.RoomList{"901", "902"}}},
		}}},
	}
}

// SetDelay makes every backend call wait d (or until the edge gives up):
// a terminal that never answers.
func (m *Memory) SetDelay(d time.Duration) { m.mu.Lock(); m.delay = d; m.mu.Unlock() }

// FailWith makes every backend call answer code (0: succeed again).
func (m *Memory) FailWith(code int) { m.mu.Lock(); m.failCode = code; m.mu.Unlock() }

// SetPageLimit sets how many faces a full query returns before paging.
func (m *Memory) SetPageLimit(n int) { m.mu.Lock(); m.pageLimit = n; m.mu.Unlock() }

// begin applies the injected delay and failure, then takes the lock.
func (m *Memory) begin(ctx context.Context, what string) error {
	m.mu.Lock()
	d, code := m.delay, m.failCode
	m.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	m.mu.Lock()
	m.commands = append(m.commands, what)
	if code != 0 {
		m.mu.Unlock()
		return &stdproto.CodeError{Code: code, Message: "injected failure"}
	}
	return nil
}

// RemoteOpen implements stdproto.Backend.
func (m *Memory) RemoteOpen(ctx context.Context) error {
	if err := m.begin(ctx, "remoteOpen"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.opens++
	return nil
}

// DoorOpens counts remote openings.
func (m *Memory) DoorOpens() int { m.mu.Lock(); defer m.mu.Unlock(); return m.opens }

// SetKeepOpen implements stdproto.KeepOpenBackend.
func (m *Memory) SetKeepOpen(ctx context.Context, on bool) error {
	if err := m.begin(ctx, "setKeepOpen"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.keepOpen = on
	return nil
}

// KeepOpen implements stdproto.KeepOpenBackend.
func (m *Memory) KeepOpen(ctx context.Context) (bool, error) {
	if err := m.begin(ctx, "getKeepOpen"); err != nil {
		return false, err
	}
	defer m.mu.Unlock()
	return m.keepOpen, nil
}

// SetTempRule implements stdproto.TempRuleBackend.
func (m *Memory) SetTempRule(ctx context.Context, r stdproto.TempRule) error {
	if err := m.begin(ctx, "setTempCheckRule"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.temp = &r
	return nil
}

// TempRule is the last rule set; ok false if none.
func (m *Memory) TempRule() (r stdproto.TempRule, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.temp == nil {
		return r, false
	}
	return *m.temp, true
}

// SyncFaces implements stdproto.FaceBackend: entries in order; add of an
// existing face and update of a missing one are upserts; fields absent
// from an update keep their value.
func (m *Memory) SyncFaces(ctx context.Context, ops []stdproto.FaceOp) error {
	if err := m.begin(ctx, "syncFaces"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.syncs++
	for _, op := range ops {
		switch op.Type {
		case stdproto.FaceDeleteAll:
			m.faces = map[string]*Face{}
		case stdproto.FaceDelete:
			delete(m.faces, op.FaceID)
		case stdproto.FaceAdd, stdproto.FaceUpdate:
			f := m.faces[op.FaceID]
			if f == nil {
				f = &Face{FaceID: op.FaceID}
				m.faces[op.FaceID] = f
			}
			if op.UserInfo != nil {
				f.UserID, f.UserName = op.EffectiveUserID(), op.UserInfo.UserName
				f.ExpiryTime, f.Blacklisted = string(op.UserInfo.ExpiryTime), bool(op.UserInfo.IsInBlackList)
				f.UserInfoMd5 = op.UserInfoMd5
			}
			if op.Feature != nil {
				f.Feature, f.FeatureMd5 = append([]float64(nil), op.Feature...), op.FeatureMd5
			}
		}
	}
	return nil
}

// QueryFaces implements stdproto.FaceBackend, paging like a real terminal
// when a full query exceeds the page limit.
func (m *Memory) QueryFaces(ctx context.Context, page, size int) (stdproto.QueryFacesData, error) {
	if err := m.begin(ctx, "queryFaces"); err != nil {
		return stdproto.QueryFacesData{}, err
	}
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.faces))
	for id := range m.faces {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if page == 0 {
		page, size = 1, m.pageLimit
	}
	if size <= 0 {
		size = 200
	}
	d := stdproto.QueryFacesData{CurrentPage: stdproto.Int(page), PageSize: stdproto.Int(size), Total: stdproto.Int(len(ids)),
		PageCount: stdproto.Int((len(ids) + size - 1) / size), FaceInfo: []stdproto.FaceInfo{}}
	for i := (page - 1) * size; i < len(ids) && i < page*size; i++ {
		f := m.faces[ids[i]]
		d.FaceInfo = append(d.FaceInfo, stdproto.FaceInfo{FaceID: f.FaceID, UserInfoMd5: f.UserInfoMd5, FeatureMd5: f.FeatureMd5})
	}
	return d, nil
}

// Face returns a stored face.
func (m *Memory) Face(id string) (Face, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.faces[id]
	if !ok {
		return Face{}, false
	}
	return *f, true
}

// FaceCount is the number of stored faces.
func (m *Memory) FaceCount() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.faces) }

// FaceSyncs counts syncFaces calls.
func (m *Memory) FaceSyncs() int { m.mu.Lock(); defer m.mu.Unlock(); return m.syncs }

// SyncPermissions implements stdproto.PermissionBackend: add and modify
// are upserts, delete of an absent card succeeds.
func (m *Memory) SyncPermissions(ctx context.Context, ble bool, perms []stdproto.Permission) error {
	name := "cardAC/syncPermissions"
	if ble {
		name = "bleAC/syncPermissions"
	}
	if err := m.begin(ctx, name); err != nil {
		return err
	}
	defer m.mu.Unlock()
	store := m.cards
	if ble {
		store = m.ble
	}
	for _, p := range perms {
		if p.Type == stdproto.PermDelete {
			delete(store, p.CardID)
		} else {
			store[p.CardID] = p
		}
	}
	return nil
}

// Card returns a card whitelist entry.
func (m *Memory) Card(id string) (stdproto.Permission, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.cards[id]
	return p, ok
}

// BLECard returns a Bluetooth-card whitelist entry.
func (m *Memory) BLECard(id string) (stdproto.Permission, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.ble[id]
	return p, ok
}

// SyncSipNumber implements stdproto.IntercomBackend.
func (m *Memory) SyncSipNumber(ctx context.Context, r stdproto.SipNumberRequest) error {
	if err := m.begin(ctx, "syncSipNumber"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.sip = &r
	return nil
}

// Sip is the SIP account pushed last; ok false if none.
func (m *Memory) Sip() (r stdproto.SipNumberRequest, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sip == nil {
		return r, false
	}
	return *m.sip, true
}

// PhoneResult implements stdproto.IntercomBackend.
func (m *Memory) PhoneResult(ctx context.Context, phone string, valid bool) error {
	if err := m.begin(ctx, "verifyPhoneResult"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.phones[phone] = valid
	return nil
}

// PhoneVerdict is the verdict received for phone.
func (m *Memory) PhoneVerdict(phone string) (valid, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	valid, ok = m.phones[phone]
	return
}

// RunState implements stdproto.ElevatorBackend.
func (m *Memory) RunState(ctx context.Context, ids []string) ([]stdproto.CarState, error) {
	if err := m.begin(ctx, "getRunState"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	if len(ids) == 0 {
		return append([]stdproto.CarState(nil), m.cars...), nil
	}
	var out []stdproto.CarState
	for _, c := range m.cars {
		for _, id := range ids {
			if c.ElevatorID == id {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// ReleaseFloors implements stdproto.ElevatorBackend (recorded only).
func (m *Memory) ReleaseFloors(ctx context.Context, r stdproto.ReleaseFloorsRequest) error {
	if err := m.begin(ctx, fmt.Sprintf("releaseFloors %s %v", r.ElevatorID, r.FloorRoomList)); err != nil {
		return err
	}
	m.mu.Unlock()
	return nil
}

// ActivateFloor implements stdproto.ElevatorBackend (recorded only).
func (m *Memory) ActivateFloor(ctx context.Context, r stdproto.ActivateFloorRequest) error {
	if err := m.begin(ctx, fmt.Sprintf("activateFloor %s %v", r.ElevatorID, r.FloorRoomList)); err != nil {
		return err
	}
	m.mu.Unlock()
	return nil
}

// Call implements stdproto.ElevatorBackend (recorded only).
func (m *Memory) Call(ctx context.Context, r stdproto.CallRequest) error {
	if err := m.begin(ctx, fmt.Sprintf("call %s %s->%s", r.ElevatorID, r.StartFloor, r.TargetFloor)); err != nil {
		return err
	}
	m.mu.Unlock()
	return nil
}

// Info implements stdproto.ElevatorBackend.
func (m *Memory) Info(ctx context.Context) (stdproto.ElevatorInfo, error) {
	if err := m.begin(ctx, "info/get"); err != nil {
		return stdproto.ElevatorInfo{}, err
	}
	defer m.mu.Unlock()
	return m.info, nil
}

// SyncRules implements stdproto.RuleBackend.
func (m *Memory) SyncRules(ctx context.Context, ops []stdproto.RuleOp) error {
	if err := m.begin(ctx, "rule/sync"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	for _, op := range ops {
		switch op.Op() {
		case stdproto.RuleDeleteAll:
			m.rules = map[string]stdproto.Rule{}
		case stdproto.RuleDelete:
			delete(m.rules, op.RuleID)
		default:
			m.rules[op.RuleID] = op.Rule
		}
	}
	return nil
}

// Rules implements stdproto.RuleBackend.
func (m *Memory) Rules(ctx context.Context, page, size int) (stdproto.RuleGetData, error) {
	if err := m.begin(ctx, "rule/get"); err != nil {
		return stdproto.RuleGetData{}, err
	}
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.rules))
	for id := range m.rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if page == 0 {
		page, size = 1, max(len(ids), 1)
	}
	d := stdproto.RuleGetData{CurrentPage: stdproto.Int(page), PageSize: stdproto.Int(size),
		PageCount: stdproto.Int((len(ids) + size - 1) / size), UserData: []stdproto.Rule{}}
	for i := (page - 1) * size; i < len(ids) && i < page*size; i++ {
		d.UserData = append(d.UserData, m.rules[ids[i]])
	}
	return d, nil
}

// SetAvailability implements stdproto.RuleBackend.
func (m *Memory) SetAvailability(ctx context.Context, enable bool) error {
	if err := m.begin(ctx, "rule/setAvailability"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.avail = enable
	return nil
}

// Availability implements stdproto.RuleBackend.
func (m *Memory) Availability(ctx context.Context) (bool, error) {
	if err := m.begin(ctx, "rule/getAvailability"); err != nil {
		return false, err
	}
	defer m.mu.Unlock()
	return m.avail, nil
}

// Commands lists what the edge asked, in order.
func (m *Memory) Commands() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.commands...)
}

// SetCars replaces the cars' run state.
func (m *Memory) SetCars(cars []stdproto.CarState) {
	m.mu.Lock()
	m.cars = append([]stdproto.CarState(nil), cars...)
	m.mu.Unlock()
}

// SetElevatorInfo replaces the controller's topology.
func (m *Memory) SetElevatorInfo(info stdproto.ElevatorInfo) {
	m.mu.Lock()
	m.info = info
	m.mu.Unlock()
}

// KeepOpenState is the "door held open" mode.
func (m *Memory) KeepOpenState() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.keepOpen }

// Rule returns a stored elevator rule.
func (m *Memory) Rule(id string) (stdproto.Rule, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rules[id]
	return r, ok
}

// Reset empties every store, as a factory reset.
func (m *Memory) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faces, m.cards, m.ble = map[string]*Face{}, map[string]stdproto.Permission{}, map[string]stdproto.Permission{}
	m.rules, m.sip, m.temp, m.keepOpen = map[string]stdproto.Rule{}, nil, nil, false
}
