package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"

	"github.com/pentographer/pentographer/store"
)

// ErrNoCredential means the request carried no bearer credential at all (RFC 6750
// §3.1: the challenge then names no error code).
var ErrNoCredential = &Error{Kind: KindUnauthenticated, Message: "a bearer credential is required"}

// Messages of the invalid_token answers. Unknown and revoked credentials share
// one, so an answer never tells whether a credential ever existed.
const (
	msgMalformed = "the bearer credential is malformed"
	msgUnknown   = "the credential is unknown or revoked"
	msgExpired   = "the credential has expired"
)

// invalidToken is an authentication failure with a safe description.
func invalidToken(desc string) *Error { return &Error{Kind: KindUnauthenticated, Message: desc} }

// maxAuthorizationLength bounds the Authorization header we even look at; every
// real credential is far shorter.
const maxAuthorizationLength = 4096

// lastUsedInterval is how often a credential's last_used_at is written at most.
const lastUsedInterval = time.Minute

// Authenticator turns presented credentials into Principals: the one bearer
// resolver of the server (API keys and access tokens), OAuth client
// authentication, and introspection. It owns the authentication cache and the
// verification keys; every decision goes through admit.
type Authenticator struct {
	store    *store.Store
	flight   singleflight.Group
	catalog  *Catalog
	tokens   TokenConfig
	keys     *Keyring
	cache    *principalCache
	sessions sessionTimes
	observer Observer
	uses     *useRecorder
	throttle *lookupThrottle
	now      func() time.Time
	log      *slog.Logger
}

func newAuthenticator(st *store.Store, keys *Keyring, o Options) *Authenticator {
	return &Authenticator{
		store: st, catalog: o.Catalog, tokens: o.Tokens, keys: keys,
		cache:    newPrincipalCache(o.CacheTTL, o.Observer),
		sessions: sessionTimes{idle: o.SessionIdle, lifetime: o.SessionLifetime},
		observer: o.Observer,
		uses:     newUseRecorder(st, o.Logger, o.UsesInterval),
		throttle: newLookupThrottle(o.FailedLookupLimit, time.Minute, o.Now),
		now:      o.Now, log: o.Logger,
	}
}

// clock is the current time in UTC, truncated to microseconds like the store's.
func (a *Authenticator) clock() time.Time { return a.now().UTC().Truncate(time.Microsecond) }

// Authenticate resolves one Authorization header value. It returns
// ErrNoCredential for an empty header, and a KindUnauthenticated *Error with a safe
// message for anything else that fails. Malformed credentials are refused before
// any database access.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (*Principal, error) {
	if header == "" {
		return nil, ErrNoCredential
	}
	token, err := ParseBearer(header)
	if err != nil {
		return nil, err
	}
	return a.bearer(ctx, token)
}

// bearer authenticates a bearer credential: a ptg_ key or an access token.
func (a *Authenticator) bearer(ctx context.Context, token string) (*Principal, error) {
	switch {
	case strings.HasPrefix(token, apiKeyFormat.prefix):
		p, err := a.apiKey(ctx, token)
		return a.observed(MethodAPIKey, p, err)
	case strings.Count(token, ".") == 2:
		p, err := a.accessToken(ctx, token)
		return a.observed(MethodAccessToken, p, err)
	}
	return a.observed(MethodAPIKey, nil, invalidToken(msgMalformed))
}

// ParseBearer extracts the credential of a "Bearer" Authorization header (the
// scheme is case-insensitive, RFC 7235 §2.1) and checks it is an RFC 6750 b64token.
func ParseBearer(header string) (string, error) {
	if len(header) > maxAuthorizationLength {
		return "", invalidToken(msgMalformed)
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", invalidToken("the Authorization header must use the Bearer scheme")
	}
	token = strings.TrimLeft(token, " ")
	if !isB64Token(token) {
		return "", invalidToken(msgMalformed)
	}
	return token, nil
}

// isB64Token implements RFC 6750 §2.1: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
// "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && b64TokenChar[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// b64TokenChar marks the characters of a b64token before its padding.
var b64TokenChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = isBase62(byte(c)) || strings.IndexByte("-._~+/", byte(c)) >= 0
	}
	return t
}()

// lookupTimeout bounds one store lookup shared by coalesced requests: it runs
// on behalf of all of them, so no single request's deadline may cut it short.
const lookupTimeout = 10 * time.Second

// lookup answers for the credential of digest from the cache, or else runs load
// once for every concurrent request of the same credential (coalesced by digest
// and cache generation, so a request that started after an invalidation never
// shares a lookup that began before it) and caches the answer: the principal,
// or, with cacheRefusals, the refusal of an unknown, revoked or expired one.
func (a *Authenticator) lookup(ctx context.Context, digest []byte, cacheRefusals bool,
	load func(ctx context.Context, now time.Time) (*Principal, error),
) (*Principal, error) {
	now := a.clock()
	p, hit, gen, refusal := a.cache.get(digest, now)
	if hit {
		return p, refusal
	}
	address := RequestMetaFrom(ctx).Address
	if cacheRefusals && !a.throttle.allowed(address) {
		return nil, errTooManyFailures
	}
	key := strconv.FormatUint(gen, 36) + ":" + string(digest)
	ch := a.flight.DoChan(key, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
		defer cancel()
		p, err := load(lctx, now)
		var refusal *Error
		switch {
		case err == nil:
			a.cache.put(digest, p, gen, now)
		case cacheRefusals && asError(err, &refusal) && refusal.Kind == KindUnauthenticated:
			// A credential the store does not have never appears later
			// (secrets are random), so its refusal can last; any other may
			// change (a session given an organization, a store restored).
			unknown := refusal == errUnknownCredential
			a.cache.refuse(digest, refusal, gen, now, unknown)
			if unknown {
				a.throttle.missed(address)
			}
		}
		return p, err
	})
	select {
	case r := <-ch:
		if p, _ := r.Val.(*Principal); p != nil {
			cp := *p // each request gets its own copy
			return &cp, r.Err
		}
		return nil, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// apiKey authenticates a ptg_ key: format and checksum first (no I/O), then one
// indexed lookup by digest that also yields the creator's current role.
func (a *Authenticator) apiKey(ctx context.Context, key string) (*Principal, error) {
	if !apiKeyFormat.valid(key) {
		return nil, invalidToken(msgMalformed)
	}
	digest := Digest(key)
	return a.lookup(ctx, digest, true, func(ctx context.Context, now time.Time) (*Principal, error) {
		c, err := a.store.APIKeyCredentialByDigest(ctx, digest)
		if err != nil {
			return nil, notFoundAsUnknown(err)
		}
		// The lookup matched on the digest already; comparing again in
		// constant time keeps the decision independent of how the database
		// compares bytes.
		if subtle.ConstantTimeCompare(c.Digest, digest) != 1 {
			return nil, invalidToken(msgUnknown)
		}
		p, err := admit(keyGrant(c), a.catalog, now)
		if err == nil && (c.LastUsedAt == nil || now.Sub(*c.LastUsedAt) >= lastUsedInterval) {
			a.uses.record(ctx, useAPIKey, c.ID, now)
		}
		return p, err
	})
}

// accessToken authenticates a JWT access token: strict verification, then the
// client must still be active, its creator still a member, and the jti not
// revoked.
func (a *Authenticator) accessToken(ctx context.Context, token string) (*Principal, error) {
	return a.lookup(ctx, Digest(token), true, func(ctx context.Context, now time.Time) (*Principal, error) {
		info, err := a.verifyAccessToken(ctx, token)
		if err != nil {
			if errors.Is(err, jwt.ErrTokenExpired) {
				return nil, invalidToken(msgExpired)
			}
			return nil, invalidToken("the access token is invalid")
		}
		c, err := a.store.OAuthClientCredential(ctx, info.clientID)
		if err != nil {
			return nil, notFoundAsUnknown(err)
		}
		revoked, err := a.store.TokenRevoked(ctx, info.ID)
		if err != nil {
			return nil, err
		}
		return admit(tokenGrant(c, &info.TokenInfo, revoked), a.catalog, now)
	})
}

// errInvalidClient is the one answer to every failed client authentication:
// unknown id, wrong secret, revoked client, creator gone.
var errInvalidClient = &Error{Kind: KindUnauthenticated, Message: "client authentication failed"}

// dummyDigest is compared against when a client id is unknown, so that an unknown
// id and a wrong secret cost the same work.
var dummyDigest = Digest("ptgs_unknown-client")

// AuthenticateClient checks an OAuth client's id and secret. Every failure is the
// same error, whatever its cause; the secret is compared in constant time.
func (a *Authenticator) AuthenticateClient(ctx context.Context, clientID, secret string) (*Principal, error) {
	p, err := a.authenticateClient(ctx, clientID, secret)
	return a.observed(MethodClientSecret, p, err)
}

func (a *Authenticator) authenticateClient(ctx context.Context, clientID, secret string) (*Principal, error) {
	if !clientIDFormat.valid(clientID) || !clientSecretFormat.valid(secret) {
		return nil, errInvalidClient
	}
	// A client that just authenticated with this id and secret is served from the
	// cache (see principalCache for why that is safe). Failures are not cached,
	// so an unknown id and a wrong secret always cost the same.
	return a.lookup(ctx, Digest(clientID+"\x00"+secret), false, func(ctx context.Context, now time.Time) (*Principal, error) {
		digest := Digest(secret)
		c, err := a.store.ClientAuthentication(ctx, clientID, now.Add(-lastUsedInterval))
		if isNotFound(err) {
			subtle.ConstantTimeCompare(digest, dummyDigest)
			return nil, errInvalidClient
		}
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(digest, c.SecretDigest) != 1 {
			return nil, errInvalidClient
		}
		p, err := admit(clientGrant(c), a.catalog, now)
		if KindOf(err) == KindUnauthenticated {
			return nil, errInvalidClient
		}
		if err == nil && !c.RecentlyUsed {
			a.uses.record(ctx, useOAuthClient, c.ID, now)
		}
		return p, err
	})
}
