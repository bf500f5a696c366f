package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
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

// targetMembership loads the membership the caller wants to change, enforcing the
// rules every membership change shares: ADMIN at least, members:write, and only an
// OWNER touches an OWNER. Outside the organization is not found.
func (s *Service) targetMembership(ctx context.Context, tx *store.Store, p *Principal, userID string) (store.Membership, error) {
	if !validID(userID) {
		return store.Membership{}, errNotFound
	}
	m, err := tx.MembershipByOrgUser(ctx, p.OrgID, userID)
	if isNotFound(err) {
		return m, errNotFound
	}
	if err != nil {
		return m, err
	}
	if roleFromStore(m.Role) == RoleOwner && p.Role != RoleOwner {
		return m, errorf(KindForbidden, "only an OWNER can change or remove an OWNER")
	}
	return m, nil
}

// ensureAnotherOwner refuses a change that would leave the organization without
// an OWNER.
func ensureAnotherOwner(ctx context.Context, tx *store.Store, orgID string) error {
	n, err := tx.CountMembersWithRole(ctx, orgID, RoleOwner.String())
	if err != nil {
		return err
	}
	if n <= 1 {
		return errorf(KindConflict, "the last OWNER cannot leave or be demoted; make someone else OWNER first")
	}
	return nil
}

// UpdateMemberRole changes a member's role. ADMIN and OWNER may change roles; only
// an OWNER grants or removes OWNER; the last OWNER keeps the role. Credentials of
// the member act with the new role from the next request on.
func (s *Service) UpdateMemberRole(ctx context.Context, userID string, role Role) (Member, error) {
	p, err := require(ctx, ScopeMembersWrite, RoleAdmin)
	if err != nil {
		return Member{}, err
	}
	if !role.Valid() {
		return Member{}, invalidField("role", "unknown role")
	}
	if role == RoleOwner && p.Role != RoleOwner {
		return Member{}, errorf(KindForbidden, "only an OWNER can grant OWNER")
	}
	var m store.Membership
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.LockOrganization(ctx, p.OrgID); err != nil {
			return err
		}
		var err error
		if m, err = s.targetMembership(ctx, tx, p, userID); err != nil {
			return err
		}
		old := roleFromStore(m.Role)
		if old == role {
			return nil
		}
		if old == RoleOwner {
			if err := ensureAnotherOwner(ctx, tx, p.OrgID); err != nil {
				return err
			}
		}
		if err := tx.UpdateMembershipRole(ctx, p.OrgID, userID, role.String(), s.clock()); err != nil {
			return err
		}
		m.Role = role.String()
		return s.record(ctx, tx, p, auditEntry{
			orgID: p.OrgID, action: ActionMemberRoleChanged, targetType: "user", targetID: userID,
			detail: "from=" + old.String() + " to=" + role.String(),
		})
	})
	if err != nil {
		return Member{}, err
	}
	s.credentialsChanged()
	return s.member(ctx, m)
}

// RemoveMember removes a person from the caller's organization: ADMIN and OWNER
// with members:write (only an OWNER removes an OWNER), or the person themselves
// from a signed-in session. The last OWNER cannot leave. Every API key and OAuth
// client they own in the organization is revoked in the same transaction, so
// nothing of theirs wakes up if they are added again.
func (s *Service) RemoveMember(ctx context.Context, userID string) (Member, error) {
	p, err := caller(ctx)
	if err != nil {
		return Member{}, err
	}
	// Leaving is a person's own decision: a credential, which may have leaked,
	// cannot make its creator leave.
	if userID != p.UserID || p.Method != MethodSession {
		if p, err = require(ctx, ScopeMembersWrite, RoleAdmin); err != nil {
			return Member{}, err
		}
	}
	var m store.Membership
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.LockOrganization(ctx, p.OrgID); err != nil {
			return err
		}
		var err error
		if m, err = s.targetMembership(ctx, tx, p, userID); err != nil {
			return err
		}
		if roleFromStore(m.Role) == RoleOwner {
			if err := ensureAnotherOwner(ctx, tx, p.OrgID); err != nil {
				return err
			}
		}
		if err := tx.DeleteMembership(ctx, p.OrgID, userID); err != nil {
			return err
		}
		keys, clients, err := tx.RevokeUserCredentials(ctx, p.OrgID, userID, s.clock())
		if err != nil {
			return err
		}
		return s.record(ctx, tx, p, auditEntry{
			orgID: p.OrgID, action: ActionMemberRemoved, targetType: "user", targetID: userID,
			detail: fmt.Sprintf("role=%s revoked_api_keys=%d revoked_oauth_clients=%d", roleFromStore(m.Role), keys, clients),
		})
	})
	if err != nil {
		return Member{}, err
	}
	s.credentialsChanged()
	return s.member(ctx, m)
}

func (s *Service) member(ctx context.Context, m store.Membership) (Member, error) {
	u, err := s.store.UserByID(ctx, m.UserID)
	if err != nil {
		return Member{}, err
	}
	return Member{ID: m.ID, User: userFrom(u), Role: roleFromStore(m.Role), JoinedAt: m.CreatedAt}, nil
}

// Enrollment is what an operator command prints for a person it enrolled: the only
// copies of their first password (empty for a user who already existed) and of
// an API key.
type Enrollment struct {
	Organization Organization
	User         User
	Role         Role
	Password     string
	APIKey       string
}

// NormalizeEmail lower-cases and checks an email address.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || len(e) > 320 {
		return "", invalidField("email", "%q is not a valid email address", truncate(email, 320))
	}
	return e, nil
}

// Bootstrap creates an organization with an OWNER (a new user unless the email is
// known) and an API key for them, in one transaction. Operator only.
func (s *Service) Bootstrap(ctx context.Context, orgName, email string) (Enrollment, error) {
	return s.enroll(ctx, enrollment{orgName: orgName, email: email, role: RoleOwner})
}

// BootstrapIfEmpty runs Bootstrap only when the store has no organization yet; it
// returns nil when there was nothing to do.
func (s *Service) BootstrapIfEmpty(ctx context.Context, orgName, email string) (*Enrollment, error) {
	n, err := s.store.CountOrganizations(ctx)
	if err != nil || n > 0 {
		return nil, err
	}
	e, err := s.enroll(ctx, enrollment{orgName: orgName, email: email, role: RoleOwner, onlyIfEmpty: true})
	// Another replica starting at the same moment won the race (on PostgreSQL
	// both may see an empty store; the unique slug or email stops the second).
	if errors.Is(err, errAlreadyBootstrapped) || KindOf(err) == KindConflict || errors.Is(err, store.ErrConflict) {
		return nil, nil
	}
	return &e, err
}

// AddMember adds a person (created when new) to an existing organization with a
// role and an API key. Operator only.
func (s *Service) AddMember(ctx context.Context, orgSlug, email string, role Role) (Enrollment, error) {
	if !role.Valid() {
		return Enrollment{}, invalidField("role", "unknown role")
	}
	return s.enroll(ctx, enrollment{orgSlug: orgSlug, email: email, role: role})
}

var errAlreadyBootstrapped = errors.New("auth: store already has an organization")

type enrollment struct {
	orgName     string // a new organization, or
	orgSlug     string // an existing one
	email       string
	role        Role
	onlyIfEmpty bool
}

func (s *Service) enroll(ctx context.Context, e enrollment) (Enrollment, error) {
	email, err := NormalizeEmail(e.email)
	if err != nil {
		return Enrollment{}, err
	}
	// Hash outside the transaction: argon2id is deliberately slow.
	var password, hash string
	existing, err := s.store.UserByEmail(ctx, email)
	switch {
	case isNotFound(err):
		if password, err = newPassword(); err != nil {
			return Enrollment{}, err
		}
		if hash, err = s.pwCost.hash(password); err != nil {
			return Enrollment{}, err
		}
	case err != nil:
		return Enrollment{}, err
	}
	out := Enrollment{Role: e.role, Password: password}
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		now := s.clock()
		operator := &Principal{Method: MethodOperator, Role: RoleOwner}
		var org store.Organization
		if e.orgSlug != "" {
			var err error
			if org, err = tx.OrganizationBySlug(ctx, e.orgSlug); isNotFound(err) {
				return invalidField("org", "no organization has the slug %q", truncate(e.orgSlug, 64))
			} else if err != nil {
				return err
			}
		} else {
			if err := validName("org", e.orgName); err != nil {
				return err
			}
			if e.onlyIfEmpty {
				if n, err := tx.CountOrganizations(ctx); err != nil || n > 0 {
					return errors.Join(err, errAlreadyBootstrapped)
				}
			}
			org = store.Organization{ID: newID(), Slug: Slugify(e.orgName), Name: e.orgName, CreatedAt: now}
			if err := tx.InsertOrganization(ctx, &org); errors.Is(err, store.ErrConflict) {
				return errorf(KindConflict, "an organization with the slug %q exists already", org.Slug)
			} else if err != nil {
				return err
			}
			if err := s.record(ctx, tx, operator, auditEntry{orgID: org.ID, action: ActionOrganizationCreated,
				targetType: "organization", targetID: org.ID, detail: "name=" + quoteDetail(org.Name)}); err != nil {
				return err
			}
		}
		user := existing
		if hash != "" {
			user = store.User{ID: newID(), Email: email, Name: "", PasswordHash: hash, CreatedAt: now}
			if err := tx.InsertUser(ctx, &user); err != nil {
				return err
			}
		}
		m := store.Membership{ID: newID(), OrgID: org.ID, UserID: user.ID, Role: e.role.String(), CreatedAt: now, UpdatedAt: now}
		if err := tx.InsertMembership(ctx, &m); errors.Is(err, store.ErrConflict) {
			return errorf(KindConflict, "%s is already a member of %s", email, org.Slug)
		} else if err != nil {
			return err
		}
		if err := s.record(ctx, tx, operator, auditEntry{orgID: org.ID, action: ActionMemberAdded,
			targetType: "user", targetID: user.ID, detail: "role=" + e.role.String()}); err != nil {
			return err
		}
		holder := &Principal{UserID: user.ID, OrgID: org.ID, Role: e.role, Scopes: s.scopes.ForRole(e.role), Method: MethodOperator}
		_, secret, err := s.insertAPIKey(ctx, tx, holder, CreateAPIKeyInput{Name: "Issued by pentographer " + enrollCommand(e)})
		out.Organization, out.User, out.APIKey = orgFrom(org), userFrom(user), secret
		return err
	})
	if err != nil {
		return Enrollment{}, err
	}
	return out, nil
}

func enrollCommand(e enrollment) string {
	if e.orgSlug != "" {
		return "members add"
	}
	return "bootstrap"
}

// Slugify derives a URL-safe slug from an organization name.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	slug := b.String()
	if len(slug) > 48 {
		slug = slug[:48]
	}
	slug = strings.Trim(slug, "-")
	if slug == "" {
		slug = "org"
	}
	return slug
}
