package stdproto

import (
	"net"
	"net/http"
	"net/netip"
)

// The wire has no secret (the /connect sign is a checksum, C.B.3), so the
// socket peer is the authenticator on both sides: what a request's body
// says about its sender (sn, ip) is only ever compared after the address
// the TCP connection really came from.

// peerAddr is the IP the request's connection came from, IPv4-mapped
// addresses unmapped; ok false when RemoteAddr is not an IP (then nothing
// is allowed).
func peerAddr(r *http.Request) (netip.Addr, bool) {
	return parseIP(r.RemoteAddr)
}

// parseIP reads "ip", "ip:port" or "[ip]:port".
func parseIP(s string) (netip.Addr, bool) {
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// peerAllowed reports whether a is in one of the prefixes.
func peerAllowed(a netip.Addr, allow []netip.Prefix) bool {
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// loopbackOnly is the terminal's default edge allow-list: without a
// configured edge only this host may drive it.
var loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
