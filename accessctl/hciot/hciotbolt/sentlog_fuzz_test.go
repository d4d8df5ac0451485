package hciotbolt

import (
	"encoding/binary"
	"testing"
)

// FuzzDecodeSent: a damaged record is ErrDamaged, never a panic, and a
// valid one round-trips.
func FuzzDecodeSent(f *testing.F) {
	for _, st := range []byte{1, 2, 0, 9} {
		v := make([]byte, 9)
		v[0] = st
		binary.BigEndian.PutUint64(v[1:], 1765152000000000000)
		f.Add(v)
	}
	f.Add([]byte{})
	f.Add([]byte{2, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		st, at, err := decodeSent(v)
		if err != nil {
			return
		}
		if len(v) != 9 || v[0] != byte(st) || at.UnixNano() != int64(binary.BigEndian.Uint64(v[1:])) {
			t.Fatalf("decoded %v %v from %x", st, at, v)
		}
	})
}
