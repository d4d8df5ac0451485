package hciot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/menjin/menjin/internal/jsonfast"
)

// ErrBadRequest is what every malformed /extApi request wraps: a body that
// is not a JSON object, a field of the wrong type, a missing required field.
var ErrBadRequest = errors.New("hciot: bad request")

// request is one decoded /extApi body. HC builds bodies from JSONObjects,
// so a field may arrive as a string or a number; both read as text.
type request struct {
	fields map[string]json.RawMessage
}

// maxDepth bounds the nesting of an /extApi body: HC's are flat objects
// with a few arrays of objects.
const maxDepth = 32

// decodeRequest parses an /extApi body. Anything but a JSON object is an
// error; the caller has already bounded the size.
func decodeRequest(body []byte) (request, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return request{}, fmt.Errorf("%w: body is not a JSON object", ErrBadRequest)
	}
	// A key given twice would be read as its last copy; a proxy or log
	// that reads the first would disagree on what HC asked.
	if err := jsonfast.CheckKeys(body, maxDepth); err != nil {
		return request{}, fmt.Errorf("%w: body is not JSON HC could mean one way: %v", ErrBadRequest, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return request{}, fmt.Errorf("%w: body is not JSON: %v", ErrBadRequest, err)
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	return request{fields: m}, nil
}

// str returns a field as text: a JSON string verbatim, a number's literal,
// "" for absent or null. Objects, arrays and booleans are errors.
func (r request) str(key string) (string, error) {
	raw, ok := r.fields[key]
	if !ok {
		return "", nil
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0, string(raw) == "null":
		return "", nil
	case raw[0] == '"':
		// The body was validated by decodeRequest: a string without escapes
		// is its bytes between the quotes.
		if in := raw[1 : len(raw)-1]; bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
			return strings.TrimSpace(string(in)), nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrBadRequest, key, err)
		}
		return strings.TrimSpace(s), nil
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrBadRequest, key, err)
		}
		return n.String(), nil
	}
	return "", fmt.Errorf("%w: %s must be a string", ErrBadRequest, key)
}

// fields reads the named fields, failing on the first that is missing
// (required) or malformed. HC's IoT answers a missing field with 未包含<field>.
type fieldReader struct {
	r   request
	err error
}

func (f *fieldReader) opt(key string) string {
	if f.err != nil {
		return ""
	}
	s, err := f.r.str(key)
	if err != nil {
		f.err = err
	}
	return s
}

func (f *fieldReader) req(key string) string {
	s := f.opt(key)
	if f.err == nil && s == "" {
		f.err = fmt.Errorf("%w: 未包含%s", ErrBadRequest, key)
	}
	return s
}

// extras returns the fields not in known, decoded, for Grant.Ext.
func (r request) extras(known map[string]bool) map[string]any {
	var out map[string]any
	for k, raw := range r.fields {
		if known[k] {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[k] = v
	}
	return out
}

// HC time layouts: "yyyy-MM-dd HH:mm:ss", and a bare date seen in hand-made
// requests.
var hcTimeLayouts = []string{"2006-01-02 15:04:05", "2006-01-02"}

func parseHCTime(s string, loc *time.Location) (time.Time, error) {
	for _, l := range hcTimeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q is not yyyy-MM-dd HH:mm:ss", ErrBadRequest, s)
}
