// Package jsonrepair makes the broken JSON of vendor documents and the
// devices written from them decodable: comments, trailing commas, a BOM and
// no-break-space indentation, all outside strings (accessctl/wsterm/PROTOCOL.md D.1).
// Callers use it only after strict decoding failed, and count its use.
//
//	if err := json.Unmarshal(b, &v); err != nil {
//		if fixed, changed := jsonrepair.Repair(b); changed { err = json.Unmarshal(fixed, &v) }
//	}
package jsonrepair

import "bytes"

var bom = []byte("\xEF\xBB\xBF")

// Repair applies the lenient fixes of accessctl/wsterm/PROTOCOL.md D.1 outside JSON
// strings: it drops a UTF-8 BOM, // and /* */ comments and commas before }
// or ], and turns no-break spaces (U+00A0, which the source's examples use
// for indentation) into spaces. It never grows the input.
func Repair(msg []byte) ([]byte, bool) {
	in := bytes.TrimPrefix(msg, bom)
	noComments, c1 := stripComments(in)
	out, c2 := stripTrailingCommas(noComments)
	return out, c1 || c2 || len(in) != len(msg)
}

// outside walks in, copying JSON strings verbatim and calling f for every
// byte outside them; f appends what it wants and returns the next index.
func outside(in []byte, f func(out []byte, in []byte, i int) ([]byte, int)) []byte {
	out := make([]byte, 0, len(in))
	inString, escaped := false, false
	for i := 0; i < len(in); {
		c := in[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			i++
			continue
		}
		if c == '"' {
			inString = true
			out = append(out, c)
			i++
			continue
		}
		out, i = f(out, in, i)
	}
	return out
}

func stripComments(in []byte) ([]byte, bool) {
	changed := false
	out := outside(in, func(out, in []byte, i int) ([]byte, int) {
		switch {
		case in[i] == '/' && i+1 < len(in) && in[i+1] == '/':
			changed = true
			for i < len(in) && in[i] != '\n' {
				i++
			}
			return out, i
		case in[i] == '/' && i+1 < len(in) && in[i+1] == '*':
			changed = true
			end := bytes.Index(in[i+2:], []byte("*/"))
			if end < 0 {
				return append(out, ' '), len(in)
			}
			return append(out, ' '), i + 2 + end + 2
		case in[i] == 0xC2 && i+1 < len(in) && in[i+1] == 0xA0:
			changed = true
			return append(out, ' '), i + 2
		}
		return append(out, in[i]), i + 1
	})
	return out, changed
}

func stripTrailingCommas(in []byte) ([]byte, bool) {
	changed := false
	out := outside(in, func(out, in []byte, i int) ([]byte, int) {
		if in[i] == ',' {
			j := i + 1
			for j < len(in) && (in[j] == ' ' || in[j] == '\t' || in[j] == '\n' || in[j] == '\r') {
				j++
			}
			if j < len(in) && (in[j] == '}' || in[j] == ']') {
				changed = true
				return out, i + 1
			}
		}
		return append(out, in[i]), i + 1
	})
	return out, changed
}
