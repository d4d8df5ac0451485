package permfile

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Record is one stored permission. Records are immutable once stored;
// Lookup returns a copy.
type Record struct {
	Kind     accessctl.CredentialKind
	Key      string
	Start    time.Time // zero: unbounded
	End      time.Time // zero: unbounded
	MaxScans int       // QR only: < 0 unlimited, 0 every attempt refused
	Scope    accessctl.ScanScope
	UserID   string
	Extra    map[string]json.RawMessage
}

// Limited reports whether scans of this record are counted.
func (r Record) Limited() bool { return r.Kind == accessctl.CredQRCode && r.MaxScans >= 0 }

// Window says where now falls in the record's validity window, which is
// inclusive at both ends; skew widens it on both sides.
func (r Record) Window(now time.Time, skew time.Duration) WindowState {
	ms := now.UnixMilli()
	sk := skew.Milliseconds()
	if !r.Start.IsZero() && ms+sk < r.Start.UnixMilli() {
		return NotYetValid
	}
	if !r.End.IsZero() && ms-sk > r.End.UnixMilli() {
		return Expired
	}
	return Valid
}

// WindowState is the outcome of Record.Window.
type WindowState int

const (
	Valid WindowState = iota
	NotYetValid
	Expired
)

// snapshot is one complete permission state. It is never modified after
// it is published, so a reader holding it sees a consistent state.
type snapshot struct {
	lists map[accessctl.CredentialKind]map[string]*Record
}

// Report says what one Apply did.
type Report struct {
	Applied  int // operations applied (a delete of an absent key counts)
	Skipped  int // invalid entries the parser left out
	Inserted int
	Updated  int
	Deleted  int
}

// Store holds a door's permissions (spec §3): apply files atomically, look
// records up, count scans. The zero value is not usable; call NewStore.
type Store struct {
	state   atomic.Pointer[snapshot]
	writeMu sync.Mutex // one Apply at a time

	device Counter // DEVICE-scoped scan counters
	shared Counter // SHARE-scoped scan counters
	path   string  // OpenFile: where each applied state is saved
}

// StoreOption configures a Store.
type StoreOption func(*Store)

// WithCounter sets where DEVICE-scoped scans are counted (default: memory).
// Give a persistent Counter so that counts survive a restart.
func WithCounter(c Counter) StoreOption { return func(s *Store) { s.device = c } }

// WithSharedCounter sets where SHARE-scoped scans are counted. By default
// they use the device counter: a door alone can only bound a shared budget
// locally (spec §3.6). An edge deployment passes a Counter backed by its
// own store, shared by every door it serves.
func WithSharedCounter(c Counter) StoreOption { return func(s *Store) { s.shared = c } }

// NewStore returns an empty store.
func NewStore(opts ...StoreOption) *Store {
	s := &Store{}
	for _, o := range opts {
		o(s)
	}
	if s.device == nil {
		s.device = NewMemCounter()
	}
	if s.shared == nil {
		s.shared = s.device
	}
	s.state.Store(&snapshot{lists: map[accessctl.CredentialKind]map[string]*Record{}})
	return s
}

// Lookup returns the record for a credential; key is normalised first.
func (s *Store) Lookup(kind accessctl.CredentialKind, key string) (Record, bool) {
	return s.View().Lookup(kind, key)
}

// Len returns how many records of a kind the store holds.
func (s *Store) Len(kind accessctl.CredentialKind) int { return len(s.state.Load().lists[kind]) }

// Records returns a copy of every record of a kind, in no order.
func (s *Store) Records(kind accessctl.CredentialKind) []Record {
	m := s.state.Load().lists[kind]
	out := make([]Record, 0, len(m))
	for _, r := range m {
		out = append(out, *r)
	}
	return out
}

// Apply applies a parsed file (spec §3.4): entries strictly in order, the
// last one for a key wins; add and modify upsert and merge (absent fields
// keep their stored value); delete removes the record and its scan counter
// and is a no-op for an absent key. The new state is published in one step:
// a concurrent Lookup sees the whole old state or the whole new one.
func (s *Store) Apply(ctx context.Context, f *File) (Report, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	old := s.state.Load()
	next := &snapshot{lists: maps.Clone(old.lists)}
	cloned := map[accessctl.CredentialKind]bool{}
	rep := Report{Skipped: f.SkippedCount}
	var resets []string // QR codes whose counters a delete removed

	for _, e := range f.Entries {
		m := next.lists[e.Kind]
		if !cloned[e.Kind] {
			m = maps.Clone(m)
			if m == nil {
				m = map[string]*Record{}
			}
			next.lists[e.Kind] = m
			cloned[e.Kind] = true
		}
		rep.Applied++
		cur, exists := m[e.Key]
		switch {
		case e.Op == OpDelete:
			if exists {
				delete(m, e.Key)
				rep.Deleted++
				if e.Kind == accessctl.CredQRCode {
					resets = append(resets, e.Key)
				}
			}
		case exists && !e.replace:
			m[e.Key] = merge(*cur, e)
			rep.Updated++
		case exists:
			m[e.Key] = merge(newRecord(e), e)
			rep.Updated++
		default:
			m[e.Key] = merge(newRecord(e), e)
			rep.Inserted++
		}
	}
	if s.path != "" {
		if err := writeSnapshot(s.path, next); err != nil {
			return Report{}, fmt.Errorf("permfile: saving the new state (nothing applied): %w", err)
		}
	}
	s.state.Store(next)
	// A deleted code starts from zero if it comes back (also when the same
	// file re-adds it). Counters live outside the snapshot, so this follows
	// the publish.
	for _, key := range resets {
		if err := s.device.Reset(ctx, key); err != nil {
			return rep, err
		}
		if s.shared != s.device {
			if err := s.shared.Reset(ctx, key); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// newRecord holds the defaults of spec §3.2: unbounded window, unlimited
// scans, DEVICE scope.
func newRecord(e Entry) Record {
	return Record{Kind: e.Kind, Key: e.Key, MaxScans: -1, Scope: accessctl.ScopeDevice}
}

func merge(r Record, e Entry) *Record {
	if e.Start != nil {
		r.Start = *e.Start
	}
	if e.End != nil {
		r.End = *e.End
	}
	if e.MaxScans != nil {
		r.MaxScans = *e.MaxScans
	}
	if e.Scope != nil {
		r.Scope = *e.Scope
	}
	if e.UserID != "" {
		r.UserID = e.UserID
	}
	if len(e.Extra) > 0 {
		extra := maps.Clone(r.Extra)
		if extra == nil {
			extra = map[string]json.RawMessage{}
		}
		maps.Copy(extra, e.Extra)
		r.Extra = extra
	}
	return &r
}

// Consume takes one scan from a limited record: atomically, used < MaxScans
// then used+1. It reports the scans left after this one; ok is false when
// the budget is spent. Unlimited records always succeed with remaining -1.
func (s *Store) Consume(ctx context.Context, r Record) (remaining int, ok bool, err error) {
	if !r.Limited() {
		return -1, true, nil
	}
	c := s.device
	if r.Scope == accessctl.ScopeShare {
		c = s.shared
	}
	used, ok, err := c.TryUse(ctx, r.Key, r.MaxScans)
	if err != nil {
		return 0, false, err
	}
	return max(r.MaxScans-used, 0), ok, nil
}

// Used returns how many scans a code has used under its scope.
func (s *Store) Used(ctx context.Context, r Record) (int, error) {
	if r.Scope == accessctl.ScopeShare {
		return s.shared.Used(ctx, r.Key)
	}
	return s.device.Used(ctx, r.Key)
}

// View is one consistent permission state: every Lookup on it answers from
// the same applied file, whatever is applied meanwhile.
type View struct{ s *snapshot }

// View returns the current state.
func (s *Store) View() View { return View{s.state.Load()} }

// Lookup is Store.Lookup on this view.
func (v View) Lookup(kind accessctl.CredentialKind, key string) (Record, bool) {
	r, ok := v.s.lists[kind][NormalizeKey(kind, key)]
	if !ok {
		return Record{}, false
	}
	return *r, true
}

// ApplyEntries applies entries as one file: for hosts and simulators that
// build permissions in code rather than download them.
// Entries break no rule a parsed file would reject (ErrInvalidEntry).
func (s *Store) ApplyEntries(ctx context.Context, entries ...Entry) (Report, error) {
	for i := range entries {
		e := &entries[i]
		e.Key = NormalizeKey(e.Kind, e.Key)
		if e.Key == "" || e.Op < OpAdd || e.Op > OpModify || ListName(e.Kind) == "" {
			return Report{}, fmt.Errorf("%w: %v", ErrInvalidEntry, *e)
		}
	}
	return s.Apply(ctx, &File{Entries: entries})
}
