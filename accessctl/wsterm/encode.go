package wsterm

import "encoding/json"

// encodeRequest builds an S1 command frame. User contents are written by
// hand: encoding/json would escape-check a face image byte by byte through
// reflection, which costs more than sending it.
func encodeRequest(id, command string, content any) ([]byte, error) {
	var fields []field
	plainImg := false
	switch c := content.(type) {
	case checked:
		content, plainImg = c.User, c.plainImg
	case checkedEdit:
		content, plainImg = c.userEdit, c.plainImg
	}
	switch c := content.(type) {
	case User:
		fields = []field{{"user", c.User, false}, {"userId", c.UserID, false}, {"pwd", c.Pwd, false},
			{"name", c.Name, false}, {"role", c.Role, false}, {"img", c.Img, false}}
	case userEdit:
		fields = []field{{"user", c.User, true}, {"userId", c.UserID, false}, {"pwd", c.Pwd, true},
			{"name", c.Name, true}, {"role", c.Role, true}, {"img", c.Img, true}}
	default:
		return json.Marshal(request{CommandID: id, Command: command, Content: content})
	}
	size := 64 + len(id) + len(command)
	for _, f := range fields {
		size += len(f.key) + len(f.val) + 8
	}
	b := make([]byte, 0, size)
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

// checked and checkedEdit carry a user whose image checkImage found plain.
type checked struct {
	User
	plainImg bool
}

type checkedEdit struct {
	userEdit
	plainImg bool
}

type field struct {
	key, val  string
	omitEmpty bool
}

// plain marks bytes that need no escaping in a JSON string (the same set
// encoding/json leaves alone, HTML characters included).
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			q, _ := json.Marshal(s) // rare: non-ASCII names, quotes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
