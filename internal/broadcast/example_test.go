package broadcast_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/menjin/menjin/internal/broadcast"
)

func Example() {
	var (
		mu      sync.Mutex
		changed broadcast.Signal
		queued  = 3
	)
	go func() {
		for range 3 {
			mu.Lock()
			queued--
			changed.Notify()
			mu.Unlock()
		}
	}()
	err := changed.Wait(context.Background(), &mu, func() bool { return queued == 0 })
	fmt.Println(err)
	// Output: <nil>
}
