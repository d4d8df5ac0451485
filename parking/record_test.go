package parking

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
)

var tvAlarm1 = PassRecord{
	Direction: 2, OpenType: 0, TypePermission: 2, TollProductKey: "PK_PLACEHOLDER", TollDeviceName: "DN_PLACEHOLDER",
	PlateNumber: "京N12345", AreaSpaceID: "AREA_SPACE_ID_PLACEHOLDER", IotID: "IOT_ID_PLACEHOLDER",
	PlateNumberType: "02", CarColorNumber: "A", HasPlate: 1, PlateColorNumber: 2, PlateRecognitionReliability: 0.97,
	CarEigenvaluesInfo: "{}", CarExtraInfo: "{}", UserExtraInfo: "{}", DeviceExtraInfo: "{}",
}

func TestPassRecordVector(t *testing.T) {
	raw := vector(t, "TV-ALARM-1.json")
	r, err := DecodePassRecord(raw)
	require.NoError(t, err)
	assert.Equal(t, tvAlarm1, r, "direction is absent from addition_string: unknown (2)")
	assert.Equal(t, CategoryWhitelist, r.Category())
	assert.Equal(t, PlateBlue, r.PlateColor())
	assert.Equal(t, VehicleWhite, r.VehicleColor())
	enc, err := EncodeAddition(r)
	require.NoError(t, err)
	assert.JSONEq(t, strings.Replace(string(raw), `"carLogoBrand": "",`, "", 1), string(enc),
		"empty optional fields are left out; no direction or channelSpaceId")

	// As a string, too.
	quoted, _ := marshalNoEscape(string(raw))
	r2, err := DecodePassRecord(quoted)
	require.NoError(t, err)
	assert.Equal(t, r, r2)
}

func TestAdditionLimit(t *testing.T) {
	r := tvAlarm1
	r.CarEigenvaluesInfo = `{"v":"` + strings.Repeat("x", 3000) + `"}`
	r.CarLogoBrand = "大众"
	b, err := EncodeAddition(r)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(b), MaxAlarmAdditionBytes)
	back, err := DecodePassRecord(b)
	require.NoError(t, err)
	assert.Empty(t, back.CarEigenvaluesInfo, "the optional field went first")
	assert.Equal(t, "大众", back.CarLogoBrand, "fields after it stay while there is room")
	assert.Equal(t, "京N12345", back.PlateNumber)

	r.AreaSpaceID = strings.Repeat("a", 2100) // a required field: cannot be dropped
	_, err = EncodeAddition(r)
	require.ErrorIs(t, err, ErrTooLong)
}

func TestIntelligentAlarmRoundTrip(t *testing.T) {
	jpeg := []byte{0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3}
	a := IntelligentAlarm{Media: jpeg, Record: tvAlarm1}
	p, err := a.Params()
	require.NoError(t, err)
	got, err := DecodeIntelligentAlarm(p)
	require.NoError(t, err)
	assert.Equal(t, LVEventTypeVehicle, got.Type)
	assert.Equal(t, jpeg, got.Media)
	assert.Equal(t, "京N12345", got.Record.PlateNumber)
	rec := RecognitionFromAlarm("e1", tvAlarm1Time, got, p)
	assert.Equal(t, "image/jpeg", rec.Picture.MIME)
	assert.Equal(t, "京N12345", rec.Plate)

	_, err = IntelligentAlarm{Media: make([]byte, MaxAlarmMediaBytes+1)}.Params()
	require.ErrorIs(t, err, ErrTooLong)
	_, err = DecodeIntelligentAlarm([]byte(`{"type":10005,"format":0}`))
	require.ErrorIs(t, err, ErrMissing)
	// Corrupt media loses the picture, not the vehicle at the barrier.
	got, err = DecodeIntelligentAlarm([]byte(`{"media":"!!!","addition_string":{"plateNumber":"京N12345"}}`))
	require.NoError(t, err)
	assert.Equal(t, "media is not base64", got.MediaDropped)
	rec = RecognitionFromAlarm("e3", tvAlarm1Time, got, nil)
	assert.Nil(t, rec.Picture)
	assert.Equal(t, "京N12345", rec.Plate)
	assert.NotEmpty(t, rec.PictureDropped)
	got.Media, got.MediaDropped = []byte("random bytes, no picture"), ""
	rec = RecognitionFromAlarm("e4", tvAlarm1Time, got, nil)
	assert.Nil(t, rec.Picture)
	assert.Equal(t, "media is not a JPEG or PNG picture", rec.PictureDropped)
	// Unplated, picture by URL (edge file variant).
	got, err = DecodeIntelligentAlarm([]byte(`{"mediaUrl":"http://gw/oss/a.jpg","addition_string":{"typePermission":4}}`))
	require.NoError(t, err)
	assert.Equal(t, CategoryNoPlate, got.Record.Category())
	rec = RecognitionFromAlarm("e2", tvAlarm1Time, got, nil)
	assert.Equal(t, &accessctl.Image{URL: "http://gw/oss/a.jpg"}, rec.Picture)
	_, err = DecodePassRecord([]byte(`{"plateRecognitionReliability":1.5}`))
	require.ErrorIs(t, err, ErrOutOfRange)
}

func TestCodeTables(t *testing.T) {
	// Every category survives each model that can hold it.
	for c := CategoryOrdinary; c <= CategoryNoPlate; c++ {
		assert.Equal(t, c, CategoryFromV2(c.V2()), c.String())
		if pt := c.PermissionType(); pt != 0 {
			assert.Equal(t, c, CategoryFromPermissionType(pt))
		}
		if pr := c.PassRecordType(); pr != 0 {
			assert.Equal(t, c, CategoryFromPassRecord(pr))
		}
	}
	assert.Equal(t, SituationOrdinary, CategoryWhitelist.Situation(), "whitelist shares scene 1")
	assert.Equal(t, SituationNoPlate, CategoryNoPlate.Situation())
	assert.Equal(t, CategoryWhitelist, CategoryFromListType("whitelist"))
	assert.Equal(t, "BLACKLIST", CategoryBlacklist.ListType())
	for _, r := range vehicleColors {
		assert.Equal(t, r.c, VehicleColorFromLetter(r.letter))
		if r.list >= 0 {
			assert.Equal(t, r.c, VehicleColorFromList(r.list))
		}
		if r.record >= 0 {
			assert.Equal(t, r.c, VehicleColorFromPassRecord(r.record))
		}
	}
	assert.Equal(t, VehicleColorOther, VehicleColorFromLetter("Q"), "unknown codes are other, not errors")
	assert.Equal(t, VehicleColorUnknown, VehicleColorFromPassRecord(0))
	for _, r := range plateColors {
		assert.Equal(t, r.c, PlateColorFromV2(r.v2))
		if r.record >= 0 {
			assert.Equal(t, r.c, PlateColorFromPassRecord(r.record))
		}
	}
	assert.Equal(t, "small new-energy", PlateNumberTypes["52"])
	assert.Equal(t, "unplated", PassRecordPlateTypes[9004])
	assert.Equal(t, accessctl.DirectionIn, DirectionFromWire("IN"))
	assert.Equal(t, accessctl.DirectionOut, DirectionFromWire("1"))
	assert.Equal(t, accessctl.DirectionUnknown, DirectionFromWire("2"))
	assert.Equal(t, 1, DirectionToWire(accessctl.DirectionOut))
	assert.Equal(t, OpenManual, OpenKindFromV2(2))
	assert.Equal(t, 1, OpenAbnormal.V2())
}

func TestTextHelpers(t *testing.T) {
	assert.Equal(t, "智慧停车 一车一杆 户", CleanText("智慧停⻋ ⼀⻋⼀杆 ⼾"))
	assert.Equal(t, "京NTR666", PlateKey("京N TR６６６"))
	assert.Equal(t, "浙XXXXXX", PlateKey("浙x xxxxx"))
	assert.Equal(t, "京 N 1 4 5", SpeakablePlate("京N1***45"))
	assert.Equal(t, 5, Cells("京A12"))
	assert.Equal(t, "智慧", TruncateRunes("智慧停车", 2))
	w := Wildcards{Now: tvAlarm1Time, Expiry: tvAlarm1Time.AddDate(0, 1, 0), Plate: "京A1"}
	assert.Equal(t, "2024-03-05 20:30 京A1 到期2024-04-05 #x #", w.Expand("#T #p 到期#t #x #"))
	assert.Equal(t, " ", Wildcards{}.Expand("#p #t"), "no vehicle: empty")
}

var tvAlarm1Time = mustTime("2024-03-05T12:30:00Z")

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
