package intercom

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// sipgo v1.7.2 parses RFC 4475's invalid messages without complaint (two
// Content-Length headers, any URI scheme, any Require): the checks RFC 3261
// leaves to the UAS run here, before any handler.

// rejection is the response a request that fails checkRequest gets.
type rejection struct {
	status int
	reason string
	hdr    sip.Header // Unsupported for 420
}

// checkRequest applies RFC 3261 §8.2.2–8.2.2.3 and §20.14: 400 for
// disagreeing Content-Length headers, 416 for a Request-URI scheme other
// than sip/sips, 420 listing every Require option tag (we support none).
// ACK and CANCEL are exempt from Require (§8.2.2.3). require names the
// header to check: "Require" for a UAS, "Proxy-Require" for what a proxy
// forwards (Require is end to end, §16.3).
func checkRequest(req *sip.Request, require string) (rejection, bool) {
	var cl string
	for _, h := range req.GetHeaders("Content-Length") {
		v := strings.TrimSpace(h.Value())
		if cl != "" && v != cl {
			return rejection{status: 400, reason: "Conflicting Content-Length"}, false
		}
		cl = v
	}
	if cl != "" {
		if n, err := strconv.Atoi(cl); err != nil || n < 0 {
			return rejection{status: 400, reason: "Bad Content-Length"}, false
		}
	}
	if sch := strings.ToLower(req.Recipient.Scheme); sch != "sip" && sch != "sips" {
		return rejection{status: 416, reason: "Unsupported URI Scheme"}, false
	}
	if req.Method == sip.ACK || req.Method == sip.CANCEL {
		return rejection{}, true
	}
	var tags []string
	for _, h := range req.GetHeaders(require) {
		for _, t := range strings.Split(h.Value(), ",") {
			if t = strings.TrimSpace(t); t != "" && len(tags) < 16 {
				tags = append(tags, t)
			}
		}
	}
	if len(tags) > 0 {
		return rejection{status: 420, reason: "Bad Extension", hdr: sip.NewHeader("Unsupported", strings.Join(tags, ", "))}, false
	}
	return rejection{}, true
}

// guard wraps a sipgo handler with checkRequest. An invalid ACK is dropped
// (it gets no response).
func guard(require string, h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		rej, ok := checkRequest(req, require)
		if ok {
			h(req, tx)
			return
		}
		if req.Method == sip.ACK {
			return
		}
		res := sip.NewResponseFromRequest(req, rej.status, rej.reason, nil)
		if rej.hdr != nil {
			res.AppendHeader(rej.hdr)
		}
		_ = tx.Respond(res)
	}
}
