package intercom

import (
	"context"
	"time"
)

// UnlockOnce is the shortest resident use: start a resident endpoint on
// listen ("127.0.0.1:0" is fine), call door (sip:user@host:port), send one
// unlock per §6.3, hang up and close. The demo and examples/sipresident use it.
func UnlockOnce(ctx context.Context, listen, door string, opts ...ResidentOption) (UnlockResult, error) {
	r, err := NewResident(listen, opts...)
	if err != nil {
		return UnlockResult{}, err
	}
	defer r.Close()
	call, err := r.CallDoor(ctx, door)
	if err != nil {
		return UnlockResult{}, err
	}
	res, uerr := call.Unlock(ctx)
	hctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = call.Hangup(hctx)
	return res, uerr
}
