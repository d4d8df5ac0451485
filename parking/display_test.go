package parking_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingsim"
)

func TestRenderMixed(t *testing.T) {
	p := parking.Profile{Mode: parking.Mixed, Rows: 4}
	r := p.Render(parking.Screen{Plate: "京A12345", Lines: []string{"#p", "欢迎光临", "月卡剩余3天"}, Voice: "#p 欢迎光临", Color: parking.Red, Seconds: 5})
	require.Len(t, r.Services, 1)
	add, ok := r.Services[0].(parking.AddLedData)
	require.True(t, ok)
	assert.Equal(t, parking.TemporaryScene, add.Data.Type)
	assert.Equal(t, 5, add.Data.ShowTime)
	assert.Equal(t, 4, add.Data.ScreenLineNum)
	assert.Equal(t, "京A12345 欢迎光临", add.Data.AudioContextInfo)
	assert.Equal(t, []string{"京A12345", "欢迎光临", "月卡剩余3天"}, r.Rows)
	for _, l := range add.Data.ContextList {
		assert.Equal(t, parking.Red, l.ColorType)
	}
	args, err := add.Args()
	require.NoError(t, err)
	back, err := parking.DecodeAddLedDataArgs(args)
	require.NoError(t, err)
	assert.Equal(t, add.Data, back)
}

func TestRenderSeparated(t *testing.T) {
	p := parking.Profile{Mode: parking.Separated, Rows: 2}
	r := p.Render(parking.Screen{Plate: "京A1", Lines: []string{"#p", "欢迎光临", "dropped"}, Voice: "欢迎", Seconds: 99999})
	assert.Equal(t, 1, r.Dropped)
	require.Len(t, r.Services, 3)
	assert.Equal(t, []string{"京A1", "欢迎光临"}, r.Rows)
	assert.Equal(t, parking.NoticeBroadcast{VoiceContent: "欢迎"}, r.Services[0])
	assert.Equal(t, parking.NoticeDisplay{DisplayContent: "京A1", RowNumber: 1, DisplayTime: 3600}, r.Services[1])
	assert.Equal(t, parking.NoticeDisplay{DisplayContent: "欢迎光临", RowNumber: 2, DisplayTime: 3600}, r.Services[2])
}

func TestRenderLineBreaks(t *testing.T) {
	p := parking.Profile{Mode: parking.Separated, Rows: -3}
	r := p.Render(parking.Screen{Lines: []string{"a<BR/>b", "c", "d"}})
	require.Len(t, r.Services, 1, "a negative LedRowNumber takes every row as one text on row 1")
	assert.Equal(t, parking.NoticeDisplay{DisplayContent: "a<br>b<br>c", RowNumber: 1, DisplayTime: 10}, r.Services[0])
	assert.Equal(t, 1, r.Dropped)
	args, err := r.Services[0].Args()
	require.NoError(t, err)
	assert.Contains(t, string(args), `"a<br>b<br>c"`, "no HTML escaping")

	// Without "<br>" support the token splits rows instead.
	r = parking.Profile{Mode: parking.Separated, Rows: 0}.Render(parking.Screen{Lines: []string{"a<br>b"}})
	require.Len(t, r.Services, 4, "one NoticeDisplay per row, unused rows blanked")
	assert.Equal(t, []string{"a", "b", "", ""}, r.Rows)
	assert.Equal(t, 4, parking.Profile{}.PhysicalRows(), "LedRowNumber 0: 4 rows")
}

func TestRenderLimits(t *testing.T) {
	long := strings.Repeat("长", 200)
	r := parking.Profile{Mode: parking.Mixed, Rows: 4}.Render(parking.Screen{Lines: []string{long}, Voice: strings.Repeat("语", 1000)})
	add := r.Services[0].(parking.AddLedData)
	assert.Len(t, []rune(add.Data.ContextList[0].CustomContext), parking.MaxCustomContextLen)
	assert.GreaterOrEqual(t, r.Truncated, 2, "line and voice were cut, and said so")
	_, err := add.Args()
	require.NoError(t, err, "what the renderer produces always fits")

	r = parking.Profile{Mode: parking.Separated, Rows: 1}.Render(parking.Screen{Lines: []string{strings.Repeat("长", 700)}})
	nd := r.Services[0].(parking.NoticeDisplay)
	assert.LessOrEqual(t, len(nd.DisplayContent), parking.MaxContentLen)
	assert.Equal(t, 1, r.Truncated)
	_, err = nd.Args()
	require.NoError(t, err)

	// A line wider than the row scrolls rather than being cut (§11 item 1).
	r = parking.Profile{Mode: parking.Separated, Rows: 2, RowWidth: 8}.Render(parking.Screen{Lines: []string{"京A12345 欢迎光临", "短"}})
	assert.Equal(t, parking.RightToLeft, r.Services[0].(parking.NoticeDisplay).MovingType)
	assert.Equal(t, parking.Static, r.Services[1].(parking.NoticeDisplay).MovingType)
}

// TV-LED-1c sent to a simulated mixed-mode screen renders as the spec says:
// rows 1–3 static red, row 4 green current time, no voice.
func TestSimulatedScreenRendersTVLED1c(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 3, 5, 12, 30, 0, 0, time.UTC)
	sim := parkingsim.New("cam", parkingsim.WithProfile(parking.Profile{Mode: parking.Mixed, Rows: 4}),
		parkingsim.WithClock(func() time.Time { return now }))
	defer sim.Close()
	cam, err := parkingsim.Loopback(ctx, sim)
	require.NoError(t, err)
	out, err := sim.Invoke(ctx, parking.ServiceAddLedData, mustRead(t, "testdata/TV-LED-1s.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"Result":0}`, string(out))
	d := sim.Display()
	assert.Equal(t, []parkingsim.Row{
		{Text: "智慧停车", Color: parking.Red}, {Text: "智能识别", Color: parking.Red},
		{Text: "一车一杆", Color: parking.Red}, {Text: "2024-03-05 20:30", Color: parking.Green},
	}, d.Rows)
	assert.Empty(t, sim.Spoken())

	// TV-LED-1 as printed: the device answers Result 1, and the driver
	// turns that into a rejection.
	bad, err := sim.Invoke(ctx, parking.ServiceAddLedData, []byte(`{"LedData":`+quote(string(mustRead(t, "testdata/TV-LED-1.txt")))+`}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"Result":1}`, string(bad))

	// A temporary message, then back to the idle scene after ShowTime.
	_, err = cam.Show(ctx, parking.Screen{Plate: "京A12345", Lines: []string{"#p", "欢迎光临"}, Voice: "欢迎光临", Seconds: 5})
	require.NoError(t, err)
	assert.Equal(t, "京A12345", sim.Display().Rows[0].Text)
	assert.Equal(t, "", sim.Display().Rows[2].Text, "rows beyond the message are blank")
	assert.Equal(t, []string{"欢迎光临"}, sim.Spoken())
	now = now.Add(6 * time.Second)
	assert.Equal(t, "智慧停车", sim.Display().Rows[0].Text)
}

func TestSimulatedScreenModes(t *testing.T) {
	ctx := context.Background()
	sim := parkingsim.New("cam", parkingsim.WithProfile(parking.Profile{Mode: parking.Separated, Rows: -2, QRCode: false}))
	defer sim.Close()
	cam, err := parkingsim.Loopback(ctx, sim)
	require.NoError(t, err)
	_, err = cam.SetDefault(ctx, parking.SituationIdle, []string{"欢迎", "#T"}, parking.Green)
	require.NoError(t, err)
	_, err = cam.Show(ctx, parking.Screen{Lines: []string{"京B1", "请缴费 10元"}, Voice: "请缴费 10元"})
	require.NoError(t, err)
	assert.Equal(t, 1, sim.Invocations(parking.ServiceNoticeDisplay), "one <br> text for both rows")
	assert.Equal(t, "请缴费 10元", sim.Display().Rows[1].Text)
	assert.Equal(t, []string{"请缴费 10元"}, sim.Spoken())

	// The other mode's service is refused by the device, typed.
	_, err = sim.Invoke(ctx, parking.ServiceAddLedData, []byte(`{"LedData":{"Type":1,"ContextList":[]}}`))
	require.ErrorIs(t, err, parking.ErrWrongMode)
	_, err = sim.Invoke(ctx, parking.ServiceNoticeDisplay, []byte(`{"DisplayContent":"x","RowNumber":3}`))
	require.ErrorIs(t, err, parking.ErrOutOfRange, "row beyond the screen: error, no wrap")
	require.ErrorIs(t, cam.ShowQRCode(ctx, "x"), accessctl.ErrUnsupported)
}
