package stdproto

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// tokenTable is the accepting side of /connect: one token per peer, a grace
// period for the replaced token, expiry after silence (spec B.3). The edge
// and the device-side handler share it.
type tokenTable struct {
	mu     sync.Mutex
	byTok  map[string]*tokenEntry
	byKey  map[string]*tokenEntry
	gen    func(key, ip string) string
	expiry func(keepalive time.Duration) time.Duration
	now    func() time.Time
	max    int // peers held at most; the least recently seen goes first (0: no cap)
}

type tokenEntry struct {
	key, token, prev string
	peer             netip.Addr // the socket address that ran /connect: the token is valid from there only
	prevUntil        time.Time
	lastSeen         time.Time
	keepalive        time.Duration
}

func newTokenTable(gen func(key, ip string) string, expiry func(time.Duration) time.Duration) *tokenTable {
	if gen == nil {
		gen = randomToken
	}
	if expiry == nil {
		expiry = func(k time.Duration) time.Duration { return 3 * k }
	}
	return &tokenTable{byTok: map[string]*tokenEntry{}, byKey: map[string]*tokenEntry{}, gen: gen, expiry: expiry, now: time.Now}
}

// randomToken is 128 random bits and the peer's IP, ≤ 48 bytes: opaque,
// shaped like the source's example.
func randomToken(_, ip string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	t := hex.EncodeToString(b[:])
	if ip != "" && len(ip) <= 15 {
		t += "-" + strings.ReplaceAll(ip, ".", "-")
	}
	return t
}

// issue gives key a new token, bound to the socket address peer. The
// previous one stays valid for one keepalive period so that requests in
// flight do not trigger a reconnect storm (B.3).
func (t *tokenTable) issue(key, ip string, peer netip.Addr, keepalive time.Duration) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	tok := t.gen(key, ip)
	if len(tok) > MaxTokenBytes {
		tok = tok[:MaxTokenBytes]
	}
	e := t.byKey[key]
	if e == nil {
		if t.max > 0 && len(t.byKey) >= t.max {
			t.evictLocked()
		}
		e = &tokenEntry{key: key}
		t.byKey[key] = e
	} else {
		if e.prev != "" && e.prev != tok {
			delete(t.byTok, e.prev)
		}
		if e.token != tok {
			e.prev, e.prevUntil = e.token, now.Add(keepalive)
		}
	}
	if e.peer != peer && e.prev != "" {
		// A token is never valid from two addresses.
		delete(t.byTok, e.prev)
		e.prev = ""
	}
	e.token, e.keepalive, e.lastSeen, e.peer = tok, keepalive, now, peer
	t.byTok[tok] = e
	return tok
}

// tokenStatus is what check found.
type tokenStatus int

const (
	tokenOK      tokenStatus = iota
	tokenInvalid             // unknown, replaced and expired, or silent: code 4
	tokenForeign             // valid, but sent from another address than the one that connected
)

// check returns the key of a valid token presented from peer and counts
// the request as liveness. An unknown, replaced-and-expired or silent
// token is invalid; a token from another address than the one it was
// issued to is foreign and does not count as liveness.
func (t *tokenTable) check(tok string, peer netip.Addr) (string, tokenStatus) {
	if tok == "" || len(tok) > MaxTokenBytes {
		return "", tokenInvalid
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byTok[tok]
	if e == nil {
		return "", tokenInvalid
	}
	if e.peer != peer {
		return e.key, tokenForeign
	}
	now := t.now()
	if tok == e.prev && tok != e.token && now.After(e.prevUntil) {
		delete(t.byTok, tok)
		e.prev = ""
		return "", tokenInvalid
	}
	if now.Sub(e.lastSeen) > t.expiry(e.keepalive) {
		t.removeLocked(e)
		return "", tokenInvalid
	}
	e.lastSeen = now
	return e.key, tokenOK
}

// evictLocked removes the least recently seen peer.
func (t *tokenTable) evictLocked() {
	var old *tokenEntry
	for _, e := range t.byKey {
		if old == nil || e.lastSeen.Before(old.lastSeen) {
			old = e
		}
	}
	if old != nil {
		t.removeLocked(old)
	}
}

// drop invalidates key's tokens.
func (t *tokenTable) drop(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.byKey[key]; e != nil {
		t.removeLocked(e)
	}
}

func (t *tokenTable) removeLocked(e *tokenEntry) {
	delete(t.byTok, e.token)
	if e.prev != "" {
		delete(t.byTok, e.prev)
	}
	delete(t.byKey, e.key)
}

// expire removes the peers silent for longer than their expiry and returns
// their keys.
func (t *tokenTable) expire() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var gone []string
	for _, e := range t.byKey {
		if now.Sub(e.lastSeen) > t.expiry(e.keepalive) {
			t.removeLocked(e)
			gone = append(gone, e.key)
		}
	}
	return gone
}

// lastSeen is the last valid request of key.
func (t *tokenTable) lastSeen(key string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.byKey[key]; e != nil {
		return e.lastSeen, true
	}
	return time.Time{}, false
}

// expireAll drops every token and returns the keys.
func (t *tokenTable) expireAll() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var keys []string
	for _, e := range t.byKey {
		t.removeLocked(e)
		keys = append(keys, e.key)
	}
	return keys
}
