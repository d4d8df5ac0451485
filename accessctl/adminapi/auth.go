package adminapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/menjin/menjin/accessctl"
)

// MinTokenLen is the shortest bearer token WithToken takes: 16 characters
// of a random token are out of reach of guessing over HTTP.
const MinTokenLen = 16

// CheckToken refuses a token WithToken would: shorter than MinTokenLen, or
// with characters a header cannot carry as sent (RFC 6750 b64token
// characters only). Errors wrap accessctl.ErrInvalid and never quote it.
func CheckToken(t string) error {
	if len(t) < MinTokenLen {
		return fmt.Errorf("%w: adminapi: token shorter than %d characters", accessctl.ErrInvalid, MinTokenLen)
	}
	for _, c := range []byte(t) {
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/=", c) >= 0
		if !ok {
			return fmt.Errorf("%w: adminapi: token holds a character outside A-Z a-z 0-9 -._~+/=", accessctl.ErrInvalid)
		}
	}
	return nil
}

// Fingerprint names a token in logs without revealing it: "token:" and
// the first 8 hex digits of its SHA-256.
func Fingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(sum[:4])
}

// guard checks the bearer token (when there is one) before any route, and
// logs writes with who made them.
func (h *handler) guard(next http.Handler) http.Handler {
	var want [sha256.Size]byte
	who := "anonymous"
	if h.token != "" {
		want = sha256.Sum256([]byte(h.token))
		who = Fingerprint(h.token)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.token != "" {
			got, ok := bearer(r)
			// Hashes compare in constant time whatever the lengths.
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				h.log.Warn("admin API: refused", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "token", ok)
				w.Header().Set("WWW-Authenticate", `Bearer realm="menjin"`)
				writeError(w, http.StatusUnauthorized, "a bearer token is required")
				return
			}
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		h.log.Info("admin API: write", "who", who, "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "status", rec.status)
	})
}

// bearer is the token of an "Authorization: Bearer …" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
