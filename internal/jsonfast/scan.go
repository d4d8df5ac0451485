package jsonfast

import (
	"bytes"
	"encoding/binary"
	"iter"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting the scanner reads; deeper input is left to
// encoding/json (which allows 10,000 levels).
const MaxDepth = 64

// Scanner reads the members of a JSON object, validating as it goes. It is
// an iterator, not a callback API, so that a Scanner on the stack stays
// there: reading a reply allocates nothing but the values kept.
//
//	var s jsonfast.Scanner
//	s.Reset(msg)
//	for key := range s.Members() {
//		... s.Value() or s.Members() on the member's value, or nothing (skipped)
//	}
//	valid := s.Done()
//
// Keys are the bytes between the quotes; a key with escapes or invalid
// UTF-8 fails the scan (encoding/json would unescape or repair it before
// matching). Members come in input order, so with repeated keys the last
// one is seen last, as encoding/json keeps it.
type Scanner struct {
	b     []byte
	i     int
	depth int  // objects entered and not left
	first bool // the innermost object has no member read yet
	open  bool // Next returned a key whose value is not consumed yet
	bad   bool
}

// Reset starts scanning b.
func (s *Scanner) Reset(b []byte) {
	*s = Scanner{b: b}
	s.ws()
}

// Enter consumes the '{' of the current value (the whole input, or the
// value of the member Next returned); its members follow with Next.
func (s *Scanner) Enter() bool {
	if s.bad || s.i >= len(s.b) || s.b[s.i] != '{' || s.depth >= MaxDepth {
		s.bad = true
		return false
	}
	s.open = false
	s.depth++
	s.i++
	s.ws()
	s.first = true
	return true
}

// Next moves to the next member of the innermost object entered, skipping
// the previous member's value if nobody consumed it, and returns its key.
// more is false at the end of that object (which is then left) and on an
// error (Done reports false).
func (s *Scanner) Next() (key []byte, more bool) {
	if s.bad || s.depth == 0 {
		s.bad = true
		return nil, false
	}
	if s.open && !s.Skip() {
		return nil, false
	}
	s.ws()
	if s.i >= len(s.b) {
		s.bad = true
		return nil, false
	}
	if s.b[s.i] == '}' {
		s.i++
		s.depth--
		s.first = false // for the enclosing object, a member is complete
		return nil, false
	}
	if !s.first {
		if s.b[s.i] != ',' {
			s.bad = true
			return nil, false
		}
		s.i++
		s.ws()
	}
	s.first = false
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		s.bad = true
		return nil, false
	}
	start := s.i
	end, plain, ok := scanString(s.b, s.i)
	if !ok || !plain || bytes.IndexByte(s.b[start+1:end-1], '\\') >= 0 {
		s.bad = true
		return nil, false
	}
	s.i = end
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		s.bad = true
		return nil, false
	}
	s.i++
	s.ws()
	s.open = true
	return s.b[start+1 : end-1], true
}

// Members enters the current value, which must be an object, and yields
// its keys; each key's value is consumed in the loop body (Value, Skip,
// Enter) or skipped. It ends at the object's end or on an error, which
// Done then reports:
//
//	var s jsonfast.Scanner
//	s.Reset(msg)
//	for key := range s.Members() {
//		if string(key) == "code" {
//			code, _, _ = s.Value()
//		}
//	}
//	if !s.Done() { /* use encoding/json */ }
func (s *Scanner) Members() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		if !s.Enter() {
			return
		}
		for {
			key, more := s.Next()
			if !more || !yield(key) {
				return
			}
		}
	}
}

// Done reports whether the scan read exactly one valid object: every
// object entered was left and nothing but whitespace follows.
func (s *Scanner) Done() bool {
	s.ws()
	return !s.bad && s.depth == 0 && s.i == len(s.b)
}

// Kind is the first byte of the current value: '{', '[', '"', 't', 'f',
// 'n', '-' or a digit; 0 at the end of the input.
func (s *Scanner) Kind() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// Value consumes the current value and returns it as it appears in the
// input. plain reports a string whose content, raw[1:len(raw)-1], is its
// value as is: no escapes and valid UTF-8 (what encoding/json would decode
// to the same bytes).
func (s *Scanner) Value() (raw []byte, plain, ok bool) {
	start := s.i
	s.open = false
	plain, ok = s.value()
	if !ok {
		s.bad = true
		return nil, false, false
	}
	return s.b[start:s.i], plain, true
}

// FoldsTo reports whether key equals one of names ignoring case, the way
// encoding/json matches struct fields: a fast reader that switches on
// exact names must leave such keys to encoding/json.
func FoldsTo(key []byte, names ...string) bool {
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return true
		}
	}
	return false
}

// Skip consumes the current value, validating it.
func (s *Scanner) Skip() bool {
	_, _, ok := s.Value()
	return ok
}

func (s *Scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// skipObject validates an object nested in a skipped value: entering it
// and asking for members skips each value in turn.
func (s *Scanner) skipObject() bool {
	if !s.Enter() {
		return false
	}
	for {
		if _, more := s.Next(); !more {
			return !s.bad
		}
	}
}

func (s *Scanner) value() (plain, ok bool) {
	if s.i >= len(s.b) {
		return false, false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		end, plain, ok := scanString(s.b, s.i)
		if ok {
			s.i = end
		}
		return plain, ok
	case c == '{':
		return false, s.skipObject()
	case c == '[':
		return false, s.array()
	case c == 't':
		return false, s.literal("true")
	case c == 'f':
		return false, s.literal("false")
	case c == 'n':
		return false, s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return false, s.number()
	}
	return false, false
}

func (s *Scanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return false
	}
	s.i += len(lit)
	return true
}

func (s *Scanner) array() bool {
	if s.depth >= MaxDepth {
		return false
	}
	s.depth++
	defer func() { s.depth-- }()
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for {
		if _, ok := s.value(); !ok {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) number() bool {
	b, i := s.b, s.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return false
		}
		i = j
	}
	s.i = i
	return true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// scanString reads the string literal at b[i] (a quote) and returns the
// index after its closing quote. The common string, a long Base64 face
// image, costs two vectorised byte searches (the closing quote, a
// backslash) and an eight-bytes-at-a-time check for control characters
// and non-ASCII; strings with escapes take the careful path.
func scanString(b []byte, i int) (end int, plain, ok bool) {
	start := i + 1
	q := bytes.IndexByte(b[start:], '"')
	if q < 0 {
		return 0, false, false
	}
	body := b[start : start+q]
	if bytes.IndexByte(body, '\\') >= 0 {
		return scanEscaped(b, start)
	}
	ctl, high := classify(body)
	switch {
	case ctl:
		return 0, false, false
	case high:
		return start + q + 1, utf8.Valid(body), true
	}
	return start + q + 1, true, true
}

const lsb, msb = 0x0101010101010101, 0x8080808080808080

// classify reports whether s has a control character (invalid in a JSON
// string) or a non-ASCII byte.
func classify(s []byte) (ctl, high bool) {
	var c, h uint64
	for ; len(s) >= 16; s = s[16:] {
		x, y := binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[8:])
		// A byte below 0x20 borrows into its top bit; bytes with the top
		// bit set are masked out by &^ and counted in h instead.
		c |= (x-0x20*lsb)&^x | (y-0x20*lsb)&^y
		h |= x | y
	}
	for _, b := range s {
		if b < 0x20 {
			return true, true
		}
		h |= uint64(b)
	}
	return c&msb != 0, h&msb != 0
}

// scanEscaped is scanString for a string with a backslash, from the byte
// after the opening quote.
func scanEscaped(b []byte, start int) (end int, plain, ok bool) {
	for i := start; i < len(b); {
		switch c := b[i]; {
		case c == '"':
			return i + 1, false, true
		case c == '\\':
			if i+1 >= len(b) {
				return 0, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, false, false
				}
				i += 6
			default:
				return 0, false, false
			}
		case c < 0x20:
			return 0, false, false
		default:
			i++
		}
	}
	return 0, false, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
