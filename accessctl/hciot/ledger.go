package hciot

import (
	"context"
	"sort"
	"sync"
	"time"
)

// LedgerEntry records that a person was put on a device.
type LedgerEntry struct {
	Person    string    `json:"person"`    // HC userId
	Name      string    `json:"name"`      // the person's name, for records of devices that do not send it
	Device    string    `json:"device"`    // HC machineCode
	Community string    `json:"community"` // HC extCommunityId of the device
	TaskID    string    `json:"taskId"`    // the taskId that put it there
	At        time.Time `json:"at"`
	// Unsure is set when the device did not answer in time: the person may
	// or may not be on it, so deletes must still reach it.
	Unsure bool `json:"unsure,omitempty"`
}

// Ledger remembers which person is on which device, so that deletes are
// computed from what was really granted rather than from HC's delete
// fan-out, which misses unit and room doors (accessctl/PLATFORMS.md §1.5).
// Implementations must be safe for concurrent use. MemLedger keeps it in
// memory; a durable store can implement the same four methods.
type Ledger interface {
	// Put records (or refreshes) the entry for (e.Person, e.Device).
	Put(ctx context.Context, e LedgerEntry) error
	// Delete forgets (person, device); forgetting an absent pair is not an error.
	Delete(ctx context.Context, person, device string) error
	// ByPerson lists the devices a person is on.
	ByPerson(ctx context.Context, person string) ([]LedgerEntry, error)
	// ByDevice lists the persons on a device.
	ByDevice(ctx context.Context, device string) ([]LedgerEntry, error)
}

// MemLedger is an in-memory Ledger. The zero value is ready to use.
type MemLedger struct {
	mu       sync.Mutex
	byPerson map[string]map[string]LedgerEntry // person → device → entry
	byDevice map[string]map[string]struct{}    // device → persons
}

// Put implements Ledger.
func (l *MemLedger) Put(_ context.Context, e LedgerEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byPerson == nil {
		l.byPerson = map[string]map[string]LedgerEntry{}
		l.byDevice = map[string]map[string]struct{}{}
	}
	if l.byPerson[e.Person] == nil {
		l.byPerson[e.Person] = map[string]LedgerEntry{}
	}
	l.byPerson[e.Person][e.Device] = e
	if l.byDevice[e.Device] == nil {
		l.byDevice[e.Device] = map[string]struct{}{}
	}
	l.byDevice[e.Device][e.Person] = struct{}{}
	return nil
}

// Delete implements Ledger.
func (l *MemLedger) Delete(_ context.Context, person, device string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := l.byPerson[person]; m != nil {
		delete(m, device)
		if len(m) == 0 {
			delete(l.byPerson, person)
		}
	}
	if m := l.byDevice[device]; m != nil {
		delete(m, person)
		if len(m) == 0 {
			delete(l.byDevice, device)
		}
	}
	return nil
}

// ByPerson implements Ledger; entries are sorted by device.
func (l *MemLedger) ByPerson(_ context.Context, person string) ([]LedgerEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]LedgerEntry, 0, len(l.byPerson[person]))
	for _, e := range l.byPerson[person] {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out, nil
}

// ByDevice implements Ledger; entries are sorted by person.
func (l *MemLedger) ByDevice(_ context.Context, device string) ([]LedgerEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]LedgerEntry, 0, len(l.byDevice[device]))
	for p := range l.byDevice[device] {
		out = append(out, l.byPerson[p][device])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Person < out[j].Person })
	return out, nil
}
