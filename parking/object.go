package parking

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// object is a decoded JSON object whose keys are matched case-insensitively
// (device UpperCamel, cloud lowerCamel, §10 G3) and whose numbers may arrive
// as strings (§11 item 10).
type object struct {
	payload string
	m       map[string]json.RawMessage
}

func parseObject(payload string, b []byte) (object, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		if len(b) > 0 && json.Valid(b) {
			return object{}, fieldErr(payload, "", ErrBadType, "want a JSON object")
		}
		return object{}, fieldErr(payload, "", ErrSyntax, "want a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return object{}, fieldErr(payload, "", ErrSyntax, "%v", err)
	}
	m := make(map[string]json.RawMessage, len(raw))
	for k, v := range raw {
		m[strings.ToLower(k)] = v
	}
	return object{payload: payload, m: m}, nil
}

// get returns the raw value; JSON null counts as absent.
func (o object) get(name string) (json.RawMessage, bool) {
	v, ok := o.m[strings.ToLower(name)]
	if !ok || string(v) == "null" {
		return nil, false
	}
	return v, true
}

func (o object) err(name string, sentinel error, format string, args ...any) error {
	return fieldErr(o.payload, name, sentinel, format, args...)
}

// int reads an integer given as a number or a numeric string.
func (o object) int(name string) (int, bool, error) {
	v, ok := o.get(name)
	if !ok {
		return 0, false, nil
	}
	n, err := parseInt(v)
	if err != nil {
		return 0, true, o.err(name, ErrBadType, "%s", err.Error())
	}
	return n, true, nil
}

// requiredInt is int with absence an error.
func (o object) requiredInt(name string) (int, error) {
	n, ok, err := o.int(name)
	if err == nil && !ok {
		err = o.err(name, ErrMissing, "required")
	}
	return n, err
}

type numError string

func (e numError) Error() string { return string(e) }

func parseInt(v json.RawMessage) (int, error) {
	s := string(v)
	if len(s) > 0 && s[0] == '"' {
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, numError("not a string")
		}
		s = strings.TrimSpace(s)
	}
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return int(n), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, numError("not a number: " + trimForError(s))
	}
	if f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
		return 0, numError("not an integer: " + trimForError(s))
	}
	return int(f), nil
}

func (o object) float(name string) (float64, bool, error) {
	v, ok := o.get(name)
	if !ok {
		return 0, false, nil
	}
	s := string(v)
	if len(s) > 0 && s[0] == '"' {
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, true, o.err(name, ErrBadType, "not a string")
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, true, o.err(name, ErrBadType, "not a number: %s", trimForError(s))
	}
	return f, true, nil
}

// str reads a string. Numbers are accepted and kept as written, since
// devices send plate-kind codes such as "02" both ways.
func (o object) str(name string) (string, bool, error) {
	v, ok := o.get(name)
	if !ok {
		return "", false, nil
	}
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", true, o.err(name, ErrBadType, "%v", err)
		}
		return s, true, nil
	}
	if len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		return string(v), true, nil
	}
	return "", true, o.err(name, ErrBadType, "want a string")
}

func (o object) requiredStr(name string) (string, error) {
	s, ok, err := o.str(name)
	if err == nil && !ok {
		err = o.err(name, ErrMissing, "required")
	}
	return s, err
}

func trimForError(s string) string { return TruncateRunes(s, 32) }
