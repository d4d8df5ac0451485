package intercom

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// §4.2 captures (cleaned): 401 and 200 to REGISTER.
const capture401 = `SIP/2.0 401 Unauthorized
Via: SIP/2.0/UDP 192.168.1.233:62039;branch=z9hG4bK.7jiHBl8Sm;received=121.204.13.62;rport=62039
From: <sip:TU9e8mJvLJLcSsy9dmDKuc@47.112.101.107>;tag=nPfvQ6pKa
To: sip:TU9e8mJvLJLcSsy9dmDKuc@47.112.101.107;tag=as4fef1d8e
Call-ID: 7ay7mqUOym
CSeq: 20 REGISTER
Server: JustPBX
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE
Supported: replaces, timer
WWW-Authenticate: Digest algorithm=MD5, realm="asterisk", nonce="59320d53"
Content-Length: 0

`

const capture200 = `SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.168.1.233:62039;branch=z9hG4bK.awvGndk3C;received=121.204.13.62;rport=62039
From: <sip:TU9e8mJvLJLcSsy9dmDKuc@47.112.101.107>;tag=nPfvQ6pKa
To: sip:TU9e8mJvLJLcSsy9dmDKuc@47.112.101.107;tag=as4fef1d8e
Call-ID: 7ay7mqUOym
CSeq: 21 REGISTER
Server: JustPBX
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE
Supported: replaces, timer
Expires: 600
Contact: <sip:TU9e8mJvLJLcSsy9dmDKuc@121.204.13.62:62039;transport=udp>;expires=600
Date: Thu, 16 Jan 2020 01:57:14 GMT
Content-Length: 0

`

func TestCapturedRegisterExchange(t *testing.T) {
	require.Len(t, crlf(capture401), 525, "cleaned capture keeps the captured UDP length")
	require.Len(t, crlf(capture200), 575)
	m, err := sip.ParseMessage(crlf(capture401))
	require.NoError(t, err)
	res := m.(*sip.Response)
	rcv, _ := res.Via().Params.Get("received")
	rport, _ := res.Via().Params.Get("rport")
	assert.Equal(t, "121.204.13.62", rcv)
	assert.Equal(t, "62039", rport)
	var a clientAuth
	a.user, a.password = "TU9e8mJvLJLcSsy9dmDKuc", "o3yira"
	fresh, err := a.setChallenge(res.GetHeader("WWW-Authenticate").Value(), false)
	require.NoError(t, err)
	assert.True(t, fresh)
	name, val, err := a.authorize("REGISTER", "sip:47.112.101.107")
	require.NoError(t, err)
	assert.Equal(t, "Authorization", name)
	assert.Contains(t, val, `response="1894e346f61d85bbb6a37ad890ac4b0b"`, "synthetic vector of §4.3")
	assert.Contains(t, val, `uri="sip:47.112.101.107"`)
	assert.NotContains(t, val, "qop", "no qop in the challenge, none in the answer")
	// The same nonce challenged again (not stale) means a wrong password.
	fresh, err = a.setChallenge(res.GetHeader("WWW-Authenticate").Value(), false)
	require.NoError(t, err)
	assert.False(t, fresh)
	_, err = a.setChallenge(`Digest realm="x", nonce="1", algorithm=SHA-512-256`, false)
	assert.ErrorIs(t, err, ErrMalformed, "unknown algorithms are refused")

	m, err = sip.ParseMessage(crlf(capture200))
	require.NoError(t, err)
	ok := m.(*sip.Response)
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Host: "47.112.101.107"})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{User: "TU9e8mJvLJLcSsy9dmDKuc", Host: "121.204.13.62", Port: 62039}})
	assert.Equal(t, 600*time.Second, grantedExpiry(ok, req, time.Minute))
}

func TestDigestVectors(t *testing.T) {
	assert.Equal(t, "0f59813526f06a50b1a86f1e0726e8ba", md5hex("REGISTER:sip:47.112.101.107"), "HA2")
	assert.Equal(t, "afc4f78ef0a29f142dc023cc1cd3a22c", md5hex("TU9e8mJvLJLcSsy9dmDKuc:asterisk:o3yira"), "HA1")
	assert.Equal(t, "1894e346f61d85bbb6a37ad890ac4b0b",
		DigestResponse("TU9e8mJvLJLcSsy9dmDKuc", "asterisk", "o3yira", "REGISTER", "sip:47.112.101.107", "59320d53", "", "", ""))
	assert.Equal(t, "6629fae49393a05397450978507c4ef1",
		DigestResponse("Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
			"dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth"), "RFC 2617 §3.5")
}

func TestNonceStore(t *testing.T) {
	s := newNonceStore(time.Minute, 100)
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	n := s.issue()
	cred := func(nc int, pass string) *digest.Credentials {
		chal := &digest.Challenge{Realm: "r", Nonce: n, Algorithm: "MD5", QOP: []string{"auth"}}
		c, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:h", Username: "u", Password: pass, Count: nc, Cnonce: "abc"})
		require.NoError(t, err)
		return c
	}
	assert.Equal(t, authOK, s.check(cred(1, "pw"), "r", "pw", "REGISTER"))
	assert.Equal(t, authReplay, s.check(cred(1, "pw"), "r", "pw", "REGISTER"), "same nc again")
	assert.Equal(t, authOK, s.check(cred(2, "pw"), "r", "pw", "REGISTER"))
	assert.Equal(t, authBad, s.check(cred(3, "bad"), "r", "pw", "REGISTER"))
	assert.Equal(t, authOK, s.check(cred(3, "pw"), "r", "pw", "REGISTER"), "a failed try does not burn the count")
	assert.Equal(t, authBad, s.check(cred(4, "pw"), "other", "pw", "REGISTER"), "realm mismatch")
	now = now.Add(2 * time.Minute)
	assert.Equal(t, authStale, s.check(cred(5, "pw"), "r", "pw", "REGISTER"), "expired nonce")
	assert.Equal(t, authStale, s.check(cred(6, "pw"), "r", "pw", "REGISTER"), "and forgotten")
	assert.Equal(t, authMissing, s.check(nil, "r", "pw", "REGISTER"))

	// RFC 2069 (no qop): a nonce is good for one use.
	n2 := s.issue()
	resp := DigestResponse("u", "r", "pw", "REGISTER", "sip:h", n2, "", "", "")
	c := &digest.Credentials{Username: "u", Realm: "r", Nonce: n2, URI: "sip:h", Response: resp}
	assert.Equal(t, authOK, s.check(c, "r", "pw", "REGISTER"))
	assert.Equal(t, authReplay, s.check(c, "r", "pw", "REGISTER"))

	// The store stays bounded.
	for i := 0; i < 500; i++ {
		s.issue()
	}
	assert.LessOrEqual(t, len(s.nonces), 100)
}

// §5.4 SDP without its truncated last line.
const captureSDP = `v=0
o=TU9e8mJvLJLcSsy9dmDKuc 2846 1117 IN IP4 192.168.1.233
s=Talk
c=IN IP4 192.168.1.233
t=0 0
a=ice-pwd:305b42a8561a2b3f06a158d7
a=ice-ufrag:a60560d1
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
m=audio 54480 RTP/AVPF 96 97 98 0 8 101 99 100
c=IN IP4 121.204.13.62
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=rtcp:51670
a=candidate:1 1 UDP 2130706431 192.168.1.233 54480 typ host
a=candidate:1 2 UDP 2130706430 192.168.1.233 51670 typ host
a=candidate:2 1 UDP 1694498815 121.204.13.62 54480 typ srflx raddr 192.168.1.233 rport 54480
`

func checkCaptureSDP(t *testing.T, sm SessionMedia) {
	t.Helper()
	require.NotNil(t, sm.Audio)
	a := sm.Audio
	assert.Equal(t, 54480, a.Port)
	assert.Equal(t, "RTP/AVPF", a.Proto)
	assert.Equal(t, []uint8{96, 97, 98, 0, 8, 101, 99, 100}, a.Formats)
	assert.Equal(t, "121.204.13.62", a.Addr, "media-level c= wins")
	assert.Equal(t, 51670, a.RTCPPort)
	assert.Equal(t, map[uint8]int{101: 48000, 99: 16000, 100: 8000}, a.TelephoneEvents())
	assert.Nil(t, sm.Video)
}

func TestParseSDPCapture(t *testing.T) {
	sm, err := ParseSDP(crlf(captureSDP))
	require.NoError(t, err)
	assert.False(t, sm.Tolerant)
	checkCaptureSDP(t, sm)

	sm, err = ParseSDP([]byte(captureSDP + "a=candidate:2 2 UDP 169449881")) // LF-only and truncated
	require.NoError(t, err)
	checkCaptureSDP(t, sm)

	// c= after t= breaks pion's strict parser; the scanner copes.
	odd := "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nt=0 0\nc=IN IP4 10.0.0.9\nm=audio 4000 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\na=sendonly"
	sm, err = ParseSDP([]byte(odd))
	require.NoError(t, err)
	assert.True(t, sm.Tolerant)
	assert.Equal(t, "10.0.0.9", sm.Audio.Addr)
	assert.Equal(t, "sendonly", sm.Audio.Direction)
	assert.Equal(t, 4001, sm.Audio.RTCPPort)

	_, err = ParseSDP([]byte("v=0\r\n"))
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestAnswerCaptureOffer(t *testing.T) {
	ans, err := BuildAnswer(crlf(captureSDP), OfferParams{User: "door", IP: "127.0.0.1", SessionID: 1, AudioPort: 4000})
	require.NoError(t, err)
	assert.Equal(t, uint8(0), ans.AudioPT, "first offered G.711")
	assert.Equal(t, 100, ans.TelephoneEvPT, "telephone-event at the codec's 8 kHz")
	s := string(ans.SDP)
	assert.Contains(t, s, "m=audio 4000 RTP/AVPF 0 100\r\n", "answer keeps the offer's profile")
	assert.Contains(t, s, "a=rtpmap:100 telephone-event/8000\r\n")
	assert.NotContains(t, s, "candidate")
	back, err := ParseSDP(ans.SDP)
	require.NoError(t, err)
	assert.False(t, back.Tolerant, "our answer passes pion's strict parser")

	_, err = BuildAnswer([]byte("v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nc=IN IP4 1.1.1.1\r\nt=0 0\r\nm=audio 1 RTP/SAVP 0\r\n"), OfferParams{IP: "127.0.0.1"})
	assert.True(t, errors.Is(err, errSRTP))

	mon, err := BuildAnswer(BuildOffer(OfferParams{User: "r", IP: "127.0.0.1", AudioPort: 5000, VideoPort: 5002}),
		OfferParams{User: "door", IP: "127.0.0.1", AudioPort: 4000})
	require.NoError(t, err)
	assert.Contains(t, string(mon.SDP), "m=video 0 RTP/AVP 102", "video declined, not dropped")
	assert.Equal(t, uint8(8), mon.AudioPT)
	assert.Equal(t, 101, mon.TelephoneEvPT)
}

func TestOfferSizeAndMTU(t *testing.T) {
	offer := BuildOffer(OfferParams{User: "TU9e8mJvLJLcSsy9dmDKuc", IP: "192.168.100.200", SessionID: 1 << 39, AudioPort: 54480, VideoPort: 54482})
	assert.Less(t, len(offer), 420, "compact offer of §7.4")
	sm, err := ParseSDP(offer)
	require.NoError(t, err)
	assert.False(t, sm.Tolerant)
	assert.Equal(t, map[uint8]int{101: 8000}, sm.Audio.TelephoneEvents())
	require.NotNil(t, sm.Video)
}

func FuzzParseSDP(f *testing.F) {
	f.Add(crlf(captureSDP))
	f.Add([]byte(captureSDP + "a=candidate:2 2 UDP 169449881"))
	f.Add(BuildOffer(OfferParams{User: "d", IP: "127.0.0.1", AudioPort: 4000, VideoPort: 4002}))
	f.Add([]byte("v=0\nt=0 0\nc=IN IP4 1.2.3.4\nm=audio 1/2 RTP/AVP 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sm, err := ParseSDP(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if sm.Audio != nil {
			_ = sm.Audio.TelephoneEvents()
			if _, err := BuildAnswer(b, OfferParams{IP: "127.0.0.1", AudioPort: 4000}); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped answer error %v", err)
			}
		}
	})
}
