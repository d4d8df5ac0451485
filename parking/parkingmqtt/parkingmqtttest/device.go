package parkingmqtttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingsim"
	"github.com/menjin/menjin/transport/thingmodel"
)

// Services is every service a parking camera answers (§2.2).
var Services = []string{
	parking.ServiceAddVehiclePermission, parking.ServiceGetVehiclePermission,
	parking.ServiceGetPermissionDownloadProgress, parking.ServiceSendOssStsToken,
	parking.ServiceNoticeBroadcast, parking.ServiceNoticeDisplay, parking.ServiceDefaultDisplay,
	parking.ServiceAddLedData, parking.ServiceQrCodeDisplay, parking.ServiceTriggerRecognition,
	parking.ServiceOperateGate,
}

// maxEventBytes leaves room for the Alink envelope inside the carrier's
// 256 KiB message limit.
const maxEventBytes = thingmodel.MaxMessageSize - 4096

// Device is the device side: a simulated camera speaking the thing-model
// carrier. It answers invokes with the simulator and posts its events and
// properties. Pictures too large for one message go to the edge file
// service (WithPictureUploader) and travel as mediaUrl; without an
// uploader the record is sent without the picture rather than lost.
type Device struct {
	client *thingmodel.DeviceClient
	sim    *parkingsim.Camera
	upload func(ctx context.Context, name string, data []byte) (string, error)

	props chan json.RawMessage
	done  chan struct{}
	wg    sync.WaitGroup

	mu              sync.Mutex
	picturesMoved   int
	picturesDropped int
}

// DeviceOption configures DialCamera.
type DeviceOption func(*deviceConfig)

type deviceConfig struct {
	upload func(ctx context.Context, name string, data []byte) (string, error)
	tm     []thingmodel.DeviceOption
}

// WithPictureUploader uploads pictures too large for a message (for
// example parking.EdgeFileClient.Upload).
func WithPictureUploader(f func(ctx context.Context, name string, data []byte) (string, error)) DeviceOption {
	return func(c *deviceConfig) { c.upload = f }
}

// WithCarrierOptions passes options to thingmodel.Dial.
func WithCarrierOptions(opts ...thingmodel.DeviceOption) DeviceOption {
	return func(c *deviceConfig) { c.tm = append(c.tm, opts...) }
}

// DialCamera connects sim to the broker at brokerURL as the device t and
// posts its properties.
func DialCamera(ctx context.Context, brokerURL string, t thingmodel.Triple, sim *parkingsim.Camera, opts ...DeviceOption) (*Device, error) {
	var cfg deviceConfig
	for _, o := range opts {
		o(&cfg)
	}
	d := &Device{sim: sim, upload: cfg.upload, props: make(chan json.RawMessage, 64), done: make(chan struct{})}
	tmOpts := append([]thingmodel.DeviceOption(nil), cfg.tm...)
	for _, id := range Services {
		tmOpts = append(tmOpts, thingmodel.WithService(id, d.serve(id)))
	}
	c, err := thingmodel.Dial(ctx, brokerURL, t, tmOpts...)
	if err != nil {
		return nil, err
	}
	d.client = c
	d.wg.Add(1)
	go d.postProperties()
	if err := sim.Attach(ctx, d); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Device) serve(id string) thingmodel.ServiceHandler {
	return func(ctx context.Context, req *thingmodel.Request) (any, error) {
		out, err := d.sim.Invoke(ctx, id, req.Params)
		var fe *parking.FieldError
		switch {
		case err == nil:
			return out, nil
		case errors.Is(err, parking.ErrUnknownService):
			return nil, &thingmodel.ReplyError{Code: thingmodel.CodeNotFound, Message: err.Error()}
		case errors.As(err, &fe), errors.Is(err, parking.ErrWrongMode), errors.Is(err, parking.ErrOutOfRange):
			return nil, &thingmodel.ReplyError{Code: thingmodel.CodeBadParams, Message: err.Error()}
		case errors.Is(err, accessctl.ErrUnsupported):
			return nil, &thingmodel.ReplyError{Code: thingmodel.CodeNotFound, Message: err.Error()}
		}
		return nil, err
	}
}

// HandleEvent implements parkingsim.Poster: it posts the event with the
// device's time stamp and returns when the host acknowledged it.
func (d *Device) HandleEvent(ctx context.Context, e parking.ThingEvent) error {
	params := e.Params
	if e.Identifier == parking.EventIntelligentAlarm && len(params) > maxEventBytes {
		var err error
		if params, err = d.shrink(ctx, e); err != nil {
			return err
		}
	}
	rep, err := d.client.PostEventAt(ctx, e.Identifier, params, e.At)
	if err != nil {
		return err
	}
	return rep.Err(d.client.Key(), "")
}

func (d *Device) shrink(ctx context.Context, e parking.ThingEvent) (json.RawMessage, error) {
	a, err := parking.DecodeIntelligentAlarm(e.Params)
	if err != nil {
		return nil, err
	}
	pic := a.Media
	a.Media = nil
	if d.upload != nil {
		name := parking.PictureName(d.client.Key().String(), e.ID, e.At)
		if u, err := d.upload(ctx, name, pic); err == nil {
			a.MediaURL = u
			d.mu.Lock()
			d.picturesMoved++
			d.mu.Unlock()
			return a.Params()
		}
	}
	d.mu.Lock()
	d.picturesDropped++
	d.mu.Unlock()
	return a.Params() // the record without its picture (§11 item 25)
}

// HandleProperties implements parkingsim.Poster. Property posts go out in
// order from their own goroutine: the camera posts its gate state while it
// answers OperatGate, and the Host handles one camera's posts one at a
// time, in order — it is still handling the recognition that caused the
// OperatGate, so a post waited for inline would wait on itself.
func (d *Device) HandleProperties(ctx context.Context, params json.RawMessage) error {
	select {
	case d.props <- params:
		return nil
	case <-d.done:
		return fmt.Errorf("%w: device closed", accessctl.ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Device) postProperties() {
	defer d.wg.Done()
	for {
		select {
		case <-d.done:
			return
		case p := <-d.props:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = d.client.PostProperties(ctx, p) // state: the next post repairs a lost one
			cancel()
		}
	}
}

// Pictures counts pictures sent by URL instead of
// inline, and pictures left out because no upload worked.
func (d *Device) Pictures() (moved, dropped int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.picturesMoved, d.picturesDropped
}

// Client is the carrier's device client.
func (d *Device) Client() *thingmodel.DeviceClient { return d.client }

// Close disconnects the device.
func (d *Device) Close() error {
	select {
	case <-d.done:
		return nil
	default:
	}
	close(d.done)
	d.wg.Wait()
	return d.client.Close()
}
