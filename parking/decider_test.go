package parking_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
	"github.com/menjin/menjin/parking"
)

func TestRemainingDaysText(t *testing.T) {
	cst := parking.ChinaTime
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	at := func(loc *time.Location, d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, loc) }
	cases := []struct {
		name        string
		expiry, now time.Time
		loc         *time.Location
		want        string
	}{
		{"evening of the 8th, expires the 11th morning", at(cst, 11, 8, 0), at(cst, 8, 21, 0), cst, "月卡剩余3天"},
		{"morning of the 8th, expires the 11th night", at(cst, 11, 23, 59), at(cst, 8, 0, 1), cst, "月卡剩余3天"},
		{"expires tomorrow at 00:00", at(cst, 9, 0, 0), at(cst, 8, 23, 59), cst, "月卡剩余1天"},
		{"expires later today", at(cst, 8, 23, 59), at(cst, 8, 0, 0), cst, "月卡今日到期"},
		{"expired this morning", at(cst, 8, 6, 0), at(cst, 8, 7, 0), cst, "月卡已过期"},
		{"expired yesterday", at(cst, 7, 23, 0), at(cst, 8, 7, 0), cst, "月卡已过期"},
		// The same instants read in UTC are other dates: 2026-03-08 01:00+08 is the 7th in UTC.
		{"dates are the lane's, not UTC's", at(cst, 11, 1, 0), at(cst, 8, 1, 0).UTC(), cst, "月卡剩余3天"},
		{"zone changes the count", at(cst, 11, 1, 0), at(cst, 8, 23, 0), time.UTC, "月卡剩余2天"},
		// 2026-03-08 is the US DST switch (a 23-hour day): still one date change per day.
		{"DST day counts once", at(ny, 11, 0, 30), at(ny, 7, 23, 30), ny, "月卡剩余4天"},
		{"nil zone is ChinaTime", at(cst, 11, 8, 0), at(cst, 8, 21, 0), nil, "月卡剩余3天"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, parking.RemainingDaysText(c.expiry, c.now, c.loc))
		})
	}
}

func TestListDeciderRemainingDays(t *testing.T) {
	cst := parking.ChinaTime
	list := &parking.PermissionSet{}
	list.Put(parking.Permission{PlateNumber: "京A12345", Category: parking.CategoryOrdinary,
		Expiry: time.Date(2026, 12, 11, 9, 0, 0, 0, cst)})
	req := func(at time.Time) accessctl.DecisionRequest {
		return accessctl.DecisionRequest{Credential: accessctl.Credential{Value: "京A12345"}, At: at}
	}
	ctx := context.Background()

	// Seen at 21:00 on the 8th: 2 days 12 hours remain, which used to round down to 2.
	d, err := parking.ListDecider(list, false).Decide(ctx, req(time.Date(2026, 12, 8, 21, 0, 0, 0, cst)))
	require.NoError(t, err)
	require.True(t, d.Allow)
	assert.Equal(t, []string{"京A12345", "欢迎光临", "月卡剩余3天"}, d.Display)

	d, err = parking.ListDecider(list, false).Decide(ctx, req(time.Date(2026, 12, 11, 8, 0, 0, 0, cst)))
	require.NoError(t, err)
	assert.Equal(t, "月卡今日到期", d.Display[2])

	// A lane in UTC reads 2026-12-11 09:00+08 as the 11th 01:00 and 2026-12-09 07:00+08 as the 8th 23:00.
	d, err = parking.ListDecider(list, false, parking.WithDecisionZone(time.UTC)).
		Decide(ctx, req(time.Date(2026, 12, 9, 7, 0, 0, 0, cst)))
	require.NoError(t, err)
	assert.Equal(t, "月卡剩余3天", d.Display[2])

	d, err = parking.ListDecider(list, false).Decide(ctx, req(time.Date(2026, 12, 11, 10, 0, 0, 0, cst)))
	require.NoError(t, err)
	assert.False(t, d.Allow, "an expired pass is denied, not shown a count")
	assert.Equal(t, []string{"京A12345", "授权已过期"}, d.Display)
}
