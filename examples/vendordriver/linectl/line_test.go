package linectl_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/examples/vendordriver/linectl"
)

// seeds are one line of each verb of the protocol, and hostile ones.
var seeds = []string{
	"HELLO sn-1 s3cret", "PING", "EVT e1 1700000000000 00001000 person-0", "OK 7", "ERR 7 404 no+such+card",
	"ACK e1", "OPEN 7 0", "PUT 7 00001000 person-0 Ada+Lovelace", "DEL 7 00001000",
	"", "ping", "PING extra", "HELLO %zz x", "EVT a b c d e f g h i", strings.Repeat("A", 600),
}

func TestParseLineRoundTrip(t *testing.T) {
	l := linectl.Line{Verb: "PUT", Args: []string{"7", "0001", "p 1", "Ada Lovelace%"}}
	enc := l.Encode()
	require.True(t, strings.HasSuffix(enc, "\n"))
	got, err := linectl.ParseLine(strings.TrimSuffix(enc, "\n"))
	require.NoError(t, err)
	assert.Equal(t, l, got)
}

func TestParseLineRejects(t *testing.T) {
	for _, s := range seeds[9:] {
		_, err := linectl.ParseLine(s)
		assert.ErrorIs(t, err, accessctl.ErrInvalid, "%q", s)
	}
}

// FuzzParseLine: any input gives ErrInvalid or a line that, encoded within
// MaxLine, parses back to itself; never a panic.
func FuzzParseLine(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := linectl.ParseLine(s)
		if err != nil {
			require.ErrorIs(t, err, accessctl.ErrInvalid)
			return
		}
		enc := l.Encode()
		if len(enc) > linectl.MaxLine { // escaping grew it past what a peer accepts
			return
		}
		again, err := linectl.ParseLine(strings.TrimSuffix(enc, "\n"))
		require.NoError(t, err)
		require.Equal(t, l, again)
	})
}
