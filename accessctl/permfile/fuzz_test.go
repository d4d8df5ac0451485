package permfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/menjin/menjin/accessctl"
)

// FuzzParse feeds arbitrary files to the parser and applies what it
// accepts. Bad input must give a typed error, never a panic; accepted
// entries must satisfy the invariants the store relies on.
func FuzzParse(f *testing.F) {
	for _, s := range []string{specFile, edgeCardFile, `{}`,
		`{"qrCodePermissionList":[{"type":2,"qrCode":"NOPE"}]}`,
		`{"qrCodePermissionList":[{"type":"1","qrCode":"X","startTime":1568270392000,"endTime":"1599892792","maxScanTimes":"5"}]}`,
		`{"qrCodePermissionList":[{"type":4,"qrCode":"X"},{"type":1,"qrCode":"Y"}]}`,
		`{"qrCodePermissionList":[{"type":1,"qrCode":""}]}`,
		specFile[:len(specFile)/2],
		`{"qrCodePermissionList":[{"type":3,"qrCode":"X","endTime":"1900000000000"}]}`,
		`{"passwordPermissionList":[{"type":1,"password":"123456","userId":"u"}],"bleCardPermissionList":[{"type":1,"bleCardId":"514152694808390"}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		file, err := Parse(strings.NewReader(s), Limits{MaxBytes: 1 << 16, MaxEntries: 1000})
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, e := range file.Entries {
			if e.Key == "" || e.Op < OpAdd || e.Op > OpModify || ListName(e.Kind) == "" {
				t.Fatalf("invalid entry accepted: %+v", e)
			}
			if e.MaxScans != nil && *e.MaxScans < -1 {
				t.Fatalf("negative limit not normalised: %d", *e.MaxScans)
			}
		}
		st := NewStore()
		if _, err := st.Apply(ctx, file); err != nil {
			t.Fatal(err)
		}
		for _, e := range file.Entries {
			if e.Kind == accessctl.CredQRCode {
				if r, ok := st.Lookup(e.Kind, e.Key); ok && r.MaxScans < -1 {
					t.Fatalf("stored limit %d", r.MaxScans)
				}
			}
		}
	})
}
