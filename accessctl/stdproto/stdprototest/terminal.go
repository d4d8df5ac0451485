package stdprototest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"sync"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/stdproto"
)

// Config describes a simulated terminal.
type Config struct {
	SN   string // default "SIM-0001"
	Edge string // the edge's "host:port"
	// Listen is the terminal's own server address (default
	// "127.0.0.1:0"); provision the edge with Addr() after Start.
	Listen string
	IP     string // the ip stated in /connect (default "127.0.0.1")
	MAC    string // default "00-16-EA-AE-3D-40"
	// Keepalive is the real heartbeat period (default 30 s; tests use
	// less). The wire value is clamped to [10,120] s as the spec wants, so
	// an edge with default settings still expects a heartbeat every 10 s.
	Keepalive  time.Duration
	SignMethod string
	// RetryMin and RetryMax bound the reconnect back-off (default 50 ms, 1 s).
	RetryMin, RetryMax time.Duration
	HandlerOptions     []stdproto.HandlerOption
	HTTPClient         *http.Client
}

// Terminal is a simulated door terminal: a stdproto.Agent (connect,
// keepalive, reconnect on code 4, the edge → terminal interfaces) over an
// in-memory store, with door openings counted. Pause and Resume pull and
// plug its cable; the store survives them.
type Terminal struct {
	*Memory
	cfg Config

	mu     sync.Mutex
	agent  *stdproto.Agent
	addr   string
	paused bool
}

// Start starts a terminal. It listens at once and connects to the edge in
// the background, retrying until the edge accepts it (provision it first,
// or soon: an unprovisioned terminal is refused with code 7 and retries).
// An invalid SN, IP or Edge is an error matching accessctl.ErrInvalid.
// Like a real terminal it takes edge calls (remote open, syncs) only from
// Edge's host; HandlerOptions with stdproto.WithAllowedEdges change that.
func Start(cfg Config) (*Terminal, error) {
	if cfg.SN == "" {
		cfg.SN = "SIM-0001"
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	if cfg.MAC == "" {
		cfg.MAC = "00-16-EA-AE-3D-40"
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = 30 * time.Second
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 50 * time.Millisecond
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Second
	}
	t := &Terminal{Memory: NewMemory(), cfg: cfg}
	if err := t.start(cfg.Listen); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Terminal) start(listen string) error {
	a, err := stdproto.StartAgent(stdproto.AgentConfig{
		Edge:           t.cfg.Edge,
		Identity:       stdproto.Identity{SN: t.cfg.SN, IP: t.cfg.IP, MAC: t.cfg.MAC, Keepalive: t.cfg.Keepalive, SignMethod: t.cfg.SignMethod},
		Backend:        t.Memory,
		Listen:         listen,
		HandlerOptions: t.cfg.HandlerOptions,
		HTTPClient:     t.cfg.HTTPClient,
		RetryMin:       t.cfg.RetryMin,
		RetryMax:       t.cfg.RetryMax,
	})
	if err != nil {
		return err
	}
	t.agent, t.addr = a, a.Addr()
	return nil
}

// SN is the terminal's sn.
func (t *Terminal) SN() string { return t.cfg.SN }

// Addr is the terminal's server address, to provision on the edge.
func (t *Terminal) Addr() string { t.mu.Lock(); defer t.mu.Unlock(); return t.addr }

// Agent is the running agent (nil while paused): post events through it.
func (t *Terminal) Agent() *stdproto.Agent { t.mu.Lock(); defer t.mu.Unlock(); return t.agent }

// ErrPaused is returned by event posting while the terminal is paused.
var ErrPaused = errors.New("stdprototest: terminal paused")

func (t *Terminal) live() (*stdproto.Agent, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.agent == nil {
		return nil, ErrPaused
	}
	return t.agent, nil
}

// WaitConnected waits until the terminal holds a token from the edge.
func (t *Terminal) WaitConnected(ctx context.Context) error {
	a, err := t.live()
	if err != nil {
		return err
	}
	return a.WaitConnected(ctx)
}

// Pause stops the terminal's server and heartbeats, as a pulled cable.
func (t *Terminal) Pause() error {
	t.mu.Lock()
	a := t.agent
	t.agent = nil
	t.paused = true
	t.mu.Unlock()
	if a != nil {
		return a.Close()
	}
	return nil
}

// Resume restarts the server on the same address and connects again.
func (t *Terminal) Resume() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.paused {
		return nil
	}
	var err error
	for i := 0; i < 50; i++ { // the port may linger for a moment
		if err = t.start(t.addr); err == nil {
			t.paused = false
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// Reboot forgets the tokens the terminal issued to the edge: the edge's
// next call gets code 4 and must connect again (D.7).
func (t *Terminal) Reboot() {
	if a, err := t.live(); err == nil && a.Handler() != nil {
		a.Handler().Invalidate()
	}
}

// Close stops the terminal.
func (t *Terminal) Close() error { return t.Pause() }

// PassFace posts a device-side face pass of faceID with a generated photo.
func (t *Terminal) PassFace(ctx context.Context, faceID string, similarity float64) (string, error) {
	a, err := t.live()
	if err != nil {
		return "", err
	}
	return a.PassFace(ctx, faceID, similarity, Photo(faceID), "36.5")
}

// PassCard posts a card pass.
func (t *Terminal) PassCard(ctx context.Context, cardID string) error {
	a, err := t.live()
	if err != nil {
		return err
	}
	return a.PassCard(ctx, cardID)
}

// PassBLE posts a Bluetooth-card pass.
func (t *Terminal) PassBLE(ctx context.Context, cardID string) error {
	a, err := t.live()
	if err != nil {
		return err
	}
	return a.PassBLE(ctx, cardID)
}

// Alarm posts an alarm.
func (t *Terminal) Alarm(ctx context.Context, alarmType int, cardID string) error {
	a, err := t.live()
	if err != nil {
		return err
	}
	return a.Alarm(ctx, alarmType, cardID)
}

// Photo returns a small valid JPEG (120 × 120, the protocol's minimum)
// that differs per seed.
func Photo(seed string) []byte {
	h := sha256.Sum256([]byte(seed))
	img := image.NewRGBA(image.Rect(0, 0, 120, 120))
	for y := 0; y < 120; y++ {
		for x := 0; x < 120; x++ {
			img.Set(x, y, color.RGBA{h[(x/15)%32], h[(y/15)%32], h[(x+y)%32], 255})
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 70})
	return buf.Bytes()
}

// Features is a stand-in stdproto.FeatureExtractor: a deterministic
// 16-float vector derived from the photo's bytes. It is NOT a face model:
// use it for tests, demos and simulators only.
func Features(_ context.Context, face accessctl.Image) ([]float64, error) {
	if len(face.Data) == 0 {
		return nil, fmt.Errorf("%w: no image bytes (URLs are not fetched)", accessctl.ErrInvalid)
	}
	if accessctl.SniffImage(face.Data) == "" {
		return nil, fmt.Errorf("%w: face is not a JPEG or PNG", accessctl.ErrInvalid)
	}
	h := sha256.Sum256(face.Data)
	out := make([]float64, 16)
	for i := range out {
		out[i] = float64(int(h[2*i])<<8|int(h[2*i+1]))/65535*2 - 1
	}
	return out, nil
}
