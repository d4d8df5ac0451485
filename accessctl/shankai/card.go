package shankai

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/menjin/menjin/accessctl"
)

// CardAmbiguous marks a card number 闪开 returned as bare digits: its
// documentation says hex, its example shows 123456 (§2.5 rule 6). Value is
// then read in the organisation's configured notation (decimal by default)
// and Raw keeps the text.
const CardAmbiguous accessctl.CardNotation = "ambiguous"

// Card number limits of set_card_no.
const (
	MaxDecimalCard = 2147483647 // "最大不能超过2147483647"
	MaxHexDigits   = 44         // "最大不能超过22个字节"
)

// ErrInvalidCard: a card number 闪开 would refuse (errcode 4006), found
// before the call. errors.Is(err, accessctl.ErrInvalid) is true too.
var ErrInvalidCard = errors.New("shankai: invalid card number")

// CardError says why a card number was refused.
type CardError struct {
	Input  string
	Reason string
}

func (e *CardError) Error() string {
	return fmt.Sprintf("shankai: invalid card number %q: %s", e.Input, e.Reason)
}

// Is makes errors.Is work with ErrInvalidCard and accessctl.ErrInvalid.
func (e *CardError) Is(target error) bool {
	return target == ErrInvalidCard || target == accessctl.ErrInvalid
}

// CardOption changes how ParseCardNo reads a number.
type CardOption func(cardOpts) cardOpts

type cardOpts struct{ hexFallback bool }

// AllowHexFallback writes decimal numbers above 2147483647 in hex (0x%X, at
// least 8 digits) instead of refusing them. It is opt-in because readers may
// present one card in several notations.
func AllowHexFallback() CardOption {
	return func(o cardOpts) cardOpts { o.hexFallback = true; return o }
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}

func isHexDigit(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

// ParseCardNo validates a card number for set_card_no (§2.5): decimal
// 1…2147483647, or 0x followed by 1…44 hex digits, not all zero. The result's
// Raw is the wire form: decimal without leading zeros, or "0x" and the
// digits upper-cased with their length and leading zeros kept (a UID such as
// 0x00A1B2C3 means what it says). Value is set when it fits in 64 bits.
func ParseCardNo(s string, opts ...CardOption) (accessctl.CardNo, error) {
	var o cardOpts
	for _, f := range opts {
		o = f(o) // by value: no allocation per parse
	}
	in := s
	start, end := 0, len(s)
	for start < end && isSpace(s[start]) {
		start++
	}
	for end > start && isSpace(s[end-1]) {
		end--
	}
	s = s[start:end]
	if s == "" {
		return badCard(in, "empty")
	}
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		digits := s[2:]
		if digits == "" {
			return badCard(in, "no digits after 0x")
		}
		if len(digits) > MaxHexDigits {
			return badCard(in, fmt.Sprintf("more than %d hex digits (22 bytes)", MaxHexDigits))
		}
		zero := true
		for i := 0; i < len(digits); i++ {
			if !isHexDigit(digits[i]) {
				return badCard(in, "not a hex digit")
			}
			if digits[i] != '0' {
				zero = false
			}
		}
		if zero {
			return badCard(in, "zero")
		}
		digits = strings.ToUpper(digits)
		return accessctl.CardNo{Raw: "0x" + digits, Value: value64(digits), Notation: accessctl.CardHex}, nil
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return badCard(in, "neither decimal digits nor 0x hex")
		}
	}
	trimmed := strings.TrimLeft(s, "0")
	if trimmed == "" {
		return badCard(in, "zero")
	}
	if len(trimmed) <= 10 {
		v, _ := strconv.ParseUint(trimmed, 10, 64)
		if v <= MaxDecimalCard {
			return accessctl.CardNo{Raw: trimmed, Value: v, Notation: accessctl.CardDecimal}, nil
		}
	}
	if !o.hexFallback {
		return badCard(in, "decimal above 2147483647")
	}
	n, _ := new(big.Int).SetString(trimmed, 10)
	digits := fmt.Sprintf("%08X", n)
	if len(digits) > MaxHexDigits {
		return badCard(in, "more than 22 bytes")
	}
	return accessctl.CardNo{Raw: "0x" + digits, Value: value64(digits), Notation: accessctl.CardHex}, nil
}

func badCard(in, reason string) (accessctl.CardNo, error) {
	return accessctl.CardNo{}, &CardError{Input: in, Reason: reason}
}

// value64 is the value of hex digits when it fits in 64 bits, else 0.
func value64(digits string) uint64 {
	v, err := strconv.ParseUint(strings.TrimLeft(digits, "0"), 16, 64)
	if err != nil {
		return 0
	}
	return v
}

// CardKey is the comparison key of a card number: its value as big-endian
// bytes without leading zero bytes, in hex. 123456 and 0x1E240 have the same
// key. Ambiguous numbers are read as decimal.
func CardKey(c accessctl.CardNo) (string, error) {
	n, err := cardValue(c, accessctl.CardDecimal)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(n.Bytes()), nil
}

// SameCard reports whether two card numbers have the same value, whatever
// their notation.
func SameCard(a, b accessctl.CardNo) bool {
	ka, err1 := CardKey(a)
	kb, err2 := CardKey(b)
	return err1 == nil && err2 == nil && ka == kb
}

func cardValue(c accessctl.CardNo, ambiguousAs accessctl.CardNotation) (*big.Int, error) {
	raw := strings.TrimSpace(c.Raw)
	base := 10
	switch {
	case c.Notation == accessctl.CardHex || strings.HasPrefix(raw, "0x") || strings.HasPrefix(raw, "0X"):
		base = 16
		if len(raw) > 2 && raw[0] == '0' && (raw[1] == 'x' || raw[1] == 'X') {
			raw = raw[2:]
		}
	case c.Notation == CardAmbiguous && ambiguousAs == accessctl.CardHex:
		base = 16
	}
	if raw == "" || len(raw) > 64 {
		return nil, &CardError{Input: c.Raw, Reason: "not a card number"}
	}
	n, ok := new(big.Int).SetString(raw, base)
	if !ok || n.Sign() < 0 {
		return nil, &CardError{Input: c.Raw, Reason: "not a card number"}
	}
	return n, nil
}

// wireCard is how set_card_no carries a card: decimal as a JSON number (the
// example's "card_no":123456), hex as a string.
func wireCard(c accessctl.CardNo) (any, error) {
	p, err := ParseCardNo(c.Raw)
	if err != nil {
		return nil, err
	}
	if p.Notation == accessctl.CardDecimal {
		return json.Number(p.Raw), nil
	}
	return p.Raw, nil
}

// parseCardResponse reads get_card_no's card_no: a JSON number or string;
// 0x… is hex, bare digits are ambiguous and valued in ambiguousAs.
func parseCardResponse(raw json.RawMessage, ambiguousAs accessctl.CardNotation) (accessctl.CardNo, error) {
	var text string
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	switch {
	case len(raw) > 0 && raw[0] == '"':
		if err := json.Unmarshal(raw, &text); err != nil {
			return accessctl.CardNo{}, &CardError{Input: string(raw), Reason: "bad JSON string"}
		}
		text = strings.TrimSpace(text)
	case len(raw) > 0 && raw[0] >= '0' && raw[0] <= '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return accessctl.CardNo{}, &CardError{Input: string(raw), Reason: "bad JSON number"}
		}
		text = n.String()
	default:
		return accessctl.CardNo{}, &CardError{Input: string(raw), Reason: "card_no is neither a number nor a string"}
	}
	if strings.HasPrefix(text, "0x") || strings.HasPrefix(text, "0X") {
		return ParseCardNo(text)
	}
	for i := 0; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			return accessctl.CardNo{}, &CardError{Input: text, Reason: "not digits"}
		}
	}
	if text == "" || len(text) > 64 {
		return accessctl.CardNo{}, &CardError{Input: text, Reason: "empty or too long"}
	}
	c := accessctl.CardNo{Raw: text, Notation: CardAmbiguous}
	if n, err := cardValue(c, ambiguousAs); err == nil && n.IsUint64() {
		c.Value = n.Uint64()
	}
	return c, nil
}
