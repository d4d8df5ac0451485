package intercom

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/menjin/menjin/accessctl"
)

// DeviceOpener lets an accessctl.Device drive the lock: each unlock becomes
// OpenDoor(door) with the caller and channel recorded.
func DeviceOpener(dev accessctl.Device, door int) Opener {
	return OpenerFunc(func(ctx context.Context, r UnlockRequest) error {
		corr := r.CallID
		if r.ReqSN > 0 {
			corr += "/" + strconv.Itoa(r.ReqSN)
		}
		return dev.OpenDoor(ctx, accessctl.OpenRequest{Door: door, Operator: "sip:" + r.Peer,
			Reason: "intercom " + r.Channel.String(), CorrelationID: corr})
	})
}

// WithSink reports every unlock attempt as an accessctl pass event
// (Method intercom) for the device and door set by WithDevice, after any
// WithOnUnlock callback accepted it. An error from the sink is counted in
// Stats.SinkFailures and logged; the SIP answer does not wait for a retry,
// so put a buffer or an outbox in front of a sink that can fail.
func WithSink(sink accessctl.EventSink) DoorOption {
	return doorOption(func(o *options) { o.sink = sink })
}

// WithDevice names the device and door the pass events of WithSink carry.
func WithDevice(device accessctl.DeviceRef, door int) DoorOption {
	return doorOption(func(o *options) { o.device, o.door = device, door })
}

// sinkUnlock chains the sink after the WithOnUnlock callback, whatever the
// order of the options.
func (o *options) sinkUnlock() {
	if o.sink == nil {
		return
	}
	prev, sink, device, door := o.onUnlock, o.sink, o.device, o.door
	o.onUnlock = func(ctx context.Context, e UnlockEvent) error {
		if prev != nil {
			if err := prev(ctx, e); err != nil {
				return err
			}
		}
		return sink.Handle(ctx, e.AccessEvent(device, door))
	}
}

// AccessEvent converts the unlock to an accessctl pass event. The person is
// the dialog's remote SIP user (IDKind "sip"); Result.Code is the JSON status.
func (e UnlockEvent) AccessEvent(device accessctl.DeviceRef, door int) accessctl.Event {
	kind := accessctl.PassGranted
	msg := ""
	if !e.Granted() {
		kind = accessctl.PassDenied
		if e.Err != nil {
			msg = e.Err.Error()
		}
	}
	raw, _ := json.Marshal(struct {
		Channel string `json:"channel"`
		CallID  string `json:"callId"`
		ReqSN   int    `json:"reqsn,omitempty"`
		Claimed string `json:"sip,omitempty"`
		Early   bool   `json:"early,omitempty"`
	}{e.Channel.String(), e.CallID, e.ReqSN, e.Claimed, e.Early})
	var person *accessctl.PersonRef
	if e.Peer != "" {
		person = &accessctl.PersonRef{Platform: device.Platform, ID: e.Peer, IDKind: "sip"}
	}
	return accessctl.Event{
		ID:         e.ID,
		Kind:       accessctl.KindPass,
		Platform:   device.Platform,
		Device:     device,
		OccurredAt: e.At,
		TimeSource: accessctl.TimeReceipt,
		ReceivedAt: e.At,
		Pass: &accessctl.PassEvent{
			Person:     person,
			Method:     accessctl.MethodIntercom,
			Credential: e.Channel.String(),
			Door:       door,
			Kind:       kind,
			Result:     accessctl.Result{Granted: e.Granted(), Code: e.Status, Message: msg},
		},
		Raw: raw,
	}
}
