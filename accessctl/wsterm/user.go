package wsterm

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// User is the protocol's user object (PROTOCOL.md A.6): the content of
// addUser and editUser, the items of a selectUser reply and the data of an
// enrolment event. UserID is the primary key. Pwd and Img are secrets and
// personal data: String and LogValue never print them.
type User struct {
	User   string `json:"user"`   // login name
	UserID string `json:"userId"` // primary key (employee number)
	Pwd    string `json:"pwd"`    // plaintext password
	Name   string `json:"name"`   // display name
	Role   string `json:"role"`   // "0" user, "1" administrator
	Img    string `json:"img"`    // Base64 face image
}

// UnmarshalJSON accepts numbers where strings are expected (terminals
// drift, D.2) and null for any field.
func (u *User) UnmarshalJSON(b []byte) error {
	var raw struct {
		User   FlexString `json:"user"`
		UserID FlexString `json:"userId"`
		Pwd    FlexString `json:"pwd"`
		Name   FlexString `json:"name"`
		Role   FlexString `json:"role"`
		Img    FlexString `json:"img"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*u = User{string(raw.User), string(raw.UserID), string(raw.Pwd), string(raw.Name), string(raw.Role), string(raw.Img)}
	return nil
}

// String identifies the user without password or image.
func (u User) String() string {
	return fmt.Sprintf("user(%s %q login=%q role=%s pwd=%s img=%s)", u.UserID, u.Name, u.User, u.Role, redact(u.Pwd), redactImg(u.Img))
}

// LogValue keeps slog from printing the password or the image.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("userId", u.UserID), slog.String("name", u.Name),
		slog.String("role", u.Role), slog.String("pwd", redact(u.Pwd)), slog.String("img", redactImg(u.Img)))
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

func redactImg(s string) string {
	if s == "" {
		return ""
	}
	return "<" + strconv.Itoa(len(s)) + " bytes>"
}

// userEdit is the editUser content: absent fields stay unchanged (A.6).
type userEdit struct {
	User   string `json:"user,omitempty"`
	UserID string `json:"userId"`
	Pwd    string `json:"pwd,omitempty"`
	Name   string `json:"name,omitempty"`
	Role   string `json:"role,omitempty"`
	Img    string `json:"img,omitempty"`
}

// UserQuery selects users: by id, by name, or (both empty) all of them.
type UserQuery struct {
	UserID string `json:"userId,omitempty"`
	Name   string `json:"name,omitempty"`
}

// idGen makes commandIds by the rule of A.3: yyyyMMddHHmmss followed by a
// 4-digit sequence that restarts every second; digits only, 18 characters,
// never repeated within the process (it borrows the next second when 10,000
// commands go out in one second, and never goes back when the clock does).
// UTC, because local time repeats an hour when daylight saving ends.
type idGen struct {
	mu      sync.Mutex
	sec     int64
	seq     int
	now     func() time.Time
	prefSec int64    // the second prefix was made for
	prefix  [14]byte // yyyyMMddHHmmss of prefSec
}

var commandIDs = &idGen{now: time.Now}

func (g *idGen) next() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	sec := g.now().Unix()
	switch {
	case sec > g.sec:
		g.sec, g.seq = sec, 0
	case g.seq >= 9999:
		g.sec, g.seq = g.sec+1, 0
	default:
		g.seq++
	}
	if g.prefSec != g.sec || g.prefix[0] == 0 { // formatting a date costs more than the rest
		time.Unix(g.sec, 0).UTC().AppendFormat(g.prefix[:0], "20060102150405")
		g.prefSec = g.sec
	}
	var id [18]byte
	copy(id[:], g.prefix[:])
	for i, n := 17, g.seq; i >= 14; i, n = i-1, n/10 {
		id[i] = byte('0' + n%10)
	}
	return string(id[:])
}
