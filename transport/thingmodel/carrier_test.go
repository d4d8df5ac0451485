package thingmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/menjin/menjin/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInvokeRoundTrip(t *testing.T) {
	forEachBroker(t, func(t *testing.T, e *env) {
		h := e.newHost(t)
		opened := make(chan struct{}, 1)
		e.dial(t, h, devA,
			WithService("remoteOpen", func(_ context.Context, req *Request) (any, error) {
				assert.Equal(t, "thing.service.remoteOpen", req.Method)
				assert.JSONEq(t, `{}`, string(req.Params))
				opened <- struct{}{}
				return nil, nil
			}),
			WithService("echo", func(_ context.Context, req *Request) (any, error) { return req.Params, nil }),
			WithService("jammed", func(context.Context, *Request) (any, error) {
				return nil, &ReplyError{Code: 6813, Message: "lock driver failed"}
			}))
		ctx := context.Background()

		rep, err := h.Invoke(ctx, devA.Key(), "remoteOpen", nil)
		require.NoError(t, err)
		assert.Equal(t, CodeOK, rep.Code)
		recv(t, opened)

		rep, err = h.Invoke(ctx, devA.Key(), "echo", map[string]any{"permissionUrl": "http://x/y"})
		require.NoError(t, err)
		assert.JSONEq(t, `{"permissionUrl":"http://x/y"}`, string(rep.Data))

		rep, err = h.Invoke(ctx, devA.Key(), "jammed", nil)
		require.ErrorIs(t, err, ErrRejected)
		var re *ReplyError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, 6813, re.Code)
		assert.Equal(t, "lock driver failed", re.Message)
		assert.Equal(t, 6813, rep.Code, "the reply comes back with the error")

		st := h.Stats()
		assert.Equal(t, uint64(3), st.Invokes)
		assert.Equal(t, uint64(2), st.InvokeOK)
		assert.Equal(t, uint64(1), st.InvokeRejected)
		assert.Equal(t, 0, st.Pending)
	})
}

func TestPropertySetAndPost(t *testing.T) {
	forEachBroker(t, func(t *testing.T, e *env) {
		posted := make(chan *Message, 1)
		h := e.newHost(t, WithHandler(HandlerFunc(func(_ context.Context, m *Message) error {
			posted <- m
			return nil
		})))
		var got sync.Map
		d := e.dial(t, h, devA, WithPropertySet(func(_ context.Context, req *Request) (any, error) {
			props, err := DecodeProperties(req.Params)
			if err != nil {
				return nil, err
			}
			for k, v := range props {
				got.Store(k, string(v.Value))
			}
			return nil, nil
		}))
		ctx := context.Background()
		_, err := h.SetProperties(ctx, devA.Key(), map[string]any{"RSAPublicKey": "MFwwDQ=="})
		require.NoError(t, err)
		v, ok := got.Load("RSAPublicKey")
		require.True(t, ok)
		assert.Equal(t, `"MFwwDQ=="`, v)

		_, err = d.PostProperties(ctx, map[string]any{"RSAPublicKey": "MFwwDQ=="})
		require.NoError(t, err)
		m := recv(t, posted)
		assert.Equal(t, TopicPropertyPost, m.Kind)
		assert.Equal(t, devA.Key(), m.Device)
		props, err := DecodeProperties(m.Value)
		require.NoError(t, err)
		assert.Equal(t, `"MFwwDQ=="`, string(props["RSAPublicKey"].Value))
		assert.Equal(t, uint64(1), h.Stats().PropertyPosts)
	})
}

func TestEventPostIsAcknowledgedOnlyWhenHandled(t *testing.T) {
	forEachBroker(t, func(t *testing.T, e *env) {
		var mu sync.Mutex
		var got []*Message
		fail := true
		h := e.newHost(t, WithHandler(HandlerFunc(func(_ context.Context, m *Message) error {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				fail = false
				return errors.New("sink down")
			}
			got = append(got, m)
			return nil
		})))
		d := e.dial(t, h, devA)
		ctx := context.Background()
		at := time.UnixMilli(1597821579000)

		_, err := d.PostEventAt(ctx, "passEvent", json.RawMessage(vecPassEventValue), at)
		require.ErrorIs(t, err, ErrRejected, "a handler error reaches the device, which keeps the event")
		var re *ReplyError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, CodeInternal, re.Code)

		rep, err := d.PostEventAt(ctx, "passEvent", json.RawMessage(vecPassEventValue), at)
		require.NoError(t, err, "the retry is accepted")
		assert.Equal(t, CodeOK, rep.Code)
		mu.Lock()
		require.Len(t, got, 1)
		m := got[0]
		mu.Unlock()
		assert.Equal(t, TopicEventPost, m.Kind)
		assert.Equal(t, "passEvent", m.Identifier)
		assert.Equal(t, at, m.Time)
		assert.JSONEq(t, vecPassEventValue, string(m.Value))
		assert.False(t, m.ReceivedAt.IsZero())
		st := h.Stats()
		assert.Equal(t, uint64(2), st.Events)
		assert.Equal(t, uint64(1), st.HandlerErrors)
		ds := d.Stats()
		assert.Equal(t, uint64(1), ds.Posts)
		assert.Equal(t, uint64(1), ds.PostErrors)
	})
}

func TestNoHandlerRefusesPosts(t *testing.T) {
	e := startEmbedded(t)
	h := e.newHost(t)
	d := e.dial(t, h, devA)
	_, err := d.PostEvent(context.Background(), "passEvent", map[string]any{"code": 0})
	var re *ReplyError
	require.ErrorAs(t, err, &re, "without a handler the event is refused, never acknowledged and lost")
	assert.Equal(t, CodeNotFound, re.Code)
}

func TestSessionStateAndOffline(t *testing.T) {
	forEachBroker(t, func(t *testing.T, e *env) {
		changes := make(chan Status, 8)
		h := e.newHost(t, WithOnStatus(func(dev DeviceKey, st Status) {
			if dev == devA.Key() {
				changes <- st
			}
		}))
		ctx := context.Background()
		_, err := h.Invoke(ctx, devA.Key(), "remoteOpen", nil)
		require.ErrorIs(t, err, ErrOffline, "a device that never connected is offline at once")

		d := e.dial(t, h, devA, WithService("remoteOpen", func(context.Context, *Request) (any, error) { return nil, nil }))
		st := recv(t, changes)
		assert.True(t, st.Online)
		assert.NotEmpty(t, st.ClientID)
		_, err = h.Invoke(ctx, devA.Key(), "remoteOpen", nil)
		require.NoError(t, err)
		s, ok := h.Status(devA.Key())
		require.True(t, ok)
		assert.False(t, s.LastSeen.IsZero(), "the reply counts as traffic")

		require.NoError(t, d.Close())
		select {
		case st = <-changes:
			assert.False(t, st.Online)
		case <-time.After(5 * time.Second):
			t.Fatal("no offline notification")
		}
		start := time.Now()
		_, err = h.Invoke(ctx, devA.Key(), "remoteOpen", nil)
		require.ErrorIs(t, err, ErrOffline)
		assert.Less(t, time.Since(start), time.Second)
		assert.Equal(t, uint64(2), h.Stats().InvokeOffline)
	})
}

func TestOfflineFailsWaitingInvoke(t *testing.T) {
	e := startEmbedded(t)
	h := e.newHost(t, WithRequestTimeout(10*time.Second))
	c, err := e.rawClient(t, devA) // receives the invoke and never answers
	require.NoError(t, err)
	entered := make(chan struct{}, 1)
	tok := c.Subscribe(ServiceTopic(devA.Key(), "slow"), 1, func(paho_Client, paho_Message) { entered <- struct{}{} })
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, h.WaitOnline(context.Background(), devA.Key()))
	errc := make(chan error, 1)
	go func() {
		_, err := h.Invoke(context.Background(), devA.Key(), "slow", nil)
		errc <- err
	}()
	recv(t, entered)
	start := time.Now()
	c.Disconnect(0)
	err = recv(t, errc)
	assert.ErrorIs(t, err, ErrOffline, "a disconnect fails the waiting invoke instead of letting it run to its timeout")
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestInvokeTimeoutAndContext(t *testing.T) {
	forEachBroker(t, func(t *testing.T, e *env) {
		h := e.newHost(t, WithRequestTimeout(150*time.Millisecond))
		release := make(chan struct{})
		defer close(release)
		e.dial(t, h, devA, WithService("stuck", stuck(release)))
		start := time.Now()
		_, err := h.Invoke(context.Background(), devA.Key(), "stuck", nil)
		require.ErrorIs(t, err, ErrTimeout)
		assert.Less(t, time.Since(start), 2*time.Second)

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err = h.Invoke(ctx, devA.Key(), "stuck", nil)
		require.ErrorIs(t, err, ErrTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)

		ctx, cancel2 := context.WithCancel(context.Background())
		cancel2()
		sent := h.Stats().Invokes
		_, err = h.Invoke(ctx, devA.Key(), "stuck", nil)
		require.ErrorIs(t, err, context.Canceled)
		_, err = h.Invoke(ctx, devA.Key(), "echo", nil)
		require.ErrorIs(t, err, context.Canceled, "even a service that would answer at once")
		assert.Equal(t, sent+2, h.Stats().Invokes)
		assert.Equal(t, 0, h.Stats().Pending, "abandoned requests leave nothing behind")
	})
}

func TestConcurrentInvokesCorrelate(t *testing.T) {
	forEachBroker(t, func(t *testing.T, e *env) {
		h := e.newHost(t)
		echo := WithService("echo", func(_ context.Context, req *Request) (any, error) { return req.Params, nil })
		e.dial(t, h, devA, echo)
		e.dial(t, h, devB, echo)
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dev := devA.Key()
				if i%2 == 1 {
					dev = devB.Key()
				}
				want := fmt.Sprintf(`{"n":%d,"dev":%q}`, i, dev.DeviceName)
				rep, err := h.Invoke(context.Background(), dev, "echo", json.RawMessage(want))
				if err != nil {
					errs <- err
					return
				}
				if string(rep.Data) != want {
					errs <- fmt.Errorf("invoke %d got %s", i, rep.Data)
				}
			}()
		}
		testutil.Wait(t, &wg, "invokes")
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		assert.Equal(t, uint64(100), h.Stats().InvokeOK)
	})
}

// fakeDevice is a raw MQTT client posing as devA, to send what the
// DeviceClient never would.
func fakeDevice(t *testing.T, e *env, h *Host, service string) (requests chan *Request, publish func(topic, payload string)) {
	t.Helper()
	c, err := e.rawClient(t, devA)
	require.NoError(t, err)
	requests = make(chan *Request, 8)
	tok := c.Subscribe(ServiceTopic(devA.Key(), service), 1, func(_ paho_Client, m paho_Message) {
		r, err := DecodeRequest(m.Payload())
		if err == nil {
			requests <- r
		}
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	if !e.embedded { // announce the session as a LinkKit device would on an external broker
		c.Publish(StatusTopic(devA.Key()), 1, true, `{"status":"online"}`).WaitTimeout(5 * time.Second)
		t.Cleanup(func() { c.Publish(StatusTopic(devA.Key()), 1, true, `{"status":"offline"}`).WaitTimeout(time.Second) })
	}
	waitFor(t, func() bool { return h.Online(devA.Key()) }, "fake device online")
	return requests, func(topic, payload string) {
		tok := c.Publish(topic, 1, false, payload)
		require.True(t, tok.WaitTimeout(5*time.Second))
		require.NoError(t, tok.Error())
	}
}

func TestBadRepliesFailFastOrAreReported(t *testing.T) {
	forEachBroker(t, func(t *testing.T, e *env) {
		sink := &errSink{}
		h := e.newHost(t, WithRequestTimeout(300*time.Millisecond), WithOnError(sink.add))
		reqs, publish := fakeDevice(t, e, h, "remoteOpen")
		replyTopic := ServiceTopic(devA.Key(), "remoteOpen") + "_reply"
		ctx := context.Background()

		// Malformed reply carrying a readable id: the invoke fails with ErrMalformed at once.
		errc := make(chan error, 1)
		go func() { _, err := h.Invoke(ctx, devA.Key(), "remoteOpen", nil); errc <- err }()
		r := recv(t, reqs)
		publish(replyTopic, `{"id":"`+r.ID+`","code":"not a number"}`)
		assert.ErrorIs(t, recv(t, errc), ErrMalformed)

		// Garbage without an id, one request waiting on that service: it is failed too.
		go func() { _, err := h.Invoke(ctx, devA.Key(), "remoteOpen", nil); errc <- err }()
		recv(t, reqs)
		publish(replyTopic, `{{{ not json`)
		assert.ErrorIs(t, recv(t, errc), ErrMalformed)

		// A reply with an unknown id: reported, counted; the real request times out, no hang.
		go func() { _, err := h.Invoke(ctx, devA.Key(), "remoteOpen", nil); errc <- err }()
		r = recv(t, reqs)
		publish(replyTopic, `{"id":"999999999999","code":200,"data":{}}`)
		assert.ErrorIs(t, recv(t, errc), ErrTimeout)
		waitFor(t, func() bool { return h.Stats().UnknownReplies == 1 }, "unknown reply counted")
		assert.True(t, sink.has(func(err error) bool { return errors.Is(err, ErrUnknownReply) }))

		// A late reply (after the timeout) is an unknown reply as well.
		publish(replyTopic, `{"id":"`+r.ID+`","code":200}`)
		waitFor(t, func() bool { return h.Stats().UnknownReplies == 2 }, "late reply counted")
		assert.True(t, sink.has(func(err error) bool { return errors.Is(err, ErrMalformed) }))
		assert.Equal(t, uint64(2), h.Stats().Malformed)
		assert.Equal(t, 0, h.Stats().Pending)
	})
}

func TestMalformedPostIsAnsweredAndReported(t *testing.T) {
	forEachBroker(t, func(t *testing.T, e *env) {
		sink := &errSink{}
		called := make(chan struct{}, 1)
		h := e.newHost(t, WithOnError(sink.add), WithHandler(HandlerFunc(func(context.Context, *Message) error {
			called <- struct{}{}
			return nil
		})))
		c, err := e.rawClient(t, devA)
		require.NoError(t, err)
		replies := make(chan *Reply, 4)
		tok := c.Subscribe(EventTopic(devA.Key(), "passEvent")+"_reply", 1, func(_ paho_Client, m paho_Message) {
			if r, err := DecodeReply(m.Payload()); err == nil {
				replies <- r
			}
		})
		require.True(t, tok.WaitTimeout(5*time.Second))
		topic := EventTopic(devA.Key(), "passEvent")
		c.Publish(topic, 1, false, `{"id":"77","method":"thing.event.passEvent.post","params":[1,2]}`).WaitTimeout(5 * time.Second)
		select {
		case r := <-replies:
			assert.Equal(t, "77", r.ID)
			assert.Equal(t, CodeBadRequest, r.Code)
		case <-time.After(5 * time.Second):
			t.Fatal("no reply to a malformed post with a readable id")
		}
		c.Publish(topic, 1, false, `garbage`).WaitTimeout(5 * time.Second)
		waitFor(t, func() bool { return h.Stats().Malformed == 2 }, "malformed posts counted")
		assert.True(t, sink.has(func(err error) bool {
			var de *DecodeError
			return errors.As(err, &de) && de.Topic == topic
		}))
		select {
		case <-called:
			t.Fatal("a malformed post reached the handler")
		default:
		}
	})
}

func TestHandlerPanicBecomesErrorReply(t *testing.T) {
	e := startEmbedded(t)
	h := e.newHost(t, WithHandler(HandlerFunc(func(context.Context, *Message) error { panic("boom") })))
	d := e.dial(t, h, devA)
	_, err := d.PostEvent(context.Background(), "passEvent", map[string]any{})
	var re *ReplyError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, CodeInternal, re.Code)
	_, err = d.PostEvent(context.Background(), "passEvent", map[string]any{})
	require.Error(t, err, "the host keeps serving after a panic")
}

func TestHostClose(t *testing.T) {
	e := startEmbedded(t)
	h := e.newHost(t)
	release := make(chan struct{})
	defer close(release)
	e.dial(t, h, devA, WithService("stuck", stuck(release)))
	errc := make(chan error, 1)
	go func() { _, err := h.Invoke(context.Background(), devA.Key(), "stuck", nil); errc <- err }()
	waitFor(t, func() bool { return h.Stats().Pending == 1 }, "invoke pending")
	require.NoError(t, h.Close())
	assert.ErrorIs(t, recv(t, errc), ErrClosed)
	_, err := h.Invoke(context.Background(), devA.Key(), "stuck", nil)
	assert.ErrorIs(t, err, ErrClosed)
	assert.NoError(t, h.Close(), "Close is idempotent")
}

func TestNewHostNeedsSecretsOrBroker(t *testing.T) {
	_, err := NewHost(context.Background())
	require.Error(t, err)
	h, err := NewHost(context.Background(), WithSecrets(testSecrets(), WithBrokerAddr("127.0.0.1:0")))
	require.NoError(t, err)
	require.NotNil(t, h.Broker())
	d, err := Dial(context.Background(), h.Broker().URL(), devA)
	require.NoError(t, err)
	waitFor(t, func() bool { return h.Online(devA.Key()) }, "online on the default broker")
	require.NoError(t, d.Close())
	require.NoError(t, h.Close())
}

func TestWaitOnline(t *testing.T) {
	e := startEmbedded(t)
	h := e.newHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, h.WaitOnline(ctx, devA.Key()), ErrOffline)
	done := make(chan error, 1)
	go func() { done <- h.WaitOnline(context.Background(), devA.Key()) }()
	e.dial(t, nil, devA)
	require.NoError(t, recv(t, done))
	require.NoError(t, h.WaitOnline(context.Background(), devA.Key()), "already online returns at once")
}

// stuck is a service that answers only when released (or the client closes).
func stuck(release <-chan struct{}) ServiceHandler {
	return func(ctx context.Context, _ *Request) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	}
}

// A handler may call back into the device that posted (open the door on a
// pass, read a property): posts run off the delivery goroutine that
// carries the replies, so this does not deadlock.
func TestHandlerMayInvokeThePostingDevice(t *testing.T) {
	forEachBroker(t, func(t *testing.T, e *env) {
		var h *Host
		h = e.newHost(t, WithHandler(HandlerFunc(func(ctx context.Context, m *Message) error {
			_, err := h.Invoke(ctx, m.Device, "remoteOpen", nil)
			return err
		})))
		opened := make(chan struct{}, 1)
		d := e.dial(t, h, devA, WithService("remoteOpen", func(context.Context, *Request) (any, error) {
			opened <- struct{}{}
			return nil, nil
		}))
		start := time.Now()
		_, err := d.PostEvent(context.Background(), "passEvent", map[string]any{"code": 0})
		require.NoError(t, err)
		recv(t, opened)
		assert.Less(t, time.Since(start), 2*time.Second)
	})
}

func TestWaitReady(t *testing.T) {
	forEachBroker(t, func(t *testing.T, e *env) {
		h := e.newHost(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		require.Error(t, h.WaitReady(ctx, devA.Key()), "not ready before it connects")
		e.dial(t, h, devA, WithService("remoteOpen", func(context.Context, *Request) (any, error) { return nil, nil }))
		ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel2()
		require.NoError(t, h.WaitReady(ctx2, devA.Key()))
		_, err := h.Invoke(ctx2, devA.Key(), "remoteOpen", nil)
		require.NoError(t, err, "once ready, the first request is heard")
	})
}

// After a device's session ends, WaitReady waits for the next session's
// announcement instead of returning on the old one's.
func TestWaitReadyAfterDisconnect(t *testing.T) {
	e := startEmbedded(t)
	h := e.newHost(t)
	d := e.dial(t, h, devA)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.WaitReady(ctx, devA.Key()))
	require.NoError(t, d.Close())
	require.Eventually(t, func() bool { return !h.Online(devA.Key()) }, 5*time.Second, 5*time.Millisecond)
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	require.Error(t, h.WaitReady(short, devA.Key()), "not ready while it has no session")
	e.dial(t, h, devA, WithService("remoteOpen", func(context.Context, *Request) (any, error) { return nil, nil }))
	require.NoError(t, h.WaitReady(ctx, devA.Key()))
	_, err := h.Invoke(ctx, devA.Key(), "remoteOpen", nil)
	require.NoError(t, err)
}
