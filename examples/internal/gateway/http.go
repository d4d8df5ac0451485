package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/menjin/menjin/accessctl/adminapi"
)

// EnvAPIToken names the environment variable the gateways read the admin
// API's bearer token from when -api-token is not given; the environment
// keeps it out of the process list.
const EnvAPIToken = "MENJIN_API_TOKEN"

// APIToken is the -api-token flag's value, or else $MENJIN_API_TOKEN.
func APIToken(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv(EnvAPIToken)
}

// CheckAPIAddr refuses to serve the admin API, which adds users and opens
// doors, beyond this machine without a token: addr must be a loopback
// address ("localhost", 127.0.0.0/8, ::1) when token is empty. A token
// must be one adminapi.WithToken takes.
func CheckAPIAddr(addr, token string) error {
	if token != "" {
		return adminapi.CheckToken(token)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("admin API address %q: %v", addr, err)
	}
	if Loopback(host) {
		return nil
	}
	return errors.New("refusing to serve the admin API on " + addr + " without a token: it adds users and opens doors; " +
		"set -api-token or " + EnvAPIToken + ", or bind it to 127.0.0.1")
}

// Loopback reports whether host (an IP or a name) is this machine only.
// An empty host is every interface; names other than localhost may
// resolve anywhere.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewHTTPServer is an http.Server for request/response APIs (the admin
// API, /extApi) with every read bounded, so that slow or idle clients
// cannot hold connections: headers in 10 s, the whole request (a photo
// included) in 1 min, idle keep-alives 2 min, headers at most 64 KiB.
// Bodies are bounded by the handlers.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// NewWSServer is an http.Server for WebSocket endpoints devices dial into:
// headers bounded like NewHTTPServer's, but no ReadTimeout, because a
// hijacked connection keeps that deadline; the transport sets its own.
func NewWSServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}
