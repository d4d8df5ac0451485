package wsterm

import (
	"context"
	"log/slog"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/transport"
)

// Command names (door-terminals.md A.7).
const (
	CmdAddUser     = "addUser"
	CmdEditUser    = "editUser"
	CmdDeleteUser  = "deleteUser"
	CmdSelectUser  = "selectUser"
	CmdCompareUser = "compareUser"
	CmdQueryEvent  = "queryEvent"
)

// Defaults from door-terminals.md A.10.
const (
	DefaultInterval         = 20 * time.Second
	DefaultRegisterDeadline = 30 * time.Second
	DefaultSinkTimeout      = 10 * time.Second
	DefaultDedupWindow      = 1024
	maxPreRegisterEvents    = 100
	maxBadFramesInARow      = 5
)

var defaultTimeouts = map[string]time.Duration{
	CmdDeleteUser:  10 * time.Second,
	CmdQueryEvent:  10 * time.Second,
	CmdAddUser:     30 * time.Second,
	CmdEditUser:    30 * time.Second,
	CmdCompareUser: 30 * time.Second,
	CmdSelectUser:  15 * time.Second,
	selectAll:      120 * time.Second,
}

// selectAll is the timeout key of a selectUser without a filter.
const selectAll = "selectUser*"

// Registration is what a terminal said in its 205 register report, for the
// admission hook.
type Registration struct {
	SN, IP, MAC, Type string
	RemoteAddr        string // the socket's peer address (may be a NAT)
}

// Admission decides whether a registering terminal may stay. A non-nil
// error rejects it: the 205 is answered with code "500" and the error text,
// and the socket is closed.
type Admission func(ctx context.Context, r Registration) error

// Option configures a Server.
type Option func(*config)

type config struct {
	interval         time.Duration
	offlineAfter     time.Duration
	registerDeadline time.Duration
	sinkTimeout      time.Duration
	timeouts         map[string]time.Duration
	maxInFlight      int
	dedupWindow      int
	admission        Admission
	logger           *slog.Logger
	validateImages   bool
	onStatus         func(accessctl.Status)
	lateReply        func(sn string, f Frame)
	transport        []transport.Option
}

func defaultConfig() config {
	c := config{
		interval:         DefaultInterval,
		registerDeadline: DefaultRegisterDeadline,
		sinkTimeout:      DefaultSinkTimeout,
		timeouts:         make(map[string]time.Duration, len(defaultTimeouts)),
		maxInFlight:      1,
		dedupWindow:      DefaultDedupWindow,
		logger:           slog.New(slog.DiscardHandler),
		validateImages:   true,
	}
	for k, v := range defaultTimeouts {
		c.timeouts[k] = v
	}
	return c
}

// WithInterval sets the heartbeat interval sent in the 205 ack (default
// 20 s; clamped to [5 s, 300 s] as A.4 recommends). Offline detection
// follows at 3 × interval unless WithOfflineAfter says otherwise.
func WithInterval(d time.Duration) Option {
	return func(c *config) { c.interval = min(max(d, 5*time.Second), 300*time.Second) }
}

// WithOfflineAfter sets how long a registered terminal may stay silent
// (no frame of any kind) before it is marked offline and disconnected.
func WithOfflineAfter(d time.Duration) Option { return func(c *config) { c.offlineAfter = d } }

// WithRegisterDeadline sets how long a new connection may take to send 205.
func WithRegisterDeadline(d time.Duration) Option {
	return func(c *config) { c.registerDeadline = d }
}

// WithSinkTimeout bounds each EventSink.Handle call (default 10 s).
func WithSinkTimeout(d time.Duration) Option { return func(c *config) { c.sinkTimeout = d } }

// WithTimeout sets the reply timeout of one command (CmdAddUser, ...).
func WithTimeout(command string, d time.Duration) Option {
	return func(c *config) { c.timeouts[command] = d }
}

// WithTimeouts sets the reply timeout of every command at once (tests).
func WithTimeouts(d time.Duration) Option {
	return func(c *config) {
		for k := range c.timeouts {
			c.timeouts[k] = d
		}
	}
}

// WithMaxInFlight sets how many commands may await replies per terminal
// (default 1: the protocol is "synchronous"; further commands queue).
func WithMaxInFlight(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxInFlight = n
		}
	}
}

// WithDedupWindow sets how many recent eventids per terminal are
// remembered to drop resent events (default 1024).
func WithDedupWindow(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.dedupWindow = n
		}
	}
}

// WithAdmission installs an admission hook (allow-lists by SN, IP, MAC).
func WithAdmission(a Admission) Option { return func(c *config) { c.admission = a } }

// WithLogger sets the logger (default: discard). Passwords and images are
// never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithImageValidation turns the check of face images before addUser and
// editUser on or off (default on: the image must be Base64 of a JPEG or PNG,
// because the terminal would only answer "500"). Turn it off for tests that
// replay the spec's "base64....." placeholders.
func WithImageValidation(on bool) Option { return func(c *config) { c.validateImages = on } }

// WithStatusFunc registers a callback for online/offline changes. It runs
// on the connection's goroutine and must not block.
func WithStatusFunc(f func(accessctl.Status)) Option { return func(c *config) { c.onStatus = f } }

// WithLateReply registers a hook for replies that arrive after their
// command timed out (D.6).
func WithLateReply(f func(sn string, f Frame)) Option { return func(c *config) { c.lateReply = f } }

// WithTransport passes options to the WebSocket layer (path, read limit,
// buffer sizes, write timeout, ping interval).
func WithTransport(opts ...transport.Option) Option {
	return func(c *config) { c.transport = append(c.transport, opts...) }
}
