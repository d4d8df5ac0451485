package wsterm

import (
	"encoding/json"
	"sync"

	"github.com/menjin/menjin/internal/jsonfast"
)

// encodeRequest builds an S1 command frame.
func encodeRequest(id, command string, content any) ([]byte, error) {
	return appendRequest(nil, id, command, content, nil)
}

// frameBufs recycles command frames written directly by the caller (the
// usual case): an addUser frame is as large as its face image.
var frameBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledFrame keeps rare huge frames out of the pool.
const maxPooledFrame = 4 << 20

// appendRequest appends an S1 command frame to dst. User contents are
// written by hand: encoding/json would escape-check a face image byte by
// byte through reflection, which costs more than sending it.
// uc, when not nil, is the content (and content is ignored): a user passed
// by pointer stays on the caller's stack, where boxing it in an interface
// would copy it to the heap on every command.
func appendRequest(dst []byte, id, command string, content any, uc *userContent) ([]byte, error) {
	var (
		u        *User
		omit     bool // editUser: empty fields stay unchanged
		plainImg bool
	)
	switch c := content.(type) {
	case nil:
		if uc == nil {
			return json.Marshal(request{CommandID: id, Command: command})
		}
		u, omit, plainImg = &uc.User, uc.edit, uc.plainImg
	case User:
		u = &c
	case userEdit:
		u, omit = (*User)(&c), true
	default:
		return json.Marshal(request{CommandID: id, Command: command, Content: content})
	}
	fields := [...]field{{"user", u.User, omit}, {"userId", u.UserID, false}, {"pwd", u.Pwd, omit},
		{"name", u.Name, omit}, {"role", u.Role, omit}, {"img", u.Img, omit}}

	size := 64 + len(id) + len(command)
	for _, f := range fields {
		size += len(f.key) + len(f.val) + 8
	}
	b := dst[:0]
	if cap(b) < size {
		b = make([]byte, 0, size)
	}
	b = append(b, `{"commandId":`...)
	b = appendString(b, id)
	b = append(b, `,"command":`...)
	b = appendString(b, command)
	b = append(b, `,"content":{`...)
	first := true
	for _, f := range fields {
		if f.omitEmpty && f.val == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, f.key...)
		b = append(b, `":`...)
		if plainImg && f.key == "img" { // checkImage saw only the Base64 alphabet
			b = append(b, '"')
			b = append(b, f.val...)
			b = append(b, '"')
			continue
		}
		b = appendString(b, f.val)
	}
	return append(b, "}}"...), nil
}

// userContent is the content of addUser (all six fields) or editUser
// (edit: empty fields left out). plainImg says checkImage found the image
// needs no JSON escaping.
type userContent struct {
	User
	edit, plainImg bool
}

type field struct {
	key, val  string
	omitEmpty bool
}

// jsonSafe reports a byte that json.Marshal writes as it is.
func jsonSafe(c byte) bool {
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

func appendString(b []byte, s string) []byte { return jsonfast.AppendString(b, s) }
