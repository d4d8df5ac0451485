package hciot

import (
	"sync"

	"github.com/menjin/menjin/accessctl"
)

// taskResult is a command that succeeded, remembered by taskId.
type taskResult struct {
	hash    [32]byte // of the op and body: a resend replays the identical body
	data    map[string]any
	machine string
	person  string
	device  accessctl.DeviceRef
	site    accessctl.SiteRef
}

// taskMemory remembers the last n succeeded taskIds, so that HC's manual
// resend of a command whose answer it lost does not act twice (a second
// door opening, a re-added user who was deleted since). Failed commands are
// not remembered: their resend must act. It also runs copies of one taskId
// one at a time.
type taskMemory struct {
	done *recent[taskResult]

	mu       sync.Mutex
	inflight map[string]chan struct{}
}

func newTaskMemory(n int) *taskMemory {
	return &taskMemory{done: newRecent[taskResult](n), inflight: map[string]chan struct{}{}}
}

// acquire waits until no other request with the same taskId is running and
// marks this one running; release undoes it.
func (t *taskMemory) acquire(id string) (release func()) {
	t.mu.Lock()
	for {
		ch, busy := t.inflight[id]
		if !busy {
			break
		}
		t.mu.Unlock()
		<-ch
		t.mu.Lock()
	}
	ch := make(chan struct{})
	t.inflight[id] = ch
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		delete(t.inflight, id)
		t.mu.Unlock()
		close(ch)
	}
}

func (t *taskMemory) lookup(id string, hash [32]byte) (taskResult, bool) {
	r, ok := t.done.get(id)
	if !ok || r.hash != hash {
		return taskResult{}, false
	}
	return r, true
}

func (t *taskMemory) store(id string, r taskResult) { t.done.put(id, r) }
