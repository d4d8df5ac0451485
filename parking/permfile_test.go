package parking

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/menjin/menjin/accessctl"
)

func TestPermissionFileVectors(t *testing.T) {
	t.Run("TV-PERM-1 raw is rejected", func(t *testing.T) {
		_, err := ParsePermissionFile(bytes.NewReader(vector(t, "TV-PERM-1.txt")))
		require.ErrorIs(t, err, ErrSyntax)
		require.ErrorIs(t, err, accessctl.ErrInvalid)
	})
	t.Run("TV-PERM-1c", func(t *testing.T) {
		f, err := ParsePermissionFile(bytes.NewReader(vector(t, "TV-PERM-1c.json")))
		require.NoError(t, err)
		assert.Equal(t, 100, f.Total)
		// Entry 1: "时间戳" is not a timestamp — skipped and reported.
		require.Len(t, f.Skipped, 1)
		assert.Equal(t, 0, f.Skipped[0].Index)
		assert.Equal(t, "京N1***45", f.Skipped[0].Plate)
		assert.ErrorIs(t, f.Skipped[0].Err, ErrBadType)
		// Entry 2: a whitelist delete with empty dates — applied.
		require.Equal(t, []Permission{{Op: PermissionDelete, PlateNumber: "京N***67", Category: CategoryWhitelist}}, f.Entries)
		// total 100 ≠ 2 entries: a warning, not an error.
		assert.Equal(t, []string{"total 100 but 2 entries"}, f.Warnings)
	})
	t.Run("TV-PERM-2", func(t *testing.T) {
		f, err := ParsePermissionFile(bytes.NewReader(vector(t, "TV-PERM-2.json")))
		require.NoError(t, err)
		assert.Empty(t, f.Skipped)
		assert.Empty(t, f.Warnings)
		want := []Permission{
			{Op: PermissionAdd, PlateNumber: "京N12345", Category: CategoryOrdinary,
				Effective: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), Expiry: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
			{Op: PermissionAdd, PlateNumber: "浙A54321", Category: CategoryWhitelist},
			{Op: PermissionDelete, PlateNumber: "京A54321", Category: CategoryBlacklist},
		}
		assert.Equal(t, want, f.Entries)

		var set PermissionSet
		st := set.Apply(f)
		assert.Equal(t, ApplyStats{Added: 2, DeletedUnknown: 1}, st)
		p, ok := set.Lookup("京n 12345") // compared by PlateKey
		require.True(t, ok)
		assert.True(t, p.ValidAt(time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC)))
		assert.False(t, p.ValidAt(time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)))

		// Export and parse back: the same set.
		b, err := EncodePermissionFile(set.Export())
		require.NoError(t, err)
		back, err := ParsePermissionFile(bytes.NewReader(b), Exported())
		require.NoError(t, err)
		assert.Empty(t, back.Skipped)
		assert.Equal(t, set.Export(), back.Entries)
		// A pushed file round-trips with its types.
		b, err = EncodePermissionFile(want)
		require.NoError(t, err)
		again, err := ParsePermissionFile(bytes.NewReader(b))
		require.NoError(t, err)
		assert.Equal(t, want, again.Entries)
	})
}

func TestPermissionFileMustFail(t *testing.T) {
	cases := []struct {
		name, in string
		want     error
	}{
		{"not JSON", `nope`, ErrSyntax},
		{"array", `[]`, ErrBadType},
		{"permList missing", `{"total":0}`, ErrMissing},
		{"permList not an array", `{"total":0,"permList":{}}`, ErrBadType},
		{"total not a number", `{"total":"x","permList":[]}`, ErrBadType},
		{"trailing data", `{"total":0,"permList":[]} {}`, ErrSyntax},
		{"truncated", `{"total":1,"permList":[{"type":1`, ErrSyntax},
		{"full-width comma", `{"total":0，"permList":[]}`, ErrSyntax},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePermissionFile(strings.NewReader(c.in))
			require.ErrorIs(t, err, c.want)
			require.ErrorIs(t, err, accessctl.ErrInvalid)
		})
	}
	t.Run("over the size bound", func(t *testing.T) {
		big := `{"total":0,"permList":[` + strings.Repeat(`{"type":1,"plateNumber":"A","permissionType":1},`, 100) + `{}]}`
		_, err := ParsePermissionFile(strings.NewReader(big), WithMaxFileBytes(1000))
		require.ErrorIs(t, err, ErrTooLong)
	})
}

func TestPermissionFileEntries(t *testing.T) {
	in := `{"total":9,"permList":[
	 {"type":1,"plateNumber":"京A1","effectiveDate":"2020-01-02 08:00:00","expiryDate":"2020/01/03 08:00:00","permissionType":1},
	 {"type":1,"plateNumber":"京A2","effectiveDate":1577836800000,"expiryDate":"1546300800000","permissionType":1},
	 {"type":3,"plateNumber":"京A3","permissionType":1},
	 {"type":1,"plateNumber":"京A4","permissionType":9},
	 {"type":1,"plateNumber":"  ","permissionType":1},
	 {"type":1,"permissionType":1},
	 {"type":1,"plateNumber":"京A1","effectiveDate":"","expiryDate":"","permissionType":2},
	 {"type":2,"plateNumber":"京A9","effectiveDate":"garbage","permissionType":3},
	 {"type":1,"plateNumber":"京A5","effectiveDate":"-5","permissionType":1}
	]}`
	f, err := ParsePermissionFile(strings.NewReader(in))
	require.NoError(t, err)
	assert.Empty(t, f.Warnings)
	require.Len(t, f.Entries, 3)
	// yyyy-MM-dd HH:mm:ss is UTC+8 by default: 08:00 there is 00:00 UTC.
	assert.Equal(t, time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC), f.Entries[0].Effective.UTC())
	assert.Equal(t, time.Date(2020, 1, 3, 0, 0, 0, 0, time.UTC), f.Entries[0].Expiry.UTC())
	skipped := map[int]error{}
	for _, s := range f.Skipped {
		skipped[s.Index] = s.Err
	}
	assert.ErrorIs(t, skipped[1], ErrOutOfRange, "effective after expiry (607)")
	assert.ErrorIs(t, skipped[2], ErrUnknownValue)
	assert.ErrorIs(t, skipped[3], ErrUnknownValue)
	assert.ErrorIs(t, skipped[4], ErrMissing)
	assert.ErrorIs(t, skipped[5], ErrMissing)
	assert.ErrorIs(t, skipped[8], ErrBadType)
	// The delete ignores its (bad) dates.
	assert.Equal(t, PermissionDelete, f.Entries[2].Op)

	var set PermissionSet
	set.Apply(f)
	p, ok := set.Lookup("京A1")
	require.True(t, ok)
	assert.Equal(t, CategoryWhitelist, p.Category, "duplicate plates: the last entry wins")
	assert.Equal(t, 1, set.Len())

	_, err = ParsePermissionFile(strings.NewReader(`{"permList":[{"plateNumber":"A","permissionType":1}]}`))
	require.NoError(t, err, "a file without total warns")
	f, _ = ParsePermissionFile(strings.NewReader(`{"permList":[{"plateNumber":"A","permissionType":1}]}`))
	assert.Equal(t, []string{"total missing"}, f.Warnings)
	assert.ErrorIs(t, f.Skipped[0].Err, ErrMissing, "a pushed entry needs a type")

	loc := time.FixedZone("x", 0)
	f, err = ParsePermissionFile(strings.NewReader(`{"total":1,"permList":[{"type":1,"plateNumber":"A","effectiveDate":"2020-01-01 00:00:00","permissionType":1}]}`), WithDateZone(loc))
	require.NoError(t, err)
	assert.Equal(t, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), f.Entries[0].Effective.UTC())
}

func TestPermissionSetApplyIsAtomic(t *testing.T) {
	var set PermissionSet
	set.Put(Permission{PlateNumber: "京A1", Category: CategoryOrdinary})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			set.Apply(&PermissionFile{Entries: []Permission{
				{Op: PermissionDelete, PlateNumber: "京A1", Category: CategoryOrdinary},
				{Op: PermissionAdd, PlateNumber: "京A1", Category: CategoryOrdinary},
			}})
		}
	}()
	for range 2000 {
		_, ok := set.Lookup("京A1")
		require.True(t, ok, "a reader never sees the file half applied")
	}
	<-done
}

func TestEncodePermissionFileRejectsUnknownCategory(t *testing.T) {
	_, err := EncodePermissionFile([]Permission{{PlateNumber: "A", Category: CategoryTemporary}})
	require.ErrorIs(t, err, ErrUnknownValue)
}
