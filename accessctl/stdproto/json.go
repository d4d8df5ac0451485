package stdproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/menjin/menjin/internal/jsonfast"
	"github.com/menjin/menjin/internal/jsonrepair"
)

// Int is an integer that also arrives as a numeric string ("01", "200"),
// as the source's own examples do (spec D.2). It is sent as a number.
type Int int64

// UnmarshalJSON accepts 8, "8", "08" and null (left unchanged).
func (n *Int) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = strings.TrimSpace(str)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// 8.0 is an integer written by a float-only JSON library.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return badParam("want an integer, got %.40s", s)
		}
		v = int64(f)
	}
	*n = Int(v)
	return nil
}

// Text is a string that also arrives as a JSON number ("targetFloor": 8,
// "sipServerPort": 6050, thresholds as 37.5). It is sent as a string.
type Text string

// UnmarshalJSON accepts a string, a number (kept as written) and null
// (left unchanged).
func (t *Text) UnmarshalJSON(b []byte) error {
	v, kind, err := jsonfast.Scalar(b)
	number := kind == '-' || (kind >= '0' && kind <= '9')
	switch {
	case kind == '"' && err != nil:
		return err
	case number && err != nil:
		return badParam("bad number %.40s", bytes.TrimSpace(b))
	case kind == 'n' && err == nil:
		return nil
	case kind == '"' || number:
		*t = Text(v)
		return nil
	}
	return badParam("want a string, got %.40s", bytes.TrimSpace(b))
}

// Bool is a boolean that also arrives as "true", 1 or "1".
type Bool bool

// UnmarshalJSON accepts true, false, "true", "false", 1, 0, "1", "0", null.
func (v *Bool) UnmarshalJSON(b []byte) error {
	switch strings.Trim(string(bytes.TrimSpace(b)), `"`) {
	case "null":
		return nil
	case "true", "1", "True", "TRUE":
		*v = true
	case "false", "0", "False", "FALSE", "":
		*v = false
	default:
		return badParam("want a boolean, got %.40s", b)
	}
	return nil
}

// Epoch is an integer timestamp kept exactly as sent (digits only), because
// the /connect sign covers the text the sender wrote.
type Epoch string

// UnmarshalJSON accepts 1589472000 and "1589472000".
func (e *Epoch) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	if s == "" || len(s) > 20 {
		return badParam("bad time %.40q", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return badParam("bad time %.40q", s)
		}
	}
	*e = Epoch(s)
	return nil
}

// MarshalJSON sends the digits as a JSON number.
func (e Epoch) MarshalJSON() ([]byte, error) {
	if e == "" {
		return []byte("0"), nil
	}
	return []byte(e), nil
}

// Int64 is the value (0 when it does not fit).
func (e Epoch) Int64() int64 { v, _ := strconv.ParseInt(string(e), 10, 64); return v }

// decodeJSON decodes strictly and, only when the text is not JSON, once more
// after repairing what the source's own examples get wrong: comments,
// trailing commas, a BOM, no-break-space indentation (spec D.1, with
// internal/jsonrepair like wsterm). repaired reports the second path.
func decodeJSON(data []byte, v any) (repaired bool, err error) {
	err = json.Unmarshal(data, v)
	if err == nil {
		return false, nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		if fixed, changed := jsonrepair.Repair(data); changed && json.Unmarshal(fixed, v) == nil {
			return true, nil
		}
		return false, badParam("not JSON: %v", err)
	}
	var pe *paramError
	if errors.As(err, &pe) {
		return false, pe
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return false, badParam("field %q: want %s, got %s", te.Field, te.Type, te.Value)
	}
	return false, badParam("%v", err)
}

// decodeObject is decodeJSON for a request body, which must be an object.
func decodeObject(data []byte, v any) (bool, error) {
	t := bytes.TrimLeft(bytes.TrimPrefix(bytes.TrimSpace(data), []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(t) == 0 || (t[0] != '{' && t[0] != '/') {
		return false, badParam("body is not a JSON object")
	}
	return decodeJSON(data, v)
}
