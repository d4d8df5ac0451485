package hciot

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// tokens issues opaque random access tokens with a sliding idle timeout.
// Issuing a token never revokes the earlier ones: HC refreshes while
// requests carrying the older token may still be in flight.
type tokens struct {
	ttl time.Duration
	max int

	mu   sync.Mutex
	live map[string]*tokenState
}

type tokenState struct {
	app      string
	lastUsed time.Time
}

func newTokens(ttl time.Duration, max int) *tokens {
	return &tokens{ttl: ttl, max: max, live: map[string]*tokenState{}}
}

// issue mints a token for app. Expired tokens are swept here, and if the
// table is still full the least recently used one goes, so a caller that
// fetches tokens in a loop cannot grow memory without bound.
func (t *tokens) issue(app string, now time.Time) string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("hciot: crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	tok := hex.EncodeToString(b[:])
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.live) >= t.max {
		var oldest string
		var oldestAt time.Time
		for k, s := range t.live {
			if now.Sub(s.lastUsed) >= t.ttl {
				delete(t.live, k)
				continue
			}
			if oldest == "" || s.lastUsed.Before(oldestAt) {
				oldest, oldestAt = k, s.lastUsed
			}
		}
		if len(t.live) >= t.max {
			delete(t.live, oldest)
		}
	}
	t.live[tok] = &tokenState{app: app, lastUsed: now}
	return tok
}

// use validates tok and extends its life; it returns the app it was issued to.
func (t *tokens) use(tok string, now time.Time) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.live[tok]
	if !ok {
		return "", false
	}
	if now.Sub(s.lastUsed) >= t.ttl {
		delete(t.live, tok)
		return "", false
	}
	if now.After(s.lastUsed) {
		s.lastUsed = now
	}
	return s.app, true
}

func (t *tokens) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.live)
}
