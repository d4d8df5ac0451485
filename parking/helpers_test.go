package parking_test

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/menjin/menjin/accessctl"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return b
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// recorder is an EventSink that keeps what it got and can be told to fail.
type recorder struct {
	mu     sync.Mutex
	events []accessctl.Event
	fail   error
}

func (r *recorder) Handle(_ context.Context, e accessctl.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) setFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

func (r *recorder) all() []accessctl.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]accessctl.Event(nil), r.events...)
}
