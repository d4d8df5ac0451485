package thingmodel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Alink protocol constants.
const (
	// Version is the Alink protocol version every request carries.
	Version = "1.0"
	// CodeOK is the reply code of a successful request.
	CodeOK = 200
	// CodeBadRequest is the reply code for a request the receiver cannot parse.
	CodeBadRequest = 400
	// CodeBadParams is the reply code for request parameters that fail validation.
	CodeBadParams = 460
	// CodeTooMany is the reply code of a receiver that is too busy to queue the request.
	CodeTooMany = 429
	// CodeInternal is the reply code of a receiver that failed to handle a valid request.
	CodeInternal = 500
	// CodeNotFound is the reply code for a service the device does not implement.
	CodeNotFound = 404

	// MaxMessageSize bounds one Alink message, the platform's 256 KiB limit.
	MaxMessageSize = 256 << 10
	// maxIDLen bounds a message id; Alink ids are decimal uint32 strings.
	maxIDLen = 64
)

// Request is an Alink request: property post/set, event post or service invoke.
type Request struct {
	ID      string          `json:"id"`
	Version string          `json:"version"`
	Sys     *Sys            `json:"sys,omitempty"`
	Params  json.RawMessage `json:"params"`
	Method  string          `json:"method"`
}

// Sys carries the optional Alink system flags.
type Sys struct {
	// Ack 0 asks the receiver not to reply (only honoured for posts).
	Ack *int `json:"ack,omitempty"`
}

// Reply is an Alink reply; ID matches the request it answers.
type Reply struct {
	ID      string          `json:"id"`
	Code    int             `json:"code"`
	Data    json.RawMessage `json:"data"`
	Message string          `json:"message,omitempty"`
	Method  string          `json:"method,omitempty"`
	Version string          `json:"version,omitempty"`
}

// OK reports whether the reply signals success.
func (r *Reply) OK() bool { return r.Code == CodeOK }

// Err returns nil for a successful reply and a *ReplyError otherwise.
func (r *Reply) Err(dev DeviceKey, method string) error {
	if r.OK() {
		return nil
	}
	if method == "" {
		method = r.Method
	}
	return &ReplyError{Device: dev, Method: method, Code: r.Code, Message: r.Message}
}

// wireRequest and wireReply accept a number or a string as id: Alink
// says "string", but firmware in the field (and the platform's own Python
// samples) send numbers.
type wireRequest struct {
	ID      json.RawMessage `json:"id"`
	Version json.RawMessage `json:"version"`
	Sys     *Sys            `json:"sys"`
	Params  json.RawMessage `json:"params"`
	Method  *string         `json:"method"`
}

type wireReply struct {
	ID      json.RawMessage `json:"id"`
	Code    json.RawMessage `json:"code"`
	Data    json.RawMessage `json:"data"`
	Message *string         `json:"message"`
	Method  *string         `json:"method"`
	Version json.RawMessage `json:"version"`
}

// DecodeRequest parses an Alink request. Bad input returns a *DecodeError
// (errors.Is(err, ErrMalformed)).
func DecodeRequest(b []byte) (*Request, error) {
	if len(b) > MaxMessageSize {
		return nil, &DecodeError{Reason: fmt.Sprintf("message of %d bytes exceeds %d", len(b), MaxMessageSize), Err: ErrTooLarge}
	}
	var w wireRequest
	if err := unmarshalObject(b, &w); err != nil {
		return nil, err
	}
	id, err := decodeID(w.ID)
	if err != nil {
		return nil, err
	}
	if w.Method == nil || *w.Method == "" {
		return nil, malformed("request without method")
	}
	params, err := objectOrEmpty(w.Params, "params")
	if err != nil {
		return nil, err
	}
	return &Request{ID: id, Version: decodeVersion(w.Version), Sys: w.Sys, Params: params, Method: *w.Method}, nil
}

// DecodeReply parses an Alink reply.
func DecodeReply(b []byte) (*Reply, error) {
	if len(b) > MaxMessageSize {
		return nil, &DecodeError{Reason: fmt.Sprintf("message of %d bytes exceeds %d", len(b), MaxMessageSize), Err: ErrTooLarge}
	}
	var w wireReply
	if err := unmarshalObject(b, &w); err != nil {
		return nil, err
	}
	id, err := decodeID(w.ID)
	if err != nil {
		return nil, err
	}
	code, err := decodeCode(w.Code)
	if err != nil {
		return nil, err
	}
	r := &Reply{ID: id, Code: code, Version: decodeVersion(w.Version)}
	if len(w.Data) > 0 && !bytes.Equal(w.Data, []byte("null")) {
		r.Data = w.Data
	}
	if w.Message != nil {
		r.Message = *w.Message
	}
	if w.Method != nil {
		r.Method = *w.Method
	}
	return r, nil
}

// PeekID extracts the id of a message that may not decode fully, so that a
// broken reply can still be matched to the request it fails.
func PeekID(b []byte) (string, bool) {
	var w struct {
		ID json.RawMessage `json:"id"`
	}
	if len(b) > MaxMessageSize || json.Unmarshal(b, &w) != nil {
		return "", false
	}
	id, err := decodeID(w.ID)
	return id, err == nil
}

// Encode serialises the request. Params that are nil are sent as {}.
func (r *Request) Encode() ([]byte, error) {
	out := *r
	if out.Version == "" {
		out.Version = Version
	}
	if len(out.Params) == 0 {
		out.Params = emptyObject
	}
	return json.Marshal(&out)
}

// Encode serialises the reply. Data that is nil is sent as {}.
func (r *Reply) Encode() ([]byte, error) {
	out := *r
	if len(out.Data) == 0 {
		out.Data = emptyObject
	}
	if out.Message == "" && out.Code == CodeOK {
		out.Message = "success"
	}
	return json.Marshal(&out)
}

var emptyObject = json.RawMessage("{}")

// NewRequest builds a request whose params are v marshalled to JSON
// (json.RawMessage and []byte pass through unchanged).
func NewRequest(id, method string, v any) (*Request, error) {
	params, err := marshalParams(v)
	if err != nil {
		return nil, err
	}
	return &Request{ID: id, Version: Version, Params: params, Method: method}, nil
}

func marshalParams(v any) (json.RawMessage, error) {
	switch p := v.(type) {
	case nil:
		return emptyObject, nil
	case json.RawMessage:
		if len(p) == 0 {
			return emptyObject, nil
		}
		return p, nil
	case []byte:
		if len(p) == 0 {
			return emptyObject, nil
		}
		return json.RawMessage(p), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("thingmodel: marshal params: %w", err)
	}
	return b, nil
}

// EventParams is the params object of an event post: the event's output
// data and the time it happened (epoch-ms).
type EventParams struct {
	Value json.RawMessage `json:"value"`
	Time  int64           `json:"time,omitempty"`
}

// DecodeEventParams splits event params into value and time. A missing time
// yields the zero time; a missing value yields {}.
func DecodeEventParams(params json.RawMessage) (json.RawMessage, time.Time, error) {
	var w struct {
		Value json.RawMessage `json:"value"`
		Time  json.RawMessage `json:"time"`
	}
	if err := unmarshalObject(params, &w); err != nil {
		return nil, time.Time{}, err
	}
	value, err := objectOrEmpty(w.Value, "params.value")
	if err != nil {
		return nil, time.Time{}, err
	}
	at, err := decodeEpochMS(w.Time)
	if err != nil {
		return nil, time.Time{}, err
	}
	return value, at, nil
}

// Property is one property value of a property post, with its time when the
// device gave one ({"Prop":{"value":v,"time":ms}}).
type Property struct {
	Value json.RawMessage
	Time  time.Time
}

// DecodeProperties reads property post or set params. Both the plain form
// {"Prop":v} and the timed form {"Prop":{"value":v,"time":ms}} are accepted.
func DecodeProperties(params json.RawMessage) (map[string]Property, error) {
	var raw map[string]json.RawMessage
	if err := unmarshalObject(params, &raw); err != nil {
		return nil, err
	}
	out := make(map[string]Property, len(raw))
	for k, v := range raw {
		p := Property{Value: v}
		if len(v) > 0 && v[0] == '{' {
			var timed map[string]json.RawMessage
			if json.Unmarshal(v, &timed) == nil {
				if val, ok := timed["value"]; ok && len(timed) <= 2 {
					if ts, hasTime := timed["time"]; len(timed) == 1 || hasTime {
						at, err := decodeEpochMS(ts)
						if err == nil {
							p = Property{Value: val, Time: at}
						}
					}
				}
			}
		}
		out[k] = p
	}
	return out, nil
}

func unmarshalObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return malformed("not a JSON object")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &DecodeError{Reason: "invalid JSON", Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	return nil
}

func decodeID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", malformed("missing id")
	}
	var id string
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &id); err != nil {
			return "", malformed("bad id")
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return "", malformed("id is not an integer")
		}
		id = strconv.FormatInt(n, 10)
	default:
		return "", malformed("id is neither a string nor a number")
	}
	if id == "" || len(id) > maxIDLen {
		return "", malformed("empty or overlong id")
	}
	return id, nil
}

func decodeCode(raw json.RawMessage) (int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, malformed("reply without code")
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, malformed("bad code")
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, malformed("code is not an integer")
	}
	return n, nil
}

func decodeVersion(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// decodeEpochMS reads a time given as epoch-ms number or numeric string;
// values below 1e11 are epoch seconds (the specs' epoch rule).
func decodeEpochMS(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, malformed("bad time")
		}
		if s == "" {
			return time.Time{}, nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, malformed("time is not a non-negative integer")
	}
	if n < 1e11 {
		return time.Unix(n, 0), nil
	}
	return time.UnixMilli(n), nil
}

func objectOrEmpty(raw json.RawMessage, what string) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return emptyObject, nil
	}
	if raw[0] != '{' {
		return nil, malformed(what + " is not an object")
	}
	return raw, nil
}
