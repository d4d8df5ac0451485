// Command sipresident calls a door station, sends one unlock (two INFO
// transactions, 3 s budget, §6.3 of the intercom spec), prints the JSON result
// and exits 0 on success, 1 on failure:
//
//	sipresident -door sip:door@127.0.0.1:5060
//	{"kind":"unlock-result","ok":true,"reqsn":12,"status":200,"source":"2xx-body","elapsed_ms":2}
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/menjin/menjin/intercom"
)

type result struct {
	Kind      string `json:"kind"`
	OK        bool   `json:"ok"`
	ReqSN     int    `json:"reqsn,omitempty"`
	Status    int    `json:"status,omitempty"`
	Source    string `json:"source,omitempty"`
	ElapsedMS int64  `json:"elapsed_ms"`
	Error     string `json:"error,omitempty"`
}

func main() {
	door := flag.String("door", "", "door station URI, e.g. sip:door@127.0.0.1:5060 (;transport=tcp for TCP)")
	listen := flag.String("listen", "127.0.0.1:0", "local UDP+TCP address")
	user := flag.String("user", "resident", "our SIP user (sent as the \"sip\" field)")
	timeout := flag.Duration("timeout", 10*time.Second, "overall bound for call + unlock")
	flag.Parse()
	if *door == "" {
		fmt.Fprintln(os.Stderr, "sipresident: -door is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	start := time.Now()
	res, err := intercom.UnlockOnce(ctx, *listen, *door, intercom.WithUser(*user))
	cancel()
	out := result{Kind: "unlock-result", OK: err == nil && res.OK(), ReqSN: res.ReqSN, Status: res.Status,
		Source: string(res.Source), ElapsedMS: time.Since(start).Milliseconds()}
	if err != nil {
		out.Error = err.Error()
		var se *intercom.StatusError
		if errors.As(err, &se) && out.Status == 0 {
			out.Status = se.Status
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
	if !out.OK {
		os.Exit(1)
	}
}
