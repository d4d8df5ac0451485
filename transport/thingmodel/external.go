package thingmodel

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// link is how a Host reaches its devices: the embedded broker's inline
// client or a client of an external broker.
type link interface {
	publish(ctx context.Context, topic string, payload []byte) error
	// publishNoWait sends without waiting for an acknowledgement: for the
	// delivery goroutine, which must never block.
	publishNoWait(topic string, payload []byte)
	// subscribe delivers matching messages to h on the link's delivery
	// goroutine (paho's router, the publishing device's broker loop). h
	// must not block: replies to the Host's requests arrive there too.
	subscribe(ctx context.Context, filter string, h func(topic string, payload []byte)) error
	close() error
}

// pahoConfig is what both the host's and the device's paho clients need.
type pahoConfig struct {
	url, clientID, username, password string
	tls                               *tls.Config
	will                              *willMsg
	onConnect                         func(paho.Client)
	onLost                            func(error)
	keepAlive                         time.Duration
}

type willMsg struct {
	topic   string
	payload []byte
}

// newPaho builds a client; its handlers may run as soon as connect is
// called, so callers store it first.
func newPaho(cfg pahoConfig) paho.Client {
	o := paho.NewClientOptions().
		AddBroker(cfg.url).
		SetClientID(cfg.clientID).
		SetUsername(cfg.username).
		SetPassword(cfg.password).
		SetCleanSession(true).
		SetProtocolVersion(4). // MQTT 3.1.1; no silent retry as 3.1 after a refusal
		SetOrderMatters(true).
		SetAutoReconnect(true).
		SetConnectRetry(false).
		SetMaxReconnectInterval(time.Minute).
		SetConnectTimeout(10 * time.Second)
	if cfg.keepAlive > 0 {
		o.SetKeepAlive(cfg.keepAlive)
	}
	if cfg.tls != nil {
		o.SetTLSConfig(cfg.tls)
	}
	if cfg.will != nil {
		o.SetBinaryWill(cfg.will.topic, cfg.will.payload, 1, true)
	}
	if cfg.onConnect != nil {
		o.SetOnConnectHandler(cfg.onConnect)
	}
	if cfg.onLost != nil {
		o.SetConnectionLostHandler(func(_ paho.Client, err error) { cfg.onLost(err) })
	}
	return paho.NewClient(o)
}

// connect makes the first connection; later ones are paho's auto-reconnects.
func connect(ctx context.Context, c paho.Client, url string) error {
	if err := wait(ctx, c.Connect()); err != nil {
		c.Disconnect(0)
		return fmt.Errorf("thingmodel: connect %s: %w", url, err)
	}
	return nil
}

// wait waits for a paho token under ctx.
func wait(ctx context.Context, t paho.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func randomID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// externalLink is a Host's client of an external broker (Mosquitto, EMQX, ...).
type externalLink struct {
	c   paho.Client
	qos byte

	mu   sync.Mutex
	subs map[string]paho.MessageHandler
}

func newExternalLink(ctx context.Context, cfg pahoConfig, qos byte) (*externalLink, error) {
	l := &externalLink{qos: qos, subs: map[string]paho.MessageHandler{}}
	prev := cfg.onConnect
	cfg.onConnect = func(c paho.Client) { // clean session: subscribe again after a reconnect
		l.resubscribe(c)
		if prev != nil {
			prev(c)
		}
	}
	l.c = newPaho(cfg)
	if err := connect(ctx, l.c, cfg.url); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *externalLink) resubscribe(c paho.Client) {
	l.mu.Lock()
	subs := make(map[string]paho.MessageHandler, len(l.subs))
	for f, h := range l.subs {
		subs[f] = h
	}
	l.mu.Unlock()
	for f, h := range subs {
		c.Subscribe(f, l.qos, h) // completion is not awaited: this runs on paho's connect goroutine
	}
}

// publishNoWait is for paho's delivery goroutine.
func (l *externalLink) publishNoWait(topic string, payload []byte) {
	l.c.Publish(topic, l.qos, false, payload)
}

func (l *externalLink) publish(ctx context.Context, topic string, payload []byte) error {
	return wait(ctx, l.c.Publish(topic, l.qos, false, payload))
}

func (l *externalLink) subscribe(ctx context.Context, filter string, h func(string, []byte)) error {
	handler := func(_ paho.Client, m paho.Message) { h(m.Topic(), m.Payload()) }
	l.mu.Lock()
	l.subs[filter] = handler
	l.mu.Unlock()
	if err := wait(ctx, l.c.Subscribe(filter, l.qos, handler)); err != nil {
		return fmt.Errorf("thingmodel: subscribe %s: %w", filter, err)
	}
	return nil
}

func (l *externalLink) close() error {
	l.c.Disconnect(250)
	return nil
}
