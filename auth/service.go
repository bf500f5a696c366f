package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pentographer/pentographer/internal/failures"
	"github.com/pentographer/pentographer/store"
)

// Service holds the rules of who may do what. GraphQL resolvers, REST handlers and
// the command line all call its methods; none of them re-implements a rule. Every
// change goes through one door (write.go).
type Service struct {
	store  *store.Store
	authn  *Authenticator
	keys   *Keyring
	scopes *Catalog
	now    func() time.Time
	log    *slog.Logger
	pwCost PasswordCost
	// passwords bounds the argon2id work running at once.
	passwords *passwordWork
	// passwordFailures counts wrong current passwords (ChangePassword).
	passwordFailures *failures.Limiter
	tokens           TokenConfig
	limits           CreationLimits
	// publicURL is the base of the links the service makes.
	publicURL string
	// dummy is a password hash of the current cost, compared against when an
	// email is unknown so that it costs what a wrong password costs.
	dummy     func() string
	sessionIn sessionTimes
}

// NewService builds the service, and its Authenticator, over st.
func NewService(st *store.Store, opts Options) *Service {
	o := opts.withDefaults()
	keys := newKeyring(st, o)
	return &Service{
		store: st, authn: newAuthenticator(st, keys, o), keys: keys, scopes: o.Catalog,
		now: o.Now, log: o.Logger, pwCost: o.PasswordCost, tokens: o.Tokens, limits: o.Limits,
		publicURL: strings.TrimRight(o.PublicURL, "/"),
		passwords: newPasswordWork(), passwordFailures: failures.New(passwordFailureWindow),
		dummy: sync.OnceValue(func() string {
			h, _ := o.PasswordCost.hash("not anyone's password")
			return h
		}),
		sessionIn: sessionTimes{idle: o.SessionIdle, lifetime: o.SessionLifetime},
	}
}

// Authenticator returns the bearer resolver that shares this service's cache
// and keys.
func (s *Service) Authenticator() *Authenticator { return s.authn }

// Tokens returns the access token configuration.
func (s *Service) Tokens() TokenConfig { return s.tokens }

// Scopes returns the deployment's scope catalog.
func (s *Service) Scopes() *Catalog { return s.scopes }

// clock returns the current time in UTC, truncated to microseconds so that it
// survives a round trip through either database unchanged.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// newID returns a random, time-ordered record id (UUIDv7).
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// caller returns the principal of ctx, or ErrUnauthenticated.
func caller(ctx context.Context) (*Principal, error) {
	p := PrincipalFrom(ctx)
	if p == nil {
		return nil, ErrUnauthenticated
	}
	return p, nil
}

// require returns the caller if it holds scope and at least role min. Reads
// use it; changes are authorized again inside the door.
func require(ctx context.Context, scope string, min Role) (*Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return p, authorize(p, scope, min)
}

// ListOptions are the arguments of a paginated listing.
type ListOptions struct {
	First          int
	After          string
	IncludeRevoked bool
	// OldestFirst reverses the default newest-first order.
	OldestFirst bool
}

// DefaultPageSize and MaxPageSize bound the page size of every listing.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// page turns list options into a store page, validating the cursor.
func (o ListOptions) page() (store.Page, error) {
	p := store.Page{Limit: o.First, Ascending: o.OldestFirst}
	switch {
	case o.First == 0:
		p.Limit = DefaultPageSize
	case o.First < 0 || o.First > MaxPageSize:
		return p, invalidField("first", "first must be between 1 and %d", MaxPageSize)
	}
	if o.After != "" {
		id, err := decodeCursor(o.After)
		if err != nil {
			return p, invalidField("after", "after is not a cursor returned by this API")
		}
		p.After = id
	}
	return p, nil
}

// Page is one page of a listing.
type Page[T any] struct {
	Items       []T
	HasNextPage bool
}

// Cursor returns the opaque cursor of the record with this id.
func Cursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + id))
}

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", err
	}
	id, ok := strings.CutPrefix(string(b), "v1:")
	if !ok {
		return "", errors.New("bad cursor")
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", err
	}
	return id, nil
}

// validID reports whether id has the shape of a record id; anything else is
// answered as not found without a query.
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// CredentialStatus is the lifecycle state of an API key or OAuth client.
type CredentialStatus string

// The credential states.
const (
	StatusActive  CredentialStatus = "ACTIVE"
	StatusExpired CredentialStatus = "EXPIRED"
	StatusRevoked CredentialStatus = "REVOKED"
)

func credentialStatus(now time.Time, expiresAt, revokedAt *time.Time) CredentialStatus {
	switch {
	case revokedAt != nil:
		return StatusRevoked
	case expiresAt != nil && !now.Before(*expiresAt):
		return StatusExpired
	}
	return StatusActive
}

// User is a person as the API shows them.
type User struct {
	ID    string
	Email string
	Name  string
}

func userFrom(u store.User) User { return User{ID: u.ID, Email: u.Email, Name: u.Name} }

// Organization is a workspace as the API shows it.
type Organization struct {
	ID   string
	Slug string
	Name string
}

func orgFrom(o store.Organization) Organization {
	return Organization{ID: o.ID, Slug: o.Slug, Name: o.Name}
}

// userByID loads one user as the API shows them.
func (s *Service) userByID(ctx context.Context, id string) (User, error) {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return User{}, err
	}
	return userFrom(u), nil
}

// usersByID loads the users with these ids (the owners of a page of credentials)
// in one query.
func (s *Service) usersByID(ctx context.Context, ids []string) (map[string]User, error) {
	recs, err := s.store.UsersByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]User, len(recs))
	for id, u := range recs {
		out[id] = userFrom(u)
	}
	return out, nil
}

// isNotFound reports whether err is the store's not-found error.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
