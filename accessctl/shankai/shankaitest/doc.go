// Package shankaitest is a local 闪开 card cloud for tests and demos: it
// issues expiring tokens on its own clock, keeps organisations, users and
// cards, validates card numbers with 闪开's documented rules and answers
// with its errcodes; failures can be injected.
//
//	cloud := shankaitest.NewServer("app", "secret")
//	defer cloud.Close()
//	c, _ := shankai.New("app", "secret", shankai.WithBaseURL(cloud.URL()))
package shankaitest
