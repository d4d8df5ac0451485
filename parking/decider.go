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
func ListDecider(s *PermissionSet, allowTemporary bool) accessctl.Decider {
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
				days := int(p.Expiry.Sub(at).Hours() / 24)
				lines = append(lines, fmt.Sprintf("月卡剩余%d天", days))
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
