package parking

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// PassRecord is the vehicle pass record iot_park_record_v2_model (§5.3).
// A camera sends it, without Direction and ChannelSpaceID, as the
// addition_string of IntelligentAlarm. Codes are kept as on the wire; use
// Category, PlateColor and VehicleColor for the neutral values.
type PassRecord struct {
	Direction                   int     `json:"direction"`
	OpenType                    int     `json:"openType"`
	TypePermission              int     `json:"typePermission"`
	TollProductKey              string  `json:"tollProductKey"`
	TollDeviceName              string  `json:"tollDeviceName"`
	PlateNumber                 string  `json:"plateNumber"`
	AreaSpaceID                 string  `json:"areaSpaceId"`
	IotID                       string  `json:"iotId"`
	PlateNumberType             string  `json:"plateNumberType"`
	CarColorNumber              string  `json:"carColorNumber"`
	HasPlate                    int     `json:"hasPlate"`
	PlateColorNumber            int     `json:"plateColorNumber"`
	PlateRecognitionReliability float64 `json:"plateRecognitionReliability"`
	CarLogoBrand                string  `json:"carLogoBrand"`
	CarEigenvaluesInfo          string  `json:"carEigenvaluesInfo"`
	CarExtraInfo                string  `json:"carExtraInfo"`
	UserExtraInfo               string  `json:"userExtraInfo"`
	DeviceExtraInfo             string  `json:"deviceExtraInfo"`
	CarImageKey                 string  `json:"carImageKey"`
	ChannelSpaceID              string  `json:"channelSpaceId"`
}

// Category is the neutral form of TypePermission.
func (r PassRecord) Category() Category {
	if r.HasPlate == 0 && r.PlateNumber == "" {
		return CategoryNoPlate
	}
	return CategoryFromV2(r.TypePermission)
}

// PlateColor is the neutral form of PlateColorNumber.
func (r PassRecord) PlateColor() PlateColor { return PlateColorFromV2(r.PlateColorNumber) }

// VehicleColor is the neutral form of CarColorNumber.
func (r PassRecord) VehicleColor() VehicleColor { return VehicleColorFromLetter(r.CarColorNumber) }

// additionRecord is PassRecord without direction and channelSpaceId, in the
// field order of TV-ALARM-1.
type additionRecord struct {
	OpenType                    int     `json:"openType"`
	TypePermission              int     `json:"typePermission"`
	TollProductKey              string  `json:"tollProductKey"`
	TollDeviceName              string  `json:"tollDeviceName"`
	PlateNumber                 string  `json:"plateNumber"`
	AreaSpaceID                 string  `json:"areaSpaceId"`
	IotID                       string  `json:"iotId"`
	PlateNumberType             string  `json:"plateNumberType"`
	CarColorNumber              string  `json:"carColorNumber"`
	HasPlate                    int     `json:"hasPlate"`
	PlateColorNumber            int     `json:"plateColorNumber"`
	PlateRecognitionReliability float64 `json:"plateRecognitionReliability"`
	CarLogoBrand                string  `json:"carLogoBrand,omitempty"`
	CarEigenvaluesInfo          string  `json:"carEigenvaluesInfo,omitempty"`
	CarExtraInfo                string  `json:"carExtraInfo,omitempty"`
	UserExtraInfo               string  `json:"userExtraInfo,omitempty"`
	DeviceExtraInfo             string  `json:"deviceExtraInfo,omitempty"`
	CarImageKey                 string  `json:"carImageKey"`
}

const additionPayload = "addition_string"

// EncodeAddition serialises r as an addition_string: a JSON object without
// direction and channelSpaceId, at most 2048 bytes. Over the limit the
// optional fields are dropped first (carEigenvaluesInfo, carExtraInfo,
// userExtraInfo, deviceExtraInfo, carLogoBrand — §11 item 24); if it is
// still too long the error matches ErrTooLong.
func EncodeAddition(r PassRecord) ([]byte, error) {
	a := additionRecord{
		OpenType: r.OpenType, TypePermission: r.TypePermission, TollProductKey: r.TollProductKey,
		TollDeviceName: r.TollDeviceName, PlateNumber: r.PlateNumber, AreaSpaceID: r.AreaSpaceID,
		IotID: r.IotID, PlateNumberType: r.PlateNumberType, CarColorNumber: r.CarColorNumber,
		HasPlate: r.HasPlate, PlateColorNumber: r.PlateColorNumber,
		PlateRecognitionReliability: r.PlateRecognitionReliability, CarLogoBrand: r.CarLogoBrand,
		CarEigenvaluesInfo: r.CarEigenvaluesInfo, CarExtraInfo: r.CarExtraInfo,
		UserExtraInfo: r.UserExtraInfo, DeviceExtraInfo: r.DeviceExtraInfo, CarImageKey: r.CarImageKey,
	}
	drops := []*string{&a.CarEigenvaluesInfo, &a.CarExtraInfo, &a.UserExtraInfo, &a.DeviceExtraInfo, &a.CarLogoBrand}
	for i := 0; ; i++ {
		b, err := marshalNoEscape(a)
		if err != nil {
			return nil, err
		}
		if len(b) <= MaxAlarmAdditionBytes {
			return b, nil
		}
		if i == len(drops) {
			return nil, fieldErr(additionPayload, "", ErrTooLong, "%d bytes without optional fields, at most %d", len(b), MaxAlarmAdditionBytes)
		}
		*drops[i] = ""
	}
}

// DecodePassRecord parses a pass record or an addition_string: an object,
// or a string holding one (§10 G27); keys in any case, numbers as numbers
// or strings. A plate is not required (unplated vehicles, §11 item 27).
func DecodePassRecord(b []byte) (PassRecord, error) {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return PassRecord{}, fieldErr(additionPayload, "", ErrSyntax, "%v", err)
		}
		b = []byte(s)
	}
	if len(b) > 4*MaxAlarmAdditionBytes { // liberal, yet bounded
		return PassRecord{}, fieldErr(additionPayload, "", ErrTooLong, "%d bytes", len(b))
	}
	o, err := parseObject(additionPayload, b)
	if err != nil {
		return PassRecord{}, err
	}
	var r PassRecord
	ints := []struct {
		name string
		dst  *int
		def  int
	}{
		{"direction", &r.Direction, 2}, {"openType", &r.OpenType, 0}, {"typePermission", &r.TypePermission, 0},
		{"hasPlate", &r.HasPlate, -1}, {"plateColorNumber", &r.PlateColorNumber, 9},
	}
	for _, f := range ints {
		v, ok, err := o.int(f.name)
		if err != nil {
			return PassRecord{}, err
		}
		if !ok {
			v = f.def
		}
		*f.dst = v
	}
	strs := []struct {
		name string
		dst  *string
	}{
		{"tollProductKey", &r.TollProductKey}, {"tollDeviceName", &r.TollDeviceName},
		{"plateNumber", &r.PlateNumber}, {"areaSpaceId", &r.AreaSpaceID}, {"iotId", &r.IotID},
		{"plateNumberType", &r.PlateNumberType}, {"carColorNumber", &r.CarColorNumber},
		{"carLogoBrand", &r.CarLogoBrand}, {"carEigenvaluesInfo", &r.CarEigenvaluesInfo},
		{"carExtraInfo", &r.CarExtraInfo}, {"userExtraInfo", &r.UserExtraInfo},
		{"deviceExtraInfo", &r.DeviceExtraInfo}, {"carImageKey", &r.CarImageKey},
		{"channelSpaceId", &r.ChannelSpaceID},
	}
	for _, f := range strs {
		if *f.dst, _, err = o.str(f.name); err != nil {
			return PassRecord{}, err
		}
	}
	if r.HasPlate == -1 { // absent: infer from the plate
		r.HasPlate = b2i(r.PlateNumber != "")
	}
	rel, _, err := o.float("plateRecognitionReliability")
	if err != nil {
		return PassRecord{}, err
	}
	if rel < 0 || rel > 1 {
		return PassRecord{}, o.err("plateRecognitionReliability", ErrOutOfRange, "%v not in 0..1", rel)
	}
	r.PlateRecognitionReliability = rel
	return r, nil
}

// IntelligentAlarm is a recognition as the camera reports it
// (lv_post_intelligent_alarm, §5.2): the JPEG and the pass record. Over a
// thing-model carrier it travels as an event whose params are
// {"type":10005,"format":0,"media":"<base64>","addition_string":"<json>"}
// — the LinkVisual field names; "mediaUrl" (our extension) carries a
// picture uploaded to the edge file service instead of the bytes (§5.4).
type IntelligentAlarm struct {
	Type     int
	Format   int
	Media    []byte // at most MaxAlarmMediaBytes
	MediaURL string
	Record   PassRecord
	// MediaDropped says why media the camera sent was not kept (not
	// base64, too large): the recognition itself is still good, because
	// the vehicle is at the barrier.
	MediaDropped string
}

type wireAlarm struct {
	Type     int    `json:"type"`
	Format   int    `json:"format"`
	Media    string `json:"media,omitempty"`
	MediaURL string `json:"mediaUrl,omitempty"`
	Addition string `json:"addition_string"`
}

// Params encodes the alarm as event params, enforcing the 1 MB and 2048 B limits.
func (a IntelligentAlarm) Params() (json.RawMessage, error) {
	if len(a.Media) > MaxAlarmMediaBytes {
		return nil, fieldErr(EventIntelligentAlarm, "media", ErrTooLong, "%d bytes, at most %d", len(a.Media), MaxAlarmMediaBytes)
	}
	add, err := EncodeAddition(a.Record)
	if err != nil {
		return nil, err
	}
	t := a.Type
	if t == 0 {
		t = LVEventTypeVehicle
	}
	w := wireAlarm{Type: t, Format: a.Format, MediaURL: a.MediaURL, Addition: string(add)}
	if len(a.Media) > 0 {
		w.Media = base64.StdEncoding.EncodeToString(a.Media)
	}
	return marshalNoEscape(w)
}

// maxAlarmParams bounds what DecodeIntelligentAlarm reads: base64 media
// plus the addition string and some slack.
const maxAlarmParams = MaxAlarmMediaBytes*4/3 + 8*MaxAlarmAdditionBytes + 1024

// DecodeIntelligentAlarm parses IntelligentAlarm event params.
func DecodeIntelligentAlarm(params []byte) (IntelligentAlarm, error) {
	if len(params) > maxAlarmParams {
		return IntelligentAlarm{}, fieldErr(EventIntelligentAlarm, "", ErrTooLong, "%d bytes", len(params))
	}
	o, err := parseObject(EventIntelligentAlarm, params)
	if err != nil {
		return IntelligentAlarm{}, err
	}
	var a IntelligentAlarm
	t, ok, err := o.int("type")
	if err != nil {
		return a, err
	}
	if !ok {
		t = LVEventTypeVehicle
	}
	a.Type = t
	if a.Format, _, err = o.int("format"); err != nil {
		return a, err
	}
	if m, ok, err := o.str("media"); err != nil {
		return a, err
	} else if ok && m != "" {
		switch img, err := accessctl.DecodeImage(m); {
		case err != nil:
			a.MediaDropped = "media is not base64"
		case len(img.Data) > MaxAlarmMediaBytes:
			a.MediaDropped = fmt.Sprintf("media of %d bytes is over %d", len(img.Data), MaxAlarmMediaBytes)
		default:
			a.Media = img.Data
		}
	}
	if a.MediaURL, _, err = o.str("mediaUrl"); err != nil {
		return a, err
	}
	raw, ok := o.get(additionPayload)
	if !ok {
		return a, o.err(additionPayload, ErrMissing, "required")
	}
	a.Record, err = DecodePassRecord(raw)
	return a, err
}

// Recognition is a plate recognised at a lane, as a Lane consumes it.
// Drivers build it from IntelligentAlarm (RecognitionFromAlarm).
type Recognition struct {
	// EventID is unique per recognition and stable across redelivery.
	EventID string
	At      time.Time // capture time; zero: when received
	Plate   string    // as recognised, "" for an unplated vehicle
	Record  PassRecord
	Picture *accessctl.Image
	// PictureDropped says why the camera's picture was not kept (corrupt,
	// not a JPEG or PNG, too large); the recognition is kept without it.
	PictureDropped string
	Raw            json.RawMessage
}

// RecognitionFromAlarm turns a decoded alarm into a Recognition.
func RecognitionFromAlarm(id string, at time.Time, a IntelligentAlarm, raw json.RawMessage) Recognition {
	r := Recognition{EventID: id, At: at, Plate: a.Record.PlateNumber, Record: a.Record, Raw: raw, PictureDropped: a.MediaDropped}
	mime := accessctl.SniffImage(a.Media)
	if len(a.Media) > 0 && mime == "" {
		r.PictureDropped = "media is not a JPEG or PNG picture"
	}
	switch {
	case len(a.Media) > 0 && mime != "":
		r.Picture = &accessctl.Image{Data: a.Media, URL: a.MediaURL, MIME: mime}
	case a.MediaURL != "":
		r.Picture = &accessctl.Image{URL: a.MediaURL}
	}
	return r
}
