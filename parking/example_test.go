package parking_test

import (
	"fmt"

	"github.com/menjin/menjin/parking"
)

// The same message rendered for the two kinds of screen.
func ExampleProfile_Render() {
	msg := parking.Screen{Plate: "京A12345", Lines: []string{"#p", "月卡剩余3天"}, Voice: "欢迎光临"}
	for _, p := range []parking.Profile{{Mode: parking.Mixed, Rows: 2}, {Mode: parking.Separated, Rows: -2}} {
		for _, s := range p.Render(msg).Services {
			args, _ := s.Args()
			fmt.Println(s.Identifier(), string(args))
		}
	}
	// Output:
	// AddLedData {"LedData":"{\"Type\":1,\"Situation\":0,\"PlateNumber\":\"京A12345\",\"ShowTime\":10,\"AudioContextInfo\":\"欢迎光临\",\"ScreenLineNum\":2,\"ContextList\":[{\"RunType\":0,\"ColorType\":2,\"CustomContext\":\"京A12345\",\"Audio\":0},{\"RunType\":0,\"ColorType\":2,\"CustomContext\":\"月卡剩余3天\",\"Audio\":0}]}"}
	// NoticeBroadcast {"VoiceContent":"欢迎光临"}
	// NoticeDisplay {"DisplayContent":"京A12345<br>月卡剩余3天","RowNumber":1,"DisplayTime":10}
}

// LedData as a device receives it: JSON inside a string, numbers as strings.
func ExampleDecodeLedData() {
	d, err := parking.DecodeLedData([]byte(`"{\"Type\":\"1\",\"ContextList\":[{\"CustomContext\":\"请缴费 10元\",\"ColorType\":1}]}"`))
	fmt.Println(d.Type, d.ShowTime, d.ContextList[0].CustomContext, d.ContextList[0].ColorType, err)
	_, err = parking.DecodeLedData([]byte(`{"Situation":0,"ContextList":[]}`))
	fmt.Println(err)
	// Output:
	// 1 10 请缴费 10元 red <nil>
	// parking: required field missing in LedData: Type: required
}
