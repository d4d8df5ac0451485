package shankai_test

import (
	"context"
	"fmt"

	"github.com/menjin/menjin/accessctl/shankai"
	"github.com/menjin/menjin/accessctl/shankai/shankaitest"
)

func ExampleParseCardNo() {
	for _, s := range []string{"123456", "0X00ff", "2147483648"} {
		c, err := shankai.ParseCardNo(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(c.Raw, c.Notation)
	}
	// Output:
	// 123456 decimal
	// 0x00FF hex
	// shankai: invalid card number "2147483648": decimal above 2147483647
}

func ExampleClient() {
	cloud := shankaitest.NewServer("app", "secret") // a local 闪开
	defer cloud.Close()
	c, _ := shankai.New("app", "secret", shankai.WithBaseURL(cloud.URL()))
	ctx := context.Background()
	org, _ := c.CreateOrganization(ctx, shankai.Organization{Name: "桃花园小区", Mode: shankai.ModeICCard})
	card, _ := shankai.ParseCardNo("0x1A3D5B79")
	fmt.Println(c.SetCardNo(ctx, org, "13823781234", "张三", card))
	info, _ := c.GetCardNo(ctx, org, "13823781234", "")
	fmt.Println(info.Card.Raw, shankai.SameCard(card, info.Card))
	// Output:
	// <nil>
	// 0x1A3D5B79 true
}
