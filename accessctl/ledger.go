package accessctl

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
)

// LedgerEntry is one credential a driver pushed to a device for a person,
// in the driver's own terms: enough to take it off the device again (and,
// if the driver wants, to push it again after the device lost it).
type LedgerEntry struct {
	// Kind is the driver's name for the list the entry went to ("card",
	// "ble", a CredentialKind, a wire path...).
	Kind string `json:"kind"`
	// Key is the entry's wire identity within Kind (a card number, a QR
	// code): what a removal names.
	Key string `json:"key"`
	// Data is opaque to the ledger: whatever else the driver needs (the
	// pushed record as JSON, say).
	Data []byte `json:"data,omitempty"`
}

// Ledger records what a driver pushed to each device, per person, for
// devices that cannot list what they hold (card whitelists, permission
// files). Without it, a host that restarted forgets a person's cards and
// RemoveGrant leaves them on the device; with a durable Ledger
// (accessctl/store) the removal still reaches the device.
//
// Devices are told apart by DeviceRef Platform and ID; persons by id.
// Drivers record an addition before pushing it and forget a removal only
// after the device confirmed it, so that the ledger holds at least what
// the device holds whenever the process stops. Implementations are safe
// for concurrent use.
type Ledger interface {
	// Put replaces what is recorded for the person on the device; no
	// entries is Delete.
	Put(ctx context.Context, device DeviceRef, person string, entries []LedgerEntry) error
	// Get returns the person's entries on the device, in the order Put
	// stored them; none (and no error) when nothing is recorded.
	Get(ctx context.Context, device DeviceRef, person string) ([]LedgerEntry, error)
	// Delete forgets the person on the device; absent is not an error.
	Delete(ctx context.Context, device DeviceRef, person string) error
	// Persons lists, sorted, the persons with entries on the device.
	Persons(ctx context.Context, device DeviceRef) ([]string, error)
}

// checkLedgerArgs wants a live context and a person id.
func checkLedgerArgs(ctx context.Context, person string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if person == "" {
		return fmt.Errorf("%w: ledger: empty person id", ErrInvalid)
	}
	return nil
}

// cloneLedgerEntries copies entries and their Data, so that neither the
// caller nor the ledger sees the other's later writes.
func cloneLedgerEntries(entries []LedgerEntry) []LedgerEntry {
	if len(entries) == 0 {
		return nil
	}
	out := make([]LedgerEntry, len(entries))
	for i, e := range entries {
		out[i] = LedgerEntry{Kind: e.Kind, Key: e.Key, Data: bytes.Clone(e.Data)}
	}
	return out
}

// MemoryLedger is a Ledger in memory: it is lost when the process stops,
// so after a restart RemoveGrant cannot remove what was pushed before. It
// is the drivers' default and for tests; hosts keep store.DB.Ledger().
type MemoryLedger struct {
	mu  sync.Mutex
	dev map[DeviceRef]map[string][]LedgerEntry
}

var _ Ledger = (*MemoryLedger)(nil)

// NewMemoryLedger returns an empty MemoryLedger.
func NewMemoryLedger() *MemoryLedger {
	return &MemoryLedger{dev: map[DeviceRef]map[string][]LedgerEntry{}}
}

func ledgerDevice(d DeviceRef) DeviceRef { return DeviceRef{Platform: d.Platform, ID: d.ID} }

// Put implements Ledger.
func (l *MemoryLedger) Put(ctx context.Context, device DeviceRef, person string, entries []LedgerEntry) error {
	if len(entries) == 0 {
		return l.Delete(ctx, device, person)
	}
	if err := checkLedgerArgs(ctx, person); err != nil {
		return err
	}
	device = ledgerDevice(device)
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.dev[device]
	if m == nil {
		m = map[string][]LedgerEntry{}
		l.dev[device] = m
	}
	m[person] = cloneLedgerEntries(entries)
	return nil
}

// Get implements Ledger.
func (l *MemoryLedger) Get(ctx context.Context, device DeviceRef, person string) ([]LedgerEntry, error) {
	if err := checkLedgerArgs(ctx, person); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return cloneLedgerEntries(l.dev[ledgerDevice(device)][person]), nil
}

// Delete implements Ledger.
func (l *MemoryLedger) Delete(ctx context.Context, device DeviceRef, person string) error {
	if err := checkLedgerArgs(ctx, person); err != nil {
		return err
	}
	device = ledgerDevice(device)
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := l.dev[device]; m != nil {
		delete(m, person)
		if len(m) == 0 {
			delete(l.dev, device)
		}
	}
	return nil
}

// Persons implements Ledger.
func (l *MemoryLedger) Persons(ctx context.Context, device DeviceRef) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.dev[ledgerDevice(device)]
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}
