package intercom

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// The pair below sends the same in-dialog unlock INFO over loopback UDP from
// the same client path and waits for the 200 each time. Ours runs the whole
// door-station path (dialog match, CSeq check, JSON parse, dedupe, policy,
// Opener, event, JSON reply); the baseline is a bare sipgo INFO handler that
// answers 200. Reverse INFOs are off so both exchange the same messages.
//
//	go test -run '^$' -bench 'UnlockInfo' -benchmem ./intercom

func benchCall(b *testing.B, target string) (*Call, func()) {
	b.Helper()
	res, err := NewResident("127.0.0.1:0", WithUser("room1202"))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := res.CallDoor(ctx, target)
	if err != nil {
		b.Fatal(err)
	}
	return call, func() { res.Close() }
}

func runUnlockInfos(b *testing.B, call *Call) {
	ctx := context.Background()
	body := make([]byte, 0, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body = UnlockCommand{Req: "unlock", ReqSN: i + 1, SIP: "room1202"}.Marshal()
		res, err := call.Request(ctx, sip.INFO, "application/json", body)
		if err != nil || res.StatusCode != 200 {
			b.Fatalf("INFO %d: %v %v", i, err, res)
		}
	}
}

func BenchmarkUnlockInfoDoorStation(b *testing.B) {
	door, err := NewDoorStation("127.0.0.1:0", WithUser("door1"), WithMaxUnlocksPerCall(0), WithResponseViaInfo(false),
		WithOpener(OpenerFunc(func(context.Context, UnlockRequest) error { return nil })),
		WithOnUnlock(func(context.Context, UnlockEvent) error { return nil }))
	if err != nil {
		b.Fatal(err)
	}
	defer door.Close()
	call, stop := benchCall(b, door.URI())
	defer stop()
	runUnlockInfos(b, call)
	b.StopTimer()
	if got := door.Stats().UnlocksGranted; got != uint64(b.N) {
		b.Fatalf("granted %d of %d", got, b.N)
	}
}

func BenchmarkUnlockInfoBareSipgo(b *testing.B) {
	st, err := newStack("127.0.0.1:0", "", "bare", defaultStackConfig(), false)
	if err != nil {
		b.Fatal(err)
	}
	srv, cli, port := st.srv, st.cli, st.port
	dc := sipgo.NewDialogServerCache(cli, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "bare", Host: "127.0.0.1", Port: port}})
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		d, err := dc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		_ = d.RespondSDP(BuildOffer(OfferParams{User: "bare", IP: "127.0.0.1", AudioPort: 9}))
	})
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = dc.ReadAck(req, tx) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) { _ = dc.ReadBye(req, tx) })
	srv.OnInfo(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	st.serve()
	defer st.close()
	call, stop := benchCall(b, "sip:bare@127.0.0.1:"+strconv.Itoa(port))
	defer stop()
	runUnlockInfos(b, call)
}

func BenchmarkParseUnlockCommand(b *testing.B) {
	body := []byte(specS1Request)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseUnlockCommand(body); err != nil {
			b.Fatal(err)
		}
	}
}
