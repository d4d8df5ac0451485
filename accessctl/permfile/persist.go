package permfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// ErrCorrupt: a saved permission state could not be read back.
var ErrCorrupt = errors.New("permfile: saved permission state is corrupt")

// OpenFile returns a store that keeps its records in path: the saved state
// is loaded now, and every Apply writes the new state there (temporary file,
// fsync, rename) before publishing it, so a power cut leaves the old file
// or the new one (spec §9.12: the platform cannot resend what a door lost).
// Scan counts are not in the file: give a persistent Counter for those.
func OpenFile(path string, opts ...StoreOption) (*Store, error) {
	s := NewStore(opts...)
	s.path = path
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	snap, err := readSnapshot(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.state.Store(snap)
	return s, nil
}

type savedRecord struct {
	Kind     accessctl.CredentialKind   `json:"kind"`
	Key      string                     `json:"key"`
	Start    *int64                     `json:"startMs,omitempty"`
	End      *int64                     `json:"endMs,omitempty"`
	MaxScans int                        `json:"maxScans"`
	Scope    accessctl.ScanScope        `json:"scope,omitempty"`
	UserID   string                     `json:"userId,omitempty"`
	Extra    map[string]json.RawMessage `json:"extra,omitempty"`
}

type savedState struct {
	Version int           `json:"version"`
	Records []savedRecord `json:"records"`
}

func msPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

func msTime(p *int64) time.Time {
	if p == nil {
		return time.Time{}
	}
	return time.UnixMilli(*p)
}

func writeSnapshot(path string, snap *snapshot) error {
	st := savedState{Version: 1, Records: []savedRecord{}}
	for _, m := range snap.lists {
		for _, r := range m {
			st.Records = append(st.Records, savedRecord{
				Kind: r.Kind, Key: r.Key, Start: msPtr(r.Start), End: msPtr(r.End),
				MaxScans: r.MaxScans, Scope: r.Scope, UserID: r.UserID, Extra: r.Extra,
			})
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := json.NewEncoder(tmp).Encode(st); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil { // make the rename itself durable
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func readSnapshot(r io.Reader) (*snapshot, error) {
	var st savedState
	if err := json.NewDecoder(r).Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("%w: version %d", ErrCorrupt, st.Version)
	}
	snap := &snapshot{lists: map[accessctl.CredentialKind]map[string]*Record{}}
	for _, sr := range st.Records {
		if ListName(sr.Kind) == "" || sr.Key == "" {
			return nil, fmt.Errorf("%w: record %q of kind %q", ErrCorrupt, sr.Key, sr.Kind)
		}
		m := snap.lists[sr.Kind]
		if m == nil {
			m = map[string]*Record{}
			snap.lists[sr.Kind] = m
		}
		m[sr.Key] = &Record{
			Kind: sr.Kind, Key: sr.Key, Start: msTime(sr.Start), End: msTime(sr.End),
			MaxScans: sr.MaxScans, Scope: sr.Scope, UserID: sr.UserID, Extra: sr.Extra,
		}
	}
	return snap, nil
}
