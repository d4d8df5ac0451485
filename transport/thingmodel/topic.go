package thingmodel

import (
	"strings"
)

// DeviceKey names one device: the product it belongs to and its name
// within the product (two thirds of the LinkKit triple).
type DeviceKey struct {
	ProductKey string
	DeviceName string
}

func (k DeviceKey) String() string { return k.ProductKey + "/" + k.DeviceName }

// Valid reports whether the key can appear in a topic and a username:
// non-empty, at most 64 bytes, none of the MQTT or LinkKit separators.
func (k DeviceKey) Valid() bool {
	return validName(k.ProductKey) && validName(k.DeviceName)
}

func validName(s string) bool {
	return s != "" && len(s) <= 64 && !strings.ContainsAny(s, "/+#&|\x00 ")
}

// TopicKind classifies an Alink topic.
type TopicKind int

// Topic kinds. "Up" topics are published by devices, "down" topics by the host.
const (
	TopicUnknown           TopicKind = iota
	TopicPropertyPost                // up:   /sys/{pk}/{dn}/thing/event/property/post
	TopicPropertyPostReply           // down: /sys/{pk}/{dn}/thing/event/property/post_reply
	TopicEventPost                   // up:   /sys/{pk}/{dn}/thing/event/{identifier}/post
	TopicEventPostReply              // down: /sys/{pk}/{dn}/thing/event/{identifier}/post_reply
	TopicPropertySet                 // down: /sys/{pk}/{dn}/thing/service/property/set
	TopicPropertySetReply            // up:   /sys/{pk}/{dn}/thing/service/property/set_reply
	TopicService                     // down: /sys/{pk}/{dn}/thing/service/{identifier}
	TopicServiceReply                // up:   /sys/{pk}/{dn}/thing/service/{identifier}_reply
	TopicStatus                      // session state: /as/mqtt/status/{pk}/{dn}
)

var kindNames = [...]string{"unknown", "property post", "property post reply", "event post", "event post reply",
	"property set", "property set reply", "service", "service reply", "status"}

func (k TopicKind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "invalid"
	}
	return kindNames[k]
}

// IsReply reports whether messages on topics of this kind are replies.
func (k TopicKind) IsReply() bool {
	return k == TopicPropertyPostReply || k == TopicEventPostReply || k == TopicPropertySetReply || k == TopicServiceReply
}

// Topic is a parsed Alink topic.
type Topic struct {
	Kind       TopicKind
	Device     DeviceKey
	Identifier string // event or service identifier; "property" for property topics
}

const replySuffix = "_reply"

// ParseTopic parses an Alink topic. Unknown shapes return ErrBadTopic.
func ParseTopic(s string) (Topic, error) {
	if rest, ok := strings.CutPrefix(s, "/as/mqtt/status/"); ok {
		pk, dn, ok := strings.Cut(rest, "/")
		k := DeviceKey{pk, dn}
		if !ok || !k.Valid() {
			return Topic{}, badTopic(s)
		}
		return Topic{Kind: TopicStatus, Device: k}, nil
	}
	rest, ok := strings.CutPrefix(s, "/sys/")
	if !ok {
		return Topic{}, badTopic(s)
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 5 || len(parts) > 6 || parts[2] != "thing" {
		return Topic{}, badTopic(s)
	}
	t := Topic{Device: DeviceKey{parts[0], parts[1]}}
	if !t.Device.Valid() {
		return Topic{}, badTopic(s)
	}
	switch parts[3] {
	case "event":
		if len(parts) != 6 || !validIdentifier(parts[4]) {
			return Topic{}, badTopic(s)
		}
		t.Identifier = parts[4]
		switch parts[5] {
		case "post":
			t.Kind = TopicEventPost
		case "post_reply":
			t.Kind = TopicEventPostReply
		default:
			return Topic{}, badTopic(s)
		}
		if t.Identifier == "property" {
			t.Kind -= TopicEventPost - TopicPropertyPost
		}
	case "service":
		if len(parts) == 6 {
			if parts[4] != "property" {
				return Topic{}, badTopic(s)
			}
			t.Identifier = "property"
			switch parts[5] {
			case "set":
				t.Kind = TopicPropertySet
			case "set_reply":
				t.Kind = TopicPropertySetReply
			default:
				return Topic{}, badTopic(s)
			}
			return t, nil
		}
		id, isReply := strings.CutSuffix(parts[4], replySuffix)
		if !validIdentifier(id) || id == "property" {
			return Topic{}, badTopic(s)
		}
		t.Identifier, t.Kind = id, TopicService
		if isReply {
			t.Kind = TopicServiceReply
		}
	default:
		return Topic{}, badTopic(s)
	}
	return t, nil
}

// validIdentifier accepts thing-model identifiers: letters, digits and
// underscore, at most 64 bytes.
func validIdentifier(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// String renders the topic.
func (t Topic) String() string {
	base := "/sys/" + t.Device.ProductKey + "/" + t.Device.DeviceName + "/thing/"
	switch t.Kind {
	case TopicPropertyPost:
		return base + "event/property/post"
	case TopicPropertyPostReply:
		return base + "event/property/post_reply"
	case TopicEventPost:
		return base + "event/" + t.Identifier + "/post"
	case TopicEventPostReply:
		return base + "event/" + t.Identifier + "/post_reply"
	case TopicPropertySet:
		return base + "service/property/set"
	case TopicPropertySetReply:
		return base + "service/property/set_reply"
	case TopicService:
		return base + "service/" + t.Identifier
	case TopicServiceReply:
		return base + "service/" + t.Identifier + replySuffix
	case TopicStatus:
		return StatusTopic(t.Device)
	}
	return ""
}

// ReplyTopic returns the topic that answers a request topic.
func (t Topic) ReplyTopic() Topic {
	switch t.Kind {
	case TopicPropertyPost, TopicEventPost, TopicPropertySet, TopicService:
		t.Kind++
	}
	return t
}

// Method returns the Alink method of requests on this topic.
func (t Topic) Method() string {
	switch t.Kind {
	case TopicPropertyPost, TopicPropertyPostReply:
		return MethodPropertyPost
	case TopicEventPost, TopicEventPostReply:
		return EventMethod(t.Identifier)
	case TopicPropertySet, TopicPropertySetReply:
		return MethodPropertySet
	case TopicService, TopicServiceReply:
		return ServiceMethod(t.Identifier)
	}
	return ""
}

// Alink methods with fixed names.
const (
	MethodPropertyPost = "thing.event.property.post"
	MethodPropertySet  = "thing.service.property.set"
)

// EventMethod is the method of an event post: thing.event.{identifier}.post.
func EventMethod(identifier string) string { return "thing.event." + identifier + ".post" }

// ServiceMethod is the method of a service invoke: thing.service.{identifier}.
func ServiceMethod(identifier string) string { return "thing.service." + identifier }

// ServiceTopic is the topic the host publishes an invoke of service identifier on.
func ServiceTopic(dev DeviceKey, identifier string) string {
	return Topic{Kind: TopicService, Device: dev, Identifier: identifier}.String()
}

// EventTopic is the topic a device posts event identifier on.
func EventTopic(dev DeviceKey, identifier string) string {
	if identifier == "property" {
		return Topic{Kind: TopicPropertyPost, Device: dev}.String()
	}
	return Topic{Kind: TopicEventPost, Device: dev, Identifier: identifier}.String()
}

// StatusTopic carries a device's session state (online/offline), the
// platform's /as/mqtt/status/{pk}/{dn}.
func StatusTopic(dev DeviceKey) string {
	return "/as/mqtt/status/" + dev.ProductKey + "/" + dev.DeviceName
}

// DeviceFilter matches every Alink topic of one device; the broker's ACL
// lets a device use nothing else.
func DeviceFilter(dev DeviceKey) string {
	return "/sys/" + dev.ProductKey + "/" + dev.DeviceName + "/thing/#"
}
