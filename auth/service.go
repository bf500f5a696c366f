package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pentographer/pentographer/store"
)

// Options configure a Service.
type Options struct {
	// Catalog lists the supported scopes (nil: the built-in ones).
	Catalog *Catalog
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger receives security-relevant events; never a secret.
	Logger *slog.Logger
	// PasswordCost is the argon2id cost of new password hashes (zero: default).
	PasswordCost PasswordCost
	// Tokens shapes access tokens; Issuer and Audience default to placeholders
	// that only tests should rely on.
	Tokens TokenConfig
	// KeyRefresh is how often signing keys are re-read (0: DefaultKeyRefresh).
	KeyRefresh time.Duration
	// CacheTTL bounds how long a verified credential is reused without a store
	// lookup (0: DefaultCacheTTL; negative: no cache).
	CacheTTL time.Duration
}

// Service holds the rules of who may do what. GraphQL resolvers, REST handlers and
// the command line all call its methods; none of them re-implements a rule.
type Service struct {
	store      *store.Store
	scopes     *Catalog
	now        func() time.Time
	log        *slog.Logger
	pwCost     PasswordCost
	cache      *principalCache
	tokens     TokenConfig
	keys       keyring
	keyRefresh time.Duration
}

// NewService builds the service over st.
func NewService(st *store.Store, opts Options) *Service {
	s := &Service{store: st, scopes: opts.Catalog, now: opts.Now, log: opts.Logger, pwCost: opts.PasswordCost}
	s.tokens = opts.Tokens
	if s.tokens.TTL == 0 {
		s.tokens.TTL = DefaultTokenTTL
	}
	if s.tokens.Alg == "" {
		s.tokens.Alg = "ES256"
	}
	if s.tokens.Issuer == "" {
		s.tokens.Issuer = "http://localhost:8080"
	}
	if s.tokens.Audience == "" {
		s.tokens.Audience = s.tokens.Issuer + "/graphql"
	}
	s.keyRefresh = opts.KeyRefresh
	if s.keyRefresh <= 0 {
		s.keyRefresh = DefaultKeyRefresh
	}
	ttl := opts.CacheTTL
	if ttl == 0 {
		ttl = DefaultCacheTTL
	}
	s.cache = newPrincipalCache(ttl)
	if s.pwCost == (PasswordCost{}) {
		s.pwCost = DefaultPasswordCost
	}
	if s.scopes == nil {
		s.scopes, _ = NewCatalog(nil)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Tokens returns the access token configuration.
func (s *Service) Tokens() TokenConfig { return s.tokens }

// Scopes returns the deployment's scope catalog.
func (s *Service) Scopes() *Catalog { return s.scopes }

// clock returns the current time in UTC, truncated to microseconds so that it
// survives a round trip through either database unchanged.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// credentialsChanged must be called after every committed change that can revoke
// a credential or narrow what it may do, so that no later request is served from
// the authentication cache.
func (s *Service) credentialsChanged() { s.cache.invalidate() }

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

// require returns the caller if it holds scope and at least role min.
func require(ctx context.Context, scope string, min Role) (*Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Role.AtLeast(min) {
		return nil, errorf(KindForbidden, "this needs the %s role", min)
	}
	if scope != "" && !p.Can(scope) {
		return nil, errorf(KindForbidden, "this credential lacks the %s scope", scope)
	}
	return p, nil
}

// MaxNameLength is the longest name, in characters, a credential may have.
const MaxNameLength = 100

// validName accepts any printable text up to MaxNameLength characters, verbatim,
// and refuses blank names, control characters and bidirectional overrides (which
// can make a name display as something else).
func validName(field, name string) error {
	if strings.TrimSpace(name) == "" {
		return invalidField(field, "%s must not be empty", field)
	}
	if !utf8.ValidString(name) {
		return invalidField(field, "%s must be valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(name); n > MaxNameLength {
		return invalidField(field, "%s must be at most %d characters (got %d)", field, MaxNameLength, n)
	}
	for _, r := range name {
		if unicode.IsControl(r) || isBidiControl(r) || r == '\uFEFF' || r == '\u2028' || r == '\u2029' {
			return invalidField(field, "%s must not contain control or bidirectional formatting characters", field)
		}
	}
	return nil
}

func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069') ||
		r == '\u200E' || r == '\u200F' || r == '\u061C'
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
