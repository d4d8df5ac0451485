package wsterm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/menjin/menjin/internal/jsonfast"
	"github.com/menjin/menjin/internal/jsonrepair"
)

// ErrBadFrame is returned for a message that is not one or more JSON objects
// of the protocol's shape, even after the lenient repairs.
var ErrBadFrame = errors.New("wsterm: bad frame")

// FlexString is a scalar that terminals send as a JSON string or a JSON
// number (or, for flags, a boolean): "200" and 200 both decode to "200".
// null decodes to "". It always encodes as a string, as the examples do.
type FlexString string

// UnmarshalJSON accepts a string, a number, a boolean or null.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	v, _, err := jsonfast.Scalar(b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadFrame, err)
	}
	*f = FlexString(v)
	return nil
}

// String returns the value.
func (f FlexString) String() string { return string(f) }

// Truthy reports "1", "true" (any case of true) or a non-zero number.
func (f FlexString) Truthy() bool {
	switch f {
	case "1", "true", "True", "TRUE":
		return true
	}
	n, err := strconv.ParseFloat(string(f), 64)
	return err == nil && n != 0
}

// Frame is one decoded protocol message. Which fields are set tells its
// shape (PROTOCOL.md A.2): a terminal's report has Code and Data, a
// reply to a command has Code, CommandID and Data or Content, anything the
// platform sends has Command.
type Frame struct {
	CommandID FlexString      `json:"commandId"`
	Command   FlexString      `json:"command"`
	Code      FlexString      `json:"code"`
	Data      json.RawMessage `json:"data"`
	Content   json.RawMessage `json:"content"`
	// Raw is the object as received (after repairs, if any were needed).
	Raw json.RawMessage `json:"-"`
}

// Payload returns a reply's payload: Content first, then Data (the source
// puts query results in content and says data, C.A.3). null counts as absent.
func (f *Frame) Payload() json.RawMessage {
	if !isNull(f.Content) {
		return f.Content
	}
	if !isNull(f.Data) {
		return f.Data
	}
	return nil
}

// Text returns the reply's text: data when it is a string, else "".
func (f *Frame) Text() string {
	var s string
	if len(f.Data) > 0 && json.Unmarshal(f.Data, &s) == nil {
		return s
	}
	if len(f.Content) > 0 && json.Unmarshal(f.Content, &s) == nil {
		return s
	}
	return ""
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

// DecodeFrames decodes one WebSocket message into its frames: normally one
// JSON object, but several concatenated objects are accepted too (D.20). A
// UTF-8 BOM and surrounding whitespace are ignored. When strict decoding
// fails, the lenient repairs of D.1 are tried (comments, trailing commas,
// no-break spaces outside strings); repaired reports that they were needed.
// The frames refer to msg: do not modify it afterwards. Errors wrap
// ErrBadFrame.
func DecodeFrames(msg []byte) (frames []Frame, repaired bool, err error) {
	frames, err = decodeStrict(msg)
	if err == nil {
		return frames, false, nil
	}
	fixed, changed := jsonrepair.Repair(msg)
	if !changed {
		return nil, false, err
	}
	frames, err2 := decodeStrict(fixed)
	if err2 != nil {
		return nil, false, err // report the original problem
	}
	return frames, true, nil
}

var bom = []byte("\xEF\xBB\xBF")

func decodeStrict(msg []byte) ([]Frame, error) {
	msg = bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(msg), bom))
	if len(msg) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrBadFrame)
	}
	if msg[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadFrame)
	}
	// Fast path: one object per message, read without reflection.
	if one, ok := decodeOne(msg); ok {
		return []Frame{one}, nil
	}
	var one Frame
	if err := json.Unmarshal(msg, &one); err == nil {
		one.Raw = msg
		return []Frame{one}, nil
	} else if errors.Is(err, ErrBadFrame) {
		return nil, err
	}
	var frames []Frame
	dec := json.NewDecoder(bytes.NewReader(msg))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadFrame, err)
		}
		if raw[0] != '{' {
			return nil, fmt.Errorf("%w: not a JSON object", ErrBadFrame)
		}
		var f Frame
		if err := json.Unmarshal(raw, &f); err != nil {
			if errors.Is(err, ErrBadFrame) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", ErrBadFrame, err)
		}
		f.Raw = raw
		frames = append(frames, f)
	}
	return frames, nil
}

// decodeOne reads a message holding one object the way json.Unmarshal into
// a Frame would, without reflection: a reply is decoded on every command's
// hot path. Data and Content refer to msg instead of copying it. It reports
// false for whatever it does not read exactly as encoding/json would (keys
// that only match case-insensitively, escaped keys, an object where a
// scalar belongs, invalid JSON); the caller then uses encoding/json, which
// also produces the error.
func decodeOne(msg []byte) (f Frame, ok bool) {
	var s jsonfast.Scanner
	s.Reset(msg)
	for key := range s.Members() {
		var dst *FlexString
		switch string(key) {
		case "commandId":
			dst = &f.CommandID
		case "command":
			dst = &f.Command
		case "code":
			dst = &f.Code
		case "data":
			f.Data, _, _ = s.Value()
			continue
		case "content":
			f.Content, _, _ = s.Value()
			continue
		default:
			if jsonfast.FoldsTo(key, "commandId", "command", "code", "data", "content") {
				return f, false
			}
			continue
		}
		if raw, _, ok := s.Value(); !ok || dst.UnmarshalJSON(raw) != nil {
			return f, false
		}
	}
	f.Raw = msg
	return f, s.Done()
}

// String identifies the frame without its payload, which may hold a
// password or a face image.
func (f Frame) String() string {
	return fmt.Sprintf("frame(code=%s command=%s commandId=%s, %d bytes)", f.Code, f.Command, f.CommandID, len(f.Raw))
}

// LogValue keeps slog from printing the payload.
func (f Frame) LogValue() slog.Value { return slog.StringValue(f.String()) }
