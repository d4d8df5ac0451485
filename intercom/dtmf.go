package intercom

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ParseDTMFRelay decodes an INFO body of type application/dtmf-relay
// ("Signal=*\r\nDuration=160"), tolerating spaces around keys and values,
// LF-only lines and the numeric event codes 10 (*) and 11 (#).
// It returns the digit and the duration in milliseconds (0 when absent).
func ParseDTMFRelay(body []byte) (digit byte, duration int, err error) {
	if len(body) > MaxBodySize {
		return 0, 0, malformed("dtmf-relay body of %d bytes", len(body))
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 256), MaxBodySize)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "signal":
			d, derr := parseDigit(strings.TrimSpace(v))
			if derr != nil {
				return 0, 0, derr
			}
			digit = d
		case "duration":
			n, perr := strconv.Atoi(strings.TrimSpace(v))
			if perr == nil && n >= 0 {
				duration = n
			}
		}
	}
	if digit == 0 {
		return 0, 0, malformed("dtmf-relay without Signal")
	}
	return digit, duration, nil
}

// ParseDTMF decodes an application/dtmf body, which is just the digit.
func ParseDTMF(body []byte) (byte, error) {
	if len(body) > MaxBodySize {
		return 0, malformed("dtmf body of %d bytes", len(body))
	}
	return parseDigit(string(bytes.TrimSpace(body)))
}

func parseDigit(s string) (byte, error) {
	if len(s) == 1 {
		c := s[0]
		if c >= 'a' && c <= 'd' {
			c -= 'a' - 'A'
		}
		if (c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D') {
			return c, nil
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 15 {
		return EventDigit(uint8(n)), nil
	}
	return 0, malformed("not a DTMF digit: %.10q", s)
}

// EventDigit maps an RFC 4733 event code to its key: 0–9, 10 = '*', 11 = '#',
// 12–15 = 'A'–'D'. Other codes map to 0.
func EventDigit(ev uint8) byte {
	switch {
	case ev <= 9:
		return '0' + ev
	case ev == 10:
		return '*'
	case ev == 11:
		return '#'
	case ev <= 15:
		return 'A' + ev - 12
	}
	return 0
}

// TelephoneEvent is one RFC 2833/4733 telephone-event payload.
type TelephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8 // 0–63, in -dBm0
	Duration uint16
}

// DecodeTelephoneEvent parses the 4-byte payload (trailing bytes, as in
// redundant RFC 4733 packets, are ignored). Example: 0A 8A 03 20 is the end
// of '*' at volume 10, 800 ticks.
func DecodeTelephoneEvent(p []byte) (TelephoneEvent, error) {
	if len(p) < 4 {
		return TelephoneEvent{}, malformed("telephone-event payload of %d bytes", len(p))
	}
	return TelephoneEvent{
		Event:    p[0],
		End:      p[1]&0x80 != 0,
		Volume:   p[1] & 0x3f,
		Duration: binary.BigEndian.Uint16(p[2:4]),
	}, nil
}

// RTPPacket is the part of an RTP packet the door needs to find DTMF.
type RTPPacket struct {
	PayloadType uint8
	Marker      bool
	Seq         uint16
	Timestamp   uint32
	SSRC        uint32
	Payload     []byte // aliases the input
}

// ParseRTP decodes an RTP header (RFC 3550): version 2, CSRCs, header
// extension and padding are honoured. Payload aliases b.
func ParseRTP(b []byte) (RTPPacket, error) {
	var p RTPPacket
	if len(b) < 12 {
		return p, malformed("rtp packet of %d bytes", len(b))
	}
	if b[0]>>6 != 2 {
		return p, malformed("rtp version %d", b[0]>>6)
	}
	cc := int(b[0] & 0x0f)
	off := 12 + 4*cc
	if len(b) < off {
		return p, malformed("rtp csrc list truncated")
	}
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return p, malformed("rtp extension truncated")
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:off+4]))
		if len(b) < off {
			return p, malformed("rtp extension truncated")
		}
	}
	end := len(b)
	if b[0]&0x20 != 0 {
		pad := int(b[end-1])
		if pad == 0 || end-pad < off {
			return p, malformed("rtp padding %d", pad)
		}
		end -= pad
	}
	p.Marker = b[1]&0x80 != 0
	p.PayloadType = b[1] & 0x7f
	p.Seq = binary.BigEndian.Uint16(b[2:4])
	p.Timestamp = binary.BigEndian.Uint32(b[4:8])
	p.SSRC = binary.BigEndian.Uint32(b[8:12])
	p.Payload = b[off:end]
	return p, nil
}

// digitMatcher recognises the unlock sequence (default "*") in a stream of
// DTMF digits, with an inter-digit timeout. Safe for concurrent use.
type digitMatcher struct {
	mu      sync.Mutex
	seq     string
	timeout time.Duration
	buf     []byte
	last    time.Time
}

func newDigitMatcher(seq string, timeout time.Duration) *digitMatcher {
	if seq == "" {
		seq = "*"
	}
	return &digitMatcher{seq: seq, timeout: timeout}
}

// Feed adds one digit and reports whether the sequence just completed.
func (m *digitMatcher) Feed(d byte, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.last.IsZero() && now.Sub(m.last) > m.timeout {
		m.buf = m.buf[:0]
	}
	m.last = now
	m.buf = append(m.buf, d)
	if len(m.buf) > len(m.seq) {
		m.buf = m.buf[len(m.buf)-len(m.seq):]
	}
	if string(m.buf) == m.seq {
		m.buf = m.buf[:0]
		return true
	}
	return false
}

// eventDeduper reports each telephone-event once per (SSRC, timestamp): the
// end packet is normally sent three times.
type eventDeduper struct {
	seen [16]uint64
	used [16]bool
	n    int
}

func (d *eventDeduper) First(ssrc, ts uint32) bool {
	k := uint64(ssrc)<<32 | uint64(ts)
	for i, s := range d.seen {
		if d.used[i] && s == k {
			return false
		}
	}
	i := d.n % len(d.seen)
	d.seen[i], d.used[i] = k, true
	d.n++
	return true
}
