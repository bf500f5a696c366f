package auth

import (
	"context"
	"errors"
	"time"

	"github.com/pentographer/pentographer/store"
)

// Audit actions of invitations and password resets.
const (
	ActionInvitationCreated  = "invitation.created"
	ActionInvitationRevoked  = "invitation.revoked"
	ActionInvitationAccepted = "invitation.accepted"
)

// One-time link tokens. They travel in the URL fragment (#token), which
// browsers never send to a server, so they stay out of logs and Referers.
var (
	invitationFormat    = secretFormat{prefix: "ptgi_", random: 40, checksum: true}
	passwordResetFormat = secretFormat{prefix: "ptgr_", random: 40, checksum: true}
)

// InvitationLifetime is how long an invitation link works; PasswordResetLifetime
// a password reset link.
const (
	InvitationLifetime    = 7 * 24 * time.Hour
	PasswordResetLifetime = 24 * time.Hour
)

// Invitation is a pending invitation as the API shows it.
type Invitation struct {
	ID        string
	Email     string
	Role      Role
	CreatedAt time.Time
	ExpiresAt time.Time
	InvitedBy User
}

// InvitationWithLink carries the only copy of an invitation's link.
type InvitationWithLink struct {
	Invitation Invitation
	Link       string
}

func invitationFrom(r store.Invitation, by User) Invitation {
	return Invitation{ID: r.ID, Email: r.Email, Role: roleFromStore(r.Role), CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, InvitedBy: by}
}

// InviteMember makes a one-time invitation link for email to join the caller's
// organization with role (ADMIN and OWNER with members:write; only an OWNER
// invites an OWNER). A new invitation for the same email replaces the pending
// one. Someone who is a member already cannot be invited.
func (s *Service) InviteMember(ctx context.Context, email string, role Role) (InvitationWithLink, error) {
	if !role.Valid() {
		return InvitationWithLink{}, invalidField("role", "unknown role")
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return InvitationWithLink{}, err
	}
	var (
		rec   store.Invitation
		token string
	)
	err = s.write(ctx, writeOp{scope: ScopeMembersWrite, min: RoleAdmin}, func(w *writeTx) error {
		if role == RoleOwner && w.actor.Role != RoleOwner {
			return errorf(KindForbidden, "only an OWNER can invite an OWNER")
		}
		if u, err := w.tx.UserByEmail(w.ctx, email); err == nil {
			if _, err := w.tx.MembershipByOrgUser(w.ctx, w.actor.OrgID, u.ID); err == nil {
				return invalidField("email", "%s is a member already", email)
			} else if !isNotFound(err) {
				return err
			}
		} else if !isNotFound(err) {
			return err
		}
		if err := w.tx.RevokePendingInvitations(w.ctx, w.actor.OrgID, email, w.now); err != nil {
			return err
		}
		var err error
		if token, err = invitationFormat.generate(); err != nil {
			return err
		}
		rec = store.Invitation{
			ID: newID(), OrgID: w.actor.OrgID, Email: email, Role: role.String(), Digest: Digest(token),
			InvitedBy: w.actor.UserID, CreatedAt: w.now, ExpiresAt: w.now.Add(InvitationLifetime),
		}
		if err := w.tx.InsertInvitation(w.ctx, &rec); err != nil {
			return err
		}
		w.audit(auditEntry{orgID: w.actor.OrgID, action: ActionInvitationCreated, targetType: "invitation",
			targetID: rec.ID, detail: "email=" + quoteDetail(email) + " role=" + role.String()})
		return nil
	})
	if err != nil {
		return InvitationWithLink{}, err
	}
	by, err := s.userByID(ctx, rec.InvitedBy)
	if err != nil {
		return InvitationWithLink{}, err
	}
	return InvitationWithLink{Invitation: invitationFrom(rec, by), Link: s.publicURL + "/invitation#" + token}, nil
}

// mayInvite says whether a person of role inviter may invite someone to be
// invited: ADMIN and OWNER invite, and only an OWNER invites an OWNER.
func mayInvite(inviter, invited Role) bool {
	return inviter.AtLeast(RoleAdmin) && (invited != RoleOwner || inviter == RoleOwner)
}

// withdrawInvitationsBeyond withdraws the pending invitations userID issued in
// the actor's organization that role (RoleNone once they are removed) could not
// issue, and says how many: a demoted or removed person's links stop working
// with their authority.
func withdrawInvitationsBeyond(w *writeTx, userID string, role Role) (int64, error) {
	var roles []string // empty: all of them
	switch role {
	case RoleOwner:
		return 0, nil
	case RoleAdmin:
		roles = []string{RoleOwner.String()}
	}
	return w.tx.RevokeInvitationsBy(w.ctx, w.actor.OrgID, userID, roles, w.now)
}

// ListInvitations pages through the organization's pending invitations (ADMIN
// and OWNER, members:read).
func (s *Service) ListInvitations(ctx context.Context, opts ListOptions) (Page[Invitation], error) {
	p, err := require(ctx, ScopeMembersRead, RoleAdmin)
	if err != nil {
		return Page[Invitation]{}, err
	}
	pg, err := opts.page()
	if err != nil {
		return Page[Invitation]{}, err
	}
	recs, more, err := s.store.ListPendingInvitations(ctx, p.OrgID, s.clock(), pg)
	if err != nil {
		return Page[Invitation]{}, err
	}
	by, err := ownersOf(ctx, s, recs, func(r store.Invitation) string { return r.InvitedBy })
	if err != nil {
		return Page[Invitation]{}, err
	}
	out := Page[Invitation]{HasNextPage: more, Items: make([]Invitation, len(recs))}
	for i, r := range recs {
		out.Items[i] = invitationFrom(r, by[r.InvitedBy])
	}
	return out, nil
}

// RevokeInvitation withdraws a pending invitation (ADMIN and OWNER,
// members:write); its link stops working at once.
func (s *Service) RevokeInvitation(ctx context.Context, id string) (Invitation, error) {
	var rec store.Invitation
	err := s.write(ctx, writeOp{scope: ScopeMembersWrite, min: RoleAdmin}, func(w *writeTx) error {
		if !validID(id) {
			return errNotFound
		}
		var err error
		if rec, err = w.tx.InvitationByID(w.ctx, w.actor.OrgID, id); isNotFound(err) {
			return errNotFound
		} else if err != nil {
			return err
		}
		if roleFromStore(rec.Role) == RoleOwner && w.actor.Role != RoleOwner {
			return errorf(KindForbidden, "only an OWNER can withdraw an invitation to be OWNER")
		}
		revoked, err := w.tx.MarkInvitationRevoked(w.ctx, w.actor.OrgID, id, w.now)
		if err != nil {
			return err
		}
		if !revoked {
			return invalidField("id", "the invitation was accepted, withdrawn or has expired already")
		}
		w.audit(auditEntry{orgID: w.actor.OrgID, action: ActionInvitationRevoked, targetType: "invitation",
			targetID: id, detail: "email=" + quoteDetail(rec.Email)})
		return nil
	})
	if err != nil {
		return Invitation{}, err
	}
	by, err := s.userByID(ctx, rec.InvitedBy)
	return invitationFrom(rec, by), err
}

// InvitationPreview is what the invitation page shows before it is accepted.
type InvitationPreview struct {
	Organization    Organization
	Email           string
	Role            Role
	ExistingAccount bool
	ExpiresAt       time.Time
}

// errInvalidInvitation is the one answer for an unknown, used, withdrawn or
// expired invitation.
var errInvalidInvitation = &Error{Kind: KindNotFound, Message: "this invitation link is not valid: it was used, withdrawn or has expired"}

// pendingInvitation finds the pending invitation of token.
func (s *Service) pendingInvitation(ctx context.Context, st *store.Store, token string, now time.Time) (store.Invitation, error) {
	if !invitationFormat.valid(token) {
		return store.Invitation{}, errInvalidInvitation
	}
	rec, err := st.InvitationByDigest(ctx, Digest(token))
	if isNotFound(err) || (err == nil && (rec.AcceptedAt != nil || rec.RevokedAt != nil || !now.Before(rec.ExpiresAt))) {
		return store.Invitation{}, errInvalidInvitation
	}
	return rec, err
}

// InspectInvitation says what an invitation link is for.
func (s *Service) InspectInvitation(ctx context.Context, token string) (InvitationPreview, error) {
	rec, err := s.pendingInvitation(ctx, s.store, token, s.clock())
	if err != nil {
		return InvitationPreview{}, err
	}
	org, err := s.store.OrganizationByID(ctx, rec.OrgID)
	if err != nil {
		return InvitationPreview{}, err
	}
	_, err = s.store.UserByEmail(ctx, rec.Email)
	if err != nil && !isNotFound(err) {
		return InvitationPreview{}, err
	}
	return InvitationPreview{Organization: orgFrom(org), Email: rec.Email, Role: roleFromStore(rec.Role),
		ExistingAccount: err == nil, ExpiresAt: rec.ExpiresAt}, nil
}

// AcceptInvitation uses an invitation link: it creates the invited person's
// account (name and a new password), or for an existing account checks that the
// password is theirs, adds them to the organization with the invited role, and
// signs them in there. The link works once.
func (s *Service) AcceptInvitation(ctx context.Context, token, name, password string) (SignedIn, error) {
	rec, err := s.pendingInvitation(ctx, s.store, token, s.clock())
	if err != nil {
		return SignedIn{}, err
	}
	existing, err := s.store.UserByEmail(ctx, rec.Email)
	found := err == nil
	if err != nil && !isNotFound(err) {
		return SignedIn{}, err
	}
	// Hash or check outside the transaction: argon2id is deliberately slow.
	var hash string
	if found {
		ok, err := s.passwords.check(ctx, password, existing.PasswordHash)
		if err != nil {
			return SignedIn{}, err
		}
		if !ok {
			// A wrong guess at an account's password, like a failed sign-in.
			ms, err := s.store.MembershipsByUser(ctx, existing.ID)
			if err == nil {
				err = s.recordSignInFailure(ctx, existing.ID, ms, rec.Email)
			}
			if err != nil {
				return SignedIn{}, err
			}
			return SignedIn{}, &Error{Kind: KindUnauthenticated, Field: "password",
				Message: "an account with this email exists: enter its password to accept"}
		}
	} else {
		if err := validName("name", name); err != nil {
			return SignedIn{}, err
		}
		if err := validPassword("password", password); err != nil {
			return SignedIn{}, err
		}
		if hash, err = s.passwords.hash(ctx, s.pwCost, password); err != nil {
			return SignedIn{}, err
		}
	}
	var out SignedIn
	err = s.commit(ctx, rec.OrgID, store.LockShared, func(w *writeTx) error {
		// The inviter's authority is the invitation's: checked again here, in
		// case they were removed or demoted since (which withdraws their
		// invitations too).
		inviter, err := w.tx.MembershipByOrgUser(w.ctx, rec.OrgID, rec.InvitedBy)
		if isNotFound(err) || (err == nil && !mayInvite(roleFromStore(inviter.Role), roleFromStore(rec.Role))) {
			return errInvalidInvitation
		} else if err != nil {
			return err
		}
		user := existing
		if found {
			if err := passwordStillIs(w, existing.ID, existing.PasswordHash); err != nil {
				return err
			}
		} else {
			user = store.User{ID: newID(), Email: rec.Email, Name: name, PasswordHash: hash, CreatedAt: w.now}
			if err := w.tx.InsertUser(w.ctx, &user); errors.Is(err, store.ErrConflict) {
				return errInvalidInvitation // the account was made meanwhile: start again
			} else if err != nil {
				return err
			}
		}
		accepted, err := w.tx.MarkInvitationAccepted(w.ctx, rec.ID, user.ID, w.now)
		if err != nil {
			return err
		}
		if !accepted {
			return errInvalidInvitation
		}
		m := store.Membership{ID: newID(), OrgID: rec.OrgID, UserID: user.ID, Role: rec.Role, CreatedAt: w.now, UpdatedAt: w.now}
		if err := w.tx.InsertMembership(w.ctx, &m); errors.Is(err, store.ErrConflict) {
			return invalidField("token", "%s is a member already", rec.Email)
		} else if err != nil {
			return err
		}
		if out, err = s.openSession(w, user, rec.OrgID); err != nil {
			return err
		}
		w.audit(auditEntry{orgID: rec.OrgID, action: ActionInvitationAccepted, targetType: "invitation", targetID: rec.ID})
		w.audit(auditEntry{orgID: rec.OrgID, action: ActionMemberAdded, targetType: "user", targetID: user.ID,
			detail: "role=" + rec.Role + " invitation=" + rec.ID})
		w.audit(auditEntry{orgID: rec.OrgID, action: ActionSignInSucceeded, targetType: "user", targetID: user.ID})
		return nil
	})
	if err != nil {
		return SignedIn{}, err
	}
	return out, s.describeSession(ctx, &out.Session)
}

// IssuePasswordReset makes a one-time link with which the person of email sets
// a new password (operators, for someone locked out). Earlier links of theirs
// stop working. Audited in each of their organizations.
func (s *Service) IssuePasswordReset(ctx context.Context, email string) (string, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return "", err
	}
	var token string
	err = s.commit(ctx, "", store.LockShared, func(w *writeTx) error {
		u, err := w.tx.UserByEmail(w.ctx, email)
		if isNotFound(err) {
			return errorf(KindNotFound, "no person has the email %s", email)
		} else if err != nil {
			return err
		}
		if err := w.tx.ExpirePasswordResets(w.ctx, u.ID, w.now); err != nil {
			return err
		}
		if token, err = passwordResetFormat.generate(); err != nil {
			return err
		}
		rec := store.PasswordReset{ID: newID(), UserID: u.ID, Digest: Digest(token), CreatedAt: w.now,
			ExpiresAt: w.now.Add(PasswordResetLifetime)}
		if err := w.tx.InsertPasswordReset(w.ctx, &rec); err != nil {
			return err
		}
		return s.auditEachOrganizationOf(w, u.ID, auditEntry{action: ActionPasswordResetSet, targetType: "user", targetID: u.ID})
	})
	if err != nil {
		return "", err
	}
	return s.publicURL + "/reset-password#" + token, nil
}

// errInvalidReset is the one answer for an unknown, used or expired reset link.
var errInvalidReset = &Error{Kind: KindNotFound, Message: "this password reset link is not valid: it was used or has expired"}

// ResetPassword uses a password reset link: the person's password becomes
// password, every session of theirs ends, and they are signed in anew.
func (s *Service) ResetPassword(ctx context.Context, token, password string) (SignedIn, error) {
	if !passwordResetFormat.valid(token) {
		return SignedIn{}, errInvalidReset
	}
	rec, err := s.store.PasswordResetByDigest(ctx, Digest(token))
	if isNotFound(err) || (err == nil && (rec.UsedAt != nil || !s.clock().Before(rec.ExpiresAt))) {
		return SignedIn{}, errInvalidReset
	}
	if err != nil {
		return SignedIn{}, err
	}
	if err := validPassword("password", password); err != nil {
		return SignedIn{}, err
	}
	hash, err := s.passwords.hash(ctx, s.pwCost, password)
	if err != nil {
		return SignedIn{}, err
	}
	ms, err := s.store.MembershipsByUser(ctx, rec.UserID)
	if err != nil {
		return SignedIn{}, err
	}
	orgID := soleOrganization(ms)
	var out SignedIn
	err = s.commit(ctx, "", store.LockShared, func(w *writeTx) error {
		// Every session of the person ends: changes they have under way, in any
		// organization, finish first, and later ones see the sessions ended.
		if err := w.tx.LockPerson(w.ctx, rec.UserID, store.LockExclusive); err != nil {
			return err
		}
		used, err := w.tx.MarkPasswordResetUsed(w.ctx, rec.ID, w.now)
		if err != nil {
			return err
		}
		if !used {
			return errInvalidReset
		}
		if err := w.tx.UpdateUserPassword(w.ctx, rec.UserID, hash); err != nil {
			return err
		}
		if _, err := w.tx.RevokeUserSessions(w.ctx, rec.UserID, "", w.now); err != nil {
			return err
		}
		w.invalidate(Invalidation{UserID: rec.UserID})
		u, err := w.tx.UserByID(w.ctx, rec.UserID)
		if err != nil {
			return err
		}
		if out, err = s.openSession(w, u, orgID); err != nil {
			return err
		}
		return s.auditEachOrganizationOf(w, u.ID, auditEntry{action: ActionPasswordReset, targetType: "user", targetID: u.ID})
	})
	if err != nil {
		return SignedIn{}, err
	}
	return out, s.describeSession(ctx, &out.Session)
}

// auditEachOrganizationOf records e in the audit log of each organization of
// the user.
func (s *Service) auditEachOrganizationOf(w *writeTx, userID string, e auditEntry) error {
	ms, err := w.tx.MembershipsByUser(w.ctx, userID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		e.orgID = m.OrgID
		w.audit(e)
	}
	return nil
}
