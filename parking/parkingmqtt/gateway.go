package parkingmqtt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/transport/thingmodel"
)

// ErrUnknownCamera: a post came from a device no Camera was opened for.
var ErrUnknownCamera = errors.New("parkingmqtt: unknown camera")

// Gateway is the host side: a thingmodel.Handler that hands each camera's
// property and event posts to its parking.ThingCamera, and the Invoker
// those cameras send their services through.
//
//	gw := parkingmqtt.NewGateway()
//	host, _ := thingmodel.NewHost(ctx, thingmodel.WithSecrets(secrets), thingmodel.WithHandler(gw))
//	gw.Bind(host)
//	cam := gw.Camera(thingmodel.DeviceKey{ProductKey: "pk", DeviceName: "lane-1"})
//	lane := parking.NewLane(cam, decider, parking.WithSink(sink))
//
// An event is acknowledged only after the lane acted on it and its sink
// took the pass event (the Host runs handlers off the connection that
// carries the camera's replies, so the lane may invoke the same camera
// meanwhile). An event the lane could not hand on is answered with an
// error code, so the camera keeps it and sends it again; params that do
// not decode are answered 460, since resending cannot help.
type Gateway struct {
	mu   sync.RWMutex
	host *thingmodel.Host
	cams map[thingmodel.DeviceKey]*parking.ThingCamera

	handled, failed, bad atomic.Uint64
}

// GatewayStats counts a Gateway's events.
type GatewayStats struct {
	Handled   uint64 // events the camera's handler took
	Failed    uint64 // events refused: the camera sends them again
	Malformed uint64 // answered 460: params did not decode
}

// NewGateway returns a Gateway; Bind it to the Host it is the handler of.
func NewGateway() *Gateway {
	return &Gateway{cams: map[thingmodel.DeviceKey]*parking.ThingCamera{}}
}

// Bind sets the Host services are invoked through.
func (g *Gateway) Bind(h *thingmodel.Host) {
	g.mu.Lock()
	g.host = h
	g.mu.Unlock()
}

// Camera returns the driver of the camera key, creating it on first use.
// Its ID is "ProductKey/DeviceName"; it is online while the camera has a
// session with the Host.
func (g *Gateway) Camera(key thingmodel.DeviceKey, opts ...parking.CameraOption) *parking.ThingCamera {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.cams[key]; ok {
		return c
	}
	online := parking.WithOnline(func() bool {
		g.mu.RLock()
		h := g.host
		g.mu.RUnlock()
		return h != nil && h.Online(key)
	})
	c := parking.NewThingCamera(key.String(), g.invoker(key), append([]parking.CameraOption{online}, opts...)...)
	g.cams[key] = c
	return c
}

// Stats returns the Gateway's counters.
func (g *Gateway) Stats() GatewayStats {
	return GatewayStats{Handled: g.handled.Load(), Failed: g.failed.Load(), Malformed: g.bad.Load()}
}

func (g *Gateway) invoker(key thingmodel.DeviceKey) parking.Invoker {
	return parking.InvokerFunc(func(ctx context.Context, identifier string, params json.RawMessage) (json.RawMessage, error) {
		g.mu.RLock()
		h := g.host
		g.mu.RUnlock()
		if h == nil {
			return nil, fmt.Errorf("%w: gateway not bound to a host", accessctl.ErrOffline)
		}
		rep, err := h.Invoke(ctx, key, identifier, params)
		if err != nil {
			return nil, accessctl.MapTransportError(identifier, err)
		}
		return rep.Data, nil
	})
}

// ServeThing implements thingmodel.Handler.
func (g *Gateway) ServeThing(ctx context.Context, m *thingmodel.Message) error {
	g.mu.RLock()
	c, ok := g.cams[m.Device]
	g.mu.RUnlock()
	if !ok {
		g.failed.Add(1)
		return fmt.Errorf("%w: %s", ErrUnknownCamera, m.Device)
	}
	if m.Kind == thingmodel.TopicPropertyPost {
		return g.badParams(c.HandleProperties(ctx, m.Value))
	}
	// The event id must survive a resend: the device's time stamp and the
	// event's content do, the carrier's message id does not.
	h := fnv.New64a()
	h.Write(m.Value)
	id := m.Identifier + "@" + strconv.FormatInt(m.Time.UnixMilli(), 10) + "-" + strconv.FormatUint(h.Sum64(), 36)
	if m.Time.IsZero() && m.Request != nil {
		id = m.Identifier + "#" + m.Request.ID
	}
	err := c.HandleEvent(ctx, parking.ThingEvent{ID: id, Identifier: m.Identifier, At: m.Time, Params: m.Value})
	if err == nil {
		g.handled.Add(1)
		return nil
	}
	if err = g.badParams(err); !errors.Is(err, thingmodel.ErrRejected) {
		g.failed.Add(1)
	}
	return err
}

// badParams answers undecodable params with 460, so the device does not
// resend what will never parse.
func (g *Gateway) badParams(err error) error {
	var fe *parking.FieldError
	if errors.As(err, &fe) {
		g.bad.Add(1)
		return &thingmodel.ReplyError{Code: thingmodel.CodeBadParams, Message: err.Error()}
	}
	return err
}
