package auth

import (
	"context"
	"errors"
	"net/mail"
	"strings"

	"github.com/pentographer/pentographer/store"
)

// This file holds the operator's enrollment commands (the command line working
// on the store): bootstrap and members add.

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
		if hash, err = s.passwords.hash(ctx, s.pwCost, password); err != nil {
			return Enrollment{}, err
		}
	case err != nil:
		return Enrollment{}, err
	}
	out := Enrollment{Role: e.role, Password: password}
	err = s.commit(ctx, "", store.LockShared, func(w *writeTx) error {
		tx, ctx := w.tx, w.ctx
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
			org = store.Organization{ID: newID(), Slug: Slugify(e.orgName), Name: e.orgName, CreatedAt: w.now}
			if err := tx.InsertOrganization(ctx, &org); errors.Is(err, store.ErrConflict) {
				return errorf(KindConflict, "an organization with the slug %q exists already", org.Slug)
			} else if err != nil {
				return err
			}
			w.audit(auditEntry{orgID: org.ID, action: ActionOrganizationCreated,
				targetType: "organization", targetID: org.ID, detail: "name=" + quoteDetail(org.Name)})
		}
		user := existing
		if hash != "" {
			user = store.User{ID: newID(), Email: email, Name: "", PasswordHash: hash, CreatedAt: w.now}
			if err := tx.InsertUser(ctx, &user); err != nil {
				return err
			}
		}
		m := store.Membership{ID: newID(), OrgID: org.ID, UserID: user.ID, Role: e.role.String(), CreatedAt: w.now, UpdatedAt: w.now}
		if err := tx.InsertMembership(ctx, &m); errors.Is(err, store.ErrConflict) {
			return errorf(KindConflict, "%s is already a member of %s", email, org.Slug)
		} else if err != nil {
			return err
		}
		w.audit(auditEntry{orgID: org.ID, action: ActionMemberAdded,
			targetType: "user", targetID: user.ID, detail: "role=" + e.role.String()})
		holder := &Principal{UserID: user.ID, OrgID: org.ID, Role: e.role, Scopes: s.scopes.ForRole(e.role), Method: MethodOperator}
		_, secret, err := s.insertAPIKey(w, holder, CreateAPIKeyInput{Name: "Issued by pentographer " + enrollCommand(e)})
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
