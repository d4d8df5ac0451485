package permfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// Sentinel errors.
var (
	// ErrSyntax: the file is not a JSON object of the expected shape, or it
	// is truncated. Nothing from it may be applied.
	ErrSyntax = errors.New("permfile: malformed permission file")
	// ErrTooLarge: the file exceeds the byte or entry limit.
	ErrTooLarge = errors.New("permfile: permission file too large")
	// ErrFetch: the permission file could not be downloaded.
	ErrFetch = errors.New("permfile: download failed")
	// ErrInvalidEntry: one entry breaks the field rules; inside a file it
	// is skipped, on its own (ParseEntry) it is returned.
	ErrInvalidEntry = errors.New("permfile: invalid permission entry")
)

// Op is an entry's operation, with its wire value.
type Op int

const (
	OpAdd    Op = 1
	OpDelete Op = 2
	OpModify Op = 3
)

func (o Op) String() string {
	switch o {
	case OpAdd:
		return "add"
	case OpDelete:
		return "delete"
	case OpModify:
		return "modify"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// The four lists of the file and the credential kind each one holds.
var lists = []struct {
	name string
	kind accessctl.CredentialKind
}{
	{"qrCodePermissionList", accessctl.CredQRCode},
	{"tradCardPermissionList", accessctl.CredCard},
	{"bleCardPermissionList", accessctl.CredBLECard},
	{"passwordPermissionList", accessctl.CredPassword},
}

// ListName returns the file's list member for a credential kind ("" if the
// file has no list for it).
func ListName(k accessctl.CredentialKind) string {
	for _, l := range lists {
		if l.kind == k {
			return l.name
		}
	}
	return ""
}

// Entry is one operation of a permission file. Pointer fields are nil when
// the entry does not carry the field: the store then applies the defaults
// on insert and keeps the stored value on update (spec §3.2, §3.4).
type Entry struct {
	Kind     accessctl.CredentialKind
	Op       Op
	Key      string     // qrCode, cardId (upper-cased hex letters) or password
	Start    *time.Time // start of validity (inclusive)
	End      *time.Time // end of validity (inclusive)
	MaxScans *int       // QR only; -1 unlimited, 0 none
	Scope    *accessctl.ScanScope
	UserID   string                     // userId or identityId, when the cloud sends one
	Extra    map[string]json.RawMessage // every member the SDK does not interpret, verbatim

	replace bool // PutGrant: absent fields take defaults, not stored values
}

// String never prints a password.
func (e Entry) String() string {
	key := e.Key
	if e.Kind == accessctl.CredPassword {
		key = "***"
	}
	return fmt.Sprintf("%s %s %s", e.Op, e.Kind, key)
}

// Skipped is an entry that was left out, and why.
type Skipped struct {
	List   string
	Index  int // position in its list
	Reason string
}

// File is a parsed permission file: its valid entries in file order (lists
// in the order they appear) and the entries skipped as invalid.
type File struct {
	Entries []Entry
	Skipped []Skipped // capped at MaxSkippedDetail; SkippedCount is exact
	// SkippedCount counts every invalid entry.
	SkippedCount int
	// Warnings counts tolerated oddities: epoch seconds read as seconds,
	// unknown maxScanScope values, unknown top-level members.
	Warnings []string
}

// MaxSkippedDetail bounds File.Skipped and File.Warnings so that a hostile
// file cannot grow them without limit.
const MaxSkippedDetail = 100

// Limits for Parse.
type Limits struct {
	MaxBytes   int64 // default 32 MiB
	MaxEntries int   // default 1,000,000 across all lists
}

const (
	DefaultMaxBytes   = 32 << 20
	DefaultMaxEntries = 1_000_000
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	return l
}

// Parse reads a permission file with a streaming decoder. A syntax error,
// a truncated body or an exceeded limit rejects the whole file (ErrSyntax,
// ErrTooLarge); an invalid entry is skipped and counted, the rest proceed.
func Parse(r io.Reader, lim Limits) (*File, error) {
	lim = lim.withDefaults()
	lr := &limitReader{r: r, left: lim.MaxBytes}
	dec := json.NewDecoder(lr)
	dec.UseNumber()
	f := &File{}
	fail := func(err error) (*File, error) {
		if lr.over {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxBytes)
		}
		if errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return fail(err)
	}
	total := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		name, _ := tok.(string)
		kind, known := accessctl.CredentialKind(""), false
		for _, l := range lists {
			if l.name == name {
				kind, known = l.kind, true
			}
		}
		if !known {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
			f.warn("unknown member %q ignored", name)
			continue
		}
		// The list: null means no change, like an absent or empty list.
		tok, err = dec.Token()
		if err != nil {
			return fail(err)
		}
		if tok == nil {
			continue
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return fail(fmt.Errorf("%s is not an array", name))
		}
		for i := 0; dec.More(); i++ {
			if total++; total > lim.MaxEntries {
				return nil, fmt.Errorf("%w: more than %d entries", ErrTooLarge, lim.MaxEntries)
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fail(err)
			}
			e, reason := parseEntry(kind, raw, f)
			if reason != "" {
				f.SkippedCount++
				if len(f.Skipped) < MaxSkippedDetail {
					f.Skipped = append(f.Skipped, Skipped{List: name, Index: i, Reason: reason})
				}
				continue
			}
			f.Entries = append(f.Entries, e)
		}
		if err := expectDelim(dec, ']'); err != nil {
			return fail(err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return fail(err)
	}
	// Nothing but white space may follow the object.
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the top-level object")
		}
		return fail(err)
	}
	return f, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, got %v", want, tok)
	}
	return nil
}

func (f *File) warn(format string, args ...any) {
	if len(f.Warnings) < MaxSkippedDetail {
		f.Warnings = append(f.Warnings, fmt.Sprintf(format, args...))
	}
}

// ParseEntry reads one entry of a list of the given kind, for protocols
// that push entries one list at a time (the edge protocol's card and BLE
// permission pushes use the same shape). Errors match ErrInvalidEntry.
func ParseEntry(kind accessctl.CredentialKind, raw json.RawMessage) (Entry, error) {
	if ListName(kind) == "" {
		return Entry{}, fmt.Errorf("%w: no permission list for %s", ErrInvalidEntry, kind)
	}
	e, reason := parseEntry(kind, raw, &File{})
	if reason != "" {
		return Entry{}, fmt.Errorf("%w: %s", ErrInvalidEntry, reason)
	}
	return e, nil
}

// parseEntry applies the field table of spec §3.2/§3.3; reason != "" means
// skip the entry.
func parseEntry(kind accessctl.CredentialKind, raw json.RawMessage, f *File) (Entry, string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return Entry{}, "entry is not an object"
	}
	e := Entry{Kind: kind}
	take := func(names ...string) (json.RawMessage, bool) {
		for _, n := range names {
			if v, ok := m[n]; ok {
				delete(m, n)
				for _, other := range names { // aliases are consumed too
					delete(m, other)
				}
				return v, true
			}
		}
		return nil, false
	}

	v, ok := take("type")
	if !ok {
		return Entry{}, "no type"
	}
	op, ok := intValue(v)
	if !ok || op < 1 || op > 3 {
		return Entry{}, "type is not 1, 2 or 3"
	}
	e.Op = Op(op)

	var keyNames []string
	switch kind {
	case accessctl.CredQRCode:
		keyNames = []string{"qrCode"}
	case accessctl.CredCard:
		keyNames = []string{"cardId"}
	case accessctl.CredBLECard:
		keyNames = []string{"cardId", "bleCardId"}
	case accessctl.CredPassword:
		keyNames = []string{"password"}
	}
	v, _ = take(keyNames...)
	key, ok := textValue(v)
	if ok {
		key = NormalizeKey(kind, key)
	}
	if !ok || key == "" { // a blank card number is no card number
		return Entry{}, "no " + keyNames[0]
	}
	e.Key = key

	// The person id stays among the extras too (verbatim for the host).
	for _, n := range []string{"userId", "identityId"} {
		if v, ok := m[n]; ok && e.UserID == "" {
			e.UserID, _ = textValue(v)
		}
	}
	if e.Op == OpDelete {
		// A delete needs only its key; whatever else it carries cannot make
		// the door more permissive, so it is not validated.
		e.Extra = nonEmpty(m)
		return e, ""
	}

	startNames, endNames := []string{"startTime", "effectiveTime"}, []string{"endTime", "expiryTime"}
	if kind != accessctl.CredQRCode {
		startNames, endNames = []string{"effectiveTime", "startTime"}, []string{"expiryTime", "endTime"}
	}
	for _, t := range []struct {
		names []string
		dst   **time.Time
	}{{startNames, &e.Start}, {endNames, &e.End}} {
		v, ok := take(t.names...)
		if !ok {
			continue
		}
		ms, present, ok := epochValue(v)
		if !ok {
			return Entry{}, t.names[0] + " is not a non-negative epoch time"
		}
		if !present {
			continue
		}
		if ms < epochMsFloor {
			f.warn("%s %d read as epoch seconds", t.names[0], ms)
			ms *= 1000
		}
		at := time.UnixMilli(ms)
		*t.dst = &at
	}

	if kind == accessctl.CredQRCode {
		if v, ok := take("maxScanTimes"); ok && !emptyValue(v) {
			n, ok := intValue(v)
			if !ok {
				return Entry{}, "maxScanTimes is not a number"
			}
			if n < 0 {
				n = -1
			}
			if n > maxInt {
				n = maxInt
			}
			ms := int(n)
			e.MaxScans = &ms
		}
		if v, ok := take("maxScanScope"); ok && !emptyValue(v) {
			s, _ := textValue(v)
			scope := accessctl.ScopeDevice
			switch strings.ToUpper(s) {
			case "SHARE":
				scope = accessctl.ScopeShare
			case "DEVICE":
			default:
				f.warn("maxScanScope %s read as DEVICE", v)
			}
			e.Scope = &scope
		}
	}
	e.Extra = nonEmpty(m)
	return e, ""
}

const maxInt = int64(^uint(0) >> 1)

// epochMsFloor: below 10^11 a time is epoch seconds (spec §3.2 epoch rule).
const epochMsFloor = 100_000_000_000

// NormalizeKey is how record keys are compared: QR codes and passwords
// byte-exact, card numbers with surrounding space removed and hexadecimal
// letters upper-cased.
func NormalizeKey(kind accessctl.CredentialKind, key string) string {
	switch kind {
	case accessctl.CredCard, accessctl.CredBLECard:
		return strings.ToUpper(strings.TrimSpace(key))
	}
	return key
}

func nonEmpty(m map[string]json.RawMessage) map[string]json.RawMessage {
	if len(m) == 0 {
		return nil
	}
	return m
}

func emptyValue(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null" || string(v) == `""`
}

// textValue reads a JSON string, or a number kept as its text.
func textValue(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false
		}
		return s, true
	}
	if v[0] == '-' || (v[0] >= '0' && v[0] <= '9') {
		return string(v), true
	}
	return "", false
}

// intValue reads a JSON integer or a string holding one.
func intValue(v json.RawMessage) (int64, bool) {
	s, ok := textValue(v)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n, err == nil
}

// epochValue reads a time field: present=false for null or "".
func epochValue(v json.RawMessage) (ms int64, present, ok bool) {
	if emptyValue(v) {
		return 0, false, true
	}
	n, ok := intValue(v)
	if !ok || n < 0 {
		return 0, false, false
	}
	return n, true, true
}

// limitReader fails the read that would pass the limit, so a huge body is
// never held in memory.
type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more than allowed tells "exactly at the limit" from "over".
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.over = true
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
