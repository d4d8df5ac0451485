package transport

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Registry maps device ids to their live session. When a device connects
// again, the newest session wins: Put hands back the stale one, which the
// caller closes (failing its pending requests with ErrOffline). S is the
// carrier's session type, typically a pointer.
type Registry[S comparable] struct {
	mu       sync.RWMutex
	m        map[string]S
	replaced atomic.Uint64
}

// Put makes s the session of id and returns the session it replaced, if any.
func (r *Registry[S]) Put(id string, s S) (old S, replaced bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]S)
	}
	old, replaced = r.m[id]
	if replaced && old == s {
		return old, false // the same session registering again
	}
	r.m[id] = s
	if replaced {
		r.replaced.Add(1)
	}
	return old, replaced
}

// Get returns the live session of id.
func (r *Registry[S]) Get(id string) (S, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.m[id]
	return s, ok
}

// Remove deletes id only if s is still its session, so a stale session
// closing late cannot unregister its replacement. It reports whether it did.
func (r *Registry[S]) Remove(id string, s S) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.m[id]; ok && cur == s {
		delete(r.m, id)
		return true
	}
	return false
}

// Snapshot returns a copy of the current map.
func (r *Registry[S]) Snapshot() map[string]S {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return maps.Clone(r.m)
}

// Len is the number of registered ids.
func (r *Registry[S]) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.m)
}

// Replaced counts sessions displaced by a newer one.
func (r *Registry[S]) Replaced() uint64 { return r.replaced.Load() }
