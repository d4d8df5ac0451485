package stdproto

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/menjin/menjin/accessctl"
)

// Ledger kinds: which whitelist an entry went to.
const (
	ledgerCard = "card"
	ledgerBLE  = "ble"
)

func ledgerKind(path string) string {
	if path == PathBLESync {
		return ledgerBLE
	}
	return ledgerCard
}

// ledgerRef names a terminal in the ledger.
func ledgerRef(sn string) accessctl.DeviceRef { return accessctl.DeviceRef{Platform: Platform, ID: sn} }

// loadLedger fills st's record of pushed cards from the ledger, so that a
// restarted edge still removes and re-pushes them.
func (e *Edge) loadLedger(ctx context.Context, st *terminalState) error {
	dev := ledgerRef(st.cfg.SN)
	persons, err := e.o.ledger.Persons(ctx, dev)
	if err != nil {
		return fmt.Errorf("stdproto: reading the ledger of %s: %w", st.cfg.SN, err)
	}
	for _, person := range persons {
		entries, err := e.o.ledger.Get(ctx, dev, person)
		if err != nil {
			return fmt.Errorf("stdproto: reading the ledger of %s: %w", st.cfg.SN, err)
		}
		for _, en := range entries {
			path := PathCardSync
			switch en.Kind {
			case ledgerCard:
			case ledgerBLE:
				path = PathBLESync
			default:
				continue // not ours to know
			}
			var p Permission
			if err := json.Unmarshal(en.Data, &p); err != nil || cardKey(p.CardID) != en.Key {
				p = Permission{UserID: person, CardID: en.Key, EffectiveTime: "0", ExpiryTime: "4102444800000"}
			}
			p.Type = PermAdd
			if st.cards[person] == nil {
				st.cards[person] = map[string]pushedCard{}
			}
			st.cards[person][en.Key] = pushedCard{path: path, perm: p}
			st.owners[path+"|"+en.Key] = person
		}
	}
	return nil
}

// recordCards writes cards as what the terminal sn may hold for person;
// none forgets the person.
func (e *Edge) recordCards(ctx context.Context, sn, person string, cards map[string]pushedCard) error {
	entries := make([]accessctl.LedgerEntry, 0, len(cards))
	for _, k := range slices.Sorted(maps.Keys(cards)) {
		c := cards[k]
		data, err := json.Marshal(c.perm)
		if err != nil {
			return err
		}
		entries = append(entries, accessctl.LedgerEntry{Kind: ledgerKind(c.path), Key: k, Data: data})
	}
	if err := e.o.ledger.Put(ctx, ledgerRef(sn), person, entries); err != nil {
		return fmt.Errorf("stdproto: recording %s's cards on %s: %w", person, sn, err)
	}
	return nil
}
