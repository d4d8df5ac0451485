package stdproto

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/transport/backoff"
)

// AgentConfig configures the device side of a terminal.
type AgentConfig struct {
	// Edge is the edge's address, "host:10000".
	Edge string
	// Identity is the terminal's sn, ip, mac and heartbeat period. The ip
	// must be the one provisioned on the edge; empty: the local address
	// routing to the edge.
	Identity Identity
	// Backend serves the edge → terminal interfaces; nil: the terminal
	// serves nothing (no device-side face, card, BLE or remote open).
	Backend Backend
	// Listen is the address of the terminal's own server ("ip:port",
	// ":0" for any port); ignored without Backend.
	Listen string
	// HandlerOptions configure the terminal's server. By default it
	// accepts edge calls only from the socket address of Edge's host
	// (resolved once at start); WithEdgeIP or WithAllowedEdges here
	// replace that.
	HandlerOptions []HandlerOption
	// HTTPClient for terminal → edge requests; nil: keep-alives off.
	HTTPClient *http.Client
	// RetryMin and RetryMax bound the reconnect back-off (default 1 s, 60 s).
	RetryMin, RetryMax time.Duration
	// OnStatus is called when the link to the edge comes up or goes down.
	OnStatus func(connected bool)
}

// Agent is a terminal's side of the protocol: it connects to the edge,
// keeps the link alive, connects again when the edge answers code 4, serves
// the edge → terminal interfaces through a TerminalHandler and posts the
// terminal → edge interfaces (events, recognition, QR checks, ...).
// It is the device-side library, for a terminal written in Go; the
// simulator hosts test against is stdprototest, built on it.
type Agent struct {
	cfg     AgentConfig
	link    *Link
	handler *TerminalHandler
	srv     *http.Server
	ln      net.Listener

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	connected atomic.Bool
	up        chan struct{} // closed and replaced on every successful connect
	upMu      sync.Mutex
}

// StartAgent listens (when there is a Backend) and starts connecting to the
// edge in the background. An invalid sn or edge address is an error
// matching accessctl.ErrInvalid at once, not a connect retried forever.
func StartAgent(cfg AgentConfig) (*Agent, error) {
	if !ValidSN(cfg.Identity.SN) {
		return nil, fmt.Errorf("%w: stdproto: sn %q is not 4–32 of [A-Za-z0-9_-@.:]", accessctl.ErrInvalid, cfg.Identity.SN)
	}
	if _, ok := parseIP(cfg.Identity.IP); cfg.Identity.IP != "" && !ok {
		return nil, fmt.Errorf("%w: stdproto: identity ip %q is not an IP address", accessctl.ErrInvalid, cfg.Identity.IP)
	}
	if _, port, err := net.SplitHostPort(strings.TrimPrefix(cfg.Edge, "http://")); err != nil || port == "" {
		return nil, fmt.Errorf("%w: stdproto: edge address %q is not host:port", accessctl.ErrInvalid, cfg.Edge)
	}
	if cfg.Identity.Keepalive <= 0 {
		cfg.Identity.Keepalive = 30 * time.Second
	}
	a := &Agent{cfg: cfg, link: NewLink(cfg.Edge, cfg.Identity, cfg.HTTPClient), up: make(chan struct{})}
	if cfg.Backend != nil {
		edgeOnly, err := edgeAllowList(cfg.Edge)
		if err != nil {
			return nil, err
		}
		a.handler = NewTerminalHandler(cfg.Backend, append([]HandlerOption{edgeOnly}, cfg.HandlerOptions...)...)
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("stdproto: terminal listen: %w", err)
		}
		a.ln = ln
		a.srv = NewServer(ln.Addr().String(), a.handler)
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			_ = a.srv.Serve(ln)
		}()
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.wg.Add(1)
	go a.run()
	return a, nil
}

// edgeAllowList is the handler option that admits only the edge's host:
// its IP, or the addresses its name resolves to now.
func edgeAllowList(edge string) (HandlerOption, error) {
	host := hostOnly(strings.TrimPrefix(edge, "http://"))
	if a, ok := parseIP(host); ok {
		return WithAllowedEdges(netip.PrefixFrom(a, a.BitLen())), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultCallTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("%w: stdproto: resolving the edge %q to allow its calls: %v", accessctl.ErrInvalid, edge, err)
	}
	ps := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
	}
	return WithAllowedEdges(ps...), nil
}

// Addr is the terminal's own server address ("ip:port"), "" without one.
func (a *Agent) Addr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// Handler is the terminal's server handler (nil without a Backend).
func (a *Agent) Handler() *TerminalHandler { return a.handler }

// Link is the terminal → edge link.
func (a *Agent) Link() *Link { return a.link }

// Connected reports whether the agent holds a token from the edge.
func (a *Agent) Connected() bool { return a.connected.Load() && a.link.Connected() }

// WaitConnected blocks until the link is up or ctx ends.
func (a *Agent) WaitConnected(ctx context.Context) error {
	for {
		a.upMu.Lock()
		up := a.up
		a.upMu.Unlock()
		if a.Connected() {
			return nil
		}
		select {
		case <-up:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (a *Agent) setConnected(on bool) {
	if a.connected.Swap(on) == on {
		return
	}
	if on {
		a.upMu.Lock()
		close(a.up)
		a.up = make(chan struct{})
		a.upMu.Unlock()
	}
	if a.cfg.OnStatus != nil {
		a.cfg.OnStatus(on)
	}
}

// run connects with back-off and then sends /keepalive every period. The
// link itself reconnects once on code 4; a failed keepalive falls back to
// connecting.
func (a *Agent) run() {
	defer a.wg.Done()
	pol := backoff.Default
	if a.cfg.RetryMin > 0 {
		pol.Min = a.cfg.RetryMin
	}
	if a.cfg.RetryMax > 0 {
		pol.Max = a.cfg.RetryMax
	}
	attempt := 0
	for a.ctx.Err() == nil {
		var wait time.Duration
		ctx, cancel := context.WithTimeout(a.ctx, DefaultCallTimeout)
		var err error
		if !a.link.Connected() {
			err = a.link.Connect(ctx)
		} else {
			err = a.link.Keepalive(ctx)
		}
		cancel()
		switch {
		case err == nil:
			attempt = 0
			a.setConnected(true)
			wait = a.cfg.Identity.Keepalive
		case a.ctx.Err() != nil:
			return
		default:
			// Refused, unreachable, or code 4 twice: connect afresh, backing off.
			a.setConnected(false)
			a.link.Invalidate()
			wait = pol.Delay(attempt)
			attempt++
		}
		t := time.NewTimer(wait)
		select {
		case <-a.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Close stops the agent and its server.
func (a *Agent) Close() error {
	a.cancel()
	if a.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = a.srv.Shutdown(ctx)
		cancel()
		_ = a.srv.Close()
	}
	a.wg.Wait()
	a.setConnected(false)
	return nil
}

// ---- terminal → edge interfaces ------------------------------------------

// PassFace reports a device-side face pass (B.7.4) and returns the edge's
// photo id.
func (a *Agent) PassFace(ctx context.Context, faceID string, similarity float64, photo []byte, temperature string) (string, error) {
	if faceID == "" || len(faceID) > MaxFaceIDBytes || similarity < 0 || similarity > 1 || len(photo) == 0 {
		return "", badParam("faceId, a similarity in [0,1] and a photo are required")
	}
	fields := [][2]string{{"faceId", faceID}, {"similarity", strconv.FormatFloat(similarity, 'f', -1, 64)}}
	if temperature != "" {
		fields = append(fields, [2]string{"temperature", temperature})
	}
	var d PhotoData
	err := a.link.CallForm(ctx, PathFacePassEvent, fields, FormFile{Field: "photo", Name: "capture.jpg", Data: photo}, &d)
	return d.PhotoID, err
}

// PassCard reports a card pass (B.9.2).
func (a *Agent) PassCard(ctx context.Context, cardID string) error {
	return a.cardPass(ctx, PathCardPassEvent, cardID)
}

// PassBLE reports a Bluetooth-card pass (B.9.4).
func (a *Agent) PassBLE(ctx context.Context, cardID string) error {
	return a.cardPass(ctx, PathBLEPassEvent, cardID)
}

func (a *Agent) cardPass(ctx context.Context, path, cardID string) error {
	r := CardPassRequest{CardID: cardID}
	if err := r.Validate(); err != nil {
		return err
	}
	return a.link.Call(ctx, path, func(tok string) any { r.Token = tok; return &r }, nil)
}

// Alarm reports an alarm (B.6.4); cardID for types 2 and 3.
func (a *Agent) Alarm(ctx context.Context, alarmType int, cardID string) error {
	t := Int(alarmType)
	r := AlarmRequest{AlarmType: &t, CardID: cardID}
	return a.link.Call(ctx, PathAlarmEvent, func(tok string) any { r.Token = tok; return &r }, nil)
}

// Recognize asks the edge to recognise a face (B.7.1). detect asks the edge
// to locate the face (disableEdgeDetectFace = "1", C.B.12). A refusal is a
// *CodeError with code 1.
func (a *Agent) Recognize(ctx context.Context, photo []byte, detect bool, temperature string) (*RecognizeData, error) {
	var fields [][2]string
	if detect {
		fields = append(fields, [2]string{"disableEdgeDetectFace", "1"})
	}
	if temperature != "" {
		fields = append(fields, [2]string{"temperature", temperature})
	}
	var d RecognizeData
	if err := a.link.CallForm(ctx, PathRecognize, fields, FormFile{Field: "photo", Name: "face.jpg", Data: photo}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// QRCode asks the edge to check a scanned code (B.8.1) and returns the
// user id. A refusal is a *CodeError with code 1.
func (a *Agent) QRCode(ctx context.Context, code string) (string, error) {
	r := QRCodeRequest{QRCode: code}
	if err := r.Validate(); err != nil {
		return "", err
	}
	var d UserIDData
	err := a.link.Call(ctx, PathQRCode, func(tok string) any { r.Token = tok; return &r }, &d)
	return d.UserID, err
}

// GroupID asks which SIP group serves a room (B.10.2).
func (a *Agent) GroupID(ctx context.Context, roomID string) (string, error) {
	r := GroupIDRequest{RoomID: roomID}
	if err := r.Validate(); err != nil {
		return "", err
	}
	var d GroupIDData
	err := a.link.Call(ctx, PathGetGroupID, func(tok string) any { r.Token = tok; return &r }, &d)
	return d.GroupID, err
}

// CheckPhone asks the edge to verify a phone number (B.10.3); the verdict
// arrives later on IntercomBackend.PhoneResult.
func (a *Agent) CheckPhone(ctx context.Context, phone string) error {
	r := PhoneRequest{PhoneNumber: phone}
	if err := r.Validate(); err != nil {
		return err
	}
	return a.link.Call(ctx, PathCheckPhoneNumber, func(tok string) any { r.Token = tok; return &r }, nil)
}

// ReportOpenDoor reports a door opened during an intercom call (B.10.5).
func (a *Agent) ReportOpenDoor(ctx context.Context, r OpenDoorReport) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return a.link.Call(ctx, PathReportOpenDoor, func(tok string) any { r.Token = tok; return &r }, nil)
}

// ReportRunState reports the cars' state (B.11.1).
func (a *Agent) ReportRunState(ctx context.Context, cars []CarState) error {
	r := RunStateReport{Data: cars}
	if err := r.Validate(); err != nil {
		return err
	}
	return a.link.Call(ctx, PathReportRunState, func(tok string) any { r.ElevatorHeader = hdr(tok); return &r }, nil)
}

// ReportRule reports an executed person–elevator linkage (B.11.9).
func (a *Agent) ReportRule(ctx context.Context, r RuleReport) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return a.link.Call(ctx, PathRuleReport, func(tok string) any { r.ElevatorHeader = hdr(tok); return &r }, nil)
}
