package linectl

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/menjin/menjin/accessctl"
)

// MaxLine bounds one line (terminator included): longer is a protocol error.
const MaxLine = 512

const maxFields = 8

// Line is one line of the protocol: a verb and its fields, unescaped.
type Line struct {
	Verb string
	Args []string
}

// Encode renders l as a wire line with its "\n"; fields are query-escaped
// so that a name with spaces stays one field. A line longer than MaxLine
// is refused by the peer: callers keep fields short.
func (l Line) Encode() string {
	var b strings.Builder
	b.WriteString(l.Verb)
	for _, a := range l.Args {
		b.WriteByte(' ')
		b.WriteString(url.QueryEscape(a))
	}
	b.WriteByte('\n')
	return b.String()
}

// ParseLine parses one line without its terminator. Hostile input gets an
// error wrapping accessctl.ErrInvalid, never a panic.
func ParseLine(s string) (Line, error) {
	s = strings.TrimSuffix(s, "\r")
	if len(s) == 0 || len(s) >= MaxLine {
		return Line{}, fmt.Errorf("%w: line of %d bytes", accessctl.ErrInvalid, len(s))
	}
	f := strings.Split(s, " ")
	if len(f) > maxFields {
		return Line{}, fmt.Errorf("%w: %d fields", accessctl.ErrInvalid, len(f))
	}
	verb := f[0]
	if n, ok := arity[verb]; !ok || n != len(f)-1 {
		return Line{}, fmt.Errorf("%w: verb %q with %d fields", accessctl.ErrInvalid, verb, len(f)-1)
	}
	l := Line{Verb: verb, Args: make([]string, len(f)-1)}
	for i, a := range f[1:] {
		v, err := url.QueryUnescape(a)
		if err != nil {
			return Line{}, fmt.Errorf("%w: field %d: %v", accessctl.ErrInvalid, i+1, err)
		}
		l.Args[i] = v
	}
	return l, nil
}

// arity is how many fields each verb takes (see the package doc).
var arity = map[string]int{
	"HELLO": 2, "PING": 0, "EVT": 4, "OK": 1, "ERR": 3, "ACK": 1,
	"OPEN": 2, "PUT": 4, "DEL": 2,
}
