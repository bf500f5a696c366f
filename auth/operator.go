package auth

import (
	"context"
	"fmt"

	"github.com/pentographer/pentographer/store"
)

// IssueAPIKey makes a new API key for an existing member of an organization,
// owned by them and holding at most their role's scopes: the operator's way back
// in when a key is lost. Operator only (the command line); the key's creation is
// audited with the member as holder and the operator as method. The Enrollment's
// Password is always empty.
func (s *Service) IssueAPIKey(ctx context.Context, orgSlug, email string, in CreateAPIKeyInput) (Enrollment, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return Enrollment{}, err
	}
	var out Enrollment
	err = s.commit(ctx, "", store.LockShared, func(w *writeTx) error {
		tx, ctx := w.tx, w.ctx
		org, err := tx.OrganizationBySlug(ctx, orgSlug)
		if isNotFound(err) {
			return errorf(KindNotFound, "no organization has the slug %q", truncate(orgSlug, 64))
		} else if err != nil {
			return err
		}
		user, err := tx.UserByEmail(ctx, email)
		if isNotFound(err) {
			return errorf(KindNotFound, "no person has the email %s", email)
		} else if err != nil {
			return err
		}
		m, err := tx.LockMembership(ctx, org.ID, user.ID)
		if isNotFound(err) {
			return errorf(KindNotFound, "%s is not a member of %s", email, org.Slug)
		} else if err != nil {
			return err
		}
		role := roleFromStore(m.Role)
		if !role.Valid() {
			return fmt.Errorf("auth: membership %s has an unknown role %q", m.ID, m.Role)
		}
		holder := &Principal{UserID: user.ID, OrgID: org.ID, Role: role, Scopes: s.scopes.ForRole(role), Method: MethodOperator}
		_, secret, err := s.insertAPIKey(w, holder, in)
		out = Enrollment{Organization: orgFrom(org), User: userFrom(user), Role: role, APIKey: secret}
		return err
	})
	if err != nil {
		return Enrollment{}, err
	}
	return out, nil
}
