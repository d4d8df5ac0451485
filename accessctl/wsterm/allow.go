package wsterm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/menjin/menjin/accessctl"
)

// Allowed is one allow-list entry: a terminal's serial number and,
// optionally, the MAC it must register with.
type Allowed struct {
	SN  string
	MAC string // "": any
}

// Limits of an allow-list file: a site has hundreds of doors, not millions.
const (
	maxAllowLines   = 100_000
	maxAllowLineLen = 256
)

// ParseAllowList reads an allow-list: one "SN" or "SN,MAC" a line, blank
// lines and lines starting with # ignored, spaces around fields trimmed.
// Errors wrap accessctl.ErrInvalid and name the line.
func ParseAllowList(r io.Reader) ([]Allowed, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, maxAllowLineLen+2), maxAllowLineLen+2)
	var out []Allowed
	n := 0
	for sc.Scan() {
		n++
		if n > maxAllowLines {
			return nil, fmt.Errorf("%w: allow-list longer than %d lines", accessctl.ErrInvalid, maxAllowLines)
		}
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\uFEFF"))
		if line == "" || line[0] == '#' {
			continue
		}
		sn, mac, _ := strings.Cut(line, ",")
		sn, mac = strings.TrimSpace(sn), strings.TrimSpace(mac)
		switch {
		case sn == "":
			return nil, fmt.Errorf("%w: allow-list line %d: empty serial number", accessctl.ErrInvalid, n)
		case strings.Contains(mac, ","):
			return nil, fmt.Errorf("%w: allow-list line %d: want SN[,MAC]", accessctl.ErrInvalid, n)
		}
		out = append(out, Allowed{SN: sn, MAC: mac})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: allow-list line %d longer than %d bytes", accessctl.ErrInvalid, n+1, maxAllowLineLen)
		}
		return nil, err
	}
	return out, nil
}

// normMAC makes MACs comparable whatever their notation (the protocol
// fixes none, C.A.20): upper case, no separators.
func normMAC(mac string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', ':', '.', ' ':
			return -1
		}
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, mac)
}

// allowed applies the allow-list to a registration; "" admits it.
func (c *config) allowed(r Registration) string {
	if c.allow == nil {
		return ""
	}
	mac, listed := c.allow[r.SN]
	switch {
	case !listed && c.acceptUnlisted:
		return ""
	case !listed:
		return "not on the allow-list"
	case mac != "" && normMAC(r.MAC) != mac:
		return "mac does not match the allow-list"
	}
	return ""
}
