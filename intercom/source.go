package intercom

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/menjin/menjin/accessctl"
)

// Who may talk to a door station is decided by the socket source address of
// each request, never by a header or a body field: a Call-ID, tags and a
// "sip" field are all the wire can forge (spec §13).

// defaultAllow is the allow-list of a door station built without WithAllow.
var defaultAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}

// maxAllowEntries bounds what ParseAllowList accepts from a flag or a file.
const maxAllowEntries = 1024

// ParseAllowList reads "CIDR[,CIDR...]" where an entry may also be a bare
// address (a /32 or /128). Blanks around entries are ignored; an empty list
// is an error wrapping accessctl.ErrInvalid, so a typo cannot open a door to nobody's
// surprise.
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if len(out) == maxAllowEntries {
			return nil, fmt.Errorf("%w: allow-list longer than %d entries", accessctl.ErrInvalid, maxAllowEntries)
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%w: allow entry %q: %v", accessctl.ErrInvalid, trunc(f), err)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%w: allow entry %q: %v", accessctl.ErrInvalid, trunc(f), err)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty allow-list", accessctl.ErrInvalid)
	}
	return out, nil
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// sourceAddr is the socket address a request came from. sipgo sets it from
// the connection; a request without it (never from the network) has none.
func sourceAddr(req *sip.Request) (netip.Addr, bool) {
	return hostAddr(req.MessageData.Source())
}

// hostAddr parses "ip:port" or "ip" into an unmapped address.
func hostAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// prefixesContain reports whether a is in one of ps.
func prefixesContain(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerSet is the addresses a dialog's in-dialog requests may come from: the
// socket that opened or answered it, its remote target and its route set.
type peerSet map[netip.Addr]struct{}

func (ps peerSet) addHost(host string) {
	if a, ok := hostAddr(host); ok {
		ps[a] = struct{}{}
	}
}

// addMessage adds the socket source, the Contact host and the Record-Route
// hosts of the INVITE or response that formed the dialog.
func (ps peerSet) addMessage(src string, hdrs interface {
	Contact() *sip.ContactHeader
	GetHeaders(string) []sip.Header
}) {
	ps.addHost(src)
	if ct := hdrs.Contact(); ct != nil {
		ps.addHost(ct.Address.Host)
	}
	for _, h := range hdrs.GetHeaders("Record-Route") {
		var u sip.Uri
		v := strings.TrimSpace(h.Value())
		// One header may carry several comma-separated entries.
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			part = strings.TrimSuffix(strings.TrimPrefix(part, "<"), ">")
			if i := strings.IndexByte(part, '>'); i >= 0 {
				part = part[:i]
			}
			if sip.ParseUri(part, &u) == nil {
				ps.addHost(u.Host)
			}
		}
	}
}

// fromPeer reports whether req came from one of the dialog's addresses or
// from a registrar we register with (a B2BUA may send in-dialog requests
// from its own address, §13).
func (c *Call) fromPeer(req *sip.Request) bool {
	a, ok := sourceAddr(req)
	if !ok {
		return false
	}
	return c.isPeer(a) || c.ep.isRegistrar(a)
}

func (c *Call) isPeer(a netip.Addr) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.peers[a]
	return ok
}

func (c *Call) addPeers(src string, hdrs interface {
	Contact() *sip.ContactHeader
	GetHeaders(string) []sip.Header
}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peers == nil {
		c.peers = peerSet{}
	}
	c.peers.addMessage(src, hdrs)
}

// trustRegistrar remembers the addresses of a registrar we register with:
// our registrar/outbound proxy may relay calls and unlocks to us.
func (ep *Endpoint) trustRegistrar(host string) {
	var addrs []netip.Addr
	if a, ok := hostAddr(host); ok {
		addrs = append(addrs, a)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		cancel()
		if err != nil {
			ep.log.Warn("registrar address not resolved; it will not be trusted", "host", host, "err", err)
		}
		for _, ip := range ips {
			addrs = append(addrs, ip.Unmap())
		}
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.registrars == nil {
		ep.registrars = map[netip.Addr]struct{}{}
	}
	for _, a := range addrs {
		ep.registrars[a] = struct{}{}
	}
}

// allowed reports whether a door station takes calls and unlocks from a:
// the allow-list (default loopback) or a registrar we register with.
func (ep *Endpoint) allowed(a netip.Addr) bool {
	allow := ep.o.allow
	if !ep.o.allowSet {
		allow = defaultAllow
	}
	return prefixesContain(allow, a) || ep.isRegistrar(a)
}

func (ep *Endpoint) isRegistrar(a netip.Addr) bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	_, ok := ep.registrars[a]
	return ok
}
