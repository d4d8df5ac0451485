package thingmodel

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrMalformed: a message is not valid Alink JSON.
	ErrMalformed = errors.New("thingmodel: malformed Alink message")
	// ErrTooLarge: a message exceeds MaxMessageSize.
	ErrTooLarge = errors.New("thingmodel: message too large")
	// ErrBadTopic: a topic is not an Alink thing topic.
	ErrBadTopic = errors.New("thingmodel: not an Alink topic")
	// ErrTimeout: no reply arrived in time.
	ErrTimeout error = &carrierErr{msg: "thingmodel: request timed out", timeout: true}
	// ErrOffline: the device has no MQTT session (retry when it comes back).
	ErrOffline error = &carrierErr{msg: "thingmodel: device offline", offline: true}
	// ErrClosed: the host or device client was closed.
	ErrClosed error = &carrierErr{msg: "thingmodel: closed", closed: true}
	// ErrRejected: the peer answered with a code other than 200 (see *ReplyError).
	ErrRejected = errors.New("thingmodel: request rejected")
	// ErrUnknownReply: a reply matched no outstanding request.
	ErrUnknownReply = errors.New("thingmodel: reply with unknown id")
	// ErrAuth: MQTT credentials failed the LinkKit signature check.
	ErrAuth = errors.New("thingmodel: authentication failed")
	// ErrUnknownDevice: a SecretStore has no secret for the device.
	ErrUnknownDevice = errors.New("thingmodel: unknown device")
	// ErrNoHandler: nothing is registered to handle a device's request.
	ErrNoHandler = errors.New("thingmodel: no handler")
)

// DecodeError describes Alink input that could not be decoded.
type DecodeError struct {
	Topic  string
	Reason string
	Err    error // ErrMalformed or ErrTooLarge, possibly wrapped
}

func (e *DecodeError) Error() string {
	s := "thingmodel: " + e.Reason
	if e.Topic != "" {
		s += " (topic " + e.Topic + ")"
	}
	return s
}

func (e *DecodeError) Unwrap() error { return e.Err }

func malformed(reason string) error { return &DecodeError{Reason: reason, Err: ErrMalformed} }

func badTopic(s string) error {
	if len(s) > 128 {
		s = s[:128] + "…"
	}
	return fmt.Errorf("%w: %q", ErrBadTopic, s)
}

// ReplyError is a reply with a code other than 200. errors.Is(err, ErrRejected) holds.
// A Handler may return one to choose the code of its reply.
type ReplyError struct {
	Device  DeviceKey
	Method  string
	Code    int
	Message string
}

func (e *ReplyError) Error() string {
	s := "thingmodel: " + e.Method + " on " + e.Device.String() + " rejected with code " + strconv.Itoa(e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *ReplyError) Is(target error) bool { return target == ErrRejected }

// Rejection gives accessctl.MapTransportError the peer's code and text.
func (e *ReplyError) Rejection() (code, message string) { return strconv.Itoa(e.Code), e.Message }

// carrierErr marks a sentinel with what it means to accessctl.MapTransportError
// (Offline, Timeout, Closed), so the core need not import this package.
type carrierErr struct {
	msg                      string
	offline, timeout, closed bool
}

func (e *carrierErr) Error() string { return e.msg }
func (e *carrierErr) Offline() bool { return e.offline }
func (e *carrierErr) Timeout() bool { return e.timeout }
func (e *carrierErr) Closed() bool  { return e.closed }

// UnknownReplyError is a reply whose id matched no outstanding request
// (late after a timeout, duplicated, or forged).
type UnknownReplyError struct {
	Device DeviceKey
	Topic  string
	ID     string
}

func (e *UnknownReplyError) Error() string {
	return "thingmodel: reply id " + strconv.Quote(e.ID) + " from " + e.Device.String() + " matches no request"
}

func (e *UnknownReplyError) Is(target error) bool { return target == ErrUnknownReply }

// replyCode picks the Alink code and message for a handler's error.
func replyCode(err error) (int, string) {
	var re *ReplyError
	switch {
	case err == nil:
		return CodeOK, "success"
	case errors.As(err, &re):
		return re.Code, re.Message
	case errors.Is(err, ErrMalformed):
		return CodeBadParams, err.Error()
	case errors.Is(err, ErrNoHandler):
		return CodeNotFound, err.Error()
	}
	return CodeInternal, err.Error()
}
