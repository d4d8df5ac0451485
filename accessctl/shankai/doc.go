// Package shankai is a client of the 闪开 card cloud (api.baohe.tv,
// accessctl/PLATFORMS.md §2): organisations, users keyed by mobile, and
// their card numbers. It manages the access token (7200 s, fetched again
// before it expires and when 闪开 answers 4002), checks card numbers locally
// with 闪开's rules (ParseCardNo) and maps errcodes to typed errors.
//
//	c, _ := shankai.New(appID, secret)
//	org, _ := c.CreateOrganization(ctx, shankai.Organization{Name: "桃花园小区", Mode: shankai.ModeICCard})
//	card, _ := shankai.ParseCardNo("0x1A3D5B79")
//	err := c.SetCardNo(ctx, org, "13823781234", "张三", card)
//
// CardSync adapts an organisation to accessctl.PermissionSync for card
// grants. 闪开 documents no events, doors or validity windows, so there is
// no EventSink for it. Package shankaitest is a local 闪开 for tests and
// demos.
package shankai
