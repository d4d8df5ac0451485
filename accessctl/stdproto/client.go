package stdproto

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/menjin/menjin/accessctl"
)

// Client calls a terminal's interfaces (edge → terminal, spec B.5) over a
// Link that /connects to the terminal with the edge's identity. Requests
// are validated before they are sent; the terminal's answers are decoded
// liberally. A Terminal handle wraps one; use Client directly to drive a
// terminal without an Edge.
type Client struct {
	link *Link
}

// NewClient returns a client for the terminal at addr ("ip:port").
func NewClient(addr string, edge Identity, hc *http.Client) *Client {
	return &Client{link: NewLink(addr, edge, hc)}
}

// Link is the client's connection state.
func (c *Client) Link() *Link { return c.link }

func (c *Client) call(ctx context.Context, path string, req Validator, build func(tok string) any, out any) error {
	if req != nil {
		if err := req.Validate(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return c.link.Call(ctx, path, build, out)
}

func tokenOnly(tok string) any { return &TokenRequest{Token: tok} }

// RemoteOpen opens the terminal's door (B.6.3).
func (c *Client) RemoteOpen(ctx context.Context) error {
	return c.call(ctx, PathRemoteOpen, nil, tokenOnly, nil)
}

// SetKeepOpen turns "door held open" on or off (B.6.5), sending the object
// form of data.
func (c *Client) SetKeepOpen(ctx context.Context, on bool) error {
	v := Int(0)
	if on {
		v = 1
	}
	return c.call(ctx, PathSetKeepOpen, nil, func(tok string) any {
		return &SetKeepOpenRequest{Token: tok, Data: &keepOpenData{KeepOpen{v}}}
	}, nil)
}

// KeepOpen reads the "door held open" mode (B.6.6).
func (c *Client) KeepOpen(ctx context.Context) (bool, error) {
	var k KeepOpen
	err := c.call(ctx, PathGetKeepOpen, nil, tokenOnly, &k)
	return k.KeepOpen == 1, err
}

// SetTempCheckRule sets the temperature rule (B.6.7). A terminal without a
// thermometer answers "unsupported": errors.Is(err, accessctl.ErrUnsupported).
func (c *Client) SetTempCheckRule(ctx context.Context, rule TempRule) error {
	return c.call(ctx, PathSetTempCheckRule, &rule, func(tok string) any {
		return &SetTempRuleRequest{Token: tok, Data: &rule}
	}, nil)
}

// ItemResult is the outcome of one entry of a batched sync. The protocol
// answers per call, so every entry of a failed call carries that call's
// error, and entries after it were not sent (their Err wraps ErrNotSent).
type ItemResult struct {
	Index int    // in the slice given
	Key   string // faceId, cardId or ruleId
	Err   error
}

// ErrNotSent marks batch entries skipped after an earlier batch failed.
var ErrNotSent = errors.New("stdproto: not sent, an earlier batch failed")

// batched sends items in order, at most size per call, the next call only
// after the previous one answered (D.14). A call that times out is resent
// in halves, down to one entry per call (D.10); the entries are idempotent.
func batched[T any](ctx context.Context, items []T, size int, key func(*T) string,
	send func(ctx context.Context, batch []T) error) ([]ItemResult, error) {
	res := make([]ItemResult, len(items))
	for i := range items {
		res[i] = ItemResult{Index: i, Key: key(&items[i])}
	}
	var first error
	for i := 0; i < len(items); {
		n := min(size, len(items)-i)
		err := send(ctx, items[i:i+n])
		if errors.Is(err, accessctl.ErrTimeout) && n > 1 && ctx.Err() == nil {
			size = max(n/2, 1)
			continue
		}
		for j := i; j < i+n; j++ {
			res[j].Err = err
		}
		if err != nil {
			first = err
			for j := i + n; j < len(items); j++ {
				res[j].Err = fmt.Errorf("%w: %w", ErrNotSent, err)
			}
			break
		}
		i += n
	}
	return res, first
}

// SyncFaces pushes face operations in order, 50 per call (B.7.2).
func (c *Client) SyncFaces(ctx context.Context, ops []FaceOp) ([]ItemResult, error) {
	return syncBatched(ctx, c.link, PathSyncFaces, ops, MaxFacesPerSync, func(f *FaceOp) string { return f.FaceID },
		func(tok string, b []FaceOp) any { return &SyncFacesRequest{Token: tok, Faces: b} })
}

// syncBatched validates every entry, then sends them with batched.
func syncBatched[T any, P interface {
	*T
	Validator
}](ctx context.Context, l *Link, path string, items []T, size int, key func(P) string, body func(tok string, b []T) any) ([]ItemResult, error) {
	for i := range items {
		if err := P(&items[i]).Validate(); err != nil {
			return nil, fmt.Errorf("%s entry %d: %w", path, i, err)
		}
	}
	return batched(ctx, items, size, func(v *T) string { return key(P(v)) }, func(ctx context.Context, b []T) error {
		return l.Call(ctx, path, func(tok string) any { return body(tok, b) }, nil)
	})
}

// QueryFaces reads one page of the terminal's face library (B.7.3); page 0
// is the full query, which a terminal may answer with page 1 of several.
func (c *Client) QueryFaces(ctx context.Context, page, size int) (*QueryFacesData, error) {
	var d QueryFacesData
	err := c.call(ctx, PathQueryFaces, nil, func(tok string) any {
		r := &QueryFacesRequest{Token: tok}
		r.CurrentPage, r.PageSize = paging(page, size)
		return r
	}, &d)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// paging is the request's page fields; page 0: none (a full query).
func paging(page, size int) (*Int, *Int) {
	if page <= 0 {
		return nil, nil
	}
	p, s := Int(page), Int(size)
	return &p, &s
}

// maxFacePages bounds paging against a terminal that lies about pageCount.
const maxFacePages = 10000

// AllFaces reads the whole face library: a full query, then the remaining
// pages when the terminal pages (B.7.3).
func (c *Client) AllFaces(ctx context.Context) ([]FaceInfo, error) {
	d, err := c.QueryFaces(ctx, 0, 0)
	if err != nil {
		return nil, err
	}
	all := d.FaceInfo
	size := int(d.PageSize)
	if size <= 0 {
		size = len(d.FaceInfo)
	}
	for p := int(d.CurrentPage) + 1; p <= int(d.PageCount) && p <= maxFacePages && size > 0; p++ {
		pd, err := c.QueryFaces(ctx, p, size)
		if err != nil {
			return all, err
		}
		all = append(all, pd.FaceInfo...)
	}
	return all, nil
}

// SyncCards pushes card whitelist entries, 200 per call (B.9.1).
func (c *Client) SyncCards(ctx context.Context, perms []Permission) ([]ItemResult, error) {
	return c.syncPerms(ctx, PathCardSync, perms)
}

// SyncBLECards pushes Bluetooth-card whitelist entries, 200 per call (B.9.3).
func (c *Client) SyncBLECards(ctx context.Context, perms []Permission) ([]ItemResult, error) {
	return c.syncPerms(ctx, PathBLESync, perms)
}

func (c *Client) syncPerms(ctx context.Context, path string, perms []Permission) ([]ItemResult, error) {
	return syncBatched(ctx, c.link, path, perms, MaxPermsPerSync, func(p *Permission) string { return p.CardID },
		func(tok string, b []Permission) any { return &PermissionsRequest{Token: tok, Permissions: b} })
}

// SyncSipNumber gives the terminal its SIP account (B.10.1).
func (c *Client) SyncSipNumber(ctx context.Context, sip SipNumberRequest) error {
	return c.call(ctx, PathSyncSipNumber, &sip, func(tok string) any {
		r := sip
		r.Token = tok
		return &r
	}, nil)
}

// VerifyPhoneResult tells the terminal the verdict of a checkPhoneNumber
// (B.10.4).
func (c *Client) VerifyPhoneResult(ctx context.Context, phone string, valid bool) error {
	res := Int(1)
	if valid {
		res = 0
	}
	r := PhoneResultRequest{PhoneNumber: phone, Result: &res}
	return c.call(ctx, PathVerifyPhoneResult, &r, func(tok string) any {
		r.Token = tok
		return &r
	}, nil)
}

func hdr(tok string) ElevatorHeader { return ElevatorHeader{Version: ElevatorVersion, Token: tok} }

// GetRunState reads the cars' state (B.11.2); no ids: every car. The ids
// are sent under both keys the source uses (C.B.29).
func (c *Client) GetRunState(ctx context.Context, ids ...string) ([]CarState, error) {
	var cars []CarState
	err := c.call(ctx, PathGetRunState, nil, func(tok string) any {
		return &GetRunStateRequest{ElevatorHeader: hdr(tok), ElevatorList: ids, Data: ids}
	}, &cars)
	return cars, err
}

// ReleaseFloors unlocks floors inside a car (B.11.3); no floors: all.
func (c *Client) ReleaseFloors(ctx context.Context, r ReleaseFloorsRequest) error {
	return c.call(ctx, PathReleaseFloors, &r, func(tok string) any {
		r.ElevatorHeader = hdr(tok)
		return r
	}, nil)
}

// ActivateFloor lights target floors (B.11.4); at least one is required.
func (c *Client) ActivateFloor(ctx context.Context, r ActivateFloorRequest) error {
	return c.call(ctx, PathActivateFloor, &r, func(tok string) any {
		r.ElevatorHeader = hdr(tok)
		return &r
	}, nil)
}

// CallElevator calls a car (B.11.5).
func (c *Client) CallElevator(ctx context.Context, r CallRequest) error {
	return c.call(ctx, PathCallElevator, &r, func(tok string) any {
		r.ElevatorHeader = hdr(tok)
		return &r
	}, nil)
}

// ElevatorInfo reads the controller's topology (B.11.6).
func (c *Client) ElevatorInfo(ctx context.Context) (*ElevatorInfo, error) {
	var info ElevatorInfo
	if err := c.call(ctx, PathElevatorInfo, nil, func(tok string) any { h := hdr(tok); return &h }, &info); err != nil {
		return nil, err
	}
	if err := info.Validate(); err != nil {
		return &info, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return &info, nil
}

// SyncRules pushes elevator rules in order, 200 per call (B.11.7). Every
// entry is sent with its type.
func (c *Client) SyncRules(ctx context.Context, ops []RuleOp) ([]ItemResult, error) {
	for i := range ops {
		if ops[i].Type == nil {
			t := Int(RuleAdd)
			ops[i].Type = &t
		}
	}
	return syncBatched(ctx, c.link, PathRuleSync, ops, MaxRulesPerSync, func(r *RuleOp) string { return r.RuleID },
		func(tok string, b []RuleOp) any { return &RuleSyncRequest{ElevatorHeader: hdr(tok), Rules: b} })
}

// GetRules reads one page of rules (B.11.8); page 0: full query.
func (c *Client) GetRules(ctx context.Context, page, size int) (*RuleGetData, error) {
	var d RuleGetData
	err := c.call(ctx, PathRuleGet, nil, func(tok string) any {
		r := &RuleGetRequest{ElevatorHeader: hdr(tok)}
		r.CurrentPage, r.PageSize = paging(page, size)
		return r
	}, &d)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// SetRuleAvailability enables or disables person–elevator linkage (B.11.10).
func (c *Client) SetRuleAvailability(ctx context.Context, enable bool) error {
	r := AvailabilityRequest{Availability: AvailabilityDisable}
	if enable {
		r.Availability = AvailabilityEnable
	}
	return c.call(ctx, PathSetAvailability, &r, func(tok string) any {
		r.ElevatorHeader = hdr(tok)
		return &r
	}, nil)
}

// RuleAvailability reads the linkage switch (B.11.11).
func (c *Client) RuleAvailability(ctx context.Context) (bool, error) {
	var d AvailabilityData
	err := c.call(ctx, PathGetAvailability, nil, func(tok string) any { h := hdr(tok); return &h }, &d)
	if err == nil && d.Availability != AvailabilityEnable && d.Availability != AvailabilityDisable {
		err = fmt.Errorf("%w: availability %q", ErrProtocol, d.Availability)
	}
	return d.Availability == AvailabilityEnable, err
}
