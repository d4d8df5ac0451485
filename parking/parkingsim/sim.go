package parkingsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
)

// Poster is where the simulated camera posts its events and properties:
// a parking.ThingCamera in memory, or a thing-model device client.
type Poster interface {
	HandleEvent(ctx context.Context, e parking.ThingEvent) error
	HandleProperties(ctx context.Context, params json.RawMessage) error
}

// Car is a vehicle the camera will recognise.
type Car struct {
	Plate      string             // "" for an unplated vehicle
	PlateColor parking.PlateColor // default blue
	Color      parking.VehicleColor
	Picture    []byte // JPEG; default a tiny placeholder
	// Reliability is the recognition confidence (default 0.97).
	Reliability float64
}

// Row is one row of the screen as a driver would see it.
type Row struct {
	Text  string          `json:"text"`
	Color parking.Color   `json:"color"`
	Run   parking.RunType `json:"run,omitempty"`
}

// Display is what the lane's screen and speaker are doing now.
type Display struct {
	Rows   []Row             `json:"rows"`
	Voice  string            `json:"voice,omitempty"` // the last thing spoken
	QRCode string            `json:"qrCode,omitempty"`
	Gate   parking.GateState `json:"gate"`
}

// Option configures New.
type Option func(*Camera)

// WithProfile sets the screen: mode, LedRowNumber (negative: "<br>"), QR
// support. Default: separated, 4 rows, QR supported.
func WithProfile(p parking.Profile) Option { return func(c *Camera) { c.profile = p } }

// WithGateTravel sets how long the barrier takes to open or close (default 0).
func WithGateTravel(d time.Duration) Option { return func(c *Camera) { c.travel = d } }

// WithCommandLatency delays every OperatGate answer, like a slow device.
func WithCommandLatency(d time.Duration) Option { return func(c *Camera) { c.latency = d } }

// WithIdentity sets the record's tollProductKey and tollDeviceName.
func WithIdentity(productKey, deviceName string) Option {
	return func(c *Camera) { c.pk, c.dn = productKey, deviceName }
}

// WithUploader lets GetVehiclePermission upload the exported file (for
// example parking.EdgeFileClient.Upload).
func WithUploader(f func(ctx context.Context, name string, data []byte) (string, error)) Option {
	return func(c *Camera) { c.upload = f }
}

// WithHTTPClient sets the client AddVehicleIOfPermission downloads with.
func WithHTTPClient(h *http.Client) Option { return func(c *Camera) { c.http = h } }

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(c *Camera) { c.now = now } }

// Camera is a simulated multi-function parking camera: the device side of
// the thing model. It answers every service of §2.2 (Invoke), renders what
// its screen would show (Display), keeps a permission list, moves a
// barrier, and reports recognitions of scripted cars (Arrive, Script,
// TriggerRecognition) to its Poster.
type Camera struct {
	id      string
	pk, dn  string
	profile parking.Profile
	travel  time.Duration
	latency time.Duration
	upload  func(ctx context.Context, name string, data []byte) (string, error)
	http    *http.Client
	now     func() time.Time

	mu       sync.Mutex
	poster   Poster
	gate     parking.GateState
	vehicle  parking.VehicleState
	temp     []tempRow
	defaults map[parking.Situation][]Row
	voice    string
	spoken   []string
	qr       string
	script   []Car
	seq      uint64
	invokes  map[string]int
	gateLog  []parking.GateCommand
	inFlight int
	maxIn    int
	gateGen  uint64
	closed   bool
	unplug   bool
	perms    parking.PermissionSet
	dl       bool
	wg       sync.WaitGroup
}

type tempRow struct {
	row   Row
	until time.Time
	plate string
}

// New returns a simulated camera with barrier closed and no vehicle.
func New(id string, opts ...Option) *Camera {
	c := &Camera{
		id: id, pk: "SIM", dn: id, profile: parking.Profile{Mode: parking.Separated, Rows: 4, QRCode: true},
		http: &http.Client{Timeout: 10 * time.Second}, now: time.Now,
		gate: parking.GateClosed, vehicle: parking.NoVehicle,
		defaults: map[parking.Situation][]Row{}, invokes: map[string]int{},
	}
	for _, o := range opts {
		o(c)
	}
	c.temp = make([]tempRow, c.profile.PhysicalRows())
	return c
}

// ID is the camera's device id.
func (c *Camera) ID() string { return c.id }

// Profile is the screen profile the camera reports.
func (c *Camera) Profile() parking.Profile { return c.profile }

// Permissions is the camera's local permission list.
func (c *Camera) Permissions() *parking.PermissionSet { return &c.perms }

// Properties are the camera's property values now.
func (c *Camera) Properties() parking.Properties {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.propsLocked()
}

func (c *Camera) propsLocked() parking.Properties {
	rows, mode, qr := c.profile.Rows, c.profile.Mode, c.profile.QRCode
	gate, veh := c.gate, c.vehicle
	vol, bri := 80, 100
	return parking.Properties{LedRowNumber: &rows, LedNoticeMode: &mode, QRCode: &qr,
		GateState: &gate, VehicleState: &veh, Volume: &vol, Brightness: &bri}
}

// Attach makes p the receiver of the camera's posts and posts the
// camera's properties to it, as a device does when it comes online.
func (c *Camera) Attach(ctx context.Context, p Poster) error {
	c.mu.Lock()
	c.poster = p
	props := c.propsLocked()
	c.mu.Unlock()
	b, err := props.Encode()
	if err != nil {
		return err
	}
	return p.HandleProperties(ctx, b)
}

// Loopback returns the host-side driver of c, wired in memory: services go
// to c.Invoke, c's posts come back to the driver. It is the quickest way
// to a working lane in a test or a demo.
func Loopback(ctx context.Context, c *Camera) (*parking.ThingCamera, error) {
	cam := parking.NewThingCamera(c.ID(), c, parking.WithOnline(c.Plugged))
	return cam, c.Attach(ctx, cam)
}

// Unplug takes the camera off the network: invokes fail with
// accessctl.ErrOffline and posts are not made. Plug brings it back.
func (c *Camera) Unplug() { c.mu.Lock(); c.unplug = true; c.mu.Unlock() }

// Plug reconnects an unplugged camera.
func (c *Camera) Plug() { c.mu.Lock(); c.unplug = false; c.mu.Unlock() }

// Plugged reports whether the camera is on the network.
func (c *Camera) Plugged() bool { c.mu.Lock(); defer c.mu.Unlock(); return !c.unplug }

// Close stops the barrier's timers. It is safe to call more than once.
func (c *Camera) Close() error {
	c.mu.Lock()
	c.closed = true
	c.gateGen++
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}

// Invoke answers one service invoke (the device side of the carrier). An
// unparsable LedData is answered with {"Result":1}; other bad params,
// services of the other LED mode and unknown services are errors.
func (c *Camera) Invoke(ctx context.Context, identifier string, params json.RawMessage) (json.RawMessage, error) {
	c.mu.Lock()
	unplugged := c.unplug
	if !unplugged {
		c.invokes[identifier]++
	}
	c.mu.Unlock()
	if unplugged {
		return nil, fmt.Errorf("%w: camera %s unplugged", accessctl.ErrOffline, c.id)
	}
	svc, err := parking.DecodeService(identifier, params)
	if identifier == parking.ServiceAddLedData {
		if c.profile.Mode != parking.Mixed {
			return nil, fmt.Errorf("%w: AddLedData on a separated-mode screen", parking.ErrWrongMode)
		}
		if err != nil {
			return json.RawMessage(`{"Result":1}`), nil
		}
	}
	if err != nil {
		return nil, err
	}
	switch s := svc.(type) {
	case parking.AddLedData:
		c.showLed(s.Data)
		return json.RawMessage(`{"Result":0}`), nil
	case parking.NoticeBroadcast:
		if c.profile.Mode != parking.Separated {
			return nil, fmt.Errorf("%w: %s on a mixed-mode screen", parking.ErrWrongMode, identifier)
		}
		c.mu.Lock()
		c.say(s.VoiceContent)
		c.mu.Unlock()
	case parking.NoticeDisplay:
		return nil, c.noticeDisplay(s)
	case parking.DefaultDisplay:
		if c.profile.Mode != parking.Separated {
			return nil, fmt.Errorf("%w: %s on a mixed-mode screen", parking.ErrWrongMode, identifier)
		}
		if s.RowNumber > c.profile.PhysicalRows() {
			return nil, fmt.Errorf("%w: row %d of %d", parking.ErrOutOfRange, s.RowNumber, c.profile.PhysicalRows())
		}
		c.mu.Lock()
		d := c.defaults[s.DefaultSituation]
		for len(d) < s.RowNumber {
			d = append(d, Row{Color: parking.Green})
		}
		d[s.RowNumber-1] = Row{Text: s.DisplayContent, Color: parking.Green}
		c.defaults[s.DefaultSituation] = d
		c.mu.Unlock()
	case parking.QrCodeDisplay:
		if !c.profile.QRCode {
			return nil, fmt.Errorf("%w: no QR code support", accessctl.ErrUnsupported)
		}
		c.mu.Lock()
		c.qr = s.QrCode
		c.mu.Unlock()
	case parking.TriggerRecognition:
		c.mu.Lock()
		closed := c.closed
		if !closed {
			c.wg.Add(1)
		}
		c.mu.Unlock()
		if !closed {
			go func() { // the answer is an event, after the reply
				defer c.wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = c.Next(ctx)
			}()
		}
	case parking.OperateGate:
		return nil, c.operate(ctx, s.Command)
	case parking.AddVehiclePermission:
		st := 0
		if err := c.download(ctx, s.URL); err != nil {
			st = 1
		}
		return json.RawMessage(`{"VehiclePermissionStatus":` + strconv.Itoa(st) + `}`), nil
	case parking.GetPermissionDownloadProgress:
		c.mu.Lock()
		st := 0
		if c.dl {
			st = 1
		}
		c.mu.Unlock()
		return json.RawMessage(`{"DownloadStatus":` + strconv.Itoa(st) + `}`), nil
	case parking.GetVehiclePermission:
		if c.upload == nil {
			return nil, fmt.Errorf("%w: no uploader", accessctl.ErrUnsupported)
		}
		b, err := parking.EncodePermissionFile(c.perms.Export())
		if err != nil {
			return nil, err
		}
		url, err := c.upload(ctx, "permissions/"+c.id+".json", b)
		if err != nil {
			return nil, err
		}
		out, _ := json.Marshal(map[string]string{parking.ParamVehiclePermissionURL: url})
		return out, nil
	case parking.SendOssStsToken:
		return json.RawMessage(`{"Status":0}`), nil
	}
	return json.RawMessage(`{}`), nil
}

func (c *Camera) say(s string) {
	if s == "" {
		return
	}
	c.voice = s
	c.spoken = append(c.spoken, s)
	if len(c.spoken) > 64 {
		c.spoken = c.spoken[len(c.spoken)-64:]
	}
}

func (c *Camera) showLed(d parking.LedData) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rows := make([]Row, 0, len(d.ContextList))
	var voice []string
	for _, l := range d.ContextList {
		rows = append(rows, Row{Text: l.CustomContext, Color: l.ColorType, Run: l.RunType})
		if l.Audio {
			voice = append(voice, l.CustomContext)
		}
	}
	w := parking.Wildcards{Plate: d.PlateNumber, Now: c.now()}
	switch {
	case d.AudioContextInfo != "": // §10 G13
		c.say(w.Expand(d.AudioContextInfo))
	case len(voice) > 0:
		for i := range voice {
			voice[i] = w.Expand(voice[i])
		}
		c.say(joinSpace(voice))
	}
	if d.Type == parking.FixedScene {
		c.defaults[d.Situation] = rows
		if d.Situation != parking.SituationIdle {
			return
		}
		for i := range c.temp { // idle content shows at once
			c.temp[i] = tempRow{}
		}
		return
	}
	until := c.now().Add(time.Duration(d.ShowTime) * time.Second)
	for i := range c.temp {
		var r Row
		if i < len(rows) {
			r = rows[i]
		}
		c.temp[i] = tempRow{row: r, until: until, plate: d.PlateNumber}
	}
}

func joinSpace(s []string) string {
	var b bytes.Buffer
	for i, v := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v)
	}
	return b.String()
}

func (c *Camera) noticeDisplay(s parking.NoticeDisplay) error {
	if c.profile.Mode != parking.Separated {
		return fmt.Errorf("%w: NoticeDisplay on a mixed-mode screen", parking.ErrWrongMode)
	}
	rows := []string{s.DisplayContent}
	if c.profile.LineBreaks() {
		rows = splitBR(s.DisplayContent)
	}
	n := c.profile.PhysicalRows()
	if s.RowNumber > n {
		return fmt.Errorf("%w: row %d of %d", parking.ErrOutOfRange, s.RowNumber, n)
	}
	secs := s.DisplayTime
	if secs == 0 {
		secs = parking.DefaultShowTime
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	until := c.now().Add(time.Duration(secs) * time.Second)
	for i, text := range rows {
		if s.RowNumber-1+i >= n {
			break
		}
		c.temp[s.RowNumber-1+i] = tempRow{row: Row{Text: text, Color: parking.Green, Run: s.MovingType}, until: until}
	}
	return nil
}

func splitBR(s string) []string {
	var out []string
	for {
		i := indexBR(s)
		if i == nil {
			return append(out, s)
		}
		out = append(out, s[:i[0]])
		s = s[i[1]:]
	}
}

// indexBR finds <br>, <br/> or <BR> (case-insensitive).
func indexBR(s string) []int {
	for i := 0; i+3 < len(s); i++ {
		if s[i] != '<' || (s[i+1]|0x20) != 'b' || (s[i+2]|0x20) != 'r' {
			continue
		}
		j := i + 3
		for j < len(s) && (s[j] == ' ' || s[j] == '/') {
			j++
		}
		if j < len(s) && s[j] == '>' {
			return []int{i, j + 1}
		}
	}
	return nil
}

// Display is what the screen shows now: temporary content until it
// expires, then the idle scene's default; wildcards expanded with the
// camera's clock.
func (c *Camera) Display() Display {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	idle := c.defaults[parking.SituationIdle]
	d := Display{Rows: make([]Row, len(c.temp)), Voice: c.voice, QRCode: c.qr, Gate: c.gate}
	for i, t := range c.temp {
		r := t.row
		plate := t.plate
		if t.until.IsZero() || !now.Before(t.until) {
			r, plate = Row{Color: parking.Green}, ""
			if i < len(idle) {
				r = idle[i]
			}
		}
		r.Text = parking.Wildcards{Now: now, Plate: plate}.Expand(r.Text)
		if r.Color == parking.ColorDefault {
			r.Color = parking.Green
		}
		d.Rows[i] = r
	}
	return d
}

// Spoken lists what the speaker said, oldest first (the last 64).
func (c *Camera) Spoken() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.spoken...)
}

// GateCommands lists every OperatGate received, in order.
func (c *Camera) GateCommands() []parking.GateCommand {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]parking.GateCommand(nil), c.gateLog...)
}

// MaxConcurrentGateCommands is the most OperatGate invokes that were ever
// in progress at once: 1 for a host that serialises them.
func (c *Camera) MaxConcurrentGateCommands() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxIn
}

// Invocations counts the invokes of a service.
func (c *Camera) Invocations(identifier string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invokes[identifier]
}

// GateState is the barrier's state now.
func (c *Camera) GateState() parking.GateState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gate
}

func (c *Camera) operate(ctx context.Context, cmd parking.GateCommand) error {
	c.mu.Lock()
	c.inFlight++
	c.maxIn = max(c.maxIn, c.inFlight)
	c.gateLog = append(c.gateLog, cmd)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}()
	if c.latency > 0 {
		t := time.NewTimer(c.latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	moving, final := parking.GateOpening, parking.GateOpened
	if cmd == parking.GateClose {
		moving, final = parking.GateClosing, parking.GateClosed
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("%w: camera", accessctl.ErrClosed)
	}
	c.gateGen++
	gen := c.gateGen
	if c.travel <= 0 {
		c.gate = final
	} else {
		c.gate = moving
		c.wg.Add(1)
		time.AfterFunc(c.travel, func() {
			defer c.wg.Done()
			c.mu.Lock()
			if c.gateGen != gen { // a later command or Close took over
				c.mu.Unlock()
				return
			}
			c.gate = final
			c.mu.Unlock()
			c.postGate(context.Background(), final)
		})
	}
	st := c.gate
	c.mu.Unlock()
	c.postGate(ctx, st)
	return nil
}

func (c *Camera) postGate(ctx context.Context, st parking.GateState) {
	c.mu.Lock()
	p := c.poster
	if c.unplug {
		p = nil
	}
	c.mu.Unlock()
	if p == nil {
		return
	}
	b, _ := parking.Properties{GateState: &st}.Encode()
	_ = p.HandleProperties(ctx, b) // a lost state post is repaired by the next one
}

// DriveThrough is the car passing the barrier: the barrier closes behind
// it (as its loop detector makes it) and the camera posts the state.
func (c *Camera) DriveThrough(ctx context.Context) {
	c.mu.Lock()
	c.gateGen++
	c.gate = parking.GateClosed
	c.vehicle = parking.NoVehicle
	c.mu.Unlock()
	c.postGate(ctx, parking.GateClosed)
}

// SetVehicle reports presence under the barrier (VehicleState).
func (c *Camera) SetVehicle(ctx context.Context, v parking.VehicleState) error {
	c.mu.Lock()
	c.vehicle = v
	p := c.poster
	c.mu.Unlock()
	if p == nil {
		return nil
	}
	b, _ := parking.Properties{VehicleState: &v}.Encode()
	return p.HandleProperties(ctx, b)
}

// Script queues cars for TriggerRecognition and Next.
func (c *Camera) Script(cars ...Car) {
	c.mu.Lock()
	c.script = append(c.script, cars...)
	c.mu.Unlock()
}

// ErrNoCar: Next found no scripted car.
var ErrNoCar = errors.New("parkingsim: no scripted car")

// Next recognises the next scripted car.
func (c *Camera) Next(ctx context.Context) error {
	c.mu.Lock()
	if len(c.script) == 0 {
		c.mu.Unlock()
		return ErrNoCar
	}
	car := c.script[0]
	c.script = c.script[1:]
	c.mu.Unlock()
	return c.Arrive(ctx, car)
}

// placeholderJPEG is the smallest thing that sniffs as a JPEG.
var placeholderJPEG = []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0xFF, 0xD9}

// Alarm builds the IntelligentAlarm the camera would post for car: the
// record's typePermission comes from the camera's permission list.
func (c *Camera) Alarm(car Car) parking.IntelligentAlarm {
	cat := parking.CategoryTemporary
	switch p, ok := c.perms.Lookup(car.Plate); {
	case car.Plate == "":
		cat = parking.CategoryNoPlate
	case ok:
		cat = p.Category
	}
	pc := car.PlateColor
	if pc == "" {
		pc = parking.PlateBlue
	}
	rel := car.Reliability
	if rel == 0 {
		rel = 0.97
	}
	pic := car.Picture
	if pic == nil {
		pic = placeholderJPEG
	}
	kind := "02"
	if len([]rune(parking.PlateKey(car.Plate))) == 8 {
		kind = "52" // small new-energy
	}
	return parking.IntelligentAlarm{Type: parking.LVEventTypeVehicle, Format: parking.LVMediaJPEG, Media: pic,
		Record: parking.PassRecord{
			TypePermission: cat.V2(), TollProductKey: c.pk, TollDeviceName: c.dn, PlateNumber: car.Plate,
			IotID: c.id, PlateNumberType: kind, CarColorNumber: car.Color.Letter(), HasPlate: boolInt(car.Plate != ""),
			PlateColorNumber: pc.V2(), PlateRecognitionReliability: rel, CarEigenvaluesInfo: "{}",
			CarExtraInfo: "{}", UserExtraInfo: "{}", DeviceExtraInfo: "{}",
		}}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Arrive recognises car now and posts IntelligentAlarm. It returns the
// host's answer: an error means the host did not take the event.
func (c *Camera) Arrive(ctx context.Context, car Car) error {
	params, err := c.Alarm(car).Params()
	if err != nil {
		return err
	}
	return c.post(ctx, parking.EventIntelligentAlarm, params)
}

// Repost posts the same recognition again with the same event id, as a
// device does when its post was not acknowledged.
func (c *Camera) Repost(ctx context.Context, id string, car Car) error {
	params, err := c.Alarm(car).Params()
	if err != nil {
		return err
	}
	return c.postID(ctx, id, parking.EventIntelligentAlarm, params)
}

// AbnormalLift lifts the barrier by hand and posts AbnormalOpenGate.
func (c *Camera) AbnormalLift(ctx context.Context, how parking.AbnormalOpenType, imagePath string) error {
	c.mu.Lock()
	c.gateGen++
	c.gate = parking.GateOpened
	c.mu.Unlock()
	c.postGate(ctx, parking.GateOpened)
	params, err := parking.AbnormalOpenGate{OpenType: how, ImagePath: imagePath}.Params()
	if err != nil {
		return err
	}
	return c.post(ctx, parking.EventAbnormalOpenGate, params)
}

func (c *Camera) post(ctx context.Context, identifier string, params json.RawMessage) error {
	c.mu.Lock()
	c.seq++
	id := strconv.FormatUint(c.seq, 10)
	c.mu.Unlock()
	return c.postID(ctx, id, identifier, params)
}

// LastEventID is the id of the last event posted.
func (c *Camera) LastEventID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strconv.FormatUint(c.seq, 10)
}

func (c *Camera) postID(ctx context.Context, id, identifier string, params json.RawMessage) error {
	c.mu.Lock()
	p, unplugged := c.poster, c.unplug
	c.mu.Unlock()
	if p == nil || unplugged {
		return fmt.Errorf("%w: camera not attached", accessctl.ErrOffline)
	}
	return p.HandleEvent(ctx, parking.ThingEvent{ID: id, Identifier: identifier, At: c.now(), Params: params})
}

func (c *Camera) download(ctx context.Context, url string) error {
	c.mu.Lock()
	c.dl = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.dl = false
		c.mu.Unlock()
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download: HTTP %d", resp.StatusCode)
	}
	f, err := parking.ParsePermissionFile(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	c.perms.Apply(f) // atomic: a failed download left the list untouched
	return nil
}
