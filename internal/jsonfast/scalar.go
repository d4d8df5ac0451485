package jsonfast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrNotScalar is returned by Scalar for a value that is not a string, a
// number, a boolean or null, or is not valid JSON.
var ErrNotScalar = errors.New("want a string or a number")

// Scalar reads the rule our protocols share for a field documented as a
// string: terminals send it as a JSON string or as a JSON number ("200" and
// 200), and flags as booleans. A string gives its value; a number or a
// boolean gives its literal as written; null gives "". kind is the value's
// first byte, as Scanner.Kind reports it ('"', 'n', 't', 'f', '-' or a
// digit), so that a caller can refuse the kinds its field does not take or
// leave a field alone on null, as encoding/json does.
//
// b is what encoding/json hands an Unmarshaler (or Scanner.Value returns):
// a string without escapes is taken between its quotes without a second
// full scan, which matters for a face image of tens of KiB. Numbers and
// literals are checked, as they are short. Errors wrap ErrNotScalar, or
// are encoding/json's for a string it cannot decode.
func Scalar(b []byte) (text string, kind byte, err error) {
	b = bytes.Trim(b, " \t\r\n") // JSON whitespace
	if len(b) == 0 {
		return "", 0, fmt.Errorf("%w: empty value", ErrNotScalar)
	}
	switch kind = b[0]; kind {
	case '"':
		if len(b) >= 2 && b[len(b)-1] == '"' {
			if inner := b[1 : len(b)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
				return string(inner), kind, nil
			}
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", kind, err
		}
		return s, kind, nil
	case 'n', 't', 'f', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var s Scanner
		s.Reset(b)
		if _, _, ok := s.Value(); !ok || !s.Done() {
			return "", kind, fmt.Errorf("%w: bad literal %.20s", ErrNotScalar, b)
		}
		if kind == 'n' {
			return "", kind, nil
		}
		return string(b), kind, nil
	}
	return "", kind, fmt.Errorf("%w, got %.20s", ErrNotScalar, b)
}
