package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Page asks for at most Limit rows after the row with id After (newest first
// unless Ascending).
// Ids are UUIDv7, so ordering by id is ordering by creation time.
type Page struct {
	After string
	Limit int
	// Ascending lists oldest first.
	Ascending bool
}

// apply adds keyset pagination to q and fetches one row more than asked, so the
// caller can tell whether another page follows.
func (p Page) apply(q *gorm.DB, idColumn string) *gorm.DB {
	// The column name and direction are constants of this package, never input.
	op, dir := " < ?", " DESC"
	if p.Ascending {
		op, dir = " > ?", " ASC"
	}
	if p.After != "" {
		q = q.Where(idColumn+op, p.After)
	}
	return q.Order(idColumn + dir).Limit(p.Limit + 1)
}

// trim cuts the extra row fetched by apply and reports whether it existed.
func trim[T any](rows []T, p Page) ([]T, bool) {
	if len(rows) > p.Limit {
		return rows[:p.Limit], true
	}
	return rows, false
}

// first fetches one record matching the conditions.
func first[T any](ctx context.Context, s *Store, op string, query string, args ...any) (T, error) {
	var rec T
	err := s.conn(ctx).Where(query, args...).Take(&rec).Error
	return rec, wrap(op, err)
}

// insert creates rec without touching its associations.
func insert(ctx context.Context, s *Store, op string, rec any) error {
	return wrap(op, s.conn(ctx).Omit(clause.Associations).Create(rec).Error)
}

// InsertOrganization stores a new organization.
func (s *Store) InsertOrganization(ctx context.Context, o *Organization) error {
	return insert(ctx, s, "insert organization", o)
}

// OrganizationByID looks an organization up by id.
func (s *Store) OrganizationByID(ctx context.Context, id string) (Organization, error) {
	return first[Organization](ctx, s, "organization by id", "id = ?", id)
}

// OrganizationBySlug looks an organization up by slug.
func (s *Store) OrganizationBySlug(ctx context.Context, slug string) (Organization, error) {
	return first[Organization](ctx, s, "organization by slug", "slug = ?", slug)
}

// OrganizationsByIDs returns the organizations with the given ids, keyed by id.
func (s *Store) OrganizationsByIDs(ctx context.Context, ids []string) (map[string]Organization, error) {
	out := make(map[string]Organization, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var orgs []Organization
	if err := s.conn(ctx).Where("id IN ?", ids).Find(&orgs).Error; err != nil {
		return nil, wrap("organizations by ids", err)
	}
	for _, o := range orgs {
		out[o.ID] = o
	}
	return out, nil
}

// CountOrganizations counts all organizations.
func (s *Store) CountOrganizations(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&Organization{}).Count(&n).Error
	return n, wrap("count organizations", err)
}

// InsertUser stores a new user.
func (s *Store) InsertUser(ctx context.Context, u *User) error {
	return insert(ctx, s, "insert user", u)
}

// UserByEmail looks a user up by (lower-cased) email.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	return first[User](ctx, s, "user by email", "email = ?", email)
}

// UserByID looks a user up by id.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	return first[User](ctx, s, "user by id", "id = ?", id)
}

// UsersByIDs returns the users with the given ids, keyed by id.
func (s *Store) UsersByIDs(ctx context.Context, ids []string) (map[string]User, error) {
	out := make(map[string]User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var users []User
	if err := s.conn(ctx).Where("id IN ?", ids).Find(&users).Error; err != nil {
		return nil, wrap("users by ids", err)
	}
	for _, u := range users {
		out[u.ID] = u
	}
	return out, nil
}

// InsertMembership stores a new membership.
func (s *Store) InsertMembership(ctx context.Context, m *Membership) error {
	return insert(ctx, s, "insert membership", m)
}

// MembershipByOrgUser returns the membership of a user in an organization.
func (s *Store) MembershipByOrgUser(ctx context.Context, orgID, userID string) (Membership, error) {
	return first[Membership](ctx, s, "membership by org and user", "org_id = ? AND user_id = ?", orgID, userID)
}

// UpdateMembershipRole sets a member's role.
func (s *Store) UpdateMembershipRole(ctx context.Context, orgID, userID, role string, at time.Time) error {
	res := s.conn(ctx).Model(&Membership{}).Where("org_id = ? AND user_id = ?", orgID, userID).
		Updates(map[string]any{"role": role, "updated_at": at})
	if res.Error == nil && res.RowsAffected == 0 {
		return wrap("update membership role", ErrNotFound)
	}
	return wrap("update membership role", res.Error)
}

// DeleteMembership removes a user from an organization.
func (s *Store) DeleteMembership(ctx context.Context, orgID, userID string) error {
	res := s.conn(ctx).Where("org_id = ? AND user_id = ?", orgID, userID).Delete(&Membership{})
	if res.Error == nil && res.RowsAffected == 0 {
		return wrap("delete membership", ErrNotFound)
	}
	return wrap("delete membership", res.Error)
}

// CountMembersWithRole counts an organization's members holding role.
func (s *Store) CountMembersWithRole(ctx context.Context, orgID, role string) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&Membership{}).Where("org_id = ? AND role = ?", orgID, role).Count(&n).Error
	return n, wrap("count members with role", err)
}

// MembershipsByUser lists every membership of a user.
func (s *Store) MembershipsByUser(ctx context.Context, userID string) ([]Membership, error) {
	var ms []Membership
	err := s.conn(ctx).Where("user_id = ?", userID).Order("id").Find(&ms).Error
	return ms, wrap("memberships by user", err)
}

// ListMemberships pages through an organization's memberships, newest first.
func (s *Store) ListMemberships(ctx context.Context, orgID string, p Page) ([]Membership, bool, error) {
	var ms []Membership
	err := p.apply(s.conn(ctx).Where("org_id = ?", orgID), "id").Find(&ms).Error
	if err != nil {
		return nil, false, wrap("list memberships", err)
	}
	ms, more := trim(ms, p)
	return ms, more, nil
}

// InsertAPIKey stores a new API key.
func (s *Store) InsertAPIKey(ctx context.Context, k *APIKey) error {
	return insert(ctx, s, "insert api key", k)
}

// APIKeyByID returns an organization's key by id.
func (s *Store) APIKeyByID(ctx context.Context, orgID, id string) (APIKey, error) {
	return first[APIKey](ctx, s, "api key by id", "org_id = ? AND id = ?", orgID, id)
}

// CredentialFilter selects an organization's credentials for a listing.
type CredentialFilter struct {
	OrgID string
	// UserID, when set, keeps only that user's credentials.
	UserID         string
	IncludeRevoked bool
	Page           Page
}

// where applies the filter's conditions to q.
func (f CredentialFilter) where(q *gorm.DB) *gorm.DB {
	q = q.Where("org_id = ?", f.OrgID)
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if !f.IncludeRevoked {
		q = q.Where("revoked_at IS NULL")
	}
	return f.Page.apply(q, "id")
}

// ListAPIKeys pages through the keys the filter selects, newest first.
func (s *Store) ListAPIKeys(ctx context.Context, f CredentialFilter) ([]APIKey, bool, error) {
	var keys []APIKey
	if err := f.where(s.conn(ctx)).Find(&keys).Error; err != nil {
		return nil, false, wrap("list api keys", err)
	}
	keys, more := trim(keys, f.Page)
	return keys, more, nil
}

// MarkAPIKeyRevoked sets revoked_at on a key that is not yet revoked. It reports
// whether a row changed (false: unknown or already revoked).
func (s *Store) MarkAPIKeyRevoked(ctx context.Context, orgID, id string, at time.Time) (bool, error) {
	res := s.conn(ctx).Model(&APIKey{}).
		Where("org_id = ? AND id = ? AND revoked_at IS NULL", orgID, id).
		Update("revoked_at", at)
	return res.RowsAffected > 0, wrap("mark api key revoked", res.Error)
}

// KeyCredential is what authentication needs to know about a presented key: the
// key itself and its creator's current role in the key's organization ("" when the
// creator is no longer a member).
type KeyCredential struct {
	ID         string
	OrgID      string
	UserID     string
	Digest     []byte
	Scopes     string
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
	Role       string
}

// keyCredentialQuery selects a key with its creator's current role; the caller
// adds the WHERE clause.
const keyCredentialQuery = `SELECT k.id, k.org_id, k.user_id, k.digest, k.scopes, k.expires_at, k.revoked_at,
		k.last_used_at, COALESCE(m.role, '') AS role
		FROM api_keys k LEFT JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.user_id
		WHERE `

// APIKeyCredentialByDigest finds the key with this digest and its creator's role,
// in one indexed query.
func (s *Store) APIKeyCredentialByDigest(ctx context.Context, digest []byte) (KeyCredential, error) {
	return scanOne[KeyCredential](ctx, s, "api key by digest", keyCredentialQuery+"k.digest = ?", digest)
}

// APIKeyCredentialByID finds a key by record id with its creator's role (to
// admit its bearer again inside a change).
func (s *Store) APIKeyCredentialByID(ctx context.Context, id string) (KeyCredential, error) {
	return scanOne[KeyCredential](ctx, s, "api key by id", keyCredentialQuery+"k.id = ?", id)
}

// scanOne runs a raw query expected to return one row; no row is ErrNotFound.
func scanOne[T any](ctx context.Context, s *Store, op, query string, args ...any) (T, error) {
	var out T
	res := s.conn(ctx).Raw(query, args...).Scan(&out)
	if res.Error == nil && res.RowsAffected == 0 {
		return out, wrap(op, ErrNotFound)
	}
	return out, wrap(op, res.Error)
}

// TouchAPIKey records a use of the key, at most once per interval so that hot keys
// do not turn every request into a write.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time, interval time.Duration) error {
	err := s.conn(ctx).Model(&APIKey{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, at.Add(-interval)).
		Update("last_used_at", at).Error
	return wrap("touch api key", err)
}

// InsertAuditEvent appends an audit entry.
func (s *Store) InsertAuditEvent(ctx context.Context, e *AuditEvent) error {
	return insert(ctx, s, "insert audit event", e)
}

// ListAuditEvents pages through an organization's audit log, newest first.
func (s *Store) ListAuditEvents(ctx context.Context, orgID string, p Page) ([]AuditEvent, bool, error) {
	var es []AuditEvent
	if err := p.apply(s.conn(ctx).Where("org_id = ?", orgID), "id").Find(&es).Error; err != nil {
		return nil, false, wrap("list audit events", err)
	}
	es, more := trim(es, p)
	return es, more, nil
}

// LockMode is how strongly a transaction locks an organization.
type LockMode int

// The lock modes. Every change in an organization takes its organization lock
// first (one lock order for both stores: organization, then membership, then
// the rows changed): a change that can revoke or narrow authority
// (revocations, role changes, removals) takes it exclusively, every other
// change shared. So a change and a revocation that could affect its actor never
// overlap: one commits before the other starts.
const (
	LockShared LockMode = iota
	LockExclusive
)

// LockOrganization takes the organization's lock for the rest of the
// transaction. On PostgreSQL it is a transaction-level advisory lock keyed by the
// organization, not a row lock: row share locks let new sharers in ahead of a
// waiting exclusive locker, so a steady stream of changes could starve a
// revocation, while the lock manager queues advisory locks fairly. SQLite
// transactions are already serialized (BEGIN IMMEDIATE), so there it does
// nothing. It does not check that the organization exists: what the change
// reads next (the actor's membership, the organization itself) does.
func (s *Store) LockOrganization(ctx context.Context, orgID string, mode LockMode) error {
	return s.advisoryLock(ctx, "lock organization", "organization:"+orgID, mode)
}

// advisoryLock takes PostgreSQL's transaction-level advisory lock named name.
func (s *Store) advisoryLock(ctx context.Context, op, name string, mode LockMode) error {
	if s.dialect != Postgres {
		return nil
	}
	fn := "pg_advisory_xact_lock_shared"
	if mode == LockExclusive {
		fn = "pg_advisory_xact_lock"
	}
	return wrap(op, s.conn(ctx).Exec("SELECT "+fn+"(hashtextextended(?, 0))", name).Error)
}

// LockPerson takes a person's lock for the rest of the transaction, like
// LockOrganization (a fair advisory lock on PostgreSQL, nothing on SQLite). A
// session acts in one organization but is ended from any (a password change or
// reset, "sign out everywhere"), so a change made with a session holds its
// person shared, and ending sessions holds it exclusively: the organization lock
// alone would not order the two. Lock order: organization, membership, person.
func (s *Store) LockPerson(ctx context.Context, userID string, mode LockMode) error {
	return s.advisoryLock(ctx, "lock person", "person:"+userID, mode)
}

// LockMembership reads a user's membership of an organization with a row lock
// held to the end of the transaction, so that one person's changes (and the
// counts they check) run one at a time. ErrNotFound when they are not a member.
func (s *Store) LockMembership(ctx context.Context, orgID, userID string) (Membership, error) {
	q := s.conn(ctx).Where("org_id = ? AND user_id = ?", orgID, userID)
	if s.dialect == Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var m Membership
	return m, wrap("lock membership", q.Take(&m).Error)
}

// CountCredentialsCreatedSince counts the API keys and OAuth clients a user made
// in an organization at or after since, in one query.
func (s *Store) CountCredentialsCreatedSince(ctx context.Context, orgID, userID string, since time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Raw(`SELECT
		(SELECT count(*) FROM api_keys WHERE org_id = ? AND user_id = ? AND created_at >= ?) +
		(SELECT count(*) FROM oauth_clients WHERE org_id = ? AND user_id = ? AND created_at >= ?)`,
		orgID, userID, since, orgID, userID, since).Scan(&n).Error
	return n, wrap("count credentials created", err)
}

// CountActiveAPIKeys counts a user's keys in an organization that are neither
// revoked nor expired at now.
func (s *Store) CountActiveAPIKeys(ctx context.Context, orgID, userID string, now time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&APIKey{}).
		Where("org_id = ? AND user_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", orgID, userID, now).
		Count(&n).Error
	return n, wrap("count active api keys", err)
}

// CountActiveOAuthClients counts a user's clients in an organization that are
// not revoked.
func (s *Store) CountActiveOAuthClients(ctx context.Context, orgID, userID string) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&OAuthClient{}).Where("org_id = ? AND user_id = ? AND revoked_at IS NULL", orgID, userID).Count(&n).Error
	return n, wrap("count active oauth clients", err)
}

// RevokeUserCredentials revokes every active API key and OAuth client a user owns
// in an organization and reports how many of each.
func (s *Store) RevokeUserCredentials(ctx context.Context, orgID, userID string, at time.Time) (keys, clients int64, err error) {
	res := s.conn(ctx).Model(&APIKey{}).Where("org_id = ? AND user_id = ? AND revoked_at IS NULL", orgID, userID).Update("revoked_at", at)
	if res.Error != nil {
		return 0, 0, wrap("revoke user api keys", res.Error)
	}
	keys = res.RowsAffected
	res = s.conn(ctx).Model(&OAuthClient{}).Where("org_id = ? AND user_id = ? AND revoked_at IS NULL", orgID, userID).Update("revoked_at", at)
	if res.Error != nil {
		return 0, 0, wrap("revoke user oauth clients", res.Error)
	}
	return keys, res.RowsAffected, nil
}
