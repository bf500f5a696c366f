package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/server"
)

// Config is every setting of the binary, read from flags and PTG_* variables (a
// flag wins over its variable). It is built once here and passed down.
type Config struct {
	Listen         string
	DatabaseURL    string
	PublicURL      string
	LogFormat      string
	LogLevel       string
	ExtraScopes    string
	MaxBodyBytes   int64
	RequestTimeout time.Duration
	ShutdownGrace  time.Duration
	BootstrapOrg   string
	BootstrapEmail string
	TokenTTL       time.Duration
	TokenAudience  string
	SigningAlg     string
	ClientFailures int
	AddrFailures   int
}

// option describes one setting: its flag, its variable, its default and its help.
type option struct {
	flag, env, def, usage string
	set                   func(c *Config, v string) error
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func dur(p func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as 30s, got %q", v)
		}
		*p(c) = d
		return nil
	}
}

func count(p func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("want a positive whole number, got %q", v)
		}
		*p(c) = n
		return nil
	}
}

// options lists every setting; --help prints this table.
var options = []option{
	{"listen", "PTG_LISTEN", ":8080", "address the HTTP server listens on",
		str(func(c *Config) *string { return &c.Listen })},
	{"database-url", "PTG_DATABASE_URL", "sqlite:pentographer.db", "store: sqlite:PATH (embedded) or postgres://...",
		str(func(c *Config) *string { return &c.DatabaseURL })},
	{"public-url", "PTG_PUBLIC_URL", "http://localhost:8080", "the deployment's public base URL (issuer, links)",
		str(func(c *Config) *string { return &c.PublicURL })},
	{"log-format", "PTG_LOG_FORMAT", "auto", "log format: json, text, or auto (text on a terminal, else json)",
		str(func(c *Config) *string { return &c.LogFormat })},
	{"log-level", "PTG_LOG_LEVEL", "info", "log level: debug, info, warn or error",
		str(func(c *Config) *string { return &c.LogLevel })},
	{"scopes", "PTG_SCOPES", "", "extra scopes for your own resource servers, space- or comma-separated",
		str(func(c *Config) *string { return &c.ExtraScopes })},
	{"max-body-bytes", "PTG_MAX_BODY_BYTES", "1048576", "largest request body accepted, in bytes",
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1024 {
				return fmt.Errorf("want a byte count of at least 1024, got %q", v)
			}
			c.MaxBodyBytes = n
			return nil
		}},
	{"request-timeout", "PTG_REQUEST_TIMEOUT", "30s", "longest time spent on one request",
		dur(func(c *Config) *time.Duration { return &c.RequestTimeout })},
	{"shutdown-grace", "PTG_SHUTDOWN_GRACE", "10s", "how long in-flight requests may finish on shutdown",
		dur(func(c *Config) *time.Duration { return &c.ShutdownGrace })},
	{"token-ttl", "PTG_TOKEN_TTL", "1h", "lifetime of an access token (1m to 24h)",
		dur(func(c *Config) *time.Duration { return &c.TokenTTL })},
	{"token-audience", "PTG_TOKEN_AUDIENCE", "", "aud claim of access tokens (default: the public URL + /graphql)",
		str(func(c *Config) *string { return &c.TokenAudience })},
	{"signing-alg", "PTG_SIGNING_ALG", "ES256", "JWS algorithm of new signing keys: ES256, ES384 or RS256",
		str(func(c *Config) *string { return &c.SigningAlg })},
	{"client-failure-limit", "PTG_CLIENT_FAILURE_LIMIT", "10", "failed client authentications per client id per minute before 429",
		count(func(c *Config) *int { return &c.ClientFailures })},
	{"address-failure-limit", "PTG_ADDRESS_FAILURE_LIMIT", "50", "failed client authentications per address per minute before 429",
		count(func(c *Config) *int { return &c.AddrFailures })},
	{"bootstrap-org", "PTG_BOOTSTRAP_ORG", "My Organization", "name of the organization created on first start",
		str(func(c *Config) *string { return &c.BootstrapOrg })},
	{"bootstrap-email", "PTG_BOOTSTRAP_EMAIL", "owner@example.com", "email of the owner created on first start",
		str(func(c *Config) *string { return &c.BootstrapEmail })},
}

// configFlags registers every option on fs, with defaults taken from the
// environment, and returns a function that builds the validated Config.
func configFlags(fs *flag.FlagSet, getenv func(string) string) func() (Config, error) {
	values := make([]*string, len(options))
	for i, o := range options {
		def := o.def
		if v := getenv(o.env); v != "" {
			def = v
		}
		values[i] = fs.String(o.flag, def, fmt.Sprintf("%s (env %s, default %q)", o.usage, o.env, o.def))
	}
	return func() (Config, error) {
		var c Config
		for i, o := range options {
			if err := o.set(&c, *values[i]); err != nil {
				return c, fmt.Errorf("--%s / %s: %w", o.flag, o.env, err)
			}
		}
		return c, c.validate()
	}
}

func (c Config) validate() error {
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("--public-url / PTG_PUBLIC_URL must be an absolute http(s) URL without query or fragment")
	}
	if err := c.Tokens().Validate(); err != nil {
		return fmt.Errorf("token settings: %w", err)
	}
	switch c.LogFormat {
	case "auto", "json", "text":
	default:
		return fmt.Errorf("--log-format must be auto, json or text, not %q", c.LogFormat)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	return nil
}

// PublicBase is the public URL without a trailing slash.
func (c Config) PublicBase() string { return strings.TrimRight(c.PublicURL, "/") }

// Tokens is the access token configuration.
func (c Config) Tokens() auth.TokenConfig {
	aud := c.TokenAudience
	if aud == "" {
		aud = c.PublicBase() + "/graphql"
	}
	return auth.TokenConfig{Issuer: c.PublicBase(), Audience: aud, TTL: c.TokenTTL, Alg: c.SigningAlg}
}

// Scopes splits the operator's extra scopes.
func (c Config) Scopes() []string {
	return strings.FieldsFunc(c.ExtraScopes, func(r rune) bool { return r == ' ' || r == ',' })
}

// logger builds the process logger: JSON in production, text on a terminal.
func (c Config) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	text := c.LogFormat == "text"
	if c.LogFormat == "auto" {
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				text = true
			}
		}
	}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if text {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(server.RedactingHandler(h))
}
