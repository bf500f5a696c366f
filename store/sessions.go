package store

import (
	"context"
	"time"
)

// InsertSession stores a new session.
func (s *Store) InsertSession(ctx context.Context, r *Session) error {
	return insert(ctx, s, "insert session", r)
}

// SessionCredential is what authentication needs about a session: the session
// and its person's current role in the session's organization ("" when they
// are not a member of it, or no organization is chosen yet).
type SessionCredential struct {
	ID         string
	UserID     string
	OrgID      string
	Digest     []byte
	LastSeenAt time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	Role       string
}

const sessionCredentialQuery = `SELECT s.id, s.user_id, s.org_id, s.digest, s.last_seen_at, s.expires_at, s.revoked_at,
		COALESCE(m.role, '') AS role
		FROM sessions s LEFT JOIN memberships m ON m.org_id = s.org_id AND m.user_id = s.user_id
		WHERE `

// SessionCredentialByDigest finds the session with this token digest, in one
// indexed query.
func (s *Store) SessionCredentialByDigest(ctx context.Context, digest []byte) (SessionCredential, error) {
	return scanOne[SessionCredential](ctx, s, "session by digest", sessionCredentialQuery+"s.digest = ?", digest)
}

// SessionCredentialByID finds a session by id (to admit it again in a change).
func (s *Store) SessionCredentialByID(ctx context.Context, id string) (SessionCredential, error) {
	return scanOne[SessionCredential](ctx, s, "session by id", sessionCredentialQuery+"s.id = ?", id)
}

// SessionByID returns a user's session.
func (s *Store) SessionByID(ctx context.Context, userID, id string) (Session, error) {
	return first[Session](ctx, s, "session by id", "user_id = ? AND id = ?", userID, id)
}

// ListActiveSessions lists a user's sessions that are not revoked and not past
// their absolute end, newest first.
func (s *Store) ListActiveSessions(ctx context.Context, userID string, now time.Time) ([]Session, error) {
	var out []Session
	err := s.conn(ctx).Where("user_id = ? AND revoked_at IS NULL AND expires_at > ?", userID, now).
		Order("id DESC").Limit(200).Find(&out).Error
	return out, wrap("list sessions", err)
}

// SetSessionOrganization binds a session to the organization it acts in.
func (s *Store) SetSessionOrganization(ctx context.Context, id, orgID string) error {
	res := s.conn(ctx).Model(&Session{}).Where("id = ? AND revoked_at IS NULL", id).Update("org_id", orgID)
	if res.Error == nil && res.RowsAffected == 0 {
		return wrap("set session organization", ErrNotFound)
	}
	return wrap("set session organization", res.Error)
}

// TouchSession records a use of the session, at most once per interval, which
// moves its idle end.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time, interval time.Duration) error {
	err := s.conn(ctx).Model(&Session{}).
		Where("id = ? AND last_seen_at < ?", id, at.Add(-interval)).
		Update("last_seen_at", at).Error
	return wrap("touch session", err)
}

// RevokeSession ends one session and reports whether it was active.
func (s *Store) RevokeSession(ctx context.Context, userID, id string, at time.Time) (bool, error) {
	res := s.conn(ctx).Model(&Session{}).Where("user_id = ? AND id = ? AND revoked_at IS NULL", userID, id).
		Update("revoked_at", at)
	return res.RowsAffected > 0, wrap("revoke session", res.Error)
}

// RevokeUserSessions ends every session of a user, in every organization, but
// keepID (empty: all), and reports how many.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, keepID string, at time.Time) (int64, error) {
	res := s.conn(ctx).Model(&Session{}).Where("user_id = ? AND id <> ? AND revoked_at IS NULL", userID, keepID).
		Update("revoked_at", at)
	return res.RowsAffected, wrap("revoke user sessions", res.Error)
}

// RevokeMemberSessions ends every session a user has in one organization.
func (s *Store) RevokeMemberSessions(ctx context.Context, orgID, userID string, at time.Time) (int64, error) {
	res := s.conn(ctx).Model(&Session{}).Where("org_id = ? AND user_id = ? AND revoked_at IS NULL", orgID, userID).
		Update("revoked_at", at)
	return res.RowsAffected, wrap("revoke member sessions", res.Error)
}

// UpdateUserPassword replaces a user's password hash.
func (s *Store) UpdateUserPassword(ctx context.Context, userID, hash string) error {
	res := s.conn(ctx).Model(&User{}).Where("id = ?", userID).Update("password_hash", hash)
	if res.Error == nil && res.RowsAffected == 0 {
		return wrap("update password", ErrNotFound)
	}
	return wrap("update password", res.Error)
}

// ReplacePasswordHash sets a user's password hash only if it is still old: a
// stronger hash of the same password never overwrites a new password set
// meanwhile.
func (s *Store) ReplacePasswordHash(ctx context.Context, userID, old, hash string) error {
	err := s.conn(ctx).Model(&User{}).Where("id = ? AND password_hash = ?", userID, old).Update("password_hash", hash).Error
	return wrap("replace password hash", err)
}

// UpdateUserName sets a user's display name.
func (s *Store) UpdateUserName(ctx context.Context, userID, name string) error {
	return wrap("update user name", s.conn(ctx).Model(&User{}).Where("id = ?", userID).Update("name", name).Error)
}

// InsertInvitation stores a new invitation.
func (s *Store) InsertInvitation(ctx context.Context, r *Invitation) error {
	return insert(ctx, s, "insert invitation", r)
}

// InvitationByDigest finds an invitation by its link's token digest.
func (s *Store) InvitationByDigest(ctx context.Context, digest []byte) (Invitation, error) {
	return first[Invitation](ctx, s, "invitation by digest", "digest = ?", digest)
}

// InvitationByID returns an organization's invitation.
func (s *Store) InvitationByID(ctx context.Context, orgID, id string) (Invitation, error) {
	return first[Invitation](ctx, s, "invitation by id", "org_id = ? AND id = ?", orgID, id)
}

// ListPendingInvitations pages through an organization's invitations that are
// neither accepted, revoked nor expired at now.
func (s *Store) ListPendingInvitations(ctx context.Context, orgID string, now time.Time, p Page) ([]Invitation, bool, error) {
	var out []Invitation
	q := s.conn(ctx).Where("org_id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?", orgID, now)
	if err := p.apply(q, "id").Find(&out).Error; err != nil {
		return nil, false, wrap("list invitations", err)
	}
	out, more := trim(out, p)
	return out, more, nil
}

// RevokePendingInvitations revokes the pending invitations of an email to an
// organization (a new one replaces them).
func (s *Store) RevokePendingInvitations(ctx context.Context, orgID, email string, at time.Time) error {
	err := s.conn(ctx).Model(&Invitation{}).
		Where("org_id = ? AND email = ? AND accepted_at IS NULL AND revoked_at IS NULL", orgID, email).
		Update("revoked_at", at).Error
	return wrap("revoke pending invitations", err)
}

// RevokeInvitationsBy withdraws the pending invitations a person issued in an
// organization, those to one of roles only when roles is not empty, and says
// how many.
func (s *Store) RevokeInvitationsBy(ctx context.Context, orgID, userID string, roles []string, at time.Time) (int64, error) {
	q := s.conn(ctx).Model(&Invitation{}).
		Where("org_id = ? AND invited_by = ? AND accepted_at IS NULL AND revoked_at IS NULL", orgID, userID)
	if len(roles) > 0 {
		q = q.Where("role IN ?", roles)
	}
	res := q.Update("revoked_at", at)
	return res.RowsAffected, wrap("revoke invitations by inviter", res.Error)
}

// MarkInvitationRevoked revokes a pending invitation and reports whether it was.
func (s *Store) MarkInvitationRevoked(ctx context.Context, orgID, id string, at time.Time) (bool, error) {
	res := s.conn(ctx).Model(&Invitation{}).
		Where("org_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL", orgID, id).
		Update("revoked_at", at)
	return res.RowsAffected > 0, wrap("revoke invitation", res.Error)
}

// MarkInvitationAccepted uses up a pending, unexpired invitation; false when it
// was not (used, revoked or expired meanwhile).
func (s *Store) MarkInvitationAccepted(ctx context.Context, id, userID string, at time.Time) (bool, error) {
	res := s.conn(ctx).Model(&Invitation{}).
		Where("id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?", id, at).
		Updates(map[string]any{"accepted_at": at, "accepted_by": userID})
	return res.RowsAffected > 0, wrap("accept invitation", res.Error)
}

// InsertPasswordReset stores a new password reset.
func (s *Store) InsertPasswordReset(ctx context.Context, r *PasswordReset) error {
	return insert(ctx, s, "insert password reset", r)
}

// PasswordResetByDigest finds a password reset by its link's token digest.
func (s *Store) PasswordResetByDigest(ctx context.Context, digest []byte) (PasswordReset, error) {
	return first[PasswordReset](ctx, s, "password reset by digest", "digest = ?", digest)
}

// MarkPasswordResetUsed uses up an unused, unexpired reset; false when it was not.
func (s *Store) MarkPasswordResetUsed(ctx context.Context, id string, at time.Time) (bool, error) {
	res := s.conn(ctx).Model(&PasswordReset{}).
		Where("id = ? AND used_at IS NULL AND expires_at > ?", id, at).Update("used_at", at)
	return res.RowsAffected > 0, wrap("use password reset", res.Error)
}

// ExpirePasswordResets uses up every pending reset of a user (a new one
// replaces them).
func (s *Store) ExpirePasswordResets(ctx context.Context, userID string, at time.Time) error {
	err := s.conn(ctx).Model(&PasswordReset{}).Where("user_id = ? AND used_at IS NULL", userID).Update("used_at", at).Error
	return wrap("expire password resets", err)
}
