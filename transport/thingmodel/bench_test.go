package thingmodel

import (
	"context"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"
)

// Benchmarks run per broker; compare within one run:
//
//	go test -run '^$' -bench 'RoundTrip|EventIngest' -benchtime 3s ./transport/thingmodel/
//
// BenchmarkRawRoundTrip is the baseline: two plain paho clients, one
// publishing a request-sized message, the other echoing it back on the
// reply topic, QoS 1 both ways, on the same broker. BenchmarkInvokeRoundTrip
// is Host.Invoke answered by a DeviceClient: codec, correlation, timers
// and ACL checks on top of the same two hops.

func benchBrokers(b *testing.B, fn func(b *testing.B, e *env)) {
	b.Run("embedded", func(b *testing.B) { fn(b, startEmbedded(b)) })
	b.Run("mosquitto", func(b *testing.B) { fn(b, startMosquitto(b, "")) })
}

func BenchmarkInvokeRoundTrip(b *testing.B) {
	benchBrokers(b, func(b *testing.B, e *env) {
		h := e.newHost(b)
		e.dial(b, h, devA, WithService("echo", func(context.Context, *Request) (any, error) { return nil, nil }))
		ctx := context.Background()
		params := map[string]any{"permissionUrl": "http://127.0.0.1:8080/perm/0123456789abcdef"}
		_, err := h.Invoke(ctx, devA.Key(), "echo", params) // subscribe the reply topic outside the timing
		require.NoError(b, err)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := h.Invoke(ctx, devA.Key(), "echo", params); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRawRoundTrip(b *testing.B) {
	benchBrokers(b, func(b *testing.B, e *env) {
		host, err := e.rawClient(b, Triple{})
		require.NoError(b, err)
		dev, err := e.rawClient(b, devA)
		require.NoError(b, err)
		reqTopic := ServiceTopic(devA.Key(), "echo")
		repTopic := reqTopic + "_reply"
		tok := dev.Subscribe(reqTopic, 1, func(c paho.Client, m paho.Message) {
			c.Publish(repTopic, 1, false, m.Payload()) // not awaited: this is paho's delivery goroutine
		})
		require.True(b, tok.WaitTimeout(5*time.Second))
		got := make(chan struct{}, 1)
		tok = host.Subscribe(repTopic, 1, func(paho.Client, paho.Message) { got <- struct{}{} })
		require.True(b, tok.WaitTimeout(5*time.Second))
		payload := []byte(`{"id":"1234567890","version":"1.0","params":{"permissionUrl":"http://127.0.0.1:8080/perm/0123456789abcdef"},"method":"thing.service.echo"}`)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if t := host.Publish(reqTopic, 1, false, payload); !t.WaitTimeout(5*time.Second) || t.Error() != nil {
				b.Fatal("publish", t.Error())
			}
			select {
			case <-got:
			case <-time.After(5 * time.Second):
				b.Fatal("no echo")
			}
		}
	})
}

// BenchmarkEventIngest measures posts per second accepted by a Host from
// one device with many posts in flight (each one acknowledged).
func BenchmarkEventIngest(b *testing.B) {
	benchBrokers(b, func(b *testing.B, e *env) {
		h := e.newHost(b, WithHandler(HandlerFunc(func(context.Context, *Message) error { return nil })))
		d := e.dial(b, h, devA)
		ctx := context.Background()
		value := map[string]any{"code": 0, "message": "success", "type": "qrCode", "content": "ALIF24DD9END8CD3"}
		b.ReportAllocs()
		b.SetParallelism(8)
		start := time.Now()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := d.PostEvent(ctx, "passEvent", value); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		if got := h.Stats().Events; got < uint64(b.N) {
			b.Fatalf("host accepted %d of %d events", got, b.N)
		}
	})
}
