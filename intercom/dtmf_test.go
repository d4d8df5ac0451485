package intercom

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTelephoneEventSpecVectors(t *testing.T) {
	end, err := DecodeTelephoneEvent([]byte{0x0A, 0x8A, 0x03, 0x20})
	require.NoError(t, err)
	assert.Equal(t, TelephoneEvent{Event: 10, End: true, Volume: 10, Duration: 800}, end)
	assert.Equal(t, byte('*'), EventDigit(end.Event))
	start, err := DecodeTelephoneEvent([]byte{0x0A, 0x0A, 0x00, 0xA0})
	require.NoError(t, err)
	assert.Equal(t, TelephoneEvent{Event: 10, End: false, Volume: 10, Duration: 160}, start)
	assert.Equal(t, byte('#'), EventDigit(11))
	assert.Equal(t, byte('7'), EventDigit(7))
	assert.Equal(t, byte('D'), EventDigit(15))
	assert.Equal(t, byte(0), EventDigit(16))
	_, err = DecodeTelephoneEvent([]byte{0x0A, 0x8A, 0x03})
	assert.ErrorIs(t, err, ErrMalformed)
}

func rtpPacket(pt uint8, marker bool, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	b := make([]byte, 12, 12+len(payload))
	b[0] = 0x80
	b[1] = pt
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return append(b, payload...)
}

func TestParseRTP(t *testing.T) {
	p, err := ParseRTP(rtpPacket(101, true, 7, 1234, 0xdeadbeef, []byte{0x0A, 0x8A, 0x03, 0x20}))
	require.NoError(t, err)
	assert.Equal(t, uint8(101), p.PayloadType)
	assert.True(t, p.Marker)
	assert.Equal(t, uint16(7), p.Seq)
	assert.Equal(t, uint32(1234), p.Timestamp)
	assert.Equal(t, uint32(0xdeadbeef), p.SSRC)
	assert.Equal(t, []byte{0x0A, 0x8A, 0x03, 0x20}, p.Payload)

	// One CSRC, a one-word extension and 2 bytes of padding.
	b := rtpPacket(101, false, 1, 2, 3, nil)
	b[0] |= 0x01 | 0x10 | 0x20
	b = append(b, 0, 0, 0, 9)             // CSRC
	b = append(b, 0xBE, 0xDE, 0, 1)       // extension header, length 1 word
	b = append(b, 1, 2, 3, 4)             // extension word
	b = append(b, 0x0A, 0x8A, 0x03, 0x20) // payload
	b = append(b, 0, 2)                   // padding
	p, err = ParseRTP(b)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x0A, 0x8A, 0x03, 0x20}, p.Payload)

	for name, bad := range map[string][]byte{
		"short":     {0x80, 101},
		"version 1": append([]byte{0x40}, make([]byte, 11)...),
		"csrc":      append([]byte{0x8F}, make([]byte, 11)...),
		"padding":   append(append([]byte{0xA0}, make([]byte, 11)...), 0, 200),
	} {
		_, err := ParseRTP(bad)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

func TestDTMFRelay(t *testing.T) {
	for body, want := range map[string]byte{
		"Signal=*\r\nDuration=160\r\n": '*',
		"Signal= *\nDuration= 100":     '*',
		" signal = # ":                 '#',
		"Signal=10\r\n":                '*',
		"Signal=5":                     '5',
		"Signal=a":                     'A',
	} {
		d, _, err := ParseDTMFRelay([]byte(body))
		require.NoError(t, err, body)
		assert.Equal(t, want, d, body)
	}
	_, dur, _ := ParseDTMFRelay([]byte("Signal=*\r\nDuration=160"))
	assert.Equal(t, 160, dur)
	for _, bad := range []string{"", "Duration=160", "Signal=", "Signal=**", "Signal=x", "Signal=16"} {
		_, _, err := ParseDTMFRelay([]byte(bad))
		assert.ErrorIs(t, err, ErrMalformed, bad)
	}
	d, err := ParseDTMF([]byte(" *\r\n"))
	require.NoError(t, err)
	assert.Equal(t, byte('*'), d)
	_, err = ParseDTMF([]byte("unlock"))
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestDigitMatcherAndDeduper(t *testing.T) {
	now := time.Unix(0, 0)
	m := newDigitMatcher("#12*", 3*time.Second)
	for i, d := range []byte("9#12") {
		assert.False(t, m.Feed(d, now.Add(time.Duration(i)*time.Second/2)))
	}
	assert.True(t, m.Feed('*', now.Add(2*time.Second)))
	// An inter-digit gap over the timeout restarts the sequence.
	assert.False(t, m.Feed('#', now.Add(10*time.Second)))
	assert.False(t, m.Feed('1', now.Add(11*time.Second)))
	assert.False(t, m.Feed('2', now.Add(15*time.Second)))
	assert.False(t, m.Feed('*', now.Add(16*time.Second)))

	var dd eventDeduper
	assert.True(t, dd.First(1, 100))
	assert.False(t, dd.First(1, 100), "end packet repeated")
	assert.False(t, dd.First(1, 100))
	assert.True(t, dd.First(1, 260))
	assert.True(t, dd.First(2, 100), "other SSRC")
	assert.True(t, dd.First(0, 0))
	assert.False(t, dd.First(0, 0), "zero key is a key too")
}

func FuzzParseDTMFRelay(f *testing.F) {
	for _, s := range []string{"Signal=*\r\nDuration=160", "Signal= *", "*", "Signal=10", "", "=\n=\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, _, err := ParseDTMFRelay(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
		} else if d == 0 {
			t.Fatal("accepted without a digit")
		}
		if _, err := ParseDTMF(b); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

func FuzzParseRTPTelephoneEvent(f *testing.F) {
	f.Add(rtpPacket(101, false, 1, 160, 42, []byte{0x0A, 0x8A, 0x03, 0x20}))
	f.Add(rtpPacket(101, true, 1, 160, 42, []byte{0x0A, 0x0A, 0x00, 0xA0}))
	f.Add([]byte{0x0A, 0x8A, 0x03, 0x20})
	f.Add([]byte{0xBF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseRTP(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(p.Payload) > len(b) {
			t.Fatal("payload longer than packet")
		}
		if _, err := DecodeTelephoneEvent(p.Payload); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
