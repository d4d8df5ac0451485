package parking

import (
	"context"
	"fmt"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// ListDecider decides from a permission list, as a camera would locally:
// an ordinary or whitelisted plate inside its window is let in (an
// ordinary one is told how many days remain), a blacklisted one is not,
// and an unknown one is a temporary vehicle, let in only if
// allowTemporary. Hosts with a parking system use their own Decider.
//
// The remaining days count calendar days as a resident reads them, in the
// lane's zone (WithDecisionZone, default ChinaTime, the zone of device
// clocks and permission dates): expiring on the 11th, seen on the 8th, is
// "月卡剩余3天" whatever the hour. A pass expiring later today shows
// "月卡今日到期"; one already expired is denied ("授权已过期").
func ListDecider(s *PermissionSet, allowTemporary bool, opts ...ListDeciderOption) accessctl.Decider {
	cfg := listConfig{loc: ChinaTime}
	for _, o := range opts {
		o(&cfg)
	}
	loc := cfg.loc
	if loc == nil {
		loc = ChinaTime
	}
	return accessctl.DeciderFunc(func(_ context.Context, r accessctl.DecisionRequest) (accessctl.Decision, error) {
		plate := r.Credential.Value
		at := r.At
		if at.IsZero() {
			at = time.Now()
		}
		show := plate
		if show == "" {
			show = "无牌车"
		}
		p, ok := s.Lookup(plate)
		switch {
		case plate == "":
			return accessctl.Decision{Result: accessctl.Result{Code: 1, Message: "请取卡"},
				Display: []string{show, "请取卡"}, Voice: "无牌车 请取卡"}, nil
		case ok && p.Category == CategoryBlacklist:
			return deny(show, 2, "禁止通行"), nil
		case ok && !p.ValidAt(at):
			return deny(show, 3, "授权已过期"), nil
		case ok:
			lines := []string{show, "欢迎光临"}
			if p.Category == CategoryOrdinary && !p.Expiry.IsZero() {
				lines = append(lines, RemainingDaysText(p.Expiry, at, loc))
			}
			return accessctl.Decision{Allow: true, Result: accessctl.Result{Granted: true, Message: p.Category.String()},
				Display: lines, Voice: SpeakablePlate(plate) + " 欢迎光临"}, nil
		case allowTemporary:
			return accessctl.Decision{Allow: true, Result: accessctl.Result{Granted: true, Message: CategoryTemporary.String()},
				Display: []string{show, "临时车 欢迎光临"}, Voice: SpeakablePlate(plate) + " 临时车 欢迎光临"}, nil
		}
		return deny(show, 4, "未登记车辆"), nil
	})
}

func deny(plate string, code int, msg string) accessctl.Decision {
	return accessctl.Decision{Result: accessctl.Result{Code: code, Message: msg},
		Display: []string{plate, msg}, Voice: SpeakablePlate(plate) + " " + msg}
}

// ListDeciderOption configures ListDecider.
type ListDeciderOption func(*listConfig)

type listConfig struct{ loc *time.Location }

// WithDecisionZone sets the zone in which ListDecider counts calendar days:
// the lane's, where residents read the screen (nil: ChinaTime).
func WithDecisionZone(loc *time.Location) ListDeciderOption {
	return func(c *listConfig) { c.loc = loc }
}

// RemainingDaysText is the screen line for a monthly pass expiring at
// expiry, seen at now: the number of calendar days between the two dates in
// loc (not elapsed 24-hour periods, which round "3 days" down to 2 in the
// evening). Same date: "月卡今日到期"; past: "月卡已过期".
func RemainingDaysText(expiry, now time.Time, loc *time.Location) string {
	days := CalendarDaysBetween(now, expiry, loc)
	switch {
	case days < 0 || !expiry.After(now):
		return "月卡已过期"
	case days == 0:
		return "月卡今日到期"
	}
	return fmt.Sprintf("月卡剩余%d天", days)
}

// CalendarDaysBetween is the number of date changes from a to b in loc
// (negative when b's date is before a's). Dates are compared as civil
// dates, so DST days of 23 or 25 hours count as one.
func CalendarDaysBetween(a, b time.Time, loc *time.Location) int {
	if loc == nil {
		loc = ChinaTime
	}
	ay, am, ad := a.In(loc).Date()
	by, bm, bd := b.In(loc).Date()
	da := time.Date(ay, am, ad, 12, 0, 0, 0, time.UTC)
	db := time.Date(by, bm, bd, 12, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}
