// Command parkinglane runs a simulated parking entrance end to end: a
// simulated camera recognises scripted cars, a Lane asks a Decider built
// from a vehicle permission file, opens the barrier and updates the LED
// screen, and one JSON line per car says what happened.
//
//	go run ./examples/parkinglane            # mixed-mode screen, 4 rows, in memory
//	go run ./examples/parkinglane -mode separated -rows -4
//	go run ./examples/parkinglane -mqtt      # the camera on an embedded MQTT broker
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"time"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
	"github.com/menjin/menjin/parking/parkingmqtt/parkingmqtttest"
	"github.com/menjin/menjin/parking/parkingsim"
)

func main() {
	mode := flag.String("mode", "mixed", "LED mode: mixed (AddLedData) or separated (NoticeDisplay)")
	rows := flag.Int("rows", 4, "LedRowNumber; negative: the screen takes <br>")
	overMQTT := flag.Bool("mqtt", false, "run the camera over the thing-model carrier on an embedded broker")
	flag.Parse()
	if err := run(*mode, *rows, *overMQTT); err != nil {
		log.Fatal(err)
	}
}

func run(mode string, rows int, overMQTT bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	profile := parking.Profile{Mode: parking.Mixed, Rows: rows, QRCode: true}
	if mode == "separated" {
		profile.Mode = parking.Separated
	}

	// The vehicle list, as the cloud would push it (§6.1): a monthly pass
	// ending in three days, a whitelisted car, a blacklisted one.
	now := time.Now()
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	file := `{"total":3,"permList":[
	 {"type":1,"plateNumber":"京A12345","effectiveDate":"` + ms(now.AddDate(0, -1, 0)) + `","expiryDate":"` + ms(now.Add(3*24*time.Hour+time.Hour)) + `","permissionType":1},
	 {"type":1,"plateNumber":"浙A54321","effectiveDate":"","expiryDate":"","permissionType":2},
	 {"type":1,"plateNumber":"京B66666","effectiveDate":"","expiryDate":"","permissionType":3}]}`
	list, parsed, err := parking.LoadPermissionFile([]byte(file))
	if err != nil {
		return err
	}
	if len(parsed.Skipped) > 0 {
		return fmt.Errorf("permission file: %v", parsed.Skipped)
	}

	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	alarms := make(chan accessctl.Event, 8)
	sink := accessctl.EventSinkFunc(func(_ context.Context, e accessctl.Event) error {
		if e.Kind == accessctl.KindAlarm {
			alarms <- e
		}
		return nil
	})
	simOpts := []parkingsim.Option{parkingsim.WithProfile(profile)}
	laneOpts := []parking.LaneOption{parking.WithDirection(accessctl.DirectionIn), parking.WithShowSeconds(5)}
	var lane *parkingsim.Lane
	if overMQTT {
		l, err := parkingmqtttest.StartSimLane(ctx, "entrance-1", parking.ListDecider(list, true), sink, simOpts, laneOpts...)
		if err != nil {
			return err
		}
		defer l.Close()
		lane = l.Lane
	} else {
		l, err := parkingsim.NewLane(ctx, "entrance-1", parking.ListDecider(list, true), sink, simOpts, laneOpts...)
		if err != nil {
			return err
		}
		defer l.Close()
		lane = l
	}
	// The camera learns the same list, so its records carry the category.
	lane.Sim.Permissions().Apply(parsed)
	if _, err := lane.Camera.SetDefault(ctx, parking.SituationIdle, []string{"智慧停车", "欢迎光临", "#T"}, parking.Green); err != nil {
		return err
	}

	cars := []struct {
		car  parkingsim.Car
		pass bool // drives through after the decision
	}{
		{parkingsim.Car{Plate: "京A12345"}, false},
		{parkingsim.Car{Plate: "京A 12345"}, true}, // recognised again a moment later: the same car
		{parkingsim.Car{Plate: "浙A54321", PlateColor: parking.PlateBlue}, true},
		{parkingsim.Car{Plate: "京B66666"}, false},
		{parkingsim.Car{Plate: "沪C8888D", PlateColor: parking.PlateGreen}, true}, // not on the list: temporary
		{parkingsim.Car{Plate: ""}, false},                                       // unplated
	}
	for _, c := range cars {
		rep, err := lane.Drive(ctx, c.car)
		if err != nil {
			return fmt.Errorf("car %q: %w", c.car.Plate, err)
		}
		if err := out.Encode(rep); err != nil {
			return err
		}
		if c.pass {
			lane.Pass(ctx)
		}
	}
	// Someone lifts the barrier with the remote: an alarm, not a pass.
	if err := lane.Sim.AbnormalLift(ctx, parking.OpenByRemoteControl, ""); err != nil {
		return err
	}
	select { // over a carrier the alarm arrives after the post is acknowledged
	case a := <-alarms:
		if err := out.Encode(map[string]any{"alarm": a.Alarm.Type, "message": a.Alarm.Message, "gate": lane.Sim.GateState().String()}); err != nil {
			return err
		}
	case <-ctx.Done():
		return fmt.Errorf("no alarm: %w", ctx.Err())
	}
	st := lane.Lane.Stats()
	if st.Recognitions != 5 || st.Duplicates != 1 || st.Alarms != 1 {
		return fmt.Errorf("unexpected lane stats %+v", st)
	}
	return nil
}
