package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/pentographer/pentographer/store"
)

// Member is a person's membership as the API shows it.
type Member struct {
	// ID is the membership's id (the cursor of member listings).
	ID       string
	User     User
	Role     Role
	JoinedAt time.Time
}

// Me returns the calling user. Identity needs no scope.
func (s *Service) Me(ctx context.Context) (User, error) {
	p, err := caller(ctx)
	if err != nil {
		return User{}, err
	}
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return User{}, err
	}
	return userFrom(u), nil
}

// MyOrganization returns the organization the caller acts in. It needs no scope.
func (s *Service) MyOrganization(ctx context.Context) (Organization, error) {
	p, err := caller(ctx)
	if err != nil {
		return Organization{}, err
	}
	o, err := s.store.OrganizationByID(ctx, p.OrgID)
	if err != nil {
		return Organization{}, err
	}
	return orgFrom(o), nil
}

// ListMembers pages through the caller's organization's members (ADMIN and OWNER,
// members:read).
func (s *Service) ListMembers(ctx context.Context, opts ListOptions) (Page[Member], error) {
	p, err := require(ctx, ScopeMembersRead, RoleAdmin)
	if err != nil {
		return Page[Member]{}, err
	}
	pg, err := opts.page()
	if err != nil {
		return Page[Member]{}, err
	}
	ms, more, err := s.store.ListMemberships(ctx, p.OrgID, pg)
	if err != nil {
		return Page[Member]{}, err
	}
	users, err := ownersOf(ctx, s, ms, func(m store.Membership) string { return m.UserID })
	if err != nil {
		return Page[Member]{}, err
	}
	out := Page[Member]{HasNextPage: more, Items: make([]Member, len(ms))}
	for i, m := range ms {
		out.Items[i] = Member{ID: m.ID, User: users[m.UserID], Role: roleFromStore(m.Role), JoinedAt: m.CreatedAt}
	}
	return out, nil
}

// targetMembership loads, in w, the membership the actor wants to change,
// enforcing the rule every membership change shares: only an OWNER touches an
// OWNER. Outside the organization is not found.
func targetMembership(w *writeTx, userID string) (store.Membership, error) {
	if !validID(userID) {
		return store.Membership{}, errNotFound
	}
	m, err := w.tx.MembershipByOrgUser(w.ctx, w.actor.OrgID, userID)
	if isNotFound(err) {
		return m, errNotFound
	}
	if err != nil {
		return m, err
	}
	if roleFromStore(m.Role) == RoleOwner && w.actor.Role != RoleOwner {
		return m, errorf(KindForbidden, "only an OWNER can change or remove an OWNER")
	}
	return m, nil
}

// ensureAnotherOwner refuses a change that would leave the organization without
// an OWNER.
func ensureAnotherOwner(w *writeTx) error {
	n, err := w.tx.CountMembersWithRole(w.ctx, w.actor.OrgID, RoleOwner.String())
	if err != nil {
		return err
	}
	if n <= 1 {
		return errorf(KindConflict, "the last OWNER cannot leave or be demoted; make someone else OWNER first")
	}
	return nil
}

// UpdateMemberRole changes a member's role. ADMIN and OWNER may change roles; only
// an OWNER grants or removes OWNER; the last OWNER keeps the role; no credential
// changes its own creator's role. Credentials of the member act with the new
// role from the next request on, and invitations they issued that the new role
// could not issue are withdrawn.
func (s *Service) UpdateMemberRole(ctx context.Context, userID string, role Role) (Member, error) {
	if !role.Valid() {
		return Member{}, invalidField("role", "unknown role")
	}
	var m store.Membership
	err := s.write(ctx, writeOp{scope: ScopeMembersWrite, min: RoleAdmin, weakens: true}, func(w *writeTx) error {
		if role == RoleOwner && w.actor.Role != RoleOwner {
			return errorf(KindForbidden, "only an OWNER can grant OWNER")
		}
		// As with removal: a key or token may have leaked, and it must not
		// change the standing of the person it acts for.
		if userID == w.actor.UserID && w.actor.Method != MethodSession {
			return errorf(KindForbidden, "a credential cannot change the role of the person who created it; sign in to do that")
		}
		var err error
		if m, err = targetMembership(w, userID); err != nil {
			return err
		}
		old := roleFromStore(m.Role)
		if old == role {
			return nil
		}
		if old == RoleOwner {
			if err := ensureAnotherOwner(w); err != nil {
				return err
			}
		}
		if err := w.tx.UpdateMembershipRole(w.ctx, w.actor.OrgID, userID, role.String(), w.now); err != nil {
			return err
		}
		m.Role = role.String()
		withdrawn, err := withdrawInvitationsBeyond(w, userID, role)
		if err != nil {
			return err
		}
		detail := "from=" + old.String() + " to=" + role.String()
		if withdrawn > 0 {
			detail += fmt.Sprintf(" withdrawn_invitations=%d", withdrawn)
		}
		w.audit(auditEntry{
			orgID: w.actor.OrgID, action: ActionMemberRoleChanged, targetType: "user", targetID: userID,
			detail: detail,
		})
		w.invalidate(Invalidation{OrgID: w.actor.OrgID, UserID: userID})
		return nil
	})
	if err != nil {
		return Member{}, err
	}
	return s.member(ctx, m)
}

// RemoveMember removes a person from the caller's organization: ADMIN and OWNER
// with members:write (only an OWNER removes an OWNER), or the person themselves
// from a signed-in session. No credential removes its own creator, whatever the
// role: a key or token may have leaked, and leaving is the person's decision. The
// last OWNER cannot leave. Every API key and OAuth client they own in the
// organization is revoked, and every session they have in it ended, in the same
// transaction, so nothing of theirs wakes up if they are added again.
func (s *Service) RemoveMember(ctx context.Context, userID string) (Member, error) {
	var m store.Membership
	err := s.write(ctx, writeOp{weakens: true, min: RoleMember}, func(w *writeTx) error {
		p := w.actor
		if userID == p.UserID {
			if p.Method != MethodSession {
				return errorf(KindForbidden, "a credential cannot remove the person who created it; sign in to leave the organization")
			}
		} else if err := authorize(p, ScopeMembersWrite, RoleAdmin); err != nil {
			return err
		}
		var err error
		if m, err = targetMembership(w, userID); err != nil {
			return err
		}
		if roleFromStore(m.Role) == RoleOwner {
			if err := ensureAnotherOwner(w); err != nil {
				return err
			}
		}
		if err := w.tx.DeleteMembership(w.ctx, p.OrgID, userID); err != nil {
			return err
		}
		keys, clients, err := w.tx.RevokeUserCredentials(w.ctx, p.OrgID, userID, w.now)
		if err != nil {
			return err
		}
		if _, err := w.tx.RevokeMemberSessions(w.ctx, p.OrgID, userID, w.now); err != nil {
			return err
		}
		withdrawn, err := withdrawInvitationsBeyond(w, userID, RoleNone)
		if err != nil {
			return err
		}
		w.audit(auditEntry{
			orgID: p.OrgID, action: ActionMemberRemoved, targetType: "user", targetID: userID,
			detail: fmt.Sprintf("role=%s revoked_api_keys=%d revoked_oauth_clients=%d withdrawn_invitations=%d",
				roleFromStore(m.Role), keys, clients, withdrawn),
		})
		w.invalidate(Invalidation{OrgID: p.OrgID, UserID: userID})
		return nil
	})
	if err != nil {
		return Member{}, err
	}
	return s.member(ctx, m)
}

func (s *Service) member(ctx context.Context, m store.Membership) (Member, error) {
	u, err := s.userByID(ctx, m.UserID)
	if err != nil {
		return Member{}, err
	}
	return Member{ID: m.ID, User: u, Role: roleFromStore(m.Role), JoinedAt: m.CreatedAt}, nil
}
