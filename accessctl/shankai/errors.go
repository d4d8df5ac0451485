package shankai

import (
	"errors"
	"fmt"

	"github.com/menjin/menjin/accessctl"
)

// 闪开 errcodes (seed 002 附2, §2.4).
const (
	CodeOK            = 0
	CodeSystem        = -1
	CodeOrgExists     = 1001  // 单位已注册
	CodeOrgExistsAlt  = 10001 // 小区已注册 (section 1 of the document)
	CodeBadApp        = 4001  // appid不存在或secret密码不正确
	CodeTokenExpired  = 4002  // access_token已经过期
	CodeUserNotFound  = 4004  // 手机号找不到对应的用户
	CodeOrgNotFound   = 4005  // 单位不存在
	CodeInvalidCard   = 4006  // 卡号输入不正确
	CodeIDCardMode    = 4007  // ID卡模式不能设置卡号
	CodeAccountExists = 4008  // 帐号已存在
	CodeDoorExists    = 4009  // 该门禁已添加
	CodeDoorNotFound  = 4010  // 该门不存在
	CodeNoPermission  = 4011  // 该用户在本小区没有开通权限
)

// Sentinels an *APIError matches with errors.Is.
var (
	// ErrSystem (-1): 闪开 failed internally; retry with backoff.
	ErrSystem = errors.New("shankai: system error")
	// ErrAlreadyExists (1001, 10001, 4008, 4009).
	ErrAlreadyExists = errors.New("shankai: already exists")
	// ErrAuth (4001): app_id or secret wrong. Fatal: fix the configuration.
	ErrAuth = errors.New("shankai: app_id or secret rejected")
	// ErrTokenExpired (4002): the client refreshes once and retries; seen
	// only when the retry failed too.
	ErrTokenExpired = errors.New("shankai: access_token expired")
	// ErrUserNotFound (4004): no user with that mobile.
	ErrUserNotFound = errors.New("shankai: user not found")
	// ErrOrgNotFound (4005): no such organisation.
	ErrOrgNotFound = errors.New("shankai: organisation not found")
	// ErrIDCardMode (4007): the organisation is in ID-card mode and does not
	// take card numbers.
	ErrIDCardMode = errors.New("shankai: organisation is in ID-card mode")
	// ErrDoorNotFound (4010).
	ErrDoorNotFound = errors.New("shankai: door not found")
	// ErrNoPermission (4011): the user has no permission in this organisation.
	ErrNoPermission = errors.New("shankai: user has no permission here")
	// ErrProtocol: an answer that is not 闪开's JSON (a proxy page, a
	// truncated body). Retryable.
	ErrProtocol = errors.New("shankai: unexpected answer")
)

// APIError is a non-zero errcode, with 闪开's message verbatim.
type APIError struct {
	Op   string // the endpoint, e.g. "set_card_no"
	Code int
	Msg  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("shankai: %s: errcode %d: %s", e.Op, e.Code, e.Msg)
}

// Is maps the errcode to this package's sentinels and to accessctl's
// (ErrNotFound, ErrInvalid, ErrRejected).
func (e *APIError) Is(target error) bool {
	switch target {
	case accessctl.ErrRejected:
		return e.Code != CodeSystem
	case ErrSystem:
		return e.Code == CodeSystem
	case ErrAlreadyExists:
		return e.Code == CodeOrgExists || e.Code == CodeOrgExistsAlt || e.Code == CodeAccountExists || e.Code == CodeDoorExists
	case ErrAuth:
		return e.Code == CodeBadApp
	case ErrTokenExpired:
		return e.Code == CodeTokenExpired
	case ErrUserNotFound:
		return e.Code == CodeUserNotFound
	case ErrOrgNotFound:
		return e.Code == CodeOrgNotFound
	case ErrInvalidCard:
		return e.Code == CodeInvalidCard
	case ErrIDCardMode:
		return e.Code == CodeIDCardMode
	case ErrDoorNotFound:
		return e.Code == CodeDoorNotFound
	case ErrNoPermission:
		return e.Code == CodeNoPermission
	case accessctl.ErrNotFound:
		return e.Code == CodeUserNotFound || e.Code == CodeOrgNotFound || e.Code == CodeDoorNotFound
	case accessctl.ErrInvalid:
		return e.Code == CodeInvalidCard || e.Code == CodeIDCardMode
	}
	return false
}
