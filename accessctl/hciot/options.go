package hciot

import (
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Option configures a Server.
type Option func(*Server)

// WithApp accepts the IoT app pair HC is configured with (HC mapping domain
// IOT, keys APP_ID and APP_SECRET). Repeat it to accept several.
func WithApp(appID, appSecret string) Option {
	return func(s *Server) { s.apps[appID] = appSecret }
}

// WithRegistry chooses the registry that hmId drivers are opened from
// (default accessctl.DefaultRegistry).
func WithRegistry(r *accessctl.Registry) Option { return func(s *Server) { s.registry = r } }

// WithDriver maps HC's 厂家协议 id (hmId) to a registered driver name.
// An hmId that is not mapped opens the driver registered under the hmId
// itself, if any, and then the WithDefaultDriver one.
func WithDriver(hmID, driver string) Option { return func(s *Server) { s.hm[hmID] = driver } }

// WithDefaultDriver opens machines whose hmId is not mapped with this driver.
// Without it an unknown hmId is refused.
func WithDefaultDriver(driver string) Option { return func(s *Server) { s.defaultDriver = driver } }

// WithLedger keeps the (person, device) grant ledger in l (default: a
// MemLedger).
func WithLedger(l Ledger) Option { return func(s *Server) { s.ledger = l } }

// WithSink receives a KindCommandResult event for every command HC
// sends, replays included, with the taskId as CorrelationID; feed it to an
// Uploader to report results on HC's 3002001 URL. Sink errors never fail
// HC's request: put a Buffer in front of a slow sink.
func WithSink(sink accessctl.EventSink) Option { return func(s *Server) { s.sink = sink } }

// WithTokenTTL sets the sliding idle validity of access tokens and the
// expires_in reported (default and minimum 7200 s, as HC's IoT keeps them).
func WithTokenTTL(d time.Duration) Option {
	return func(s *Server) {
		if d > s.tokenTTL {
			s.tokenTTL = d
		}
	}
}

// WithTokenThrottle bounds how fast one source address may try app
// secrets on getAccessToken: burst wrong secrets at once, then one per
// every (default 10, then one every 6 s). An address out of tries is
// answered HTTP 429 with Retry-After, whatever secret it sends. Values
// that are not positive keep the default: the throttle cannot be turned
// off.
func WithTokenThrottle(burst int, every time.Duration) Option {
	return func(s *Server) {
		if burst > 0 {
			s.throttleBurst = burst
		}
		if every > 0 {
			s.throttleEvery = every
		}
	}
}

// WithMaxBodyBytes bounds request bodies (default 8 MiB): HC's faceBase64
// is an image inside the JSON.
func WithMaxBodyBytes(n int64) Option {
	return func(s *Server) {
		if n > 0 {
			s.maxBody = n
		}
	}
}

// WithMaxFaceBytes bounds the decoded face photo of addUser (default 4 MiB).
func WithMaxFaceBytes(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.maxFace = n
		}
	}
}

// WithCommandTimeout bounds each device command (default 10 s).
func WithCommandTimeout(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.cmdTimeout = d
		}
	}
}

// WithLocation is the zone of HC's wall-clock times (default UTC+8, China
// time, which has had no daylight saving since 1991).
func WithLocation(loc *time.Location) Option {
	return func(s *Server) {
		if loc != nil {
			s.loc = loc
		}
	}
}

// DeleteScope says how far a deleteUser reaches.
type DeleteScope int

const (
	// DeleteCommunity (the default): a deleteUser addressed to a
	// community-level door removes the person from every device of that
	// community the ledger lists. HC sends an owner delete to community
	// doors only, which would leave the person on unit, building and room
	// doors (§1.5 item 4).
	DeleteCommunity DeleteScope = iota
	// DeleteExact removes the person from the addressed device only, as HC
	// asks.
	DeleteExact
)

// WithDeleteScope chooses how far a deleteUser reaches.
func WithDeleteScope(d DeleteScope) Option { return func(s *Server) { s.deleteScope = d } }

// WithTaskMemory sets how many succeeded taskIds are remembered so that a
// resend of the same taskId is answered without acting again (default 4096).
func WithTaskMemory(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.taskMemory = n
		}
	}
}

// WithClock replaces time.Now, for tests of token expiry.
func WithClock(now func() time.Time) Option {
	return func(s *Server) {
		if now != nil {
			s.now = now
		}
	}
}

// WithOnCommand is called after every command with its outcome; use it for
// logs and metrics.
func WithOnCommand(f func(CommandLog)) Option { return func(s *Server) { s.onCommand = f } }

// CommandLog is one /extApi command and its outcome.
type CommandLog struct {
	Op       string // addUser, openDoor, ...
	TaskID   string
	Machine  string // machineCode, where there is one
	Person   string // userId, where there is one
	Replay   bool   // answered from the taskId memory
	Err      error
	Duration time.Duration
}
