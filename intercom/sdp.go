package intercom

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Codec is one rtpmap entry of a media description.
type Codec struct {
	PT       uint8
	Name     string // "PCMA", "telephone-event", "H264", ...
	Clock    int
	Channels int
	Fmtp     string
}

// Media is what we need from one m= line: where to send, what was offered.
type Media struct {
	Kind      string // "audio" or "video"
	Port      int    // 0 = declined
	Proto     string // "RTP/AVP", "RTP/AVPF", ...
	Addr      string // media-level c= over session-level c=
	RTCPPort  int    // a=rtcp, else Port+1
	Direction string // sendrecv (default), sendonly, recvonly, inactive
	Formats   []uint8
	Codecs    []Codec // per media description (never GetCodecMap, §7.2)
}

// Codec returns the rtpmap entry for pt, falling back to the static payload types.
func (m *Media) Codec(pt uint8) (Codec, bool) {
	for _, c := range m.Codecs {
		if c.PT == pt {
			return c, true
		}
	}
	switch pt {
	case 0:
		return Codec{PT: 0, Name: "PCMU", Clock: 8000, Channels: 1}, true
	case 8:
		return Codec{PT: 8, Name: "PCMA", Clock: 8000, Channels: 1}, true
	case 9:
		return Codec{PT: 9, Name: "G722", Clock: 8000, Channels: 1}, true
	}
	return Codec{}, false
}

// TelephoneEvents maps each offered telephone-event PT to its clock rate.
func (m *Media) TelephoneEvents() map[uint8]int {
	out := map[uint8]int{}
	for _, pt := range m.Formats {
		if c, ok := m.Codec(pt); ok && strings.EqualFold(c.Name, "telephone-event") {
			out[pt] = c.Clock
		}
	}
	return out
}

// SessionMedia is the parsed SDP: at most the first audio and video lines.
type SessionMedia struct {
	Audio, Video *Media
	Tolerant     bool // the strict parser failed and the line scanner was used
}

// ParseSDP parses an offer or answer. It normalises line endings, tries
// pion/sdp first and falls back to a tolerant line scanner (§7.3).
func ParseSDP(body []byte) (SessionMedia, error) {
	if len(body) > 64*1024 {
		return SessionMedia{}, malformed("sdp of %d bytes", len(body))
	}
	norm := normaliseSDP(body)
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(norm); err == nil {
		if len(sd.MediaDescriptions) == 0 {
			return SessionMedia{}, malformed("sdp without m= line")
		}
		return fromPion(&sd), nil
	}
	sm, err := scanSDP(norm)
	sm.Tolerant = true
	return sm, err
}

func normaliseSDP(b []byte) []byte {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	b = bytes.TrimRight(b, "\n")
	b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	return append(b, '\r', '\n')
}

func fromPion(sd *sdp.SessionDescription) SessionMedia {
	var out SessionMedia
	sessAddr := ""
	if sd.ConnectionInformation != nil && sd.ConnectionInformation.Address != nil {
		sessAddr = sd.ConnectionInformation.Address.Address
	}
	sessDir := directionOf(sd.Attributes)
	for _, md := range sd.MediaDescriptions {
		m := &Media{
			Kind:  md.MediaName.Media,
			Port:  md.MediaName.Port.Value,
			Proto: strings.Join(md.MediaName.Protos, "/"),
			Addr:  sessAddr,
		}
		if md.ConnectionInformation != nil && md.ConnectionInformation.Address != nil {
			m.Addr = md.ConnectionInformation.Address.Address
		}
		for _, f := range md.MediaName.Formats {
			if n, err := strconv.ParseUint(f, 10, 7); err == nil {
				m.Formats = append(m.Formats, uint8(n))
			}
		}
		for _, a := range md.Attributes {
			m.attr(a.Key, a.Value)
		}
		m.finish(sessDir)
		out.add(m)
	}
	return out
}

func directionOf(attrs []sdp.Attribute) string {
	for _, a := range attrs {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			return a.Key
		}
	}
	return ""
}

func (m *Media) attr(key, val string) {
	switch key {
	case "rtpmap":
		pt, rest, ok := strings.Cut(val, " ")
		n, err := strconv.ParseUint(pt, 10, 7)
		if !ok || err != nil {
			return
		}
		parts := strings.Split(strings.TrimSpace(rest), "/")
		c := Codec{PT: uint8(n), Name: parts[0], Channels: 1}
		if len(parts) > 1 {
			c.Clock, _ = strconv.Atoi(parts[1])
		}
		if len(parts) > 2 {
			c.Channels, _ = strconv.Atoi(parts[2])
		}
		for i := range m.Codecs {
			if m.Codecs[i].PT == c.PT {
				c.Fmtp = m.Codecs[i].Fmtp
				m.Codecs[i] = c
				return
			}
		}
		m.Codecs = append(m.Codecs, c)
	case "fmtp":
		pt, rest, ok := strings.Cut(val, " ")
		n, err := strconv.ParseUint(pt, 10, 7)
		if !ok || err != nil {
			return
		}
		for i := range m.Codecs {
			if m.Codecs[i].PT == uint8(n) {
				m.Codecs[i].Fmtp = rest
				return
			}
		}
		m.Codecs = append(m.Codecs, Codec{PT: uint8(n), Fmtp: rest})
	case "rtcp":
		p, _, _ := strings.Cut(val, " ")
		m.RTCPPort, _ = strconv.Atoi(p)
	case "sendrecv", "sendonly", "recvonly", "inactive":
		m.Direction = key
	}
}

func (m *Media) finish(sessDir string) {
	if m.Direction == "" {
		m.Direction = sessDir
	}
	if m.Direction == "" {
		m.Direction = "sendrecv"
	}
	if m.RTCPPort == 0 && m.Port != 0 {
		m.RTCPPort = m.Port + 1
	}
}

func (s *SessionMedia) add(m *Media) {
	switch m.Kind {
	case "audio":
		if s.Audio == nil {
			s.Audio = m
		}
	case "video":
		if s.Video == nil {
			s.Video = m
		}
	}
}

// scanSDP extracts c=, m=, a=rtpmap/fmtp/rtcp and directions line by line.
func scanSDP(b []byte) (SessionMedia, error) {
	var out SessionMedia
	var cur *Media
	sessAddr, sessDir := "", ""
	var all []*Media
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1024), 64*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		val := line[2:]
		switch line[0] {
		case 'c':
			f := strings.Fields(val)
			if len(f) < 3 {
				continue
			}
			addr, _, _ := strings.Cut(f[2], "/")
			if cur == nil {
				sessAddr = addr
			} else {
				cur.Addr = addr
			}
		case 'm':
			f := strings.Fields(val)
			if len(f) < 3 {
				continue
			}
			port, _, _ := strings.Cut(f[1], "/")
			p, err := strconv.Atoi(port)
			if err != nil || p < 0 || p > 65535 {
				continue
			}
			cur = &Media{Kind: f[0], Port: p, Proto: f[2]}
			for _, fm := range f[3:] {
				if n, err := strconv.ParseUint(fm, 10, 7); err == nil {
					cur.Formats = append(cur.Formats, uint8(n))
				}
			}
			all = append(all, cur)
		case 'a':
			k, v, _ := strings.Cut(val, ":")
			if cur == nil {
				switch k {
				case "sendrecv", "sendonly", "recvonly", "inactive":
					sessDir = k
				}
				continue
			}
			cur.attr(k, v)
		}
	}
	if len(all) == 0 {
		return out, malformed("sdp without m= line")
	}
	for _, m := range all {
		if m.Addr == "" {
			m.Addr = sessAddr
		}
		m.finish(sessDir)
		out.add(m)
	}
	return out, nil
}

// OfferParams describes the local side of an offer or answer.
type OfferParams struct {
	User      string // o= user name
	IP        string // c= and o= address
	SessionID uint64
	AudioPort int
	VideoPort int // 0: no video line in an offer, or video declined in an answer
}

// BuildOffer renders the compact door-station offer of §7.4 (~360 bytes):
// PCMA, PCMU, telephone-event/8000 and optionally H.264.
func BuildOffer(p OfferParams) []byte {
	var b strings.Builder
	writeSessionHeader(&b, p)
	b.WriteString("m=audio " + strconv.Itoa(p.AudioPort) + " RTP/AVP 8 0 101\r\n")
	b.WriteString("a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n")
	if p.VideoPort > 0 {
		b.WriteString("m=video " + strconv.Itoa(p.VideoPort) + " RTP/AVP 102\r\n")
		b.WriteString("a=rtpmap:102 H264/90000\r\na=fmtp:102 profile-level-id=42e01f;packetization-mode=1\r\na=sendrecv\r\n")
	}
	return []byte(b.String())
}

func writeSessionHeader(b *strings.Builder, p OfferParams) {
	user := p.User
	if user == "" || strings.ContainsAny(user, " \r\n") {
		user = "-"
	}
	id := strconv.FormatUint(p.SessionID, 10)
	b.WriteString("v=0\r\no=" + user + " " + id + " " + id + " IN IP4 " + p.IP + "\r\ns=Talk\r\nc=IN IP4 " + p.IP + "\r\nt=0 0\r\n")
}

// Answer is the negotiated result of answering an offer.
type Answer struct {
	SDP           []byte
	Remote        SessionMedia
	AudioPT       uint8 // chosen audio codec
	TelephoneEvPT int   // -1 when the offer had no usable telephone-event
}

// errSRTP marks offers we must refuse with 488 (no SRTP in this profile).
var errSRTP = malformed("SRTP-only offer")

// BuildAnswer answers an offer (RFC 3264): first offered PCMA/PCMU, the
// telephone-event PT at the codec's clock, the offer's profile and the mirrored
// direction. Video is declined (port 0): the SDK handles no video media.
func BuildAnswer(offer []byte, p OfferParams) (Answer, error) {
	ans := Answer{TelephoneEvPT: -1}
	sm, err := ParseSDP(offer)
	if err != nil {
		return ans, err
	}
	ans.Remote = sm
	if sm.Audio == nil {
		return ans, malformed("offer has no audio")
	}
	a := sm.Audio
	if strings.Contains(a.Proto, "SAVP") {
		return ans, errSRTP
	}
	chosen := -1
	for _, pt := range a.Formats {
		if c, ok := a.Codec(pt); ok && (strings.EqualFold(c.Name, "PCMA") || strings.EqualFold(c.Name, "PCMU")) {
			chosen = int(pt)
			break
		}
	}
	if chosen < 0 {
		return ans, malformed("no common audio codec")
	}
	ans.AudioPT = uint8(chosen)
	formats := strconv.Itoa(chosen)
	var attrs strings.Builder
	c, _ := a.Codec(uint8(chosen))
	attrs.WriteString("a=rtpmap:" + formats + " " + c.Name + "/8000\r\n")
	tes := a.TelephoneEvents()
	for _, pt := range a.Formats {
		if clock, ok := tes[pt]; ok && (clock == 8000 || clock == 0) && ans.TelephoneEvPT < 0 {
			ans.TelephoneEvPT = int(pt)
		}
	}
	if ans.TelephoneEvPT >= 0 {
		te := strconv.Itoa(ans.TelephoneEvPT)
		formats += " " + te
		attrs.WriteString("a=rtpmap:" + te + " telephone-event/8000\r\na=fmtp:" + te + " 0-15\r\n")
	}
	var b strings.Builder
	writeSessionHeader(&b, p)
	port := p.AudioPort
	if a.Port == 0 {
		port = 0
	}
	b.WriteString("m=audio " + strconv.Itoa(port) + " " + a.Proto + " " + formats + "\r\n")
	b.WriteString(attrs.String())
	b.WriteString("a=" + mirrorDirection(a.Direction) + "\r\n")
	if v := sm.Video; v != nil {
		f := "102"
		if len(v.Formats) > 0 {
			f = strconv.Itoa(int(v.Formats[0]))
		}
		b.WriteString("m=video 0 " + v.Proto + " " + f + "\r\n")
	}
	ans.SDP = []byte(b.String())
	return ans, nil
}

func mirrorDirection(d string) string {
	switch d {
	case "recvonly":
		return "sendonly"
	case "sendonly":
		return "recvonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}
