package wsterm

import (
	"context"
	"log/slog"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/transport"
)

// Command names (PROTOCOL.md A.7).
const (
	CmdAddUser     = "addUser"
	CmdEditUser    = "editUser"
	CmdDeleteUser  = "deleteUser"
	CmdSelectUser  = "selectUser"
	CmdCompareUser = "compareUser"
	CmdQueryEvent  = "queryEvent"
)

// Defaults from PROTOCOL.md A.10.
const (
	DefaultInterval         = 20 * time.Second
	DefaultRegisterDeadline = 30 * time.Second
	DefaultSinkTimeout      = 10 * time.Second
	DefaultDedupWindow      = 1024
	maxPreRegisterEvents    = 100
	maxBadFramesInARow      = 5

	// DefaultPreRegisterReadLimit is the largest message a socket may send
	// before its 205 is accepted: a register report is tiny, and an
	// anonymous socket must not make the server buffer face-sized messages.
	DefaultPreRegisterReadLimit = 64 << 10
	// DefaultMaxUnregistered caps the sockets that have not registered yet;
	// further upgrades are closed at once until some register or leave.
	DefaultMaxUnregistered = 1024
	// DefaultMaxOffline caps the terminals remembered while disconnected
	// (the oldest are forgotten first), DefaultForgetAfter how long one is.
	DefaultMaxOffline  = 4096
	DefaultForgetAfter = 24 * time.Hour
	// DefaultMaxSnapshot is the largest pass snapshot kept (decoded bytes);
	// a larger one is dropped and the pass reported without it.
	DefaultMaxSnapshot = 4 << 20
	// preRegisterBytes bounds the events one socket may report before 205.
	preRegisterBytes = 256 << 10
)

// AlarmSessionConflict is the Alarm.Type of the KindAlarm event raised when
// a connection registers the serial of a terminal whose session is alive:
// the newcomer is refused (it may be an impostor) and its address is in
// the alarm's message.
const AlarmSessionConflict = "session_conflict"

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
	sink             accessctl.EventSink
	interval         time.Duration
	offlineAfter     time.Duration
	registerDeadline time.Duration
	sinkTimeout      time.Duration
	timeouts         map[string]time.Duration
	maxInFlight      int
	dedupWindow      int
	admission        Admission
	allow            map[string]string // sn → normalised MAC ("": any)
	acceptUnlisted   bool
	takeoverAfter    time.Duration
	preReadLimit     int64
	maxUnregistered  int
	maxOffline       int
	forgetAfter      time.Duration
	maxSnapshot      int
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
		preReadLimit:     DefaultPreRegisterReadLimit,
		maxUnregistered:  DefaultMaxUnregistered,
		maxOffline:       DefaultMaxOffline,
		forgetAfter:      DefaultForgetAfter,
		maxSnapshot:      DefaultMaxSnapshot,
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

// WithDedupSize sets how many recent eventids per terminal are
// remembered to drop resent events (default 1024).
func WithDedupSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.dedupWindow = n
		}
	}
}

// WithAdmission installs an admission hook (allow-lists by SN, IP, MAC).
func WithAdmission(a Admission) Option { return func(c *config) { c.admission = a } }

// WithAllowList admits only the listed terminals: a 205 whose sn is not
// listed, or whose mac differs from the one listed with it, is answered
// "500" and closed (PROTOCOL.md A.5). An entry without a MAC admits
// its sn with any MAC; MACs compare without case or separators. It applies
// before an Admission hook, which still sees the terminals it admits.
// Calling it again adds entries.
func WithAllowList(list ...Allowed) Option {
	return func(c *config) {
		if c.allow == nil {
			c.allow = make(map[string]string, len(list))
		}
		for _, a := range list {
			if a.SN != "" {
				c.allow[a.SN] = normMAC(a.MAC)
			}
		}
	}
}

// WithAcceptUnlisted admits terminals missing from the allow-list too; the
// listed ones must still register with their MAC. Without an allow-list
// every terminal is admitted anyway.
func WithAcceptUnlisted() Option { return func(c *config) { c.acceptUnlisted = true } }

// WithTakeoverAfter sets how long a registered terminal must have been
// silent before a new connection registering its sn may replace its
// session (the reconnect of A.5). A newcomer for a session heard from more
// recently is refused and raises an AlarmSessionConflict event. Default:
// 1.25 × the heartbeat interval, so a terminal that heartbeats on time
// cannot be displaced, and one that reconnects after losing its socket
// waits at most about one interval.
func WithTakeoverAfter(d time.Duration) Option { return func(c *config) { c.takeoverAfter = d } }

// WithPreRegisterReadLimit sets the largest message accepted from a socket
// before its 205 is accepted (default DefaultPreRegisterReadLimit). After
// registration the transport's limit applies (WithTransport,
// transport.WithReadLimit; default 16 MiB).
func WithPreRegisterReadLimit(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.preReadLimit = n
		}
	}
}

// WithMaxUnregistered caps the connections that have not registered yet
// (default DefaultMaxUnregistered); upgrades past it are closed at once.
func WithMaxUnregistered(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxUnregistered = n
		}
	}
}

// WithForget bounds what the server remembers of disconnected terminals
// (their last 205, status and recent eventids): at most maxOffline of them
// (the longest gone are forgotten first), each for at most after (defaults
// DefaultMaxOffline, DefaultForgetAfter). A forgotten terminal is simply
// unknown until it registers again.
func WithForget(maxOffline int, after time.Duration) Option {
	return func(c *config) {
		if maxOffline > 0 {
			c.maxOffline = maxOffline
		}
		if after > 0 {
			c.forgetAfter = after
		}
	}
}

// WithMaxSnapshot sets the largest pass snapshot kept, in decoded bytes
// (default DefaultMaxSnapshot). A larger or undecodable snapshot is dropped:
// the pass is delivered with PassEvent.SnapshotDropped set.
func WithMaxSnapshot(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxSnapshot = n
		}
	}
}

// WithSink sets where events go (default: discarded). A terminal's event is
// acknowledged only after the sink's Handle returned nil.
func WithSink(sink accessctl.EventSink) Option { return func(c *config) { c.sink = sink } }

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

// WithOnStatus registers a callback for online/offline changes. It runs
// on the connection's goroutine and must not block.
func WithOnStatus(f func(accessctl.Status)) Option { return func(c *config) { c.onStatus = f } }

// WithLateReply registers a hook for replies that arrive after their
// command timed out (D.6).
func WithLateReply(f func(sn string, f Frame)) Option { return func(c *config) { c.lateReply = f } }

// WithTransport passes options to the WebSocket layer (path, read limit,
// buffer sizes, write timeout, ping interval).
func WithTransport(opts ...transport.Option) Option {
	return func(c *config) { c.transport = append(c.transport, opts...) }
}
