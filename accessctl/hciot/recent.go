package hciot

import "sync"

// recent is a map that keeps only its last n keys, oldest out first: the
// succeeded taskIds of the server and the uploaded event ids of the
// uploader. n == 0 keeps nothing. Safe for concurrent use.
type recent[V any] struct {
	n int

	mu    sync.Mutex
	m     map[string]V
	order []string // ring of the keys in m, the oldest at next once full
	next  int
}

func newRecent[V any](n int) *recent[V] {
	return &recent[V]{n: n, m: make(map[string]V, min(n, 1024))}
}

func (r *recent[V]) get(k string) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[k]
	return v, ok
}

// put stores v under k, evicting the oldest key when full.
func (r *recent[V]) put(k string, v V) {
	if r.n == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[k]; !ok {
		if len(r.order) < r.n {
			r.order = append(r.order, k)
		} else {
			delete(r.m, r.order[r.next])
			r.order[r.next] = k
			r.next = (r.next + 1) % r.n
		}
	}
	r.m[k] = v
}
