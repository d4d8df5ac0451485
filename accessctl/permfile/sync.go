package permfile

import (
	"context"
	"sync"
	"time"
)

// Syncer runs syncPermissions calls (spec §3.5): one at a time in arrival
// order (a later file is never applied before an earlier one, whichever
// download finishes first), download, parse everything, apply atomically.
// A file identical to the one applied within DedupWindow is skipped.
type Syncer struct {
	Store   *Store
	Fetcher *Fetcher
	// DedupWindow: skip a body whose SHA-256 equals the last applied one
	// within this window (default 10 min; negative disables).
	DedupWindow time.Duration
	// Now is the clock for DedupWindow (default time.Now).
	Now func() time.Time

	queue  fifo
	mu     sync.Mutex
	status SyncStatus
}

// SyncStatus is what the last sync did; the platform has no channel for a
// late failure, so hosts read it here (spec §3.5 step 6).
type SyncStatus struct {
	URL       string
	At        time.Time
	Report    Report
	Err       error
	Duplicate bool // the body equalled the previous one and was not re-applied
	Syncs     int  // successful syncs since start
	Failures  int
	lastHash  [32]byte
	lastApply time.Time
}

// Status returns the outcome of the most recent sync.
func (s *Syncer) Status() SyncStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Sync downloads url and applies it. On any error nothing was applied and
// the previous state is intact.
func (s *Syncer) Sync(ctx context.Context, url string) (Report, error) {
	release, err := s.queue.acquire(ctx)
	if err != nil {
		return Report{}, err
	}
	defer release()
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	f := s.Fetcher
	if f == nil {
		f = &Fetcher{}
	}
	d, err := f.Fetch(ctx, url)
	var rep Report
	dup := false
	if err == nil {
		s.mu.Lock()
		window := s.DedupWindow
		if window == 0 {
			window = 10 * time.Minute
		}
		dup = window > 0 && d.SHA256 == s.status.lastHash && now().Sub(s.status.lastApply) < window
		s.mu.Unlock()
		if !dup {
			rep, err = s.Store.Apply(ctx, d.File)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.status
	st.URL, st.At, st.Report, st.Err, st.Duplicate = url, now(), rep, err, dup
	if err != nil {
		st.Failures++
		return rep, err
	}
	st.Syncs++
	if !dup {
		st.lastHash, st.lastApply = d.SHA256, st.At
	}
	return rep, nil
}

// fifo is a lock granted in arrival order.
type fifo struct {
	mu   sync.Mutex
	tail chan struct{}
}

func (q *fifo) acquire(ctx context.Context) (release func(), err error) {
	q.mu.Lock()
	prev := q.tail
	mine := make(chan struct{})
	q.tail = mine
	q.mu.Unlock()
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			// Keep the chain intact: pass the turn on once ours comes.
			go func() { <-prev; close(mine) }()
			return nil, ctx.Err()
		}
	}
	return func() { close(mine) }, nil
}
