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
	n int

	mu       sync.Mutex
	done     map[string]taskResult
	order    []string // ring of taskIds in done, oldest at next
	next     int
	inflight map[string]chan struct{}
}

func newTaskMemory(n int) *taskMemory {
	return &taskMemory{n: n, done: map[string]taskResult{}, inflight: map[string]chan struct{}{}}
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
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.done[id]
	if !ok || r.hash != hash {
		return taskResult{}, false
	}
	return r, true
}

func (t *taskMemory) store(id string, r taskResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.done[id]; ok {
		t.done[id] = r
		return
	}
	if len(t.order) < t.n {
		t.order = append(t.order, id)
	} else {
		delete(t.done, t.order[t.next])
		t.order[t.next] = id
		t.next = (t.next + 1) % t.n
	}
	t.done[id] = r
}
