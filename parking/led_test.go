package parking

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
)

func vector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

// tvLed1c is TV-LED-1c as the decoder must return it.
var tvLed1c = LedData{
	Type: FixedScene, Situation: SituationIdle, PlateNumber: "", ShowTime: 10, ScreenLineNum: 4,
	ContextList: []LedLine{
		{RunType: Static, ColorType: Red, CustomContext: "智慧停车"},
		{RunType: Static, ColorType: Red, CustomContext: "智能识别"},
		{RunType: Static, ColorType: Red, CustomContext: "一车一杆"},
		{RunType: Static, ColorType: Green, CustomContext: "#T"},
	},
}

func TestLedDataVectors(t *testing.T) {
	t.Run("TV-LED-1 raw is rejected", func(t *testing.T) {
		raw := vector(t, "TV-LED-1.txt")
		_, err := DecodeLedData(raw)
		require.ErrorIs(t, err, ErrSyntax)
		require.ErrorIs(t, err, accessctl.ErrInvalid)
		var fe *FieldError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, LedParseFailed, LedResultOf(err))
		// Cleaning the radicals does not make it valid JSON.
		_, err = DecodeLedData([]byte(CleanText(string(raw))))
		require.ErrorIs(t, err, ErrSyntax)
	})
	t.Run("TV-LED-1 raw, cleaned text", func(t *testing.T) {
		raw := string(vector(t, "TV-LED-1.txt"))
		assert.Contains(t, raw, "⻋")
		clean := CleanText(raw)
		assert.NotContains(t, clean, "⻋")
		assert.NotContains(t, clean, "⼀")
		assert.Contains(t, clean, `"一车一杆"`)
		// With the missing value supplied it is TV-LED-1c.
		fixed := strings.Replace(clean, `"ShowTime": ,`, `"ShowTime": 10,`, 1)
		d, err := DecodeLedData([]byte(fixed))
		require.NoError(t, err)
		assert.Equal(t, tvLed1c, d)
	})
	t.Run("TV-LED-1c", func(t *testing.T) {
		d, err := DecodeLedData(vector(t, "TV-LED-1c.json"))
		require.NoError(t, err)
		assert.Equal(t, tvLed1c, d)
		assert.Equal(t, LedParsedOK, LedResultOf(err))
		enc, err := d.Encode()
		require.NoError(t, err)
		assert.JSONEq(t, string(vector(t, "TV-LED-1c.json")), string(enc))
	})
	t.Run("TV-LED-1s string form, byte for byte", func(t *testing.T) {
		s := vector(t, "TV-LED-1s.json")
		d, err := DecodeAddLedDataArgs(s)
		require.NoError(t, err)
		assert.Equal(t, tvLed1c, d)
		args, err := AddLedDataArgs(tvLed1c)
		require.NoError(t, err)
		var want, got map[string]string
		require.NoError(t, json.Unmarshal(s, &want))
		require.NoError(t, json.Unmarshal(args, &got))
		assert.Equal(t, want[ParamLedData], got[ParamLedData], "the inner JSON text is identical")
		// The object form is accepted too.
		obj := `{"LedData":` + string(vector(t, "TV-LED-1c.json")) + `}`
		d2, err := DecodeAddLedDataArgs([]byte(obj))
		require.NoError(t, err)
		assert.Equal(t, tvLed1c, d2)
	})
	t.Run("TV-LED-1r cloud REST body", func(t *testing.T) {
		r := vector(t, "TV-LED-1r.json")
		d, err := DecodeLedData(r) // lowerCamel keys, iotId ignored
		require.NoError(t, err)
		assert.Equal(t, tvLed1c, d)
		enc, err := EncodeLedDataREST("IOT_ID_PLACEHOLDER", tvLed1c)
		require.NoError(t, err)
		assert.JSONEq(t, string(r), string(enc))
	})
}

func TestLedDataNegativeVectors(t *testing.T) {
	long := strings.Repeat("长", 129)
	cases := []struct {
		name, in string
		want     error
	}{
		{"unknown Type", `{"Type": 7, "ScreenLineNum": 4, "ContextList": []}`, ErrUnknownValue},
		{"unknown Situation", `{"Type": 0, "Situation": 9, "ScreenLineNum": 4, "ContextList": []}`, ErrUnknownValue},
		{"ContextList missing", `{"Type": 0, "Situation": 0, "ScreenLineNum": 4}`, ErrMissing},
		{"Type missing", `{"Situation": 0, "ScreenLineNum": 4, "ContextList": []}`, ErrMissing},
		{"CustomContext over 128", `{"Type": 0, "Situation": 0, "ScreenLineNum": 4, "ContextList": [{"CustomContext": "` + long + `"}]}`, ErrTooLong},
		{"over 2048", `{"Type":0,"ScreenLineNum":4,"ContextList":[],"AudioContextInfo":"` + strings.Repeat("a", 2048) + `"}`, ErrTooLong},
		{"string in a string", `"\"{}\""`, ErrBadType},
		{"array", `[]`, ErrBadType},
		{"empty", ``, ErrSyntax},
		{"Type not a number", `{"Type":"zero","ContextList":[]}`, ErrBadType},
		{"Type fractional", `{"Type":0.5,"ContextList":[]}`, ErrBadType},
		{"ContextList not an array", `{"Type":0,"ContextList":{}}`, ErrBadType},
		{"line not an object", `{"Type":0,"ContextList":[1]}`, ErrBadType},
		{"CustomContext missing", `{"Type":0,"ContextList":[{"RunType":0}]}`, ErrMissing},
		{"ScreenLineNum negative", `{"Type":0,"ScreenLineNum":-1,"ContextList":[]}`, ErrOutOfRange},
		{"Type null is missing", `{"Type":null,"ContextList":[]}`, ErrMissing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeLedData([]byte(c.in))
			require.ErrorIs(t, err, c.want)
			require.ErrorIs(t, err, accessctl.ErrInvalid)
			assert.Equal(t, LedParseFailed, LedResultOf(err))
		})
	}
}

func TestLedDataTolerated(t *testing.T) {
	cases := []struct {
		name, in string
		check    func(t *testing.T, d LedData)
	}{
		{"numeric strings", `{"Type":"0","Situation":"3","ShowTime":"20","ScreenLineNum":"2","ContextList":[{"RunType":"1","ColorType":"1","CustomContext":"x","Audio":"1"}]}`,
			func(t *testing.T, d LedData) {
				assert.Equal(t, SituationTemporary, d.Situation)
				assert.Equal(t, 20, d.ShowTime)
				assert.Equal(t, LedLine{RunType: RightToLeft, ColorType: Red, CustomContext: "x", Audio: true}, d.ContextList[0])
			}},
		{"defaults", `{"Type":1,"ContextList":[{"CustomContext":"a"}]}`, func(t *testing.T, d LedData) {
			assert.Equal(t, DefaultShowTime, d.ShowTime)
			assert.Equal(t, 0, d.ScreenLineNum, "0: not given")
			assert.Equal(t, LedLine{RunType: Static, ColorType: Green, CustomContext: "a"}, d.ContextList[0])
		}},
		{"colour out of set falls back to green", `{"Type":0,"ContextList":[{"ColorType":0,"CustomContext":""},{"ColorType":3,"CustomContext":""},{"ColorType":-1,"CustomContext":""}]}`,
			func(t *testing.T, d LedData) {
				for _, l := range d.ContextList {
					assert.Equal(t, Green, l.ColorType)
				}
			}},
		{"unknown RunType is static", `{"Type":0,"ContextList":[{"RunType":9,"CustomContext":"a"}]}`, func(t *testing.T, d LedData) {
			assert.Equal(t, Static, d.ContextList[0].RunType)
		}},
		{"Situation ignored for a temporary scene", `{"Type":1,"Situation":42,"ContextList":[]}`, func(t *testing.T, d LedData) {
			assert.Equal(t, SituationIdle, d.Situation)
		}},
		{"ShowTime clamped", `{"Type":1,"ShowTime":99999,"ContextList":[]}`, func(t *testing.T, d LedData) {
			assert.Equal(t, MaxDisplayTime, d.ShowTime)
		}},
		{"ShowTime negative is the default", `{"Type":1,"ShowTime":-5,"ContextList":[]}`, func(t *testing.T, d LedData) {
			assert.Equal(t, DefaultShowTime, d.ShowTime)
		}},
		{"empty ContextList blanks the screen", `{"Type":1,"ContextList":[]}`, func(t *testing.T, d LedData) {
			assert.NotNil(t, d.ContextList)
			assert.Empty(t, d.ContextList)
		}},
		{"128 characters", `{"Type":0,"ContextList":[{"CustomContext":"` + strings.Repeat("长", 128) + `"}]}`, func(t *testing.T, d LedData) {
			assert.Len(t, []rune(d.ContextList[0].CustomContext), 128)
		}},
		{"extra keys", `{"Type":0,"PlateNumber":"京A1","Foo":{"x":[1]},"ContextList":[]}`, func(t *testing.T, d LedData) {
			assert.Equal(t, "京A1", d.PlateNumber)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := DecodeLedData([]byte(c.in))
			require.NoError(t, err)
			c.check(t, d)
		})
	}
}

func TestLedDataEncodeLimits(t *testing.T) {
	d := LedData{Type: TemporaryScene}
	for range 20 {
		d.ContextList = append(d.ContextList, LedLine{CustomContext: strings.Repeat("长", 128)})
	}
	_, err := d.Encode()
	require.ErrorIs(t, err, ErrTooLong, "20×128 CJK characters are over 2048 bytes")
	_, err = AddLedDataArgs(d)
	require.ErrorIs(t, err, ErrTooLong)

	_, err = LedData{Type: 5}.Encode()
	require.ErrorIs(t, err, ErrUnknownValue)
	_, err = LedData{Type: FixedScene, Situation: 7}.Encode()
	require.ErrorIs(t, err, ErrUnknownValue)
	_, err = LedData{ContextList: []LedLine{{CustomContext: strings.Repeat("a", 129)}}}.Encode()
	require.ErrorIs(t, err, ErrTooLong)

	// Encoding always emits numbers, a list, and no HTML escapes.
	b, err := LedData{Type: TemporaryScene, ContextList: []LedLine{{ColorType: 7, RunType: -1, CustomContext: "a<br>b"}}}.Encode()
	require.NoError(t, err)
	assert.Equal(t, `{"Type":1,"Situation":0,"PlateNumber":"","ShowTime":10,"AudioContextInfo":"","ScreenLineNum":4,"ContextList":[{"RunType":0,"ColorType":2,"CustomContext":"a<br>b","Audio":0}]}`, string(b))
	b, err = LedData{Type: TemporaryScene}.Encode()
	require.NoError(t, err)
	assert.Contains(t, string(b), `"ContextList":[]`)

	// MarshalJSON / UnmarshalJSON go through the same codec.
	var back struct{ L LedData }
	in, err := json.Marshal(struct{ L LedData }{tvLed1c})
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(in, &back))
	assert.Equal(t, tvLed1c, back.L)
	err = json.Unmarshal([]byte(`{"L":{"Type":9,"ContextList":[]}}`), &back)
	require.True(t, errors.Is(err, ErrUnknownValue), "%v", err)
}

func TestSeparatedModeVectors(t *testing.T) {
	cases := []struct {
		file string
		id   string
		want Service
	}{
		{"TV-LED-2.json", ServiceNoticeBroadcast, NoticeBroadcast{VoiceContent: "语音提示信息", PlaySpeed: 1}},
		{"TV-LED-3.json", ServiceNoticeDisplay, NoticeDisplay{DisplayContent: "提示显示信息", RowNumber: 1}},
		{"TV-LED-4.json", ServiceDefaultDisplay, DefaultDisplay{DisplayContent: "提示显示信息", RowNumber: 1, DefaultSituation: SituationIdle}},
		{"TV-LED-5.json", ServiceQrCodeDisplay, QrCodeDisplay{QrCode: "二维码文本信息"}},
		{"TV-LED-6.json", ServiceTriggerRecognition, TriggerRecognition{}},
		{"TV-GATE-1.json", ServiceOperateGate, OperateGate{Command: GateOpen}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			raw := vector(t, c.file)
			got, err := DecodeService(c.id, raw)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
			assert.Equal(t, c.id, got.Identifier())
			args, err := c.want.Args()
			require.NoError(t, err)
			assert.JSONEq(t, string(raw), string(args))
		})
	}
}

func TestServiceMustFail(t *testing.T) {
	cases := []struct {
		id, in string
		want   error
	}{
		{ServiceNoticeDisplay, `{"DisplayContent":"x"}`, ErrMissing},
		{ServiceNoticeDisplay, `{"DisplayContent":"x","RowNumber":0}`, ErrOutOfRange},
		{ServiceNoticeDisplay, `{"DisplayContent":"x","RowNumber":101}`, ErrOutOfRange},
		{ServiceNoticeDisplay, `{"DisplayContent":"` + strings.Repeat("x", 2049) + `","RowNumber":1}`, ErrTooLong},
		{ServiceNoticeBroadcast, `{}`, ErrMissing},
		{ServiceNoticeBroadcast, `{"VoiceContent":5}`, nil}, // a number is kept as text
		{ServiceDefaultDisplay, `{"DisplayContent":"x","RowNumber":1,"DefaultSituation":5}`, ErrUnknownValue},
		{ServiceDefaultDisplay, `{"DisplayContent":"x","RowNumber":1}`, ErrMissing},
		{ServiceQrCodeDisplay, `{"QrCode":"` + strings.Repeat("q", 2049) + `"}`, ErrTooLong},
		{ServiceOperateGate, `{"OperatType":3}`, ErrUnknownValue},
		{ServiceOperateGate, `{"OperateType":1}`, ErrMissing}, // the corrected spelling is not the wire name
		{ServiceOperateGate, `{"OperatType":"1"}`, nil},
		{ServiceAddVehiclePermission, `{}`, ErrMissing},
		{"NoSuchService", `{}`, ErrUnknownService},
		{ServiceNoticeDisplay, `not json`, ErrSyntax},
	}
	for _, c := range cases {
		t.Run(c.id+" "+TruncateRunes(c.in, 40), func(t *testing.T) {
			_, err := DecodeService(c.id, []byte(c.in))
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, c.want)
		})
	}
	// Producer side: typed errors before anything is sent.
	_, err := NoticeDisplay{DisplayContent: "x", RowNumber: 0}.Args()
	require.ErrorIs(t, err, ErrOutOfRange)
	_, err = NoticeBroadcast{VoiceContent: strings.Repeat("语", 683)}.Args() // 2049 bytes
	require.ErrorIs(t, err, ErrTooLong)
	_, err = OperateGate{Command: 9}.Args()
	require.ErrorIs(t, err, ErrUnknownValue)
	_, err = DefaultDisplay{DisplayContent: "x", RowNumber: 1, DefaultSituation: -1}.Args()
	require.ErrorIs(t, err, ErrUnknownValue)
	// Clamping (§11 item 11).
	b, err := NoticeDisplay{DisplayContent: "x", RowNumber: 2, MovingSpeed: 99, DisplayTime: 7200, MovingType: 8}.Args()
	require.NoError(t, err)
	assert.JSONEq(t, `{"DisplayContent":"x","RowNumber":2,"MovingSpeed":10,"DisplayTime":3600}`, string(b))
	s, err := DecodeService(ServiceNoticeDisplay, []byte(`{"DisplayContent":"x","RowNumber":1,"MovingSpeed":-3,"DisplayTime":0,"MovingType":7}`))
	require.NoError(t, err)
	assert.Equal(t, NoticeDisplay{DisplayContent: "x", RowNumber: 1, MovingSpeed: 1, DisplayTime: 0, MovingType: Static}, s)
}

func TestWireIdentifiersKeepTheirMisspellings(t *testing.T) {
	assert.Equal(t, "AddVehicleIOfPermission", ServiceAddVehiclePermission)
	assert.Equal(t, "IsSurportQrCode", PropertyQrCodeSupport)
	assert.Equal(t, "OperatGate", ServiceOperateGate)
	assert.Equal(t, "OperatType", ParamOperateType)
	assert.Equal(t, "DisplayTime", ParamDisplayTime)
}

func TestEvents(t *testing.T) {
	a, err := DecodeAbnormalOpenGate([]byte(`{"OpenType":1,"ImagePath":"http://x/y.jpg"}`))
	require.NoError(t, err)
	assert.Equal(t, AbnormalOpenGate{OpenType: OpenByDeviceButton, ImagePath: "http://x/y.jpg"}, a)
	p, err := AbnormalOpenGate{OpenType: OpenByOther}.Params()
	require.NoError(t, err)
	assert.JSONEq(t, `{"OpenType":99,"ImagePath":""}`, string(p))
	_, err = DecodeAbnormalOpenGate([]byte(`{"ImagePath":""}`))
	require.ErrorIs(t, err, ErrMissing)
	_, err = AbnormalOpenGate{ImagePath: strings.Repeat("p", 2049)}.Params()
	require.ErrorIs(t, err, ErrTooLong)

	r, err := DecodeOssStsTokenRequest([]byte(`{"RequestType":"1"}`))
	require.NoError(t, err)
	assert.Equal(t, StsTextFile, r.RequestType)

	props, err := DecodeProperties([]byte(`{"LedRowNumber":-4,"LedNoticeMode":"1","IsSurportQrCode":1,"GateState":{"value":2,"time":1},"VehicleState":2,"Volume":150,"Brightness":-3}`))
	require.NoError(t, err)
	assert.Equal(t, -4, *props.LedRowNumber)
	assert.Equal(t, Mixed, *props.LedNoticeMode)
	assert.True(t, *props.QRCode)
	assert.Equal(t, GateOpening, *props.GateState)
	assert.Equal(t, VehicleNotSupported, *props.VehicleState)
	assert.Equal(t, 100, *props.Volume)
	assert.Equal(t, 0, *props.Brightness)
	_, err = DecodeProperties([]byte(`{"LedRowNumber":-101}`))
	require.ErrorIs(t, err, ErrOutOfRange)
	_, err = DecodeProperties([]byte(`{"GateState":4}`))
	require.ErrorIs(t, err, ErrOutOfRange)
	_, err = DecodeProperties([]byte(`{"IsSurportQrCode":"maybe"}`))
	require.ErrorIs(t, err, ErrBadType)
	enc, err := props.Encode()
	require.NoError(t, err)
	again, err := DecodeProperties(enc)
	require.NoError(t, err)
	assert.Equal(t, props, again)
}

func TestGateVectors(t *testing.T) {
	var req struct {
		BarrierID string      `json:"barrierId"`
		Command   GateCommand `json:"command"`
	}
	require.NoError(t, json.Unmarshal(vector(t, "TV-GATE-2.json"), &req))
	assert.Equal(t, "道闸唯一标识", req.BarrierID)
	assert.Equal(t, GateOpen, req.Command)
	args, err := OperateGate{Command: req.Command}.Args()
	require.NoError(t, err)
	assert.JSONEq(t, string(vector(t, "TV-GATE-1.json")), string(args), "domain open is OperatType 1")
	b, err := json.Marshal(struct {
		Command GateCommand `json:"command"`
	}{GateKeepOpen})
	require.NoError(t, err)
	assert.JSONEq(t, `{"command":"keepOpen"}`, string(b))
	_, err = ParseGateCommand("lift")
	require.ErrorIs(t, err, ErrUnknownValue)
	assert.Equal(t, "open", GateOpening.DomainStatus())
	assert.Equal(t, "close", GateClosing.DomainStatus())
	assert.Equal(t, "", GateUnknown.DomainStatus())
}
