// Package hciottest plays the HC property system for tests and demos: a
// Platform that receives signed uploads the way HC's API gateway does
// (verifying every sign with its own MD5 code, independently of package
// hciot), and a Client that sends HC's /extApi requests the way HC's IoT
// adapters do, with body builders for each call HC makes.
//
//	hc := hciottest.NewPlatform(hcAppID, hcSecurityCode) // upload URLs: hc.OpenDoorURL() ...
//	defer hc.Close()
//	iot := &hciottest.Client{BaseURL: "http://127.0.0.1:8080/", AppID: id, AppSecret: secret}
//	_, _, _ = iot.GetToken(ctx)
//	env, _ := iot.Post(ctx, "/extApi/machine/addMachine", hciottest.AddMachine(m, "task-1"))
package hciottest
