package auth

import (
	"log/slog"
	"time"
)

// Options configure a Service. Every zero field takes its default from
// DefaultOptions, the one place defaults live.
type Options struct {
	// Catalog lists the supported scopes (nil: the built-in ones).
	Catalog *Catalog
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger receives security-relevant events; never a secret.
	Logger *slog.Logger
	// PasswordCost is the argon2id cost of new password hashes.
	PasswordCost PasswordCost
	// Tokens shapes access tokens. Issuer and Audience default to the
	// placeholders of DefaultOptions, which only tests should rely on.
	Tokens TokenConfig
	// KeyRefresh is how often signing keys are re-read from the store.
	KeyRefresh time.Duration
	// CacheTTL bounds how long a verified credential is reused without a store
	// lookup (negative: no cache).
	CacheTTL time.Duration
	// Limits bound how many credentials one person creates.
	Limits CreationLimits
	// PublicURL is the deployment's base URL, for the links the service makes
	// (invitations, password resets). Default: the token issuer.
	PublicURL string
	// SessionIdle ends a session not used for this long; SessionLifetime ends
	// it this long after sign-in, used or not.
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	// Observer learns what authentication does, for metrics (nil: nothing).
	Observer Observer
	// FailedLookupLimit is how many lookups of bearer credentials the store
	// does not have (keys, tokens, sessions) one address (IPv6: one /64) may
	// cause per minute before its uncached credentials are refused without a
	// lookup. Revoked and expired credentials do not count.
	FailedLookupLimit int
	// UsesInterval is how often RecordUses writes when credentials were last
	// used.
	UsesInterval time.Duration
	// SecretKeys encrypt signing keys at rest, the first for new rows (nil:
	// signing keys are stored unencrypted).
	SecretKeys *SecretKeys
}

// CreationLimits bound the credentials one person makes in one organization.
// Operators (the command line) are not limited.
type CreationLimits struct {
	// PerMinute is how many API keys and OAuth clients together a person may
	// create in any minute (PTG_CREATE_RATE).
	PerMinute int
	// MaxAPIKeys is how many active API keys a person may hold
	// (PTG_MAX_KEYS_PER_USER).
	MaxAPIKeys int
	// MaxOAuthClients is how many active OAuth clients a person may hold
	// (PTG_MAX_CLIENTS_PER_USER).
	MaxOAuthClients int
}

// DefaultOptions are the defaults of every option.
func DefaultOptions() Options {
	return Options{
		Now:          time.Now,
		Logger:       slog.New(slog.DiscardHandler),
		PasswordCost: DefaultPasswordCost,
		Tokens: TokenConfig{
			Issuer:   "http://localhost:8080",
			Audience: "http://localhost:8080/graphql",
			TTL:      DefaultTokenTTL,
			Alg:      "ES256",
		},
		KeyRefresh: DefaultKeyRefresh,
		CacheTTL:   DefaultCacheTTL,
		Limits:     CreationLimits{PerMinute: 60, MaxAPIKeys: 200, MaxOAuthClients: 50},

		SessionIdle:     12 * time.Hour,
		SessionLifetime: 7 * 24 * time.Hour,
		UsesInterval:    time.Second,

		FailedLookupLimit: 100,
	}
}

// withDefaults fills every unset option from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Catalog == nil {
		o.Catalog, _ = NewCatalog(nil)
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	if o.PasswordCost == (PasswordCost{}) {
		o.PasswordCost = d.PasswordCost
	}
	if o.Tokens.Issuer == "" {
		o.Tokens.Issuer = d.Tokens.Issuer
		if o.Tokens.Audience == "" {
			o.Tokens.Audience = d.Tokens.Audience
		}
	}
	if o.Tokens.Audience == "" {
		o.Tokens.Audience = o.Tokens.Issuer + "/graphql"
	}
	if o.Tokens.TTL == 0 {
		o.Tokens.TTL = d.Tokens.TTL
	}
	if o.Tokens.Alg == "" {
		o.Tokens.Alg = d.Tokens.Alg
	}
	if o.KeyRefresh <= 0 {
		o.KeyRefresh = d.KeyRefresh
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = d.CacheTTL
	}
	if o.Limits.PerMinute <= 0 {
		o.Limits.PerMinute = d.Limits.PerMinute
	}
	if o.Limits.MaxAPIKeys <= 0 {
		o.Limits.MaxAPIKeys = d.Limits.MaxAPIKeys
	}
	if o.Limits.MaxOAuthClients <= 0 {
		o.Limits.MaxOAuthClients = d.Limits.MaxOAuthClients
	}
	if o.PublicURL == "" {
		o.PublicURL = o.Tokens.Issuer
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = d.SessionIdle
	}
	if o.SessionLifetime <= 0 {
		o.SessionLifetime = d.SessionLifetime
	}
	if o.FailedLookupLimit <= 0 {
		o.FailedLookupLimit = d.FailedLookupLimit
	}
	if o.UsesInterval <= 0 {
		o.UsesInterval = d.UsesInterval
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return o
}
