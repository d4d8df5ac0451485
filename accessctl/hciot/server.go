package hciot

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Platform is the Platform name on refs and events this package produces.
const Platform = "hc"

// Body codes of HC's envelope. Errors travel with HTTP 200 and the code in
// the body; only 401 makes HC refresh its token.
const (
	CodeOK     = 0
	CodeFail   = -1
	CodeBadJWT = 401
)

// Messages HC's IoT answers with, verbatim.
const (
	msgOK           = "成功"
	msgTokenFailed  = "获取accessToken 失败"
	msgNoToken      = "http header 未包含access_token"
	msgInvalidToken = "无效的access_token"
)

// Typed errors behind the HC error envelope.
var (
	// ErrUnknownMachine: no machine with that machineCode or extMachineId.
	ErrUnknownMachine = errors.New("hciot: unknown machine")
	// ErrUnknownHmID: no driver for HC's 厂家协议 id.
	ErrUnknownHmID = errors.New("hciot: no driver for hmId")
	// ErrTooLarge: a body or face photo over its limit.
	ErrTooLarge = errors.New("hciot: request too large")
)

// Community is an HC community (小区) as HC described it.
type Community struct {
	ID       string `json:"extCommunityId"`
	Name     string `json:"name"`
	Address  string `json:"address"`
	CityCode string `json:"cityCode"`
}

// Machine is an HC machine (设备) as HC described it, and the driver that
// serves it.
type Machine struct {
	Code          string              `json:"machineCode"`
	ExtID         string              `json:"extMachineId"`
	Community     string              `json:"extCommunityId"`
	Name          string              `json:"machineName"`
	Version       string              `json:"machineVersion,omitempty"`
	TypeCd        string              `json:"machineTypeCd"`
	LocationType  string              `json:"locationType"`
	LocationObjID string              `json:"locationObjId"`
	IP            string              `json:"machineIp,omitempty"`
	MAC           string              `json:"machineMac,omitempty"`
	HmID          string              `json:"hmId"`
	DirectionCd   string              `json:"direction,omitempty"`
	Direction     accessctl.Direction `json:"-"`
	Driver        string              `json:"driver"`
}

// CommunityLevel reports whether the machine guards the whole community (a
// gate), as opposed to a unit, building or room door.
func (m Machine) CommunityLevel() bool {
	return m.LocationType == "1000" || (m.LocationObjID != "" && m.LocationObjID == m.Community)
}

// Ref is the machine as an accessctl.DeviceRef.
func (m Machine) Ref() accessctl.DeviceRef {
	return accessctl.DeviceRef{Platform: Platform, ID: m.Code, Aux: m.ExtID}
}

// machine is a registered machine and its open device. Writes to info and
// dev hold both Server.mu and op; readers hold either.
type machine struct {
	op   sync.Mutex // serialises commands to this device
	info Machine
	dev  accessctl.Device
	gone bool
}

// ServerStats counts what a Server did.
type ServerStats struct {
	Requests     uint64 // every /extApi request
	Failed       uint64 // answered with code != 0 (auth failures included)
	AuthFailures uint64 // missing, unknown or expired token; bad app pair
	Replays      uint64 // answered from the taskId memory without acting
	TokensIssued uint64
	SinkErrors   uint64 // command-result events the sink refused
	Throttled    uint64 // getAccessToken answered 429: too many wrong secrets from one address
	LiveTokens   int
	Communities  int
	Machines     int
}

// Server is an http.Handler that answers HC's /extApi exactly like HC's IoT
// system: HC's communities, machines and residents become devices opened
// through the registry and grants put on them.
type Server struct {
	apps          map[string]string
	registry      *accessctl.Registry
	hm            map[string]string
	defaultDriver string
	ledger        Ledger
	sink          accessctl.EventSink
	tokenTTL      time.Duration
	maxBody       int64
	maxFace       int
	cmdTimeout    time.Duration
	loc           *time.Location
	deleteScope   DeleteScope
	taskMemory    int
	now           func() time.Time
	onCommand     func(CommandLog)

	tokens        *tokens
	tasks         *taskMemory
	throttle      *failThrottle
	throttleBurst int
	throttleEvery time.Duration

	regMu       sync.Mutex // serialises machine registration and removal
	mu          sync.Mutex
	communities map[string]Community
	machines    map[string]*machine // by machineCode
	byExtID     map[string]string   // extMachineId → machineCode
	closed      bool

	seq   atomic.Uint64
	stats struct {
		requests, failed, auth, replays, issued, sinkErrors, throttled atomic.Uint64
	}
}

// NewServer returns a Server. At least one WithApp is required.
func NewServer(opts ...Option) (*Server, error) {
	s := &Server{
		apps:          map[string]string{},
		registry:      accessctl.DefaultRegistry,
		hm:            map[string]string{},
		tokenTTL:      7200 * time.Second,
		maxBody:       8 << 20,
		maxFace:       4 << 20,
		cmdTimeout:    10 * time.Second,
		loc:           time.FixedZone("CST", 8*3600),
		taskMemory:    4096,
		now:           time.Now,
		throttleBurst: 10,
		throttleEvery: 6 * time.Second,
		communities:   map[string]Community{},
		machines:      map[string]*machine{},
		byExtID:       map[string]string{},
	}
	for _, o := range opts {
		o(s)
	}
	if len(s.apps) == 0 {
		return nil, fmt.Errorf("%w: hciot.NewServer needs WithApp", accessctl.ErrInvalid)
	}
	for id, secret := range s.apps {
		if id == "" || secret == "" {
			return nil, fmt.Errorf("%w: empty app id or secret", accessctl.ErrInvalid)
		}
	}
	if s.registry == nil {
		s.registry = accessctl.DefaultRegistry
	}
	if s.ledger == nil {
		s.ledger = &MemLedger{}
	}
	s.tokens = newTokens(s.tokenTTL, 10_000)
	s.tasks = newTaskMemory(s.taskMemory)
	s.throttle = newFailThrottle(s.throttleBurst, s.throttleEvery, 10_000)
	return s, nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	nc, nm := len(s.communities), len(s.machines)
	s.mu.Unlock()
	return ServerStats{
		Requests:     s.stats.requests.Load(),
		Failed:       s.stats.failed.Load(),
		AuthFailures: s.stats.auth.Load(),
		Replays:      s.stats.replays.Load(),
		TokensIssued: s.stats.issued.Load(),
		SinkErrors:   s.stats.sinkErrors.Load(),
		Throttled:    s.stats.throttled.Load(),
		LiveTokens:   s.tokens.len(),
		Communities:  nc,
		Machines:     nm,
	}
}

// Community returns a community HC registered.
func (s *Server) Community(id string) (Community, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.communities[id]
	return c, ok
}

// Machine returns a machine HC registered, by machineCode.
func (s *Server) Machine(code string) (Machine, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.machines[code]
	if !ok {
		return Machine{}, false
	}
	return m.info, true
}

// Machines lists the registered machines sorted by machineCode.
func (s *Server) Machines() []Machine {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Machine, 0, len(s.machines))
	for _, m := range s.machines {
		out = append(out, m.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Device returns the open device of a machine.
func (s *Server) Device(code string) (accessctl.Device, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.machines[code]
	if !ok {
		return nil, false
	}
	return m.dev, true
}

// PersonName returns the name HC gave a person on any device, for pass
// records of terminals that report only the id.
func (s *Server) PersonName(userID string) (string, bool) {
	es, err := s.ledger.ByPerson(context.Background(), userID)
	if err != nil {
		return "", false
	}
	for _, e := range es {
		if e.Name != "" {
			return e.Name, true
		}
	}
	return "", false
}

// Ledger returns the grant ledger.
func (s *Server) Ledger() Ledger { return s.ledger }

// Close closes every open device. Requests after Close fail.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	ms := s.machines
	s.machines, s.byExtID = map[string]*machine{}, map[string]string{}
	s.mu.Unlock()
	var errs []error
	for _, m := range ms {
		m.op.Lock()
		m.gone = true
		if err := m.dev.Close(); err != nil {
			errs = append(errs, err)
		}
		m.op.Unlock()
	}
	return errors.Join(errs...)
}

// envelope is HC's response body.
type envelope struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
	Data any    `json:"data"`
}

func writeEnvelope(w http.ResponseWriter, status, code int, msg string, data any) {
	if data == nil {
		data = ""
	}
	b, err := json.Marshal(envelope{Code: code, Msg: msg, Data: data})
	if err != nil { // data is always our own maps of strings
		b = []byte(`{"code":-1,"msg":"internal error","data":""}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// cleanPath collapses duplicate slashes (HC sends IOT_URL + "/extApi/...",
// so an IOT_URL ending in "/" gives "//extApi") and drops any prefix before
// /extApi, so the handler works behind a path-prefixed proxy too.
func cleanPath(p string) string {
	if strings.Contains(p, "//") {
		var b strings.Builder
		b.Grow(len(p))
		for i := 0; i < len(p); i++ {
			if p[i] == '/' && b.Len() > 0 && strings.HasSuffix(b.String(), "/") {
				continue
			}
			b.WriteByte(p[i])
		}
		p = b.String()
	}
	if i := strings.Index(p, "/extApi/"); i > 0 {
		p = p[i:]
	}
	return strings.TrimSuffix(p, "/")
}

type opFunc func(s *Server, ctx context.Context, c *call) (map[string]any, error)

// call is one command being handled.
type call struct {
	op      string
	taskID  string
	req     request
	f       fieldReader
	machine string
	person  string
	device  accessctl.DeviceRef
	site    accessctl.SiteRef
}

const tokenPath = "/extApi/auth/getAccessToken"

// maxTokenBody bounds a getAccessToken form: an app id and a secret.
const maxTokenBody = 64 << 10

var routes = map[string]struct {
	name string
	fn   opFunc
}{
	"/extApi/community/addCommunity":    {"addCommunity", (*Server).putCommunity},
	"/extApi/community/updateCommunity": {"updateCommunity", (*Server).putCommunity},
	"/extApi/community/deleteCommunity": {"deleteCommunity", (*Server).deleteCommunity},
	"/extApi/machine/addMachine":        {"addMachine", (*Server).addMachine},
	"/extApi/machine/updateMachine":     {"updateMachine", (*Server).updateMachine},
	"/extApi/machine/deleteMachine":     {"deleteMachine", (*Server).deleteMachine},
	"/extApi/machine/openDoor":          {"openDoor", (*Server).openDoor},
	"/extApi/machine/closeDoor":         {"closeDoor", (*Server).closeDoor},
	"/extApi/machine/restartMachine":    {"restartMachine", (*Server).restartMachine},
	"/extApi/machine/getQRcode":         {"getQRcode", (*Server).getQRcode},
	"/extApi/user/addUser":              {"addUser", (*Server).putUser},
	"/extApi/user/updateUser":           {"updateUser", (*Server).putUser},
	"/extApi/user/deleteUser":           {"deleteUser", (*Server).deleteUser},
	"/extApi/user/clearUser":            {"clearUser", (*Server).clearUser},
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.stats.requests.Add(1)
	p := cleanPath(r.URL.Path)
	if p == tokenPath {
		s.serveToken(w, r)
		return
	}
	route, ok := routes[p]
	if !ok {
		s.stats.failed.Add(1)
		writeEnvelope(w, http.StatusNotFound, CodeFail, "no such /extApi path", nil)
		return
	}
	if r.Method != http.MethodPost {
		s.stats.failed.Add(1)
		writeEnvelope(w, http.StatusMethodNotAllowed, CodeFail, "only POST", nil)
		return
	}
	tok := r.Header.Get("access_token")
	if tok == "" {
		tok = r.Header.Get("access-token") // a proxy that rewrote underscores
	}
	if tok == "" {
		s.stats.failed.Add(1)
		s.stats.auth.Add(1)
		writeEnvelope(w, http.StatusOK, CodeFail, msgNoToken, nil)
		return
	}
	if _, ok := s.tokens.use(tok, s.now()); !ok {
		s.stats.failed.Add(1)
		s.stats.auth.Add(1)
		writeEnvelope(w, http.StatusOK, CodeBadJWT, msgInvalidToken, nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		s.stats.failed.Add(1)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeEnvelope(w, http.StatusOK, CodeFail, fmt.Sprintf("请求报文过大 (limit %d bytes)", s.maxBody), nil)
		} else {
			writeEnvelope(w, http.StatusOK, CodeFail, "读取请求报文失败", nil)
		}
		return
	}
	data, err := s.dispatch(r.Context(), route.name, route.fn, body)
	if err != nil {
		s.stats.failed.Add(1)
		writeEnvelope(w, http.StatusOK, CodeFail, errorMessage(err), nil)
		return
	}
	writeEnvelope(w, http.StatusOK, CodeOK, msgOK, data)
}

// errorMessage is the msg HC shows for a failed command: the HC-style text
// of request errors, the error text otherwise.
func errorMessage(err error) string {
	msg := err.Error()
	for _, p := range []string{ErrBadRequest.Error() + ": ", "hciot: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	src, now := sourceOf(r.RemoteAddr), s.now()
	if ok, wait := s.throttle.allowed(src, now); !ok {
		s.stats.failed.Add(1)
		s.stats.auth.Add(1)
		s.stats.throttled.Add(1)
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		writeEnvelope(w, http.StatusTooManyRequests, CodeFail, msgTokenFailed, nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
	if err := r.ParseForm(); err != nil {
		s.stats.failed.Add(1)
		s.stats.auth.Add(1)
		writeEnvelope(w, http.StatusOK, CodeFail, msgTokenFailed, nil)
		return
	}
	id, secret := r.Form.Get("appId"), r.Form.Get("appSecret")
	want, ok := s.apps[id]
	if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 {
		s.throttle.failed(src, now)
		s.stats.failed.Add(1)
		s.stats.auth.Add(1)
		writeEnvelope(w, http.StatusOK, CodeFail, msgTokenFailed, nil)
		return
	}
	tok := s.tokens.issue(id, s.now())
	s.stats.issued.Add(1)
	writeEnvelope(w, http.StatusOK, CodeOK, msgOK, map[string]any{
		"access_token": tok,
		"expires_in":   int(s.tokenTTL / time.Second),
	})
}

// dispatch runs one command with taskId deduplication: a resend of a taskId
// that already succeeded with the same body is answered from memory, and
// concurrent copies of one taskId run one at a time.
func (s *Server) dispatch(ctx context.Context, op string, fn opFunc, body []byte) (data map[string]any, err error) {
	start := time.Now()
	c := &call{op: op}
	replay := false
	defer func() {
		s.report(ctx, c, replay, err, time.Since(start))
	}()
	req, err := decodeRequest(body)
	if err != nil {
		return nil, err
	}
	c.req = req
	c.f = fieldReader{r: req}
	c.taskID = c.f.req("taskId")
	if c.f.err != nil {
		return nil, c.f.err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, accessctl.ErrClosed
	}

	h := sha256.Sum256(append([]byte(op+"\x00"), body...))
	release := s.tasks.acquire(c.taskID)
	defer release()
	if cached, ok := s.tasks.lookup(c.taskID, h); ok {
		replay = true
		s.stats.replays.Add(1)
		c.machine, c.person, c.device, c.site = cached.machine, cached.person, cached.device, cached.site
		return cached.data, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cmdTimeout)
	defer cancel()
	data, err = fn(s, ctx, c)
	if err != nil {
		return nil, err
	}
	if data == nil {
		data = map[string]any{}
	}
	data["taskId"] = c.taskID
	s.tasks.store(c.taskID, taskResult{hash: h, data: data, machine: c.machine, person: c.person, device: c.device, site: c.site})
	return data, nil
}

// report emits the command's result event and calls OnCommand.
func (s *Server) report(ctx context.Context, c *call, replay bool, err error, d time.Duration) {
	if s.onCommand != nil {
		s.onCommand(CommandLog{Op: c.op, TaskID: c.taskID, Machine: c.machine, Person: c.person, Replay: replay, Err: err, Duration: d})
	}
	if s.sink == nil || c.taskID == "" {
		return
	}
	now := s.now()
	res := &accessctl.CommandResult{Command: c.op, CorrelationID: c.taskID, OK: err == nil, Code: "0", Message: msgOK}
	if err != nil {
		res.Code, res.Message = "-1", errorMessage(err)
	}
	e := accessctl.Event{
		ID:         fmt.Sprintf("hc-task-%s-%d", c.taskID, s.seq.Add(1)),
		Kind:       accessctl.KindCommandResult,
		Platform:   Platform,
		Site:       c.site,
		Device:     c.device,
		OccurredAt: now,
		TimeSource: accessctl.TimeReceipt,
		ReceivedAt: now,
		Command:    res,
	}
	// The result must reach the sink even when HC has hung up already, but
	// a full blocking buffer must not hold HC's request forever.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cmdTimeout)
	defer cancel()
	if err := s.sink.Handle(sctx, e); err != nil {
		s.stats.sinkErrors.Add(1)
	}
}

// --- communities ---

func (s *Server) putCommunity(_ context.Context, c *call) (map[string]any, error) {
	com := Community{
		Name:     c.f.req("name"),
		Address:  c.f.req("address"),
		CityCode: c.f.req("cityCode"),
		ID:       c.f.req("extCommunityId"),
	}
	if c.f.err != nil {
		return nil, c.f.err
	}
	c.site = accessctl.SiteRef{Platform: Platform, ID: com.ID}
	s.mu.Lock()
	s.communities[com.ID] = com
	s.mu.Unlock()
	return nil, nil
}

func (s *Server) deleteCommunity(_ context.Context, c *call) (map[string]any, error) {
	id := c.f.req("extCommunityId")
	if c.f.err != nil {
		return nil, c.f.err
	}
	c.site = accessctl.SiteRef{Platform: Platform, ID: id}
	s.mu.Lock()
	delete(s.communities, id) // deleting an absent community is a replay
	s.mu.Unlock()
	return nil, nil
}

// --- machines ---

// parseDirection maps HC's machine direction (3306 in, 3307 out); anything
// else is unknown, never an error (§5 item 2).
func parseDirection(cd string) accessctl.Direction {
	switch cd {
	case "3306":
		return accessctl.DirectionIn
	case "3307":
		return accessctl.DirectionOut
	}
	return accessctl.DirectionUnknown
}

// driverFor resolves an hmId to a registered driver name.
func (s *Server) driverFor(hmID string) (string, error) {
	if d, ok := s.hm[hmID]; ok {
		return d, nil
	}
	if _, ok := s.registry.Driver(hmID); ok {
		return hmID, nil
	}
	if s.defaultDriver != "" {
		return s.defaultDriver, nil
	}
	return "", fmt.Errorf("%w: 厂家协议不存在 hmId=%s", ErrUnknownHmID, hmID)
}

func (s *Server) machineFields(c *call, required bool) Machine {
	get := c.f.opt
	if required {
		get = c.f.req
	}
	m := Machine{
		Code:          get("machineCode"),
		Version:       c.f.opt("machineVersion"),
		Name:          get("machineName"),
		TypeCd:        get("machineTypeCd"),
		LocationType:  get("locationType"),
		LocationObjID: get("locationObjId"),
		IP:            c.f.opt("machineIp"),
		MAC:           c.f.opt("machineMac"),
		ExtID:         c.f.req("extMachineId"),
		Community:     get("extCommunityId"),
		HmID:          get("hmId"),
		DirectionCd:   c.f.opt("direction"),
	}
	m.Direction = parseDirection(m.DirectionCd)
	return m
}

func deviceConfig(m Machine) accessctl.DeviceConfig {
	return accessctl.DeviceConfig{
		ID:        m.Code,
		Addr:      m.IP,
		Name:      m.Name,
		Site:      accessctl.SiteRef{Platform: Platform, ID: m.Community},
		Direction: m.Direction,
		Params: map[string]string{
			"extMachineId":   m.ExtID,
			"extCommunityId": m.Community,
			"hmId":           m.HmID,
			"machineTypeCd":  m.TypeCd,
			"machineVersion": m.Version,
			"locationType":   m.LocationType,
			"locationObjId":  m.LocationObjID,
			"machineMac":     m.MAC,
		},
	}
}

func (s *Server) addMachine(ctx context.Context, c *call) (map[string]any, error) {
	m := s.machineFields(c, true)
	if c.f.err != nil {
		return nil, c.f.err
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	return nil, s.registerMachine(ctx, c, m)
}

// RegisterMachine registers a machine as an addMachine from HC would, for
// hosts that restore their machines at start-up. Registering the same
// machineCode again updates it.
func (s *Server) RegisterMachine(ctx context.Context, m Machine) error {
	if m.Code == "" {
		return fmt.Errorf("%w: 未包含machineCode", ErrBadRequest)
	}
	m.Direction = parseDirection(m.DirectionCd)
	s.regMu.Lock()
	defer s.regMu.Unlock()
	return s.registerMachine(ctx, &call{op: "registerMachine"}, m)
}

// registerMachine opens the machine's device and records it. A replay with
// the same driver and address keeps the open device; a changed one opens
// the new device first and closes the old only once that succeeded.
func (s *Server) registerMachine(ctx context.Context, c *call, m Machine) error {
	c.machine, c.device = m.Code, m.Ref()
	c.site = accessctl.SiteRef{Platform: Platform, ID: m.Community}
	driver, err := s.driverFor(m.HmID)
	if err != nil {
		return err
	}
	m.Driver = driver

	s.mu.Lock()
	cur, exists := s.machines[m.Code]
	s.mu.Unlock()
	if exists {
		cur.op.Lock()
		defer cur.op.Unlock()
		if !cur.gone && cur.info.Driver == m.Driver && cur.info.IP == m.IP {
			s.mu.Lock()
			if cur.info.ExtID != m.ExtID {
				delete(s.byExtID, cur.info.ExtID)
			}
			cur.info = m
			s.byExtID[m.ExtID] = m.Code
			s.mu.Unlock()
			return nil
		}
	}
	dev, err := s.registry.Open(ctx, m.Driver, deviceConfig(m))
	if err != nil {
		return fmt.Errorf("open machine %s with driver %s: %w", m.Code, m.Driver, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = dev.Close()
		return accessctl.ErrClosed
	}
	var old accessctl.Device
	if exists && !cur.gone {
		old = cur.dev
		delete(s.byExtID, cur.info.ExtID)
		cur.info, cur.dev = m, dev
	} else {
		s.machines[m.Code] = &machine{info: m, dev: dev}
	}
	s.byExtID[m.ExtID] = m.Code
	s.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

// lookup finds a machine by machineCode or, when that is empty, by
// extMachineId. A machineCode that is given and unknown is not second-guessed.
func (s *Server) lookup(code, extID string) (*machine, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code != "" {
		m, ok := s.machines[code]
		return m, ok
	}
	if c, ok := s.byExtID[extID]; ok && extID != "" {
		m, ok := s.machines[c]
		return m, ok
	}
	return nil, false
}

func (s *Server) updateMachine(ctx context.Context, c *call) (map[string]any, error) {
	upd := s.machineFields(c, false)
	if c.f.err != nil {
		return nil, c.f.err
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	m, ok := s.lookup("", upd.ExtID)
	if !ok {
		m, ok = s.lookup(upd.Code, "")
	}
	if !ok {
		// Unknown to us (a restart lost it): an update carrying everything an
		// add needs registers it.
		if upd.Code == "" || upd.Community == "" || upd.HmID == "" {
			return nil, fmt.Errorf("%w: 设备不存在 extMachineId=%s", ErrUnknownMachine, upd.ExtID)
		}
		return nil, s.registerMachine(ctx, c, upd)
	}
	s.mu.Lock()
	merged := m.info
	s.mu.Unlock()
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&merged.Code, upd.Code)
	set(&merged.Version, upd.Version)
	set(&merged.Name, upd.Name)
	set(&merged.TypeCd, upd.TypeCd)
	set(&merged.LocationType, upd.LocationType)
	set(&merged.LocationObjID, upd.LocationObjID)
	set(&merged.IP, upd.IP)
	set(&merged.MAC, upd.MAC)
	set(&merged.Community, upd.Community)
	set(&merged.HmID, upd.HmID)
	set(&merged.DirectionCd, upd.DirectionCd)
	merged.Direction = parseDirection(merged.DirectionCd)
	if merged.Code != m.info.Code {
		// A new machineCode is a different device: register it and retire
		// the old entry once the new one is open.
		old := m.info.Code
		if err := s.registerMachine(ctx, c, merged); err != nil {
			return nil, err
		}
		s.forgetMachine(old, m)
		return nil, nil
	}
	return nil, s.registerMachine(ctx, c, merged)
}

// forgetMachine removes m (registered as code) and closes its device.
func (s *Server) forgetMachine(code string, m *machine) {
	m.op.Lock()
	defer m.op.Unlock()
	s.mu.Lock()
	if s.machines[code] == m {
		delete(s.machines, code)
	}
	if s.byExtID[m.info.ExtID] == code {
		delete(s.byExtID, m.info.ExtID)
	}
	m.gone = true
	s.mu.Unlock()
	_ = m.dev.Close()
}

func (s *Server) deleteMachine(ctx context.Context, c *call) (map[string]any, error) {
	extID := c.f.req("extMachineId")
	code := c.f.opt("machineCode")
	if c.f.err != nil {
		return nil, c.f.err
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	m, ok := s.lookup("", extID)
	if !ok {
		m, ok = s.lookup(code, "")
	}
	if !ok {
		return nil, nil // already gone: a resend
	}
	s.mu.Lock()
	info := m.info
	s.mu.Unlock()
	c.machine, c.device = info.Code, info.Ref()
	c.site = accessctl.SiteRef{Platform: Platform, ID: info.Community}
	// A face terminal decides on its own: people left on a deleted machine
	// would still get in. Remove what the ledger lists, best effort; rows
	// whose removal failed stay, so re-adding the machine still knows them.
	if entries, err := s.ledger.ByDevice(ctx, info.Code); err == nil {
		m.op.Lock()
		if ps, ok := m.dev.(accessctl.PermissionSync); ok && !m.gone {
			for _, e := range entries {
				if ps.RemoveGrant(ctx, personRef(e.Person)) == nil {
					_ = s.ledger.Delete(ctx, e.Person, info.Code)
				}
			}
		}
		m.op.Unlock()
	}
	s.forgetMachine(info.Code, m)
	return nil, nil
}

// withMachine runs f on the machine named by the call's machineCode (or its
// extMachineId), holding the machine's command lock.
func (s *Server) withMachine(c *call, code, extID string, f func(m *machine) error) error {
	m, ok := s.lookup(code, extID)
	if !ok {
		if code == "" {
			code = extID
		}
		return fmt.Errorf("%w: 设备不存在 machineCode=%s", ErrUnknownMachine, code)
	}
	m.op.Lock()
	defer m.op.Unlock()
	if m.gone {
		return fmt.Errorf("%w: 设备不存在 machineCode=%s", ErrUnknownMachine, code)
	}
	c.machine, c.device = m.info.Code, m.info.Ref()
	c.site = accessctl.SiteRef{Platform: Platform, ID: m.info.Community}
	return f(m)
}

func (s *Server) machineOp(c *call) (code, extID string, err error) {
	code, extID = c.f.opt("machineCode"), c.f.opt("extMachineId")
	if c.f.err == nil && code == "" && extID == "" {
		c.f.err = fmt.Errorf("%w: 未包含machineCode", ErrBadRequest)
	}
	return code, extID, c.f.err
}

// deviceCommand runs f on the device of the machine the call names
// (machineCode, or extMachineId when that is absent).
func (s *Server) deviceCommand(c *call, f func(dev accessctl.Device) error) (map[string]any, error) {
	code, extID, err := s.machineOp(c)
	if err != nil {
		return nil, err
	}
	return nil, s.withMachine(c, code, extID, func(m *machine) error { return f(m.dev) })
}

func (s *Server) openDoor(ctx context.Context, c *call) (map[string]any, error) {
	return s.deviceCommand(c, func(dev accessctl.Device) error {
		return dev.OpenDoor(ctx, accessctl.OpenRequest{Operator: Platform, Reason: "openDoor", CorrelationID: c.taskID})
	})
}

func (s *Server) closeDoor(ctx context.Context, c *call) (map[string]any, error) {
	return s.deviceCommand(c, func(dev accessctl.Device) error {
		ko, ok := dev.(accessctl.KeepOpener)
		if !ok {
			return fmt.Errorf("closeDoor: %w", accessctl.ErrUnsupported)
		}
		return ko.SetKeepOpen(ctx, 0, false)
	})
}

func (s *Server) restartMachine(ctx context.Context, c *call) (map[string]any, error) {
	return s.deviceCommand(c, func(dev accessctl.Device) error {
		rb, ok := dev.(accessctl.Rebooter)
		if !ok {
			return fmt.Errorf("restartMachine: %w", accessctl.ErrUnsupported)
		}
		return rb.Reboot(ctx)
	})
}

// getQRcode asks for a QR code for userId; no driver issues HC QR codes yet.
func (s *Server) getQRcode(_ context.Context, c *call) (map[string]any, error) {
	return s.deviceCommand(c, func(accessctl.Device) error {
		return fmt.Errorf("getQRcode: %w", accessctl.ErrUnsupported)
	})
}

// --- users ---

func personRef(userID string) accessctl.PersonRef {
	return accessctl.PersonRef{Platform: Platform, ID: userID}
}

// personType maps HC's personType; HC never sends it, so absent is owner
// (§5 item 4).
func personType(cd string) accessctl.PersonType {
	switch cd {
	case "", "2002":
		return accessctl.PersonOwner
	case "1001":
		return accessctl.PersonStaff
	case "3003":
		return accessctl.PersonVisitor
	}
	return accessctl.PersonType(cd)
}

var userFields = map[string]bool{
	"userId": true, "faceBase64": true, "startTime": true, "endTime": true, "name": true,
	"idNumber": true, "personType": true, "machineCode": true, "taskId": true, "link": true,
}

// grantFromRequest validates an addUser/updateUser body completely before
// anything is sent to a device.
func (s *Server) grantFromRequest(c *call) (accessctl.Grant, string, string, error) {
	f := &c.f
	userID := f.req("userId")
	face := f.req("faceBase64")
	start := f.req("startTime")
	end := f.req("endTime")
	name := f.req("name")
	code := f.req("machineCode")
	idNumber := f.opt("idNumber")
	pt := f.opt("personType")
	link := f.opt("link")
	extID := f.opt("extMachineId")
	if f.err != nil {
		return accessctl.Grant{}, "", "", f.err
	}
	c.person = userID
	// base64 is 4 characters per 3 bytes: refuse before decoding anything big.
	if int64(len(face))*3/4 > int64(s.maxFace)+3 {
		return accessctl.Grant{}, "", "", fmt.Errorf("%w: 人脸图片过大 faceBase64 (%d characters, limit %d bytes)", ErrTooLarge, len(face), s.maxFace)
	}
	img, err := accessctl.DecodeImage(face)
	if err != nil {
		return accessctl.Grant{}, "", "", fmt.Errorf("%w: faceBase64 不是base64图片", ErrBadRequest)
	}
	if len(img.Data) == 0 {
		return accessctl.Grant{}, "", "", fmt.Errorf("%w: faceBase64 为空", ErrBadRequest)
	}
	if len(img.Data) > s.maxFace {
		return accessctl.Grant{}, "", "", fmt.Errorf("%w: 人脸图片过大 (%d bytes, limit %d)", ErrTooLarge, len(img.Data), s.maxFace)
	}
	from, err := parseHCTime(start, s.loc)
	if err != nil {
		return accessctl.Grant{}, "", "", fmt.Errorf("startTime: %w", err)
	}
	to, err := parseHCTime(end, s.loc)
	if err != nil {
		return accessctl.Grant{}, "", "", fmt.Errorf("endTime: %w", err)
	}
	if to.Before(from) {
		return accessctl.Grant{}, "", "", fmt.Errorf("%w: endTime 早于 startTime", ErrBadRequest)
	}
	g := accessctl.Grant{
		Person:        personRef(userID),
		Name:          name,
		Phone:         link,
		IDNumber:      idNumber,
		PersonType:    personType(pt),
		Credentials:   []accessctl.Credential{{Kind: accessctl.CredFace, Face: img}},
		ValidFrom:     &from,
		ValidTo:       &to,
		Ext:           c.req.extras(userFields),
		CorrelationID: c.taskID,
	}
	return g, code, extID, nil
}

func (s *Server) putUser(ctx context.Context, c *call) (map[string]any, error) {
	g, code, extID, err := s.grantFromRequest(c)
	if err != nil {
		return nil, err
	}
	return nil, s.withMachine(c, code, extID, func(m *machine) error {
		ps, ok := m.dev.(accessctl.PermissionSync)
		if !ok {
			return fmt.Errorf("addUser on %s: %w", m.info.Code, accessctl.ErrUnsupported)
		}
		g.Devices = []accessctl.DeviceRef{m.info.Ref()}
		err := ps.PutGrant(ctx, g)
		if err != nil && !errors.Is(err, accessctl.ErrTimeout) {
			return err
		}
		// On a timeout the person may be on the device: the ledger must know
		// so that a later delete still reaches it.
		entry := LedgerEntry{Person: g.Person.ID, Name: g.Name, Device: m.info.Code, Community: m.info.Community, TaskID: c.taskID, At: s.now(), Unsure: err != nil}
		if lerr := s.ledger.Put(ctx, entry); lerr != nil {
			return fmt.Errorf("ledger: %w", lerr)
		}
		return err
	})
}

func (s *Server) deleteUser(ctx context.Context, c *call) (map[string]any, error) {
	userID := c.f.req("userId")
	code := c.f.req("machineCode")
	extID := c.f.opt("extMachineId")
	if c.f.err != nil {
		return nil, c.f.err
	}
	c.person = userID
	var community string
	var cascade bool
	err := s.withMachine(c, code, extID, func(m *machine) error {
		community = m.info.Community
		cascade = s.deleteScope == DeleteCommunity && m.info.CommunityLevel()
		return s.removeFrom(ctx, m, userID)
	})
	if err != nil || !cascade {
		return nil, err
	}
	// HC's owner delete reaches community doors only: take the person off
	// every other door of the community the ledger knows about.
	entries, err := s.ledger.ByPerson(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	var errs []error
	var also []string
	for _, e := range entries {
		if e.Community != community || e.Device == c.machine {
			continue
		}
		m, ok := s.lookup(e.Device, "")
		if !ok {
			continue // not registered (since a restart): kept in the ledger
		}
		m.op.Lock()
		if !m.gone {
			if err := s.removeFrom(ctx, m, userID); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", e.Device, err))
			} else {
				also = append(also, e.Device)
			}
		}
		m.op.Unlock()
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(also) > 0 {
		return map[string]any{"alsoRemovedFrom": also}, nil
	}
	return nil, nil
}

// removeFrom takes a person off one device and out of the ledger. Callers
// hold m.op.
func (s *Server) removeFrom(ctx context.Context, m *machine, userID string) error {
	ps, ok := m.dev.(accessctl.PermissionSync)
	if !ok {
		return fmt.Errorf("deleteUser on %s: %w", m.info.Code, accessctl.ErrUnsupported)
	}
	if err := ps.RemoveGrant(ctx, personRef(userID)); err != nil {
		return err
	}
	if err := s.ledger.Delete(ctx, userID, m.info.Code); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

func (s *Server) clearUser(ctx context.Context, c *call) (map[string]any, error) {
	code, extID, err := s.machineOp(c)
	if err != nil {
		return nil, err
	}
	return nil, s.withMachine(c, code, extID, func(m *machine) error {
		ps, ok := m.dev.(accessctl.PermissionSync)
		if !ok {
			return fmt.Errorf("clearUser on %s: %w", m.info.Code, accessctl.ErrUnsupported)
		}
		persons := map[string]bool{}
		entries, err := s.ledger.ByDevice(ctx, m.info.Code)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		for _, e := range entries {
			persons[e.Person] = true
		}
		if gl, ok := m.dev.(accessctl.GrantLister); ok {
			refs, err := gl.ListGrants(ctx)
			if err != nil {
				return err
			}
			for _, r := range refs {
				persons[r.ID] = true
			}
		}
		ids := make([]string, 0, len(persons))
		for p := range persons {
			ids = append(ids, p)
		}
		sort.Strings(ids)
		for _, p := range ids {
			if err := ps.RemoveGrant(ctx, personRef(p)); err != nil {
				return err
			}
			if err := s.ledger.Delete(ctx, p, m.info.Code); err != nil {
				return fmt.Errorf("ledger: %w", err)
			}
		}
		return nil
	})
}
