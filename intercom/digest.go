package intercom

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/icholy/digest"
)

// DigestResponse computes an MD5 digest response (RFC 2617 / RFC 2069 when
// qop is empty). All values as they appear on the wire.
func DigestResponse(user, realm, password, method, uri, nonce, nc, cnonce, qop string) string {
	ha1 := md5hex(user + ":" + realm + ":" + password)
	ha2 := md5hex(method + ":" + uri)
	if qop == "" {
		return md5hex(ha1 + ":" + nonce + ":" + ha2)
	}
	return md5hex(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// clientAuth remembers the last challenge so that refreshes can
// pre-authenticate with an incremented nonce count.
type clientAuth struct {
	user, password string
	chal           *digest.Challenge
	proxy          bool
	nc             int
}

// authorize builds the Authorization (or Proxy-Authorization) header value.
func (a *clientAuth) authorize(method, uri string) (name, value string, err error) {
	if a.chal == nil {
		return "", "", nil
	}
	a.nc++
	cred, err := digest.Digest(a.chal, digest.Options{Method: method, URI: uri, Username: a.user, Password: a.password, Count: a.nc})
	if err != nil {
		return "", "", err
	}
	name = "Authorization"
	if a.proxy {
		name = "Proxy-Authorization"
	}
	return name, cred.String(), nil
}

// setChallenge installs a challenge from a 401/407. It reports false when the
// same nonce was challenged again without stale=true, i.e. the password is wrong.
func (a *clientAuth) setChallenge(value string, proxy bool) (bool, error) {
	chal, err := digest.ParseChallenge(value)
	if err != nil {
		return false, malformed("challenge: %v", err)
	}
	if alg := strings.ToUpper(chal.Algorithm); alg != "" && alg != "MD5" {
		return false, malformed("unsupported digest algorithm %q", chal.Algorithm)
	}
	repeat := a.chal != nil && a.chal.Nonce == chal.Nonce && !chal.Stale
	a.chal, a.proxy, a.nc = chal, proxy, 0
	return !repeat, nil
}

// nonceStore issues nonces with an expiry and tracks the highest nonce count
// seen per nonce so that a replayed Authorization is refused.
type nonceStore struct {
	mu     sync.Mutex
	ttl    time.Duration
	max    int
	nonces map[string]*nonceState
	now    func() time.Time
}

type nonceState struct {
	issued time.Time
	lastNC uint64
	used   bool // a no-qop response consumed it (RFC 2069 has no counter)
}

func newNonceStore(ttl time.Duration, max int) *nonceStore {
	return &nonceStore{ttl: ttl, max: max, nonces: map[string]*nonceState{}, now: time.Now}
}

func (s *nonceStore) issue() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	n := hex.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.nonces) >= s.max {
		for k, v := range s.nonces {
			if now.Sub(v.issued) > s.ttl {
				delete(s.nonces, k)
			}
		}
		for k := range s.nonces { // still full: drop arbitrary old entries
			if len(s.nonces) < s.max {
				break
			}
			delete(s.nonces, k)
		}
	}
	s.nonces[n] = &nonceState{issued: now}
	return n
}

// verdict of a credential check.
type authVerdict int

const (
	authOK      authVerdict = iota
	authBad                 // wrong password or malformed: 403 after a fresh challenge
	authStale               // unknown or expired nonce: challenge again with stale=true
	authReplay              // nonce count not increasing: refuse
	authMissing             // no credentials: challenge
)

// check verifies credentials against the stored nonce and the password
// (constant-time compare). It consumes the nonce count on success.
func (s *nonceStore) check(cred *digest.Credentials, realm, password, method string) authVerdict {
	if cred == nil {
		return authMissing
	}
	if cred.Realm != realm || (cred.Algorithm != "" && !strings.EqualFold(cred.Algorithm, "MD5")) {
		return authBad
	}
	nc := ""
	if cred.QOP != "" {
		if cred.QOP != "auth" || cred.Cnonce == "" || cred.Nc <= 0 {
			return authBad
		}
		nc = strconv.FormatInt(int64(cred.Nc), 16)
		nc = strings.Repeat("0", max(0, 8-len(nc))) + nc
	}
	want := DigestResponse(cred.Username, realm, password, method, cred.URI, cred.Nonce, nc, cred.Cnonce, cred.QOP)
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.nonces[cred.Nonce]
	if !ok || s.now().Sub(st.issued) > s.ttl {
		if ok {
			delete(s.nonces, cred.Nonce)
		}
		return authStale
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(cred.Response)), []byte(want)) != 1 {
		return authBad
	}
	if cred.QOP == "" {
		if st.used {
			return authReplay
		}
		st.used = true
		return authOK
	}
	if uint64(cred.Nc) <= st.lastNC {
		return authReplay
	}
	st.lastNC = uint64(cred.Nc)
	return authOK
}
