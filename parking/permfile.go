package parking

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PermissionOp is a permission file entry's type: add (or overwrite) or delete.
type PermissionOp int

const (
	PermissionNone   PermissionOp = 0 // not given: a device's export
	PermissionAdd    PermissionOp = 1
	PermissionDelete PermissionOp = 2
)

// Permission is one entry of the vehicle permission file (§6.1).
type Permission struct {
	Op          PermissionOp
	PlateNumber string    // as written; compare with PlateKey
	Effective   time.Time // zero: unbounded
	Expiry      time.Time // zero: unbounded
	Category    Category  // from permissionType: ordinary, whitelist, blacklist
}

// ValidAt reports whether t is inside the entry's window.
func (p Permission) ValidAt(t time.Time) bool {
	return (p.Effective.IsZero() || !t.Before(p.Effective)) && (p.Expiry.IsZero() || !t.After(p.Expiry))
}

// SkippedEntry is an entry the parser left out, and why (§11 item 30: bad
// entries are reported, they do not abort the file).
type SkippedEntry struct {
	Index int
	Plate string
	Err   error
}

// PermissionFile is a parsed permission file.
type PermissionFile struct {
	Total    int // as written; informational (§10 G20)
	Entries  []Permission
	Skipped  []SkippedEntry
	Warnings []string
}

// PermissionFileOption configures ParsePermissionFile.
type PermissionFileOption func(*permConfig)

type permConfig struct {
	loc      *time.Location
	maxBytes int64
	exported bool
}

// WithDateZone sets the zone of "yyyy-MM-dd HH:mm:ss" dates (default UTC+8,
// §10 G18). Epoch milliseconds are always UTC.
func WithDateZone(loc *time.Location) PermissionFileOption {
	return func(c *permConfig) { c.loc = loc }
}

// WithMaxFileBytes bounds the file (default 64 MiB).
func WithMaxFileBytes(n int64) PermissionFileOption { return func(c *permConfig) { c.maxBytes = n } }

// Exported parses a file a device exported (GetVehiclePermission), whose
// entries have no type.
func Exported() PermissionFileOption { return func(c *permConfig) { c.exported = true } }

const permPayload = "permission file"

// maxEntryBytes bounds one entry; a longer one is skipped, not buffered.
const maxEntryBytes = 4096

// ParsePermissionFile reads a vehicle permission file (§6.1) as a stream.
// Malformed JSON, a missing permList or a file over the size bound fail the
// whole file (*FieldError: ErrSyntax, ErrMissing, ErrTooLong); a bad entry
// (unknown type or permissionType, no plate, a date that is not a date,
// effective after expiry) is skipped and listed in Skipped; total differing
// from the entries is a warning.
func ParsePermissionFile(r io.Reader, opts ...PermissionFileOption) (*PermissionFile, error) {
	cfg := permConfig{loc: ChinaTime, maxBytes: 64 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	lr := &io.LimitedReader{R: r, N: cfg.maxBytes + 1}
	dec := json.NewDecoder(lr)
	dec.UseNumber()
	f := &PermissionFile{Total: -1}
	fail := func(err error) (*PermissionFile, error) {
		if lr.N <= 0 {
			return nil, fieldErr(permPayload, "", ErrTooLong, "over %d bytes", cfg.maxBytes)
		}
		var fe *FieldError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, fieldErr(permPayload, "", ErrSyntax, "%v", err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return fail(err)
	}
	sawList := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		key, _ := tok.(string)
		switch strings.ToLower(key) {
		case "total":
			var n json.Number
			if err := dec.Decode(&n); err != nil {
				return fail(fieldErr(permPayload, "total", ErrBadType, "%v", err))
			}
			t, err := parseInt(json.RawMessage(n))
			if err != nil {
				return fail(fieldErr(permPayload, "total", ErrBadType, "%v", err))
			}
			f.Total = t
		case "permlist":
			sawList = true
			if err := expectDelim(dec, '['); err != nil {
				return fail(fieldErr(permPayload, "permList", ErrBadType, "want an array"))
			}
			for i := 0; dec.More(); i++ {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return fail(err)
				}
				p, err := parsePermission(raw, cfg)
				if err != nil {
					f.Skipped = append(f.Skipped, SkippedEntry{Index: i, Plate: p.PlateNumber, Err: err})
					continue
				}
				f.Entries = append(f.Entries, p)
			}
			if _, err := dec.Token(); err != nil {
				return fail(err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail(fieldErr(permPayload, "", ErrSyntax, "data after the object"))
	}
	if !sawList {
		return nil, fieldErr(permPayload, "permList", ErrMissing, "required")
	}
	n := len(f.Entries) + len(f.Skipped)
	switch {
	case f.Total < 0:
		f.Warnings = append(f.Warnings, "total missing")
	case f.Total != n:
		f.Warnings = append(f.Warnings, fmt.Sprintf("total %d but %d entries", f.Total, n))
	}
	return f, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fieldErr(permPayload, "", ErrBadType, "want %q, got %v", d, tok)
	}
	return nil
}

func parsePermission(raw json.RawMessage, cfg permConfig) (Permission, error) {
	var p Permission
	if len(raw) > maxEntryBytes {
		return p, fieldErr(permPayload, "permList[]", ErrTooLong, "entry of %d bytes", len(raw))
	}
	o, err := parseObject(permPayload+" entry", raw)
	if err != nil {
		return p, err
	}
	if p.PlateNumber, err = o.requiredStr("plateNumber"); err != nil {
		return p, err
	}
	if PlateKey(p.PlateNumber) == "" {
		return p, o.err("plateNumber", ErrMissing, "empty")
	}
	op, ok, err := o.int("type")
	if err != nil {
		return p, err
	}
	switch {
	case !ok && !cfg.exported:
		return p, o.err("type", ErrMissing, "required")
	case !ok:
		p.Op = PermissionNone
	case op == 1 || op == 2:
		p.Op = PermissionOp(op)
	default:
		return p, o.err("type", ErrUnknownValue, "%d", op)
	}
	pt, err := o.requiredInt("permissionType")
	if err != nil {
		return p, err
	}
	if p.Category = CategoryFromPermissionType(pt); p.Category == CategoryUnknown {
		return p, o.err("permissionType", ErrUnknownValue, "%d", pt)
	}
	if p.Op == PermissionDelete {
		return p, nil // a delete needs no window
	}
	for _, d := range []struct {
		name string
		dst  *time.Time
	}{{"effectiveDate", &p.Effective}, {"expiryDate", &p.Expiry}} {
		v, _ := o.get(d.name)
		if *d.dst, err = ParsePermissionDate(v, cfg.loc); err != nil {
			return p, o.err(d.name, ErrBadType, "%v", err)
		}
	}
	if !p.Effective.IsZero() && !p.Expiry.IsZero() && p.Effective.After(p.Expiry) {
		return p, o.err("effectiveDate", ErrOutOfRange, "after expiryDate (domain code 607)")
	}
	return p, nil
}

var dateLayouts = []string{"2006-01-02 15:04:05", "2006/01/02 15:04:05"}

// ParsePermissionDate reads a permission date (§10 G18): epoch milliseconds
// as a JSON number or a decimal string (UTC), "yyyy-MM-dd HH:mm:ss" or
// "yyyy/MM/dd HH:mm:ss" in loc; empty or absent is the zero time (unbounded).
func ParsePermissionDate(v json.RawMessage, loc *time.Location) (time.Time, error) {
	s := strings.TrimSpace(string(v))
	if s == "" || s == "null" {
		return time.Time{}, nil
	}
	if s[0] == '"' {
		if err := json.Unmarshal(v, &s); err != nil {
			return time.Time{}, err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return time.Time{}, nil
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 || ms > 253402300799999 { // year 9999
			return time.Time{}, fmt.Errorf("epoch milliseconds out of range: %d", ms)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	if loc == nil {
		loc = ChinaTime
	}
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date: %q", trimForError(s))
}

type wirePermission struct {
	Type           *int   `json:"type,omitempty"`
	PlateNumber    string `json:"plateNumber"`
	EffectiveDate  string `json:"effectiveDate"`
	ExpiryDate     string `json:"expiryDate"`
	PermissionType int    `json:"permissionType"`
}

func epochMS(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// EncodePermissionFile writes entries as a permission file: dates as epoch
// milliseconds in decimal strings, total equal to the number of entries, no
// type for entries whose Op is PermissionNone (a device's export).
func EncodePermissionFile(entries []Permission) ([]byte, error) {
	w := struct {
		Total    int              `json:"total"`
		PermList []wirePermission `json:"permList"`
	}{Total: len(entries), PermList: make([]wirePermission, len(entries))}
	for i, p := range entries {
		pt := p.Category.PermissionType()
		if pt == 0 {
			return nil, fieldErr(permPayload, fmt.Sprintf("permList[%d].permissionType", i), ErrUnknownValue, "category %s", p.Category)
		}
		wp := wirePermission{PlateNumber: p.PlateNumber, EffectiveDate: epochMS(p.Effective), ExpiryDate: epochMS(p.Expiry), PermissionType: pt}
		if p.Op != PermissionNone {
			op := int(p.Op)
			wp.Type = &op
		}
		w.PermList[i] = wp
	}
	return marshalNoEscape(w)
}

// PermissionSet is a device's local vehicle permission database, keyed by
// PlateKey. Apply is atomic: readers see the old set or the new one, never
// half a file (§11 item 29). Safe for concurrent use.
type PermissionSet struct {
	mu sync.RWMutex
	m  map[string]Permission
}

// ApplyStats says what Apply did.
type ApplyStats struct {
	Added, Deleted, DeletedUnknown int
}

// Apply applies a file's entries in order (duplicate plates: the last wins;
// deleting an unknown plate is no error) and swaps the result in.
func (s *PermissionSet) Apply(f *PermissionFile) ApplyStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]Permission, len(s.m)+len(f.Entries))
	for k, v := range s.m {
		next[k] = v
	}
	var st ApplyStats
	for _, p := range f.Entries {
		k := PlateKey(p.PlateNumber)
		if p.Op == PermissionDelete {
			if _, ok := next[k]; ok {
				st.Deleted++
			} else {
				st.DeletedUnknown++
			}
			delete(next, k)
			continue
		}
		p.Op = PermissionNone
		next[k] = p
		st.Added++
	}
	s.m = next
	return st
}

// Put adds or replaces one permission.
func (s *PermissionSet) Put(p Permission) {
	p.Op = PermissionNone
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[string]Permission)
	}
	next := make(map[string]Permission, len(s.m)+1)
	for k, v := range s.m {
		next[k] = v
	}
	next[PlateKey(p.PlateNumber)] = p
	s.m = next
	s.mu.Unlock()
}

// Lookup returns the permission of plate, compared by PlateKey.
func (s *PermissionSet) Lookup(plate string) (Permission, bool) {
	s.mu.RLock()
	p, ok := s.m[PlateKey(plate)]
	s.mu.RUnlock()
	return p, ok
}

// Len is the number of plates held.
func (s *PermissionSet) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// Export lists the set sorted by plate, as GetVehiclePermission exports it.
func (s *PermissionSet) Export() []Permission {
	s.mu.RLock()
	out := make([]Permission, 0, len(s.m))
	for _, p := range s.m {
		out = append(out, p)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return PlateKey(out[i].PlateNumber) < PlateKey(out[j].PlateNumber) })
	return out
}

// LoadPermissionFile parses b and applies it to a new set.
func LoadPermissionFile(b []byte, opts ...PermissionFileOption) (*PermissionSet, *PermissionFile, error) {
	f, err := ParsePermissionFile(bytes.NewReader(b), opts...)
	if err != nil {
		return nil, nil, err
	}
	s := &PermissionSet{}
	s.Apply(f)
	return s, f, nil
}
