package auth

import (
	"context"
	"time"

	"github.com/pentographer/pentographer/store"
)

// This file holds the rules that API keys and OAuth clients share, so the two kinds
// of credential cannot drift apart.

// grantableScopes decides the scopes of a new credential. Without a request
// (nil) it gets everything the caller holds; an empty list is a credential with
// no scopes at all (identity only). Every requested scope must exist (else
// Invalid), be usable by the caller's role and held by the caller's own
// credential (else Forbidden): a credential can never mint a stronger one.
func (s *Service) grantableScopes(p *Principal, requested []string) (Scopes, error) {
	if requested == nil {
		return p.Scopes, nil
	}
	want := NewScopes(requested...)
	for _, sc := range want {
		if !s.scopes.Known(sc) {
			return nil, invalidField("scopes", "unknown scope %q", truncate(sc, 64))
		}
	}
	roleScopes := s.scopes.ForRole(p.Role)
	for _, sc := range want {
		if !roleScopes.Has(sc) {
			return nil, errorf(KindForbidden, "the %s role cannot grant the %s scope", p.Role, sc)
		}
		if !p.Scopes.Has(sc) {
			return nil, errorf(KindForbidden, "this credential cannot grant the %s scope it does not hold", sc)
		}
	}
	return want, nil
}

// credentialKind names the two kinds of credential for the creation limits.
type credentialKind int

const (
	kindAPIKey credentialKind = iota
	kindOAuthClient
)

// checkCreationLimits refuses a new credential past the creator's limits: at
// most limits.PerMinute new credentials (keys and clients together) in any
// minute, and at most MaxAPIKeys / MaxOAuthClients active ones. It runs in the
// door, where the creator's membership row is locked, so concurrent creations
// by one person are counted one after the other. Operators are not limited.
func (s *Service) checkCreationLimits(w *writeTx, owner *Principal, kind credentialKind) error {
	if w.actor.Method == MethodOperator {
		return nil
	}
	recent, err := w.tx.CountCredentialsCreatedSince(w.ctx, owner.OrgID, owner.UserID, w.now.Add(-time.Minute))
	if err != nil {
		return err
	}
	if recent >= int64(s.limits.PerMinute) {
		return errorf(KindRateLimited, "too many new credentials: at most %d a minute; try again in a minute", s.limits.PerMinute)
	}
	var active int64
	max, what := s.limits.MaxAPIKeys, "API keys"
	if kind == kindAPIKey {
		active, err = w.tx.CountActiveAPIKeys(w.ctx, owner.OrgID, owner.UserID, w.now)
	} else {
		max, what = s.limits.MaxOAuthClients, "OAuth clients"
		active, err = w.tx.CountActiveOAuthClients(w.ctx, owner.OrgID, owner.UserID)
	}
	if err != nil {
		return err
	}
	if active >= int64(max) {
		return errorf(KindLimitExceeded, "you already have %d active %s, the most one person may have; revoke one first", max, what)
	}
	return nil
}

// canManage is the visibility rule of SPEC §2: OWNER and ADMIN see and manage every
// credential of their organization, a MEMBER only their own.
func canManage(p *Principal, ownerUserID string) bool {
	return p.Role.AtLeast(RoleAdmin) || ownerUserID == p.UserID
}

// Visibility selects which credentials a listing shows.
type Visibility int

// The listings.
const (
	// OwnCredentials lists the caller's own credentials (viewer.apiKeys).
	OwnCredentials Visibility = iota
	// OrganizationCredentials lists all of the organization's (ADMIN and OWNER).
	OrganizationCredentials
)

// credentialFilter checks the caller may list what vis asks for and builds the
// store filter. readScope is keys:read or clients:read.
func credentialFilter(ctx context.Context, readScope string, vis Visibility, opts ListOptions) (store.CredentialFilter, error) {
	min := RoleMember
	if vis == OrganizationCredentials {
		min = RoleAdmin
	}
	p, err := require(ctx, readScope, min)
	if err != nil {
		return store.CredentialFilter{}, err
	}
	pg, err := opts.page()
	if err != nil {
		return store.CredentialFilter{}, err
	}
	f := store.CredentialFilter{OrgID: p.OrgID, IncludeRevoked: opts.IncludeRevoked, Page: pg}
	if vis == OwnCredentials {
		f.UserID = p.UserID
	}
	return f, nil
}

// listCredentials is the one listing of API keys and OAuth clients: the
// visibility filter, one page from the store, the owners in one query.
func listCredentials[R, T any](ctx context.Context, s *Service, readScope string, vis Visibility, opts ListOptions,
	list func(context.Context, store.CredentialFilter) ([]R, bool, error),
	owner func(R) string, convert func(R, User) T,
) (Page[T], error) {
	f, err := credentialFilter(ctx, readScope, vis, opts)
	if err != nil {
		return Page[T]{}, err
	}
	recs, more, err := list(ctx, f)
	if err != nil {
		return Page[T]{}, err
	}
	owners, err := ownersOf(ctx, s, recs, owner)
	if err != nil {
		return Page[T]{}, err
	}
	out := Page[T]{HasNextPage: more, Items: make([]T, len(recs))}
	for i, r := range recs {
		out.Items[i] = convert(r, owners[owner(r)])
	}
	return out, nil
}

// ownersOf loads the owners of a page of credentials in one query.
func ownersOf[T any](ctx context.Context, s *Service, items []T, userID func(T) string) (map[string]User, error) {
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, userID(it))
	}
	return s.usersByID(ctx, ids)
}

// manageCredential runs change through the door on a credential the actor may
// manage: load reads it and returns its owner (store.ErrNotFound when it is not
// in the actor's organization). Anything outside the actor's visibility is not
// found. change runs only when the credential is visible; the door forgets the
// credential from the authentication cache once the change commits.
func (s *Service) manageCredential(ctx context.Context, scope, id string,
	load func(w *writeTx) (ownerUserID string, err error),
	change func(w *writeTx) error,
) error {
	return s.write(ctx, writeOp{scope: scope, min: RoleMember, weakens: true}, func(w *writeTx) error {
		if !validID(id) {
			return errNotFound
		}
		owner, err := load(w)
		if isNotFound(err) || (err == nil && !canManage(w.actor, owner)) {
			return errNotFound
		}
		if err != nil {
			return err
		}
		w.invalidate(Invalidation{CredentialID: id})
		return change(w)
	})
}
