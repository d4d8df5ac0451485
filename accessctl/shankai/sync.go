package shankai

import (
	"context"
	"fmt"

	"github.com/menjin/menjin/accessctl"
)

// CardSync is an accessctl.PermissionSync that keeps card holders in one
// 闪开 organisation (IC-card mode). 闪开 knows a person only by mobile, so
// PersonRef.ID is the mobile (Grant.Phone when the ref has no ID), and a
// change of mobile is a remove and a put. 闪开 has no doors, validity
// windows or faces: a grant is a name and one card, organisation-wide.
type CardSync struct {
	c   *Client
	org string
}

// CardSync returns a PermissionSync for the organisation orgID.
func (c *Client) CardSync(orgID string) *CardSync { return &CardSync{c: c, org: orgID} }

// PutGrant writes the grant's card for its person (set_card_no, an upsert
// by mobile). A grant without a card credential, name or mobile is refused
// before any call.
func (s *CardSync) PutGrant(ctx context.Context, g accessctl.Grant) error {
	mobile := g.Person.ID
	if mobile == "" {
		mobile = g.Phone
	}
	if mobile == "" || g.Name == "" {
		return fmt.Errorf("%w: 闪开 needs the person's mobile and name", accessctl.ErrInvalid)
	}
	cred, ok := g.Credential(accessctl.CredCard)
	if !ok {
		return fmt.Errorf("%w: 闪开 holds card credentials only; grant %s has none", accessctl.ErrUnsupported, g.Person)
	}
	card := accessctl.CardNo{Raw: cred.Value}
	if cred.Card != nil {
		card = *cred.Card
	}
	return s.c.SetCardNo(ctx, s.org, mobile, g.Name, card)
}

// RemoveGrant deletes the person (del_user); an absent person succeeds.
func (s *CardSync) RemoveGrant(ctx context.Context, p accessctl.PersonRef) error {
	return s.c.DeleteUser(ctx, s.org, p.ID)
}

var _ accessctl.PermissionSync = (*CardSync)(nil)
