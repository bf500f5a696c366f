package auth

import (
	"context"
	"crypto/subtle"
	"time"
	"unicode/utf8"

	"github.com/pentographer/pentographer/internal/failures"
	"github.com/pentographer/pentographer/store"
)

// Audit actions of people signing in.
const (
	ActionSignInSucceeded  = "sign_in.succeeded"
	ActionSignInFailed     = "sign_in.failed"
	ActionSignedOut        = "session.signed_out"
	ActionSessionRevoked   = "session.revoked"
	ActionPasswordChanged  = "password.changed"
	ActionPasswordReset    = "password.reset"
	ActionPasswordResetSet = "password_reset.issued"
)

// sessionFormat is the session token, the value of the session cookie.
var sessionFormat = secretFormat{prefix: "ptgss_", random: 40, checksum: true}

// sessionTimes bound a session's life.
type sessionTimes struct {
	idle     time.Duration
	lifetime time.Duration
}

// sessionGrant is the grant of a session: the person's full role in the
// organization the session was opened for, until it has been idle too long or
// reached its absolute end. A session without an organization yet grants
// nothing (its role is empty).
func (t sessionTimes) grant(c store.SessionCredential, catalog *Catalog) grant {
	end := c.LastSeenAt.Add(t.idle)
	if c.ExpiresAt.Before(end) {
		end = c.ExpiresAt
	}
	return grant{
		method: MethodSession, credentialID: c.ID, orgID: c.OrgID, userID: c.UserID, role: c.Role,
		scopes: catalog.All(), expiresAt: &end, revoked: c.RevokedAt != nil || c.OrgID == "",
	}
}

// Session authenticates a session token (the cookie) for the API: it must be
// active and bound to an organization its person is still a member of.
func (a *Authenticator) Session(ctx context.Context, token string) (*Principal, error) {
	p, err := a.session(ctx, token)
	return a.observed(MethodSession, p, err)
}

func (a *Authenticator) session(ctx context.Context, token string) (*Principal, error) {
	if !sessionFormat.valid(token) {
		return nil, invalidToken(msgMalformed)
	}
	digest := Digest(token)
	return a.lookup(ctx, digest, true, func(ctx context.Context, now time.Time) (*Principal, error) {
		c, err := a.store.SessionCredentialByDigest(ctx, digest)
		if err != nil {
			return nil, notFoundAsUnknown(err)
		}
		if subtle.ConstantTimeCompare(c.Digest, digest) != 1 {
			return nil, invalidToken(msgUnknown)
		}
		p, err := admit(a.sessions.grant(c, a.catalog), a.catalog, now)
		if err == nil && now.Sub(c.LastSeenAt) >= lastUsedInterval {
			a.uses.record(ctx, useSession, c.ID, now)
		}
		return p, err
	})
}

// OrgMembership is one organization a person belongs to, with their role.
type OrgMembership struct {
	Organization Organization
	Role         Role
}

// SessionInfo describes a signed-in person's session for the pages.
type SessionInfo struct {
	ID string
	// Organization is the one the session acts in; nil until chosen.
	Organization  *OrgMembership
	Organizations []OrgMembership
	User          User
	CreatedAt     time.Time
	LastSeenAt    time.Time
	ExpiresAt     time.Time
	Address       string
	UserAgent     string
	// Current marks the session the request came with, in a listing.
	Current bool
}

// SignedIn is a new session: its token, shown only here (it goes into the
// cookie), and what the pages need to know.
type SignedIn struct {
	Token   string
	Session SessionInfo
}

// errNotSignedIn answers a request without a session.
var errNotSignedIn = &Error{Kind: KindUnauthenticated, Message: "not signed in"}

// errInvalidCredentials is the one answer to a failed sign-in, whatever failed.
var errInvalidCredentials = &Error{Kind: KindUnauthenticated, Message: "the email or password is wrong"}

// ErrInvalidCredentials reports a failed sign-in (for the transports).
var ErrInvalidCredentials = errInvalidCredentials

// SignIn checks a person's email and password and opens a session. An unknown
// email and a wrong password get the same answer after the same work: one user
// lookup, one argon2id comparison (against a dummy hash for an unknown email),
// one membership lookup and one audited transaction. Every attempt is in the
// audit log of each organization of the account (an unknown account's in the
// server-wide log, organization ""). One organization: the session acts in it;
// several: the person chooses (ChooseOrganization).
func (s *Service) SignIn(ctx context.Context, email, password string) (SignedIn, error) {
	dummy := s.dummy()
	normalized, emailErr := NormalizeEmail(email)
	u, err := s.store.UserByEmail(ctx, normalized)
	found := err == nil && emailErr == nil
	if err != nil && !isNotFound(err) {
		return SignedIn{}, err
	}
	hash := dummy
	if found {
		hash = u.PasswordHash
	}
	ok, err := s.passwords.check(ctx, password, hash)
	if err != nil {
		return SignedIn{}, err
	}
	ok = ok && found
	ms, err := s.store.MembershipsByUser(ctx, u.ID)
	if err != nil {
		return SignedIn{}, err
	}
	if !ok || len(ms) == 0 {
		if err := s.recordSignInFailure(ctx, u.ID, ms, email); err != nil {
			return SignedIn{}, err
		}
		if ok {
			return SignedIn{}, errorf(KindForbidden, "this account belongs to no organization; ask an administrator for an invitation")
		}
		return SignedIn{}, errInvalidCredentials
	}
	// A hash made at an older cost is made again now that the password is
	// known, so that every account costs the same to check (and to guess).
	rehash := ""
	if s.pwCost.outdated(u.PasswordHash) {
		if rehash, err = s.passwords.hash(ctx, s.pwCost, password); err != nil {
			return SignedIn{}, err
		}
	}
	orgID := soleOrganization(ms)
	var out SignedIn
	err = s.commit(ctx, "", store.LockShared, func(w *writeTx) error {
		if err := passwordStillIs(w, u.ID, u.PasswordHash); err != nil {
			return err
		}
		if rehash != "" {
			if err := w.tx.ReplacePasswordHash(w.ctx, u.ID, u.PasswordHash, rehash); err != nil {
				return err
			}
		}
		var err error
		out, err = s.openSession(w, u, orgID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			w.audit(auditEntry{orgID: m.OrgID, action: ActionSignInSucceeded, targetType: "user", targetID: u.ID})
		}
		return nil
	})
	if err != nil {
		return SignedIn{}, err
	}
	return out, s.describeSession(ctx, &out.Session)
}

// passwordStillIs refuses a sign-in whose password was checked (outside the
// transaction: argon2id is slow) against a hash that a password change or
// reset has replaced since: its session would outlive the change meant to end
// every session. The person's lock orders it with those changes.
func passwordStillIs(w *writeTx, userID, checked string) error {
	if err := w.tx.LockPerson(w.ctx, userID, store.LockShared); err != nil {
		return err
	}
	u, err := w.tx.UserByID(w.ctx, userID)
	if err != nil {
		return err
	}
	if u.PasswordHash != checked {
		return errInvalidCredentials
	}
	return nil
}

// openSession creates a session for u in w (bound to orgID, or to none yet) and
// makes it the actor of w's audit entries.
func (s *Service) openSession(w *writeTx, u store.User, orgID string) (SignedIn, error) {
	token, err := sessionFormat.generate()
	if err != nil {
		return SignedIn{}, err
	}
	meta := RequestMetaFrom(w.ctx)
	rec := store.Session{
		ID: newID(), UserID: u.ID, OrgID: orgID, Digest: Digest(token), CreatedAt: w.now, LastSeenAt: w.now,
		ExpiresAt: w.now.Add(s.sessionIn.lifetime),
		Address:   clean(meta.Address, 64), UserAgent: clean(meta.UserAgent, 512),
	}
	if err := w.tx.InsertSession(w.ctx, &rec); err != nil {
		return SignedIn{}, err
	}
	w.invalidate(Invalidation{Digest: hexDigest(rec.Digest)})
	w.actor = &Principal{UserID: u.ID, OrgID: orgID, Method: MethodSession, CredentialID: rec.ID}
	out := SignedIn{Token: token, Session: SessionInfo{
		ID: rec.ID, User: userFrom(u), CreatedAt: rec.CreatedAt, LastSeenAt: rec.LastSeenAt,
		ExpiresAt: rec.ExpiresAt, Address: rec.Address, UserAgent: rec.UserAgent,
	}}
	if orgID != "" { // describeSession fills in the rest
		out.Session.Organization = &OrgMembership{Organization: Organization{ID: orgID}}
	}
	return out, nil
}

// soleOrganization is the organization a new session acts in: the person's
// only one, or none yet ("") when they have several to choose from.
func soleOrganization(ms []store.Membership) string {
	if len(ms) == 1 {
		return ms[0].OrgID
	}
	return ""
}

// describeSession fills in the person's organizations and the chosen one.
func (s *Service) describeSession(ctx context.Context, info *SessionInfo) error {
	ms, err := s.store.MembershipsByUser(ctx, info.User.ID)
	if err != nil {
		return err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.OrgID
	}
	orgs, err := s.store.OrganizationsByIDs(ctx, ids)
	if err != nil {
		return err
	}
	info.Organizations = make([]OrgMembership, 0, len(ms))
	chosen := ""
	if info.Organization != nil {
		chosen = info.Organization.Organization.ID
	}
	info.Organization = nil
	for _, m := range ms {
		om := OrgMembership{Organization: orgFrom(orgs[m.OrgID]), Role: roleFromStore(m.Role)}
		info.Organizations = append(info.Organizations, om)
		if m.OrgID == chosen {
			info.Organization = &om
		}
	}
	return nil
}

// CurrentSession describes the session of token, whether or not it has chosen
// an organization yet; an ended or unknown session is Unauthenticated.
func (s *Service) CurrentSession(ctx context.Context, token string) (SessionInfo, error) {
	if token == "" {
		return SessionInfo{}, errNotSignedIn
	}
	if !sessionFormat.valid(token) {
		return SessionInfo{}, invalidToken("the session cookie is malformed; sign in again")
	}
	c, err := s.store.SessionCredentialByDigest(ctx, Digest(token))
	if err != nil {
		return SessionInfo{}, notFoundAsUnknown(err)
	}
	now := s.clock()
	g := s.sessionIn.grant(c, s.scopes)
	if c.RevokedAt != nil || !now.Before(*g.expiresAt) {
		return SessionInfo{}, invalidToken(msgUnknown)
	}
	rec, err := s.store.SessionByID(ctx, c.UserID, c.ID)
	if err != nil {
		return SessionInfo{}, err
	}
	u, err := s.userByID(ctx, c.UserID)
	if err != nil {
		return SessionInfo{}, err
	}
	info := sessionInfoFrom(rec, u, *g.expiresAt)
	if c.OrgID != "" {
		info.Organization = &OrgMembership{Organization: Organization{ID: c.OrgID}}
	}
	return info, s.describeSession(ctx, &info)
}

func sessionInfoFrom(r store.Session, u User, end time.Time) SessionInfo {
	return SessionInfo{
		ID: r.ID, User: u, CreatedAt: r.CreatedAt, LastSeenAt: r.LastSeenAt, ExpiresAt: end,
		Address: r.Address, UserAgent: r.UserAgent,
	}
}

// recordSignInFailure audits a failed attempt to prove the password of the
// account userID ("" when unknown) in each of its organizations (ms), or in
// the server-wide log when it has none.
func (s *Service) recordSignInFailure(ctx context.Context, userID string, ms []store.Membership, email string) error {
	return s.commit(ctx, "", store.LockShared, func(w *writeTx) error {
		w.actor = &Principal{UserID: userID, Method: MethodPassword}
		detail := "email=" + quoteDetail(truncate(email, 320))
		if len(ms) == 0 {
			w.audit(auditEntry{orgID: "", action: ActionSignInFailed, targetType: "user", targetID: userID, detail: detail})
		}
		for _, m := range ms {
			w.audit(auditEntry{orgID: m.OrgID, action: ActionSignInFailed, targetType: "user", targetID: userID, detail: detail})
		}
		return nil
	})
}

// ChooseOrganization makes the session of token act in orgID, one of its
// person's organizations (also to switch later).
func (s *Service) ChooseOrganization(ctx context.Context, token, orgID string) (SessionInfo, error) {
	info, err := s.CurrentSession(ctx, token)
	if err != nil {
		return SessionInfo{}, err
	}
	member := false
	for _, m := range info.Organizations {
		member = member || m.Organization.ID == orgID
	}
	if !member {
		return SessionInfo{}, errNotFound
	}
	err = s.commit(ctx, orgID, store.LockShared, func(w *writeTx) error {
		// Changes the session has under way (in its old organization) finish
		// first; any later one sees the switch and is refused.
		if err := w.tx.LockPerson(w.ctx, info.User.ID, store.LockExclusive); err != nil {
			return err
		}
		// The session was refused while it had no organization: forget that
		// too (it is cached by digest).
		w.invalidate(Invalidation{CredentialID: info.ID, Digest: hexDigest(Digest(token))})
		return w.tx.SetSessionOrganization(w.ctx, info.ID, orgID)
	})
	if err != nil {
		return SessionInfo{}, err
	}
	return s.CurrentSession(ctx, token)
}

// SignOut ends the session of token. Ending an ended session is not an error.
func (s *Service) SignOut(ctx context.Context, token string) error {
	info, err := s.CurrentSession(ctx, token)
	if KindOf(err) == KindUnauthenticated {
		return nil
	}
	if err != nil {
		return err
	}
	orgID := ""
	if info.Organization != nil {
		orgID = info.Organization.Organization.ID
	}
	return s.commit(ctx, orgID, store.LockShared, func(w *writeTx) error {
		w.actor = &Principal{UserID: info.User.ID, OrgID: orgID, Method: MethodSession, CredentialID: info.ID}
		// Wait for the session's changes under way; later ones see it ended.
		if err := w.tx.LockPerson(w.ctx, info.User.ID, store.LockExclusive); err != nil {
			return err
		}
		if _, err := w.tx.RevokeSession(w.ctx, info.User.ID, info.ID, w.now); err != nil {
			return err
		}
		if orgID != "" {
			w.audit(auditEntry{orgID: orgID, action: ActionSignedOut, targetType: "session", targetID: info.ID})
		}
		w.invalidate(Invalidation{CredentialID: info.ID})
		return nil
	})
}

// requireSession returns the caller if it is a signed-in person: some things
// (passwords, sessions) are a person's own and never a credential's.
func requireSession(p *Principal, what string) error {
	if p.Method != MethodSession {
		return errorf(KindForbidden, "only a signed-in person can %s; API keys and tokens cannot", what)
	}
	return nil
}

// ListSessions lists the calling person's active sessions, in every
// organization, marking the one of this request.
func (s *Service) ListSessions(ctx context.Context) ([]SessionInfo, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := requireSession(p, "list sessions"); err != nil {
		return nil, err
	}
	now := s.clock()
	recs, err := s.store.ListActiveSessions(ctx, p.UserID, now)
	if err != nil {
		return nil, err
	}
	u, err := s.userByID(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	var orgIDs []string
	for _, r := range recs {
		orgIDs = append(orgIDs, r.OrgID)
	}
	orgs, err := s.store.OrganizationsByIDs(ctx, orgIDs)
	if err != nil {
		return nil, err
	}
	out := make([]SessionInfo, 0, len(recs))
	for _, r := range recs {
		end := r.LastSeenAt.Add(s.sessionIn.idle)
		if r.ExpiresAt.Before(end) {
			end = r.ExpiresAt
		}
		if !now.Before(end) {
			continue
		}
		info := sessionInfoFrom(r, u, end)
		info.Current = r.ID == p.CredentialID
		if o, ok := orgs[r.OrgID]; ok {
			info.Organization = &OrgMembership{Organization: orgFrom(o)}
		}
		out = append(out, info)
	}
	return out, nil
}

// RevokeSession ends one of the calling person's sessions.
func (s *Service) RevokeSession(ctx context.Context, id string) (SessionInfo, error) {
	var info SessionInfo
	err := s.write(ctx, writeOp{min: RoleMember, weakens: true}, func(w *writeTx) error {
		if err := requireSession(w.actor, "end sessions"); err != nil {
			return err
		}
		if !validID(id) {
			return errNotFound
		}
		rec, err := w.tx.SessionByID(w.ctx, w.actor.UserID, id)
		if isNotFound(err) {
			return errNotFound
		}
		if err != nil {
			return err
		}
		if _, err := w.tx.RevokeSession(w.ctx, w.actor.UserID, id, w.now); err != nil {
			return err
		}
		u, err := w.tx.UserByID(w.ctx, w.actor.UserID)
		if err != nil {
			return err
		}
		info = sessionInfoFrom(rec, userFrom(u), w.now)
		w.audit(auditEntry{orgID: w.actor.OrgID, action: ActionSessionRevoked, targetType: "session", targetID: id})
		w.invalidate(Invalidation{CredentialID: id})
		return nil
	})
	return info, err
}

// A person may get their current password wrong changePasswordFailures times
// in passwordFailureWindow.
const (
	changePasswordFailures = 10
	passwordFailureWindow  = 15 * time.Minute
)

// Password rules: at least minPasswordRunes characters, at most
// maxPasswordBytes bytes (argon2id takes any length; this bounds the work).
const (
	minPasswordRunes = 12
	maxPasswordBytes = 256
)

func validPassword(field, pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return invalidField(field, "the password must be valid UTF-8")
	case utf8.RuneCountInString(pw) < minPasswordRunes:
		return invalidField(field, "the password must be at least %d characters long", minPasswordRunes)
	case len(pw) > maxPasswordBytes:
		return invalidField(field, "the password must be at most %d bytes long", maxPasswordBytes)
	}
	return nil
}

// ChangePassword sets the calling person's new password after checking the
// current one; every other session of theirs ends. It reports how many ended.
func (s *Service) ChangePassword(ctx context.Context, current, next string) (int64, error) {
	p, err := caller(ctx)
	if err != nil {
		return 0, err
	}
	if err := requireSession(p, "change a password"); err != nil {
		return 0, err
	}
	if err := validPassword("newPassword", next); err != nil {
		return 0, err
	}
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return 0, err
	}
	// Wrong current passwords are limited per person, counted before the
	// check: a stolen session must not become a way to guess the password.
	attempt, allowed := s.passwordFailures.Attempt(failures.Limit{Key: "change-password:" + p.UserID, Max: changePasswordFailures})
	if !allowed {
		return 0, errorf(KindRateLimited, "too many wrong current passwords; try again in %d minutes", int(passwordFailureWindow/time.Minute))
	}
	ok, err := s.passwords.check(ctx, current, u.PasswordHash)
	if err != nil {
		attempt.Succeeded() // not checked: nothing was guessed
		return 0, err
	}
	if !ok {
		return 0, &Error{Kind: KindInvalid, Field: "currentPassword", Message: "the current password is wrong"}
	}
	attempt.Succeeded()
	hash, err := s.passwords.hash(ctx, s.pwCost, next)
	if err != nil {
		return 0, err
	}
	var ended int64
	err = s.write(ctx, writeOp{min: RoleMember, weakens: true}, func(w *writeTx) error {
		if err := w.tx.UpdateUserPassword(w.ctx, w.actor.UserID, hash); err != nil {
			return err
		}
		var err error
		if ended, err = w.tx.RevokeUserSessions(w.ctx, w.actor.UserID, w.actor.CredentialID, w.now); err != nil {
			return err
		}
		w.audit(auditEntry{orgID: w.actor.OrgID, action: ActionPasswordChanged, targetType: "user", targetID: w.actor.UserID})
		w.invalidate(Invalidation{UserID: w.actor.UserID})
		return nil
	})
	return ended, err
}
