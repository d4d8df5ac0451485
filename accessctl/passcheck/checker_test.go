package passcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/accessctl/permfile"
	"github.com/menjin/menjin/qrcode"
	"github.com/menjin/menjin/qrcode/qrcodetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var _ accessctl.Decider = (*Checker)(nil)

const (
	sampleKey = qrcodetest.SampleKey
	q1        = qrcodetest.Q1
	q2        = qrcodetest.Q2
	specFile  = qrcodetest.PermissionFile
)

var ctx = context.Background()

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(unix int64) { c.mu.Lock(); c.t = time.Unix(unix, 0); c.mu.Unlock() }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is an EventSink that keeps what it gets.
type recorder struct {
	mu     sync.Mutex
	events []accessctl.Event
	err    error
}

func (r *recorder) Handle(_ context.Context, e accessctl.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) all() []accessctl.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]accessctl.Event(nil), r.events...)
}

func newStore(t *testing.T, files ...string) *permfile.Store {
	t.Helper()
	st := permfile.NewStore()
	for _, f := range files {
		pf, err := permfile.Parse(strings.NewReader(f), permfile.Limits{})
		require.NoError(t, err)
		_, err = st.Apply(ctx, pf)
		require.NoError(t, err)
	}
	return st
}

// door is a Checker in the 2020 world of the official vectors.
func door(t *testing.T, st *permfile.Store, opts ...Option) (*Checker, *clock, *recorder) {
	t.Helper()
	key, err := qrcode.ParseKey(sampleKey)
	require.NoError(t, err)
	clk := &clock{}
	clk.Set(1597881600)
	rec := &recorder{}
	base := []Option{
		WithKey(key), WithClock(clk.Now), WithClockCheck(func(time.Time) bool { return true }),
		WithSink(rec), WithDevice(accessctl.DeviceRef{ID: "door-1"}),
	}
	return New(st, append(base, opts...)...), clk, rec
}

// TestDecisionMatrix is spec §4.8's table, row by row.
func TestDecisionMatrix(t *testing.T) {
	for _, tc := range []struct {
		name  string
		now   int64
		scan  string
		empty bool
		code  int
	}{
		{"Q1 in window", 1597881600, q1, false, 0},
		{"Q2 before its expiry", 1597881600, q2, false, 0},
		{"Q2 at its expiry second", 1597939200, q2, false, 0},
		{"Q2 one second late", 1597939201, q2, false, 102},
		{"Q1 after record endTime", 1609459200, q1, false, 102},
		{"Q1 before record startTime", 1546300800, q1, false, 101},
		{"Q1 with an empty store", 1597881600, q1, true, 103},
		{"Q1 CRLF", 1597881600, q1 + "\r\n", false, 0},
		{"Q1 URL-safe", 1597881600, strings.ReplaceAll(q1, "/", "_"), false, 0},
		{"Q1 without padding", 1597881600, strings.TrimSuffix(q1, "=="), false, 0},
		{"bit flipped", 1597881600, qrcodetest.BitFlipped, false, 103},
		{"first 84 chars", 1597881600, q1[:84], false, 103},
		{"c >= n", 1597881600, qrcodetest.AllOnes, false, 103},
		{"not base64", 1597881600, "not base64 !!", false, 103},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t, specFile)
			if tc.empty {
				st = newStore(t)
			}
			c, clk, rec := door(t, st)
			clk.Set(tc.now)
			o, err := c.Scan(ctx, tc.scan)
			require.NoError(t, err)
			assert.Equal(t, tc.code, o.Decision.Result.Code)
			assert.Equal(t, Message(tc.code), o.Decision.Result.Message)
			assert.Equal(t, tc.code == 0, o.Decision.Allow)
			evs := rec.all()
			require.Len(t, evs, 1, "one pass event per decided attempt")
			ev := evs[0]
			assert.Equal(t, accessctl.KindPass, ev.Kind)
			assert.Equal(t, "door-1", ev.Device.ID)
			assert.Equal(t, tc.now, ev.OccurredAt.Unix())
			assert.Equal(t, accessctl.MethodQRCode, ev.Pass.Method)
			assert.Equal(t, tc.code, ev.Pass.Result.Code)
			if tc.code != 103 || tc.empty {
				assert.Equal(t, "ALIF24DD9END8CD3", ev.Pass.Credential, "content is the decoded code")
			} else {
				assert.Equal(t, strings.TrimSpace(tc.scan), ev.Pass.Credential, "undecodable: the raw text")
			}
			if tc.code == 0 {
				assert.Equal(t, accessctl.PassGranted, ev.Pass.Kind)
				require.NotNil(t, ev.Pass.RemainingScans)
				assert.Equal(t, 599, *ev.Pass.RemainingScans)
			} else {
				assert.Equal(t, accessctl.PassDenied, ev.Pass.Kind)
				assert.Nil(t, ev.Pass.RemainingScans, "failures consume nothing")
			}
		})
	}
}

func TestScanLimit601(t *testing.T) {
	c, clk, rec := door(t, newStore(t, specFile))
	for i := 1; i <= 601; i++ {
		o, err := c.Scan(ctx, q1)
		require.NoError(t, err)
		if i <= 600 {
			require.Equal(t, 0, o.Decision.Result.Code, "scan %d", i)
			require.Equal(t, 600-i, *o.Decision.RemainingScans)
		} else {
			assert.Equal(t, 104, o.Decision.Result.Code)
			assert.Equal(t, "QR code have be used up", o.Decision.Result.Message)
		}
		clk.Add(3 * time.Second)
	}
	assert.Len(t, rec.all(), 601)
}

func TestDebounce(t *testing.T) {
	st := newStore(t, specFile)
	c, clk, rec := door(t, st)
	o1, err := c.Scan(ctx, q1)
	require.NoError(t, err)
	clk.Add(500 * time.Millisecond)
	// A URL-safe rendering of the same code is the same code.
	o2, err := c.Scan(ctx, strings.ReplaceAll(q1, "/", "_"))
	require.NoError(t, err)
	assert.False(t, o1.Repeat)
	assert.True(t, o2.Repeat)
	assert.Nil(t, o2.Event)
	assert.Equal(t, o1.Decision, o2.Decision)
	assert.Len(t, rec.all(), 1, "one passEvent")
	r, _ := st.Lookup(accessctl.CredQRCode, "ALIF24DD9END8CD3")
	used, _ := st.Used(ctx, r)
	assert.Equal(t, 1, used, "counter +1")
	clk.Add(2500 * time.Millisecond) // 3 s after the first read
	o3, err := c.Scan(ctx, q1)
	require.NoError(t, err)
	assert.False(t, o3.Repeat)
	assert.Len(t, rec.all(), 2)
	assert.Equal(t, uint64(1), c.Stats().Repeats)

	// A clock stepping back never extends a window.
	clk.Add(-time.Hour)
	o4, err := c.Scan(ctx, q1)
	require.NoError(t, err)
	assert.False(t, o4.Repeat)
}

func TestNoKeyNoEvent(t *testing.T) {
	c, _, rec := door(t, newStore(t, specFile))
	c.SetKey(nil)
	_, err := c.Scan(ctx, q1)
	require.ErrorIs(t, err, ErrNoKey)
	assert.Empty(t, rec.all())

	require.ErrorIs(t, c.SetPublicKey("garbage"), qrcode.ErrKey)
	assert.Nil(t, c.Key(), "a bad key is refused")
	require.NoError(t, c.SetPublicKey(sampleKey))
	o, err := c.Scan(ctx, q1)
	require.NoError(t, err)
	assert.True(t, o.Decision.Allow)
	require.ErrorIs(t, c.SetPublicKey("garbage"), qrcode.ErrKey)
	assert.NotNil(t, c.Key(), "the previous key stays")
}

func TestClockUnsyncedFailsClosed(t *testing.T) {
	st := newStore(t, specFile)
	key, err := qrcode.ParseKey(sampleKey)
	require.NoError(t, err)
	rec := &recorder{}
	// Default clock check with a clock in 2020: before ClockFloor.
	c := New(st, WithKey(key), WithSink(rec), WithClock(func() time.Time { return time.Unix(1597881600, 0) }))
	_, err = c.Scan(ctx, q1)
	require.ErrorIs(t, err, ErrClockUnsynced)
	_, err = c.Present(ctx, accessctl.Credential{Kind: accessctl.CredCard, Value: "1"}, accessctl.DirectionIn)
	require.ErrorIs(t, err, ErrClockUnsynced)
	assert.Empty(t, rec.all())
	assert.Equal(t, uint64(2), c.Stats().ClockRefusals)
	r, _ := st.Lookup(accessctl.CredQRCode, "ALIF24DD9END8CD3")
	used, _ := st.Used(ctx, r)
	assert.Zero(t, used)

	// An explicit "not synced since boot" check also refuses.
	synced := atomic.Bool{}
	c = New(st, WithKey(key), WithClockCheck(func(time.Time) bool { return synced.Load() }), WithClock(func() time.Time { return time.Unix(1597881600, 0) }))
	_, err = c.Scan(ctx, q1)
	require.ErrorIs(t, err, ErrClockUnsynced)
	synced.Store(true)
	o, err := c.Scan(ctx, q1)
	require.NoError(t, err)
	assert.True(t, o.Decision.Allow)
}

func TestSkew(t *testing.T) {
	c, clk, _ := door(t, newStore(t, specFile), WithSkew(time.Minute), WithDebounce(0))
	clk.Set(1597939260)
	o, _ := c.Scan(ctx, q2)
	assert.Equal(t, 0, o.Decision.Result.Code, "QR expiry tolerated within the skew")
	clk.Set(1597939261)
	o, _ = c.Scan(ctx, q2)
	assert.Equal(t, 102, o.Decision.Result.Code)
	clk.Set(1568270392 - 60)
	o, _ = c.Scan(ctx, q1)
	assert.Equal(t, 0, o.Decision.Result.Code, "window start tolerated within the skew")
	clk.Set(1568270392 - 61)
	o, _ = c.Scan(ctx, q1)
	assert.Equal(t, 101, o.Decision.Result.Code)
}

func TestWireEventMatchesSpec(t *testing.T) {
	c, clk, rec := door(t, newStore(t, specFile))
	clk.Set(1597939201)
	_, err := c.Scan(ctx, q2)
	require.NoError(t, err)
	// Spec §5.3's failure example, byte for byte.
	assert.Equal(t, `{"code":102,"message":"QR code has expired","type":"qrCode","content":"ALIF24DD9END8CD3","extInfo":"{\"type\":\"qrCode\",\"qrCode\":\"ALIF24DD9END8CD3\",\"eventTime\":\"1597939201\"}"}`,
		string(rec.all()[0].Raw))

	clk.Set(1597881600)
	_, err = c.Scan(ctx, q1)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(rec.all()[1].Raw, &got))
	ext := got["extInfo"].(string)
	delete(got, "extInfo")
	// The unit test's expected event (§5.3), plus extInfo.
	assert.Equal(t, map[string]any{"code": 0.0, "message": "success", "type": "qrCode", "content": "ALIF24DD9END8CD3"}, got)
	assert.JSONEq(t, `{"type":"qrCode","qrCode":"ALIF24DD9END8CD3","eventTime":"1597881600","remainScanTimes":599}`, ext)
}

func TestCardsAndPasswords(t *testing.T) {
	file := `{
	 "tradCardPermissionList":[{"type":1,"cardId":"F47B0BA2","effectiveTime":"1589472000000","expiryTime":"1905004800000","userId":"u-7"}],
	 "bleCardPermissionList":[{"type":1,"cardId":"514152694808390","effectiveTime":"1589472000000","expiryTime":"1905004800000"}],
	 "passwordPermissionList":[{"type":1,"password":"246810","effectiveTime":"1589472000000","expiryTime":"1905004800000"}]}`
	for _, tc := range []struct {
		kind   accessctl.CredentialKind
		value  string
		now    int64
		code   int
		method accessctl.Method
	}{
		{accessctl.CredCard, "f47b0ba2", 1600000000, 0, accessctl.MethodCard},
		{accessctl.CredCard, "F47B0BA2", 1500000000, 201, accessctl.MethodCard},
		{accessctl.CredCard, "F47B0BA2", 1905004801, 202, accessctl.MethodCard},
		{accessctl.CredCard, "00000000", 1600000000, 203, accessctl.MethodCard},
		{accessctl.CredBLECard, "514152694808390", 1600000000, 0, accessctl.MethodBLECard},
		{accessctl.CredBLECard, "514152694808390", 1500000000, 301, accessctl.MethodBLECard},
		{accessctl.CredBLECard, "514152694808390", 1905004801, 302, accessctl.MethodBLECard},
		{accessctl.CredBLECard, "F47B0BA2", 1600000000, 303, accessctl.MethodBLECard},
		{accessctl.CredPassword, "246810", 1600000000, 0, accessctl.MethodPassword},
		{accessctl.CredPassword, "246810", 1500000000, 401, accessctl.MethodPassword},
		{accessctl.CredPassword, "246810", 1905004801, 402, accessctl.MethodPassword},
		{accessctl.CredPassword, "135797", 1600000000, 403, accessctl.MethodPassword},
	} {
		c, clk, rec := door(t, newStore(t, file))
		clk.Set(tc.now)
		o, err := c.Present(ctx, accessctl.Credential{Kind: tc.kind, Value: tc.value}, accessctl.DirectionIn)
		require.NoError(t, err)
		name := fmt.Sprintf("%s %s @%d", tc.kind, tc.value, tc.now)
		assert.Equal(t, tc.code, o.Decision.Result.Code, name)
		assert.Equal(t, Message(tc.code), o.Decision.Result.Message, name)
		assert.Nil(t, o.Decision.RemainingScans, "no scan limit on %s", name)
		require.Len(t, rec.all(), 1, name)
		pe := rec.all()[0].Pass
		assert.Equal(t, tc.method, pe.Method, name)
		assert.Equal(t, accessctl.DirectionIn, pe.Direction)
		if tc.kind == accessctl.CredPassword {
			assert.Empty(t, pe.Credential, "passwords stay out of events by default")
			assert.NotContains(t, string(rec.all()[0].Raw), tc.value)
		} else {
			assert.Equal(t, tc.value, pe.Credential)
		}
		if tc.kind == accessctl.CredCard && tc.code == 0 {
			require.NotNil(t, o.Decision.Person)
			assert.Equal(t, "u-7", o.Decision.Person.ID, "userId from the permission entry")
			assert.Contains(t, string(rec.all()[0].Raw), `\"userID\":\"u-7\"`)
		}
	}

	// Configurable password results, and opting in to the password itself.
	custom := Results{
		NotYetValid: accessctl.Result{Code: 1401, Message: "not yet"},
		Expired:     accessctl.Result{Code: 1402, Message: "expired"},
		Unknown:     accessctl.Result{Code: 1403, Message: "unknown"},
	}
	c, clk, rec := door(t, newStore(t, file), WithPasswordResults(custom), WithPasswordInEvents(true))
	clk.Set(1600000000)
	o, err := c.Present(ctx, accessctl.Credential{Kind: accessctl.CredPassword, Value: "999"}, "")
	require.NoError(t, err)
	assert.Equal(t, custom.Unknown, o.Decision.Result)
	assert.Equal(t, "999", rec.all()[0].Pass.Credential)
}

func TestPlainQRMode(t *testing.T) {
	st := newStore(t, `{"qrCodePermissionList":[{"type":1,"qrCode":"ALI5466697328cff9121c21cf59dcec4","maxScanTimes":1}]}`)
	c, _, _ := door(t, st, WithPlainQR())
	c.SetKey(nil) // no key needed
	o, err := c.Scan(ctx, "ALI5466697328cff9121c21cf59dcec4\n")
	require.NoError(t, err)
	assert.True(t, o.Decision.Allow)
	assert.Equal(t, 0, *o.Decision.RemainingScans)
	// An RSA code is just unknown text to a plain door: no downgrade either way.
	o, err = c.Scan(ctx, q1)
	require.NoError(t, err)
	assert.Equal(t, 103, o.Decision.Result.Code)
}

func TestDecider(t *testing.T) {
	c, _, rec := door(t, newStore(t, specFile))
	var d accessctl.Decider = c
	dec, err := d.Decide(ctx, accessctl.DecisionRequest{Credential: accessctl.Credential{Kind: accessctl.CredQRCode, Value: q1}})
	require.NoError(t, err)
	assert.True(t, dec.Allow)
	assert.Equal(t, accessctl.Result{Granted: true, Code: 0, Message: "success"}, dec.Result)
	assert.Equal(t, 599, *dec.RemainingScans)
	assert.Empty(t, rec.all(), "Decide reports nothing")
	_, err = d.Decide(ctx, accessctl.DecisionRequest{Credential: accessctl.Credential{Kind: accessctl.CredFace}})
	require.ErrorIs(t, err, accessctl.ErrUnsupported)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = d.Decide(cctx, accessctl.DecisionRequest{Credential: accessctl.Credential{Kind: accessctl.CredQRCode, Value: q1}})
	require.ErrorIs(t, err, context.Canceled)
}

func TestUndecodableAndRateLimit(t *testing.T) {
	c, clk, rec := door(t, newStore(t, specFile), WithUndecodableEvents(false))
	o, err := c.Scan(ctx, "6901234567892")
	require.NoError(t, err)
	assert.Equal(t, 103, o.Decision.Result.Code)
	assert.Nil(t, o.Event)
	assert.Empty(t, rec.all())
	assert.Equal(t, uint64(1), c.Stats().Undecodable)

	c, clk, rec = door(t, newStore(t, specFile), WithDebounce(0))
	clk.Set(1597881600 - 1597881600%60) // start of a minute
	long := strings.Repeat("x", 300)
	for range 31 {
		_, err := c.Scan(ctx, long)
		require.NoError(t, err)
	}
	assert.Len(t, rec.all(), 30, "30 refusal events per minute")
	assert.Len(t, rec.all()[0].Pass.Credential, 256, "raw content truncated")
	assert.Equal(t, uint64(1), c.Stats().EventsSuppressed)
	_, err = c.Scan(ctx, q1)
	require.NoError(t, err)
	assert.Len(t, rec.all(), 31, "grants are never rate-limited")
	clk.Add(time.Minute)
	_, err = c.Scan(ctx, long)
	require.NoError(t, err)
	assert.Len(t, rec.all(), 32, "a new minute, a new budget")
}

func TestSinkErrorReturned(t *testing.T) {
	c, _, rec := door(t, newStore(t, specFile))
	rec.err = errors.New("platform down")
	o, err := c.Scan(ctx, q1)
	require.Error(t, err)
	assert.ErrorContains(t, err, "platform down")
	assert.True(t, o.Decision.Allow, "the decision stands")
	require.NotNil(t, o.Event, "the caller gets the event to keep")
	assert.Equal(t, uint64(1), c.Stats().SinkErrors)
}

// N goroutines scan one code limited to k scans: exactly k are admitted.
func TestConcurrentScansAdmitExactlyK(t *testing.T) {
	const n, k = 50, 7
	st := newStore(t, fmt.Sprintf(`{"qrCodePermissionList":[{"type":1,"qrCode":"ALIF24DD9END8CD3","maxScanTimes":%d}]}`, k))
	c, _, rec := door(t, st, WithDebounce(0), WithFailureEventLimit(0))
	var granted, used atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			o, err := c.Scan(ctx, q1)
			if err != nil {
				t.Error(err)
				return
			}
			switch o.Decision.Result.Code {
			case 0:
				granted.Add(1)
			case 104:
				used.Add(1)
			default:
				t.Errorf("unexpected %v", o.Decision.Result)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int32(k), granted.Load())
	assert.Equal(t, int32(n-k), used.Load())
	assert.Len(t, rec.all(), n)
	ids := map[string]bool{}
	for _, e := range rec.all() {
		assert.False(t, ids[e.ID], "event ids are unique")
		ids[e.ID] = true
	}
}

func TestDebounceIsBounded(t *testing.T) {
	var d debouncer
	d.window = time.Hour
	now := time.Unix(1_700_000_000, 0)
	for i := range 3 * debounceCap {
		d.put(accessctl.CredQRCode, fmt.Sprint(i), now, Outcome{})
	}
	assert.LessOrEqual(t, len(d.m), debounceCap)
}

func TestMessages(t *testing.T) {
	assert.Equal(t, "success", Message(0))
	assert.Equal(t, "Bluetooth card number does not exist", Message(303))
	assert.Equal(t, "Unknown error", Message(12345))
	assert.Equal(t, accessctl.Result{Granted: false, Code: 104, Message: "QR code have be used up"}, ResultOf(104))
}

func TestKeyRotationGrace(t *testing.T) {
	priv, err := qrcode.GenerateKey(nil, 512)
	require.NoError(t, err)
	newKey, err := qrcode.NewKey(&priv.PublicKey)
	require.NoError(t, err)
	fresh, err := qrcode.Seal(priv, "ALIF24DD9END8CD3", time.Unix(1661011200, 0))
	require.NoError(t, err)

	c, clk, _ := door(t, newStore(t, specFile), WithKeyGrace(time.Hour), WithDebounce(0))
	c.SetKey(newKey)
	o, _ := c.Scan(ctx, q1)
	assert.Equal(t, 0, o.Decision.Result.Code, "the old key's code within the grace period")
	o, _ = c.Scan(ctx, fresh)
	assert.Equal(t, 0, o.Decision.Result.Code, "the new key's code")
	clk.Add(time.Hour + time.Second)
	o, _ = c.Scan(ctx, q1)
	assert.Equal(t, 103, o.Decision.Result.Code, "grace over")

	// Without grace the old key retires at once.
	c, _, _ = door(t, newStore(t, specFile), WithDebounce(0))
	c.SetKey(newKey)
	o, _ = c.Scan(ctx, q1)
	assert.Equal(t, 103, o.Decision.Result.Code)
}
