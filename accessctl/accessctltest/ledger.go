package accessctltest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// TestLedger runs the accessctl.Ledger contract against ledgers made by
// open, one fresh (empty) ledger per subtest:
//
//	func TestLedger(t *testing.T) {
//		accessctltest.TestLedger(t, func(t *testing.T) accessctl.Ledger {
//			return accessctl.NewMemoryLedger()
//		})
//	}
func TestLedger(t *testing.T, open func(t *testing.T) accessctl.Ledger) {
	t.Helper()
	run := func(name string, f func(t *testing.T, ctx context.Context, l accessctl.Ledger)) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			f(t, ctx, open(t))
		})
	}
	dev := accessctl.DeviceRef{Platform: "p", ID: "dev-1"}
	card := func(key string) accessctl.LedgerEntry {
		return accessctl.LedgerEntry{Kind: "card", Key: key, Data: []byte(`{"cardId":"` + key + `"}`)}
	}

	run("Empty", func(t *testing.T, ctx context.Context, l accessctl.Ledger) {
		got, err := l.Get(ctx, dev, "nobody")
		mustNil(t, err)
		if len(got) != 0 {
			t.Fatalf("Get on an empty ledger = %v, want none", got)
		}
		persons, err := l.Persons(ctx, dev)
		mustNil(t, err)
		if len(persons) != 0 {
			t.Fatalf("Persons on an empty ledger = %v, want none", persons)
		}
		mustNil(t, l.Delete(ctx, dev, "nobody"))
	})

	run("PutGetReplaceDelete", func(t *testing.T, ctx context.Context, l accessctl.Ledger) {
		want := []accessctl.LedgerEntry{card("2"), card("1"), {Kind: "ble", Key: "1", Data: []byte{0, 0xff, '\n'}}, {Kind: "qr", Key: "code"}}
		mustNil(t, l.Put(ctx, dev, "p-1", want))
		wantEntries(t, ctx, l, dev, "p-1", want)
		want = []accessctl.LedgerEntry{card("3")}
		mustNil(t, l.Put(ctx, dev, "p-1", want))
		wantEntries(t, ctx, l, dev, "p-1", want)
		mustNil(t, l.Delete(ctx, dev, "p-1"))
		wantEntries(t, ctx, l, dev, "p-1", nil)
		wantPersons(t, ctx, l, dev)
	})

	run("PutNothingDeletes", func(t *testing.T, ctx context.Context, l accessctl.Ledger) {
		mustNil(t, l.Put(ctx, dev, "p-1", []accessctl.LedgerEntry{card("1")}))
		mustNil(t, l.Put(ctx, dev, "p-1", nil))
		wantEntries(t, ctx, l, dev, "p-1", nil)
		wantPersons(t, ctx, l, dev)
	})

	run("PersonsSortedPerDevice", func(t *testing.T, ctx context.Context, l accessctl.Ledger) {
		other := accessctl.DeviceRef{Platform: "p", ID: "dev-2"}
		otherPlatform := accessctl.DeviceRef{Platform: "q", ID: "dev-1"}
		for _, p := range []string{"c", "a", "b"} {
			mustNil(t, l.Put(ctx, dev, p, []accessctl.LedgerEntry{card(p)}))
		}
		mustNil(t, l.Put(ctx, other, "z", []accessctl.LedgerEntry{card("z")}))
		mustNil(t, l.Put(ctx, otherPlatform, "a", []accessctl.LedgerEntry{card("other")}))
		wantPersons(t, ctx, l, dev, "a", "b", "c")
		wantPersons(t, ctx, l, other, "z")
		wantPersons(t, ctx, l, otherPlatform, "a")
		wantEntries(t, ctx, l, dev, "a", []accessctl.LedgerEntry{card("a")})
		wantEntries(t, ctx, l, otherPlatform, "a", []accessctl.LedgerEntry{card("other")})
		mustNil(t, l.Delete(ctx, other, "z"))
		wantPersons(t, ctx, l, other)
		wantPersons(t, ctx, l, dev, "a", "b", "c")
	})

	run("CopiesInAndOut", func(t *testing.T, ctx context.Context, l accessctl.Ledger) {
		in := []accessctl.LedgerEntry{card("1")}
		mustNil(t, l.Put(ctx, dev, "p-1", in))
		in[0].Key, in[0].Data[0] = "changed", 'X'
		got, err := l.Get(ctx, dev, "p-1")
		mustNil(t, err)
		if len(got) != 1 {
			t.Fatalf("Get = %v, want one entry", got)
		}
		got[0].Key, got[0].Data[0] = "changed", 'X'
		wantEntries(t, ctx, l, dev, "p-1", []accessctl.LedgerEntry{card("1")})
	})

	run("Invalid", func(t *testing.T, ctx context.Context, l accessctl.Ledger) {
		if err := l.Put(ctx, dev, "", []accessctl.LedgerEntry{card("1")}); !errors.Is(err, accessctl.ErrInvalid) {
			t.Fatalf("Put with no person id = %v, want ErrInvalid", err)
		}
		if _, err := l.Get(ctx, dev, ""); !errors.Is(err, accessctl.ErrInvalid) {
			t.Fatalf("Get with no person id = %v, want ErrInvalid", err)
		}
		if err := l.Delete(ctx, dev, ""); !errors.Is(err, accessctl.ErrInvalid) {
			t.Fatalf("Delete with no person id = %v, want ErrInvalid", err)
		}
		done, cancel := context.WithCancel(ctx)
		cancel()
		if err := l.Put(done, dev, "p-1", []accessctl.LedgerEntry{card("1")}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put with a cancelled context = %v, want context.Canceled", err)
		}
		wantEntries(t, ctx, l, dev, "p-1", nil)
	})

	run("Concurrent", func(t *testing.T, ctx context.Context, l accessctl.Ledger) {
		const workers, rounds = 4, 20
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				person := fmt.Sprintf("p-%d", w)
				for i := range rounds {
					e := []accessctl.LedgerEntry{card(fmt.Sprint(i))}
					if err := l.Put(ctx, dev, person, e); err != nil {
						errs <- err
						return
					}
					got, err := l.Get(ctx, dev, person)
					if err != nil || !sameEntries(got, e) {
						errs <- fmt.Errorf("%s round %d: Get = %v, %v; want %v", person, i, got, err, e)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		wantPersons(t, ctx, l, dev, "p-0", "p-1", "p-2", "p-3")
	})
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantEntries(t *testing.T, ctx context.Context, l accessctl.Ledger, dev accessctl.DeviceRef, person string, want []accessctl.LedgerEntry) {
	t.Helper()
	got, err := l.Get(ctx, dev, person)
	mustNil(t, err)
	if !sameEntries(got, want) {
		t.Fatalf("Get(%v, %q) = %v, want %v", dev, person, got, want)
	}
}

func wantPersons(t *testing.T, ctx context.Context, l accessctl.Ledger, dev accessctl.DeviceRef, want ...string) {
	t.Helper()
	got, err := l.Persons(ctx, dev)
	mustNil(t, err)
	if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
		t.Fatalf("Persons(%v) = %q, want %q", dev, got, want)
	}
}

func sameEntries(a, b []accessctl.LedgerEntry) bool {
	return slices.EqualFunc(a, b, func(x, y accessctl.LedgerEntry) bool {
		return x.Kind == y.Kind && x.Key == y.Key && bytes.Equal(x.Data, y.Data)
	})
}
