package shankai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/menjin/menjin/accessctl"
)

// DefaultBaseURL is 闪开's API root.
const DefaultBaseURL = "https://api.baohe.tv:8081/1.0/"

// Platform is the Platform name on refs this package produces.
const Platform = "shankai"

// ErrTransport wraps a request that got no answer. Retryable.
var ErrTransport = errors.New("shankai: no answer")

// Option configures a Client.
type Option func(*Client)

// WithBaseURL replaces DefaultBaseURL (a test server, a proxy).
func WithBaseURL(u string) Option {
	return func(c *Client) {
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		c.base = u
	}
}

// WithHTTPClient sets the HTTP client (default: 15 s timeout).
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) {
		if h != nil {
			c.http = h
		}
	}
}

// WithRefreshMargin fetches a new token this long before the old one
// expires (default 300 s).
func WithRefreshMargin(d time.Duration) Option {
	return func(c *Client) {
		if d >= 0 {
			c.margin = d
		}
	}
}

// WithClock replaces time.Now, for tests of token expiry.
func WithClock(now func() time.Time) Option {
	return func(c *Client) {
		if now != nil {
			c.now = now
		}
	}
}

// WithBareDigits says how get_card_no's bare-digit card numbers of one
// organisation are valued: accessctl.CardDecimal (the default) or
// accessctl.CardHex. The notation stays CardAmbiguous either way.
func WithBareDigits(orgID string, n accessctl.CardNotation) Option {
	return func(c *Client) { c.bareDigits[orgID] = n }
}

// Stats counts a Client's traffic.
type Stats struct {
	Calls         uint64 // API calls, retries included
	Errors        uint64 // calls that ended in an error
	TokenFetches  uint64 // get_access_token calls
	TokenRetries  uint64 // calls retried after errcode 4002
	TokenValidFor time.Duration
}

// Client calls the 闪开 API. It is safe for concurrent use; one Client per
// app_id shares one token.
type Client struct {
	appID, secret string
	base          string
	http          *http.Client
	margin        time.Duration
	now           func() time.Time
	bareDigits    map[string]accessctl.CardNotation

	mu      sync.Mutex
	token   string
	expires time.Time
	flight  *tokenFlight

	stats struct{ calls, errors, fetches, retries atomic.Uint64 }
}

type tokenFlight struct {
	done chan struct{}
	err  error
}

// New returns a Client for one app.
func New(appID, secret string, opts ...Option) (*Client, error) {
	if appID == "" || secret == "" {
		return nil, fmt.Errorf("%w: shankai.New needs an app_id and a secret", accessctl.ErrInvalid)
	}
	c := &Client{
		appID: appID, secret: secret,
		base:       DefaultBaseURL,
		http:       &http.Client{Timeout: 15 * time.Second},
		margin:     300 * time.Second,
		now:        time.Now,
		bareDigits: map[string]accessctl.CardNotation{},
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	left := c.expires.Sub(c.now())
	c.mu.Unlock()
	if left < 0 {
		left = 0
	}
	return Stats{
		Calls: c.stats.calls.Load(), Errors: c.stats.errors.Load(),
		TokenFetches: c.stats.fetches.Load(), TokenRetries: c.stats.retries.Load(),
		TokenValidFor: left,
	}
}

// accessToken returns a token valid for at least the refresh margin,
// fetching one if needed. Concurrent callers share one fetch.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		if c.token != "" && c.now().Before(c.expires.Add(-c.margin)) {
			tok := c.token
			c.mu.Unlock()
			return tok, nil
		}
		if f := c.flight; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
				if f.err != nil {
					return "", f.err
				}
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		f := &tokenFlight{done: make(chan struct{})}
		c.flight = f
		c.mu.Unlock()

		tok, ttl, err := c.fetchToken(ctx)
		c.mu.Lock()
		if err == nil {
			c.token, c.expires = tok, c.now().Add(ttl)
		}
		f.err = err
		c.flight = nil
		c.mu.Unlock()
		close(f.done)
		if err != nil {
			return "", err
		}
		return tok, nil
	}
}

// invalidate drops tok if it is still the current token (4002).
func (c *Client) invalidate(tok string) {
	c.mu.Lock()
	if c.token == tok {
		c.token, c.expires = "", time.Time{}
	}
	c.mu.Unlock()
}

func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	c.stats.fetches.Add(1)
	q := url.Values{"app_id": {c.appID}, "secret": {c.secret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"get_access_token?"+q.Encode(), nil)
	if err != nil {
		return "", 0, redact(err)
	}
	var data struct {
		Token     string `json:"access_token"`
		ExpiresIn int64  `json:"expires_in"`
	}
	if err := c.do(req, "get_access_token", &data); err != nil {
		return "", 0, err
	}
	if data.Token == "" {
		return "", 0, fmt.Errorf("%w: get_access_token: no access_token", ErrProtocol)
	}
	ttl := time.Duration(data.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 7200 * time.Second // the documented lifetime
	}
	return data.Token, ttl, nil
}

// call POSTs body to op and decodes data into out (which may be nil). An
// expired token (4002) is refreshed and the call retried once.
func (c *Client) call(ctx context.Context, op string, body, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.accessToken(ctx)
		if err != nil {
			c.stats.errors.Add(1)
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+op+"?access_token="+url.QueryEscape(tok), bytes.NewReader(payload))
		if err != nil {
			return redact(err)
		}
		req.Header.Set("Content-Type", "application/json")
		err = c.do(req, op, out)
		if errors.Is(err, ErrTokenExpired) && attempt == 0 {
			c.stats.retries.Add(1)
			c.invalidate(tok)
			continue
		}
		return err
	}
}

// envelope is 闪开's answer.
type envelope struct {
	ErrCode *int            `json:"errcode"`
	ErrMsg  string          `json:"errmsg"`
	Data    json.RawMessage `json:"data"`
}

func (c *Client) do(req *http.Request, op string, out any) error {
	c.stats.calls.Add(1)
	err := c.roundTrip(req, op, out)
	if err != nil {
		c.stats.errors.Add(1)
	}
	return err
}

func (c *Client) roundTrip(req *http.Request, op string, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrTransport, op, redact(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrTransport, op, redact(err))
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil || env.ErrCode == nil {
		// The document's own examples have trailing commas; we stay strict
		// and keep the body in the error for the log.
		return fmt.Errorf("%w: %s: HTTP %d: %s", ErrProtocol, op, resp.StatusCode, clip(raw))
	}
	if *env.ErrCode != CodeOK {
		return &APIError{Op: op, Code: *env.ErrCode, Msg: env.ErrMsg}
	}
	if out != nil && len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("%w: %s: data: %v: %s", ErrProtocol, op, err, clip(raw))
		}
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 256 {
		return string(b[:256]) + "…"
	}
	return string(b)
}

// redact removes secret and access_token from the URL inside a transport
// error: they travel in the query string.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redactURL(ue.URL)
	}
	return err
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(url)"
	}
	q := u.Query()
	for _, k := range []string{"secret", "access_token"} {
		if q.Has(k) {
			q.Set(k, "REDACTED")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Retryable reports whether the same call may succeed later: 闪开's system
// error, an answer that was not its JSON, or no answer at all.
func Retryable(err error) bool {
	return errors.Is(err, ErrSystem) || errors.Is(err, ErrProtocol) || errors.Is(err, ErrTransport)
}

// Mode is an organisation's card mode (ic_id_mode).
type Mode int

const (
	ModeIDCard Mode = 0 // ID cards: the system allocates numbers
	ModeICCard Mode = 1 // IC cards: set_card_no writes numbers
)

// Organization is a 闪开 organisation (小区).
type Organization struct {
	ID       string // org_id; empty when creating
	Name     string
	Mode     Mode
	Address  string
	Contact  string
	City     string // update only
	District string // update only
}

// CreateOrganization registers an organisation and returns its org_id. An
// organisation already registered (1001 / 10001) is not an error: its id is
// looked up by name.
func (c *Client) CreateOrganization(ctx context.Context, o Organization) (string, error) {
	if o.Name == "" {
		return "", fmt.Errorf("%w: organisation name is required", accessctl.ErrInvalid)
	}
	var data struct {
		OrgID string `json:"org_id"`
	}
	err := c.call(ctx, "create_organization", map[string]any{
		"name": o.Name, "address": o.Address, "contact": o.Contact,
		"ic_id_mode": fmt.Sprint(int(o.Mode)), // the document's example sends a string
	}, &data)
	if errors.Is(err, ErrAlreadyExists) {
		return c.GetOrganization(ctx, o.Name)
	}
	if err != nil {
		return "", err
	}
	return data.OrgID, nil
}

// GetOrganization returns the org_id of the organisation with that name.
func (c *Client) GetOrganization(ctx context.Context, name string) (string, error) {
	if name == "" {
		// Without a name the behaviour is undocumented (§5 item 19).
		return "", fmt.Errorf("%w: organisation name is required", accessctl.ErrInvalid)
	}
	var data struct {
		OrgID string `json:"org_id"`
	}
	if err := c.call(ctx, "get_organization", map[string]any{"name": name}, &data); err != nil {
		return "", err
	}
	return data.OrgID, nil
}

// UpdateOrganization updates an organisation; o.ID and o.Name are required.
func (c *Client) UpdateOrganization(ctx context.Context, o Organization) error {
	if o.ID == "" || o.Name == "" {
		return fmt.Errorf("%w: org_id and name are required", accessctl.ErrInvalid)
	}
	return c.call(ctx, "update_organization", map[string]any{
		"org_id": o.ID, "name": o.Name, "ic_id_mode": fmt.Sprint(int(o.Mode)),
		"city": o.City, "district": o.District, "address": o.Address, "contact": o.Contact,
	}, nil)
}

// DeleteOrganization deletes an organisation; deleting one that does not
// exist (4005) succeeds, so that a retry after a lost answer is harmless.
func (c *Client) DeleteOrganization(ctx context.Context, orgID string) error {
	err := c.call(ctx, "del_organization", map[string]any{"org_id": orgID}, nil)
	if errors.Is(err, ErrOrgNotFound) {
		return nil
	}
	return err
}

// SetCardNo writes a card number for the user with that mobile (IC-card
// organisations only), creating the user if needed. The number is checked
// with ParseCardNo first, so a bad one never reaches 闪开.
func (c *Client) SetCardNo(ctx context.Context, orgID, mobile, name string, card accessctl.CardNo) error {
	if orgID == "" || mobile == "" || name == "" {
		return fmt.Errorf("%w: org_id, mobile and name are required", accessctl.ErrInvalid)
	}
	wire, err := wireCard(card)
	if err != nil {
		return err
	}
	return c.call(ctx, "set_card_no", map[string]any{"org_id": orgID, "mobile": mobile, "name": name, "card_no": wire}, nil)
}

// CardInfo is get_card_no's answer.
type CardInfo struct {
	Card accessctl.CardNo
	New  bool // the system allocated the number just now
}

// GetCardNo reads the user's card number. It is not read-only: 闪开
// allocates a number for a user without one and, in ID-card mode with a
// name, creates the user (§5 item 22). Never use it as a health check.
func (c *Client) GetCardNo(ctx context.Context, orgID, mobile, name string) (CardInfo, error) {
	if orgID == "" || mobile == "" {
		return CardInfo{}, fmt.Errorf("%w: org_id and mobile are required", accessctl.ErrInvalid)
	}
	body := map[string]any{"org_id": orgID, "mobile": mobile}
	if name != "" {
		body["name"] = name
	}
	var data struct {
		CardNo json.RawMessage `json:"card_no"`
		IsNew  json.RawMessage `json:"is_new"`
	}
	if err := c.call(ctx, "get_card_no", body, &data); err != nil {
		return CardInfo{}, err
	}
	notation := c.bareDigits[orgID]
	if notation == "" {
		notation = accessctl.CardDecimal
	}
	card, err := parseCardResponse(data.CardNo, notation)
	if err != nil {
		return CardInfo{}, fmt.Errorf("%w: get_card_no: %w", ErrProtocol, err)
	}
	return CardInfo{Card: card, New: parseBool(data.IsNew)}, nil
}

// parseBool reads is_new: the string "true" in the document, a boolean
// perhaps elsewhere (§5 item 21).
func parseBool(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.EqualFold(strings.TrimSpace(s), "true")
	}
	return false
}

// DeleteUser deletes the user with that mobile and recycles their card.
// Deleting an absent user (4004) succeeds.
func (c *Client) DeleteUser(ctx context.Context, orgID, mobile string) error {
	if orgID == "" || mobile == "" {
		return fmt.Errorf("%w: org_id and mobile are required", accessctl.ErrInvalid)
	}
	err := c.call(ctx, "del_user", map[string]any{"org_id": orgID, "mobile": mobile}, nil)
	if errors.Is(err, ErrUserNotFound) {
		return nil
	}
	return err
}

// SetAdminUser creates the organisation's first web administrator.
func (c *Client) SetAdminUser(ctx context.Context, orgID, login, pass string) error {
	if orgID == "" || login == "" || pass == "" {
		return fmt.Errorf("%w: org_id, login and pass are required", accessctl.ErrInvalid)
	}
	return c.call(ctx, "set_admin_user", map[string]any{"org_id": orgID, "login": login, "pass": pass}, nil)
}
