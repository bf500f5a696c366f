package auth

import (
	"context"

	"github.com/pentographer/pentographer/store"
)

// This file holds the rules that API keys and OAuth clients share, so the two kinds
// of credential cannot drift apart.

// grantableScopes decides the scopes of a new credential. Without a request it gets
// everything the caller holds; with one, every scope must exist (else Invalid), be
// usable by the caller's role and held by the caller's own credential (else
// Forbidden): a credential can never mint a stronger one.
func (s *Service) grantableScopes(p *Principal, requested []string) (Scopes, error) {
	if len(requested) == 0 {
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

// manageCredential runs change, in one transaction, on a credential the caller
// may manage: load returns the credential's owner (store.ErrNotFound when it is
// not in the caller's organization). Anything outside the caller's visibility is
// not found. After a successful change the authentication cache is invalidated,
// so the next request sees it.
func (s *Service) manageCredential(ctx context.Context, scope, id string,
	load func(tx *store.Store, p *Principal) (ownerUserID string, err error),
	change func(tx *store.Store, p *Principal) error,
) error {
	p, err := require(ctx, scope, RoleMember)
	if err != nil {
		return err
	}
	if !validID(id) {
		return errNotFound
	}
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		owner, err := load(tx, p)
		if isNotFound(err) || (err == nil && !canManage(p, owner)) {
			return errNotFound
		}
		if err != nil {
			return err
		}
		return change(tx, p)
	})
	if err != nil {
		return err
	}
	s.credentialsChanged()
	return nil
}
