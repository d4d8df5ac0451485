package parking

import (
	"strings"
	"time"
	"unicode/utf8"
)

// CleanText repairs the artefacts that text copied from vendor PDFs carries
// (§0.3, §11 item 14): CJK radicals in place of ideographs (⻋→车, ⼀→一,
// ⼾→户), full-width ASCII and the ideographic space. Everything else is
// kept as it is.
func CleanText(s string) string {
	clean := true
	for _, r := range s {
		if needsClean(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(cleanRune, s)
}

func needsClean(r rune) bool {
	return (r >= 0x2E80 && r <= 0x2FD5) || (r >= 0xFF01 && r <= 0xFF5E) || r == 0x3000
}

func cleanRune(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
		return r - 0xFF01 + '!'
	case r == 0x3000:
		return ' '
	}
	if to, ok := radicals[r]; ok {
		return to
	}
	return r
}

// PlateKey is the form plates are compared in (§11 item 28): artefacts
// cleaned, spaces removed, letters upper case. Keep the original plate for
// display; use the key for lists and duplicate detection.
func PlateKey(plate string) string {
	plate = CleanText(plate)
	var b strings.Builder
	b.Grow(len(plate))
	for _, r := range plate {
		switch {
		case r == ' ' || r == '\t' || r == '·' || r == '-':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Wildcards are the values the LED wildcards expand to (§3.3, §10 G12).
type Wildcards struct {
	Now    time.Time // #T; zero: time.Now()
	Expiry time.Time // #t: the vehicle's permission expiry; zero: empty
	Plate  string    // #p; empty without a vehicle
	// TimeLayout formats #T (default "2006-01-02 15:04"); ExpiryLayout
	// formats #t (default "2006-01-02").
	TimeLayout, ExpiryLayout string
	Location                 *time.Location // zone of #T and #t (default UTC+8)
}

// ChinaTime is UTC+8, the default zone of device clocks and permission dates.
var ChinaTime = time.FixedZone("CST", 8*3600)

// Expand replaces #T, #t and #p. Unknown #x sequences stay literal; there is
// no escape for a literal "#T" (§10 G12).
func (w Wildcards) Expand(s string) string {
	if !strings.Contains(s, "#") {
		return s
	}
	loc := w.Location
	if loc == nil {
		loc = ChinaTime
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '#' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case 'T':
			now := w.Now
			if now.IsZero() {
				now = time.Now()
			}
			b.WriteString(now.In(loc).Format(or(w.TimeLayout, "2006-01-02 15:04")))
		case 't':
			if !w.Expiry.IsZero() {
				b.WriteString(w.Expiry.In(loc).Format(or(w.ExpiryLayout, "2006-01-02")))
			}
		case 'p':
			b.WriteString(w.Plate)
		default:
			b.WriteByte('#')
			continue
		}
		i++
	}
	return b.String()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Cells is the width of s on an LED row: full-width (CJK) characters take
// two cells, ASCII one (§11 item 1).
func Cells(s string) int {
	n := 0
	for _, r := range s {
		n += runeCells(r)
	}
	return n
}

func runeCells(r rune) int {
	if r < 0x1100 {
		return 1
	}
	if r >= 0xFF61 && r <= 0xFFDC { // half-width forms
		return 1
	}
	return 2
}

// TruncateRunes cuts s to at most n characters, never inside a multibyte
// sequence.
func TruncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// SpeakablePlate spells a plate for TTS (§11 item 17): characters separated
// by spaces, masking asterisks dropped.
func SpeakablePlate(plate string) string {
	var b strings.Builder
	for _, r := range CleanText(plate) {
		if r == '*' || r == ' ' {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
